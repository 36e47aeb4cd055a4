"""The shared retry policy: full jitter, Retry-After honoured, only retriable errors retried."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector.errors import DataError, RateLimitedError, RetriableError
from ml_connector.http.retry import (
    RetryPolicy,
    _backoff_hook,
    full_jitter_delay,
    parse_retry_after,
    retry_async,
)


@given(attempt=st.integers(1, 40), r=st.floats(0, 1, exclude_max=True))
def test_full_jitter_stays_within_exponential_ceiling(attempt: int, r: float) -> None:
    delay = full_jitter_delay(attempt, base=0.5, cap=30.0, rand=lambda: r)
    assert 0 <= delay <= min(30.0, 0.5 * 2 ** (attempt - 1))


def test_full_jitter_ceiling_doubles_until_cap() -> None:
    top = [full_jitter_delay(n, base=1.0, cap=10.0, rand=lambda: 0.999999) for n in range(1, 7)]
    assert [round(x) for x in top] == [1, 2, 4, 8, 10, 10]


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


def test_hook_never_waits_less_than_retry_after() -> None:
    hook = _backoff_hook(RetryPolicy(base=0.01, cap=0.02))
    assert hook(RateLimitedError("slow down", retry_after=5.0)) == 5.0


def test_hook_gives_up_on_huge_retry_after_and_on_other_errors() -> None:
    hook = _backoff_hook(RetryPolicy(max_retry_after=60))
    assert hook(RateLimitedError("come back tomorrow", retry_after=86400)) is False
    assert hook(DataError("bad row")) is False


async def test_retry_async_retries_transient_errors_then_succeeds() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RetriableError("503")
        return "ok"

    assert await retry_async(flaky, RetryPolicy(attempts=5)) == "ok"
    assert calls == 3


async def test_retry_async_does_not_retry_data_errors() -> None:
    calls = 0

    async def bad() -> None:
        nonlocal calls
        calls += 1
        raise DataError("row 3 is broken")

    with pytest.raises(DataError):
        await retry_async(bad, RetryPolicy(attempts=5))
    assert calls == 1


async def test_retry_async_reraises_after_last_attempt() -> None:
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise RetriableError("still down")

    with pytest.raises(RetriableError):
        await retry_async(down, RetryPolicy(attempts=3))
    assert calls == 3
