"""Fault injection for the Looker emulator, per endpoint (operation id) or for all (``*``).

Set at construction (``create_app(faults=...)``), with ``--latency-ms`` on the
command line, or at run time with ``PUT /__admin/faults`` (a JSON body in the shape
of :meth:`Faults.to_dict`).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["ENDPOINTS", "EndpointFaults", "Faults"]

#: operation ids of the spec that the emulator serves
ENDPOINTS = (
    "login",
    "logout",
    "all_looks",
    "look",
    "run_look",
    "run_inline_query",
    "create_query",
    "query",
    "run_query",
    "create_query_task",
    "query_task",
    "query_task_results",
    "kill_query",
    "query_for_slug",
    "run_url_encoded_query",
    "query_task_multi_results",
    "all_running_queries",
    "me",
    "all_lookml_models",
    "lookml_model",
    "lookml_model_explore",
    "versions",
    "create_scheduled_plan",
    "scheduled_plan",
    "scheduled_plan_run_once",
    "scheduled_plan_run_once_by_id",
    "create_dashboard_render_task",
    "render_task",
    "render_task_results",
)


@dataclass
class EndpointFaults:
    """What goes wrong on one endpoint.

    ``error_rate``: share of calls answered ``error_status`` (503 by default);
    ``latency_ms``: added to every call; ``unauthorized_next``: the next N calls answer
    401 (a 401 storm); ``rate_limited_next``: the next N calls answer 429 with
    ``Retry-After: retry_after``; ``html_next``: the next N calls answer an HTML error
    page (status ``html_status``), as a proxy or a wrong path does.
    """

    error_rate: float = 0.0
    error_status: int = 503
    latency_ms: float = 0.0
    unauthorized_next: int = 0
    rate_limited_next: int = 0
    retry_after: int = 1
    html_next: int = 0
    html_status: int = 502


@dataclass
class Faults:
    """All injected faults plus the behaviour of query tasks.

    ``task_outcome``: final status of new query tasks (``complete``, ``error``,
    ``expired`` or ``killed``); a started task reaches it after ``task_seconds`` of the
    emulator's clock, polled or not, or earlier after ``task_polls`` status polls
    (``slow_query_polls``: extra polls, a slow query as the poller sees it).
    """

    endpoints: dict[str, EndpointFaults] = field(default_factory=dict)
    task_outcome: str = "complete"
    task_polls: int = 2
    slow_query_polls: int = 0
    task_seconds: float = 1.0
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def for_endpoint(self, name: str) -> list[EndpointFaults]:
        """Faults that apply to ``name`` (its own, then the ``*`` entry)."""
        return [f for key in (name, "*") if (f := self.endpoints.get(key)) is not None]

    def roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoints": {k: asdict(v) for k, v in self.endpoints.items()},
            "task_outcome": self.task_outcome,
            "task_polls": self.task_polls,
            "slow_query_polls": self.slow_query_polls,
            "task_seconds": self.task_seconds,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(EndpointFaults)}
        endpoints = {}
        for name, spec in (data.get("endpoints") or {}).items():
            if name != "*" and name not in ENDPOINTS:
                raise ValueError(f"unknown endpoint {name!r}")
            unknown = set(spec) - known
            if unknown:
                raise ValueError(f"unknown fault option(s) {sorted(unknown)}")
            endpoints[name] = EndpointFaults(**spec)
        outcome = data.get("task_outcome", "complete")
        if outcome not in {"complete", "error", "expired", "killed"}:
            raise ValueError(f"unknown task_outcome {outcome!r}")
        return cls(
            endpoints=endpoints,
            task_outcome=outcome,
            task_polls=int(data.get("task_polls", 2)),
            slow_query_polls=int(data.get("slow_query_polls", 0)),
            task_seconds=float(data.get("task_seconds", 1.0)),
            seed=int(data.get("seed", 0)),
        )
