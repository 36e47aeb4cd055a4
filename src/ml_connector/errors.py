"""The one exception tree of ml-connector, ordered by what the caller should do.

Every error the package raises on purpose is an :class:`MlConnectorError`, and
every one of them belongs to exactly one recovery policy::

    MlConnectorError                 base; carries an optional ``hint`` (how to fix it)
    ├── ConfigurationError           fatal: stop, a person fixes the configuration
    ├── DataError                    one record or file is bad: skip or hold it, go on
    ├── RetriableError               transient (timeout, 429, 5xx): retry with backoff
    │   ├── RateLimitedError         the server asked us to slow down (``retry_after``)
    │   └── UnreachableError         connection refused, unknown host, untrusted TLS
    │                                certificate: not retried within a call, only later
    ├── NeedsUserError               a person must act (re-consent, approve access)
    │   └── ReconsentRequiredError   the DATEV grant is gone; run ``datev login`` again
    └── RemoteRejectedError          the remote system refused the request for a reason
                                     that retrying will not change (4xx other than
                                     auth/rate limits); stop this unit of work

Adapters (Looker client, DATEV client, EXTF validator, mapping) translate whatever
their libraries raise into these classes at their boundary, so the engine decides
retry / skip / stop / notify from the class alone, never from a message string.
Messages never contain secrets: credentials travel as ``pydantic.SecretStr``.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DataError",
    "MlConnectorError",
    "NeedsUserError",
    "RateLimitedError",
    "ReconsentRequiredError",
    "RemoteRejectedError",
    "RetriableError",
    "UnreachableError",
]


class MlConnectorError(Exception):
    """Base of every error ml-connector raises on purpose.

    ``hint`` tells the reader how to fix the problem, in one sentence.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (fix: {self.hint})"
        return self.message


class ConfigurationError(MlConnectorError):
    """Fatal: the configuration is wrong or incomplete; nothing will work until fixed."""


class DataError(MlConnectorError):
    """One record (row, booking line, file) is invalid; skip or hold it, keep going.

    ``location`` names where the problem is (e.g. ``line 7, column 'Konto'``) and
    ``value`` the offending value, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: str | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.location = location
        self.value = value

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        return prefix + super().__str__()


class RetriableError(MlConnectorError):
    """Transient failure (timeout, connection reset, 5xx): retry with backoff.

    ``retry_after`` is the server's own wish in seconds, when it stated one.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after
        self.status_code = status_code


class RateLimitedError(RetriableError):
    """The server answered 429 (or a vendor equivalent); wait ``retry_after`` at least."""


class UnreachableError(RetriableError):
    """The server cannot be reached at all (refused, unknown host, untrusted certificate).

    Seconds of retrying will not change that, so the HTTP retry loop gives up at
    once and the message names the URL; a later attempt (engine step, replay,
    schedule) may still succeed once the server or the URL is fixed.
    """


class NeedsUserError(MlConnectorError):
    """A person has to act before this customer can continue (consent, permissions)."""


class ReconsentRequiredError(NeedsUserError):
    """The OAuth grant was revoked or expired; the user must log in again."""


class RemoteRejectedError(MlConnectorError):
    """The remote API refused the request permanently (e.g. 400, 403, 404, 409).

    ``status_code`` and ``detail`` carry what the server said (never a secret).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.detail = detail
