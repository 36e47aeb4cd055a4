"""DATEV error bodies (RFC 7807 ProblemDetails and ``#DCO`` objects) -> the exception tree.

Two body families exist: accounting-clients and extf-files answer with
ProblemDetails (``type``/``title``/``detail``/``affected_elements``/``request_id``),
dxso-jobs and documents with ``{"error": "#DCO01005", "error_description", "error_uri"}``,
sometimes wrapped in a list. Bodies are recognised by shape, not content type.
The exception class follows the recovery policy; the parsed problem rides along.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ml_connector.errors import (
    ConfigurationError,
    DataError,
    MlConnectorError,
    NeedsUserError,
    RateLimitedError,
    RemoteRejectedError,
    RetriableError,
    UnreachableError,
)
from ml_connector.http.retry import RETRIABLE_STATUSES

__all__ = [
    "DatevAccessError",
    "DatevConfigurationError",
    "DatevDataError",
    "DatevRateLimitedError",
    "DatevRejectedError",
    "DatevUnavailableError",
    "DatevUnreachableError",
    "Problem",
    "error_for_response",
    "parse_problem",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """What DATEV said went wrong, in either body family."""

    status: int
    code: str | None = None
    title: str | None = None
    detail: str | None = None
    help_url: str | None = None
    request_id: str | None = None
    affected_elements: tuple[tuple[str, str], ...] = field(default=())

    def summary(self) -> str:
        """One line for users and logs: code, title, detail, affected elements."""
        parts = [p for p in (self.code, self.title, self.detail) if p]
        text = ": ".join(parts) if parts else f"HTTP {self.status}"
        if self.affected_elements:
            text += " [" + "; ".join(f"{n}: {r}" for n, r in self.affected_elements) + "]"
        return text


def _code_from_type(type_url: str | None) -> str | None:
    if not type_url:
        return None
    tail = type_url.rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


def parse_problem(status: int, body: bytes) -> Problem:
    """Parse a DATEV error body; unknown shapes give a bare :class:`Problem`."""
    try:
        data: Any = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        data = None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict):
        return Problem(status=status)
    if "error" in data and isinstance(data["error"], str):
        return Problem(
            status=status,
            code=data["error"],
            title=_str(data.get("error_description")),
            help_url=_str(data.get("error_uri")),
            request_id=_str(data.get("request_id")),
        )
    elements = tuple(
        (str(el.get("name", "")), str(el.get("reason", "")))
        for el in data.get("affected_elements") or ()
        if isinstance(el, dict)
    )
    return Problem(
        status=status,
        code=_code_from_type(_str(data.get("type"))),
        title=_str(data.get("title")),
        detail=_str(data.get("detail")),
        help_url=_str(data.get("type")),
        request_id=_str(data.get("request_id")),
        affected_elements=elements,
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class _WithProblem:
    problem: Problem | None = None


class DatevRejectedError(RemoteRejectedError, _WithProblem):
    """DATEV refused the request permanently (protocol misuse, not found, conflict)."""


class DatevDataError(DataError, _WithProblem):
    """The submitted file or document is invalid; fix or hold it, go on with others."""


class DatevAccessError(NeedsUserError, _WithProblem):
    """A person must grant access (missing scope, client permission missing or expired)."""


class DatevConfigurationError(ConfigurationError, _WithProblem):
    """The DATEV client is not set up for this (wrong client id, service not booked)."""


class DatevUnavailableError(RetriableError, _WithProblem):
    """DATEV is temporarily unavailable (5xx, maintenance); retry later."""


class DatevUnreachableError(UnreachableError, DatevUnavailableError):
    """DATEV cannot be reached at all (refused, unknown host); not retried within a call."""


class DatevRateLimitedError(RateLimitedError, _WithProblem):
    """DATEV answered 429; wait ``retry_after`` at least."""


#: codes whose cause is the submitted file or document
_DATA_CODES = frozenset(
    {
        "1008831",  # body missing
        "1008832",  # Filename / Reference-Id invalid
        "1008833",  # invalid file / too large
        "1008834",  # EXTF header
        "1008836",  # virus
        "#DCO01010",  # unknown document type
        "#DCO01015",
        "#DCO01016",
        "#DCO01216",
        "#DCO01215",
        "#DCO01219",
        "#DCO01222",
        "#DCO01243",
        "#DCO01245",
        "#DCO01253",  # duplicate file
    }
)
#: codes a person fixes in DATEV or in ml-connector's configuration
_CONFIG_CODES = frozenset({"1008835", "#DCO01002", "#DCO01006", "#DCO01301"})
_RETRY_CODES = frozenset({"1008837", "#DCO01020"})

_HELP = "https://apps.datev.de/knowledge/help/search?q="


def error_for_response(
    status: int, body: bytes, *, retry_after: float | None = None, what: str = "DATEV request"
) -> MlConnectorError:
    """The exception for a non-2xx DATEV answer (401 is handled by the caller)."""
    problem = parse_problem(status, body)
    message = f"{what} failed with HTTP {status}: {problem.summary()}"
    hint_url = problem.help_url or (
        _HELP + problem.code.lstrip("#") if problem.code and problem.code.startswith("#") else None
    )
    more = f" (see {hint_url})" if hint_url else ""
    err: MlConnectorError
    if status == 429:
        err = DatevRateLimitedError(message, retry_after=retry_after, status_code=status)
    elif problem.code in _RETRY_CODES or status in RETRIABLE_STATUSES:
        err = DatevUnavailableError(message, retry_after=retry_after, status_code=status)
    elif problem.code in _CONFIG_CODES:
        err = DatevConfigurationError(
            message, hint="check the DATEV client id and the services booked for it" + more
        )
    elif status == 403:
        err = DatevAccessError(
            message,
            hint="grant ml-connector access to this client in DATEV (Rechteverwaltung) "
            "and log in again with the needed scopes" + more,
        )
    elif problem.code in _DATA_CODES or status == 413:
        err = DatevDataError(message, hint="correct the file and submit it again" + more)
    elif status == 404:
        err = DatevRejectedError(
            message,
            hint="check the Berater/Mandant numbers and the job id" + more,
            status_code=status,
            detail=problem.detail or problem.title,
        )
    else:
        err = DatevRejectedError(
            message,
            hint=f"see {hint_url}" if hint_url else None,
            status_code=status,
            detail=problem.detail or problem.title,
        )
    err.problem = problem
    return err
