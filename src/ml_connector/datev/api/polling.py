"""When to read a DATEV job again: backoff with full jitter, never before Retry-After.

DATEV's approval rules forbid about 30 status reads per job and round-the-clock
polling, so every job gets a small read budget; when it is spent the caller is
told "still running" and comes back later (e.g. on the next scheduled run).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ml_connector.http.retry import full_jitter_delay

__all__ = ["PollPolicy", "next_poll_delay"]


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How patiently to wait for one job."""

    #: status reads per job and call, at most
    max_reads: int = 10
    #: first backoff ceiling in seconds; doubles with every read
    base: float = 5.0
    #: backoff ceiling in seconds
    cap: float = 120.0
    #: never read sooner than this after the previous read
    floor: float = 1.0

    def __post_init__(self) -> None:
        if self.max_reads < 1:
            raise ValueError("max_reads must be at least 1")


def next_poll_delay(
    read_number: int,
    policy: PollPolicy,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before read number ``read_number`` (1-based) of a job.

    Full jitter: uniform in ``[0, min(cap, base * 2**(n-1))]``, then raised to the
    server's ``Retry-After`` and to ``policy.floor``.
    """
    if read_number < 1:
        raise ValueError("read_number is 1-based")
    delay = full_jitter_delay(read_number, base=policy.base, cap=policy.cap, rand=rand)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(delay, policy.floor)
