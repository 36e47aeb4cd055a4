"""How patiently to wait for a remote job: one poll policy and one delay function.

Used by the DATEV client (EXTF and dxso jobs), the engine's durable job polling and
the Looker client (query tasks). The delay before read ``n`` grows geometrically from
``base`` by ``factor`` up to ``cap``; with ``jitter`` it is drawn uniformly below that
ceiling (full jitter, as for retries); it is never below ``floor`` nor below the
server's ``Retry-After``. Every wait is bounded: at most ``max_polls`` reads, and
optionally at most ``timeout`` seconds of wall-clock time.

The durable engine counts polls only (its delays are recorded by durable sleeps), so a
crashed and resumed run polls the same budget; ``timeout`` serves in-process waits.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ml_connector.http.retry import backoff_ceiling

__all__ = ["DATEV_JOB_POLLING", "LOOKER_TASK_POLLING", "PollPolicy", "poll_delay"]


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often and how long to read a job's status (defaults: DATEV job polling)."""

    #: first delay ceiling in seconds
    base: float = 5.0
    #: delay ceiling in seconds
    cap: float = 120.0
    #: never read sooner than this after the previous read
    floor: float = 1.0
    #: reads per wait, at most
    max_polls: int = 10
    #: growth of the delay ceiling per read
    factor: float = 2.0
    #: draw each delay uniformly below its ceiling (full jitter) instead of using it
    jitter: bool = True
    #: wall-clock bound of one in-process wait in seconds (``None``: reads only)
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.max_polls < 1:
            raise ValueError("max_polls must be at least 1")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")

    def exhausted(self, polls: int, elapsed: float = 0.0) -> bool:
        """Whether a wait that has read ``polls`` times over ``elapsed`` seconds must stop."""
        if polls >= self.max_polls:
            return True
        return self.timeout is not None and elapsed > self.timeout


#: DATEV's approval rules: few status reads per job (about 30 at most), no
#: round-the-clock polling; a job still running is looked at again on a later run
DATEV_JOB_POLLING = PollPolicy()

#: Looker query tasks: quick, steady reads while a query runs, up to 15 minutes
#: (200 reads at the 5 s cap span about that long)
LOOKER_TASK_POLLING = PollPolicy(
    base=0.25, factor=1.6, cap=5.0, floor=0.0, jitter=False, max_polls=200, timeout=900.0
)


def poll_delay(
    attempt: int,
    policy: PollPolicy,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before read ``attempt + 1`` (``attempt`` is 1-based).

    Called with the read number before the first read it is the wait before that read.
    """
    ceiling = backoff_ceiling(attempt, base=policy.base, cap=policy.cap, factor=policy.factor)
    delay = rand() * ceiling if policy.jitter else ceiling
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(delay, policy.floor)
