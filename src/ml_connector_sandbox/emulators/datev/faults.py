"""Fault injection for the DATEV emulator: latency, 429s, 503s, lost answers, failing jobs.

Token faults (revoked access tokens, expired refresh tokens) belong to the
identity provider; the admin endpoint forwards them there.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from ml_connector_sandbox.emulators.datev.config import FaultConfig

__all__ = ["FaultDecision", "FaultInjector"]


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one API request."""

    latency: float = 0.0
    status: int | None = None
    retry_after: int | None = None


class FaultInjector:
    """Draws faults from a seeded generator; settings can change at run time."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)  # noqa: S311 - not for security

    def update(self, **changes: Any) -> FaultConfig:
        """Change some settings (validated); a new ``seed`` restarts the sequence."""
        with self._lock:
            merged = self.config.model_dump() | changes
            self.config = FaultConfig.model_validate(merged)
            if "seed" in changes:
                self._rng = random.Random(self.config.seed)  # noqa: S311
            return self.config

    def for_request(self) -> FaultDecision:
        """Decide the fault (if any) for the next API request."""
        with self._lock:
            cfg = self.config
            if cfg.rate_limit_rate and self._rng.random() < cfg.rate_limit_rate:
                return FaultDecision(cfg.latency_seconds, 429, cfg.rate_limit_retry_after)
            if cfg.error_rate and self._rng.random() < cfg.error_rate:
                return FaultDecision(cfg.latency_seconds, 503, None)
            return FaultDecision(cfg.latency_seconds)

    def loses_response(self) -> bool:
        """Whether to drop the answer of a processed request (the client sees 504)."""
        with self._lock:
            rate = self.config.lost_response_rate
            return bool(rate) and self._rng.random() < rate

    def job_fails(self) -> bool:
        """Whether the next job should fail with an internal error."""
        with self._lock:
            rate = self.config.job_failure_rate
            return bool(rate) and self._rng.random() < rate

    def dxso_partial(self) -> bool:
        """Whether the next dxso job should refuse its last data file (status 4)."""
        with self._lock:
            rate = self.config.dxso_partial_rate
            return bool(rate) and self._rng.random() < rate
