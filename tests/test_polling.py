"""The one poll policy: Looker's steady growth, and the bounded budget of every wait."""

from __future__ import annotations

import pytest

from ml_connector.http.polling import (
    DATEV_JOB_POLLING,
    LOOKER_TASK_POLLING,
    PollPolicy,
    poll_delay,
)


def test_looker_task_polling_grows_without_jitter_up_to_its_cap() -> None:
    delays = [poll_delay(n, LOOKER_TASK_POLLING, rand=lambda: 0.0) for n in range(1, 10)]
    assert delays[:3] == pytest.approx([0.25, 0.4, 0.64])
    assert delays == sorted(delays)
    assert delays[-1] == LOOKER_TASK_POLLING.cap


def test_datev_job_polling_keeps_the_approval_budget() -> None:
    assert DATEV_JOB_POLLING.max_polls <= 30
    assert poll_delay(1, DATEV_JOB_POLLING, rand=lambda: 0.0) == DATEV_JOB_POLLING.floor


@pytest.mark.parametrize(
    ("polls", "elapsed", "done"),
    [(1, 0.0, False), (3, 0.0, True), (2, 10.0, False), (2, 10.5, True)],
)
def test_a_wait_stops_at_its_read_or_time_budget(polls: int, elapsed: float, done: bool) -> None:
    policy = PollPolicy(max_polls=3, timeout=10.0)
    assert policy.exhausted(polls, elapsed) is done


def test_a_policy_without_reads_is_refused() -> None:
    with pytest.raises(ValueError, match="max_polls"):
        PollPolicy(max_polls=0)
