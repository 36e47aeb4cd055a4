"""How long to wait between two status requests for a DATEV job (pure)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ml_connector.http.retry import full_jitter_delay

__all__ = ["PollPolicy", "poll_delay"]


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """Backoff between polls: full jitter in ``[floor, min(cap, base*2^(n-1))]``."""

    base: float = 2.0
    cap: float = 60.0
    floor: float = 0.5
    #: give up on a job after this many polls (the run then fails)
    max_polls: int = 200


def poll_delay(
    attempt: int,
    policy: PollPolicy,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to sleep before poll ``attempt + 1`` (``attempt`` is 1-based)."""
    delay = max(
        policy.floor, full_jitter_delay(attempt, base=policy.base, cap=policy.cap, rand=rand)
    )
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
