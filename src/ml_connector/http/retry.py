"""Retry policy shared by the Looker and DATEV clients.

Exponential backoff with *full jitter* (AWS architecture blog: a random wait in
``[0, min(cap, base * 2**attempt)]``), never shorter than the server's
``Retry-After``, bounded in attempts and total time. The retry loop itself is
`stamina <https://stamina.hynek.me>`_ (attempt counting, deadline, test mode,
instrumentation); this module only supplies the delay it should wait.

Only :class:`~ml_connector.errors.RetriableError` is retried; every other error
passes straight through, and so does :class:`~ml_connector.errors.UnreachableError`
(connection refused, unknown host, untrusted certificate: a minute of retries would
not change them). :func:`transport_error` turns an httpx transport failure into one
of the two, naming the URL.
"""

from __future__ import annotations

import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import stamina

from ml_connector.errors import RetriableError, UnreachableError

__all__ = [
    "RetryPolicy",
    "backoff_ceiling",
    "full_jitter_delay",
    "parse_retry_after",
    "retry_async",
    "transport_error",
    "unreachable_reason",
]

T = TypeVar("T")

#: HTTP statuses that mean "try again later".
RETRIABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    timeout: float = 300.0
    #: a Retry-After above this is treated as "give up now" rather than slept through
    max_retry_after: float = 120.0


def backoff_ceiling(attempt: int, *, base: float, cap: float, factor: float = 2.0) -> float:
    """Exponential backoff ceiling of attempt ``attempt`` (1-based): min(cap, base*f^(n-1))."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    return min(cap, base * (factor ** (attempt - 1)))


def full_jitter_delay(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Delay before retry number ``attempt`` (1-based): uniform in [0, min(cap, base*2^(n-1))]."""
    return rand() * backoff_ceiling(attempt, base=base, cap=cap)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def unreachable_reason(exc: BaseException) -> str | None:
    """Why a connection could not be made at all, or ``None`` for a transient failure."""
    seen: BaseException | None = exc
    for _ in range(10):  # the cause chain of a connect error is short
        if seen is None:
            return None
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return "unknown host"
        if isinstance(seen, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        seen = seen.__cause__ or seen.__context__
    return None


def transport_error(exc: httpx.TransportError, what: str, url: str) -> RetriableError:
    """The project's error for a failed request to ``url``: unreachable or transient."""
    reason = unreachable_reason(exc)
    if reason is not None:
        return UnreachableError(
            f"{what}: cannot reach {url} ({reason})",
            hint="check the URL in the configuration and that the server is up and "
            "reachable from this machine",
        )
    if isinstance(exc, httpx.TimeoutException):
        return RetriableError(f"{what}: {url} timed out")
    return RetriableError(f"{what}: {type(exc).__name__} talking to {url}")


def _backoff_hook(policy: RetryPolicy) -> Callable[[Exception], bool | float]:
    attempts = 0

    def hook(exc: Exception) -> bool | float:
        nonlocal attempts
        if not isinstance(exc, RetriableError) or isinstance(exc, UnreachableError):
            return False
        if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
            return False
        attempts += 1
        delay = full_jitter_delay(attempts, base=policy.base, cap=policy.cap)
        if exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        return delay

    return hook


async def retry_async(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Await ``call()`` and retry it on :class:`RetriableError` according to ``policy``.

    The last error is re-raised when attempts or time run out.
    """
    async for attempt in stamina.retry_context(
        on=_backoff_hook(policy),
        attempts=policy.attempts,
        timeout=policy.timeout,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover
