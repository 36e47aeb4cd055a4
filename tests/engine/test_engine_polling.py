"""Backoff between job polls."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ml_connector.http.polling import PollPolicy, poll_delay


@given(
    attempt=st.integers(1, 50),
    rand=st.floats(0, 1),
    retry_after=st.one_of(st.none(), st.floats(0, 300)),
)
def test_delay_stays_within_floor_cap_and_honours_retry_after(
    attempt: int, rand: float, retry_after: float | None
) -> None:
    policy = PollPolicy(base=2.0, cap=60.0, floor=0.5)
    delay = poll_delay(attempt, policy, retry_after=retry_after, rand=lambda: rand)
    assert delay >= policy.floor
    assert delay <= max(policy.cap, retry_after or 0.0)
    if retry_after is not None:
        assert delay >= retry_after
    assert poll_delay(1, policy, rand=lambda: 1.0) == 2.0
