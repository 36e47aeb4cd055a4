"""The Looker emulator's state: tokens, queries, async query tasks and their
per-user slots, scheduled plans and render tasks; and the error answers every route shares."""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector_sandbox.emulators.looker.dashboards import Dashboard, RenderTask
from ml_connector_sandbox.emulators.looker.dataset import Dataset
from ml_connector_sandbox.emulators.looker.engine import QuerySpec
from ml_connector_sandbox.emulators.looker.faults import Faults
from ml_connector_sandbox.emulators.looker.scheduled import Delivery
from ml_connector_sandbox.emulators.looker.validation import FieldError

DOCS_URL = "https://cloud.google.com/looker/docs/"


#: seconds a queued query waits for a free slot before Looker drops it
QUEUE_TIMEOUT = 600.0
ACTIVE = frozenset({"added", "running"})


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS_URL}, status_code=status, headers=headers
    )


def validation_failed(errors: Iterable[FieldError]) -> JSONResponse:
    """422 as Looker sends it: every ``errors[]`` entry has its ``documentation_url``."""
    return JSONResponse(
        {
            "message": "Validation Failed",
            "errors": [
                {
                    "field": e.field,
                    "code": e.code,
                    "message": e.message,
                    "documentation_url": DOCS_URL,
                }
                for e in errors
            ],
            "documentation_url": DOCS_URL,
        },
        status_code=422,
    )


@dataclass
class Task:
    """One async query task; it runs on the emulator's clock, polled or not.

    A task waits (``added``) until the user has a free query slot, then runs for
    ``run_seconds`` of the clock, or until it has been polled ``needed_polls`` times
    (fault injection: a query that is slow as seen by the poller), and ends in
    ``outcome``. A task queued for :data:`QUEUE_TIMEOUT` seconds is dropped (``error``).
    """

    id: str
    query_id: str
    result_format: str
    user: str
    limit: int | None
    needed_polls: int
    run_seconds: float
    outcome: str
    look_id: str | None = None
    polls: int = 0
    killed: bool = False
    dropped: bool = False
    created: float = 0.0
    started: float | None = None
    ended: float | None = None

    def status(self, now: float) -> str:
        if self.killed:
            return "killed"
        if self.dropped:
            return "error"
        if self.started is None:
            return "added"
        if self.polls >= self.needed_polls or now >= self.started + self.run_seconds:
            return self.outcome
        return "added" if self.polls == 0 else "running"

    def ends_at(self) -> float:
        """When a started task gives its slot back (killed or polled to its end, or run out)."""
        run_out = (self.started if self.started is not None else math.inf) + self.run_seconds
        return min(run_out, self.ended if self.ended is not None else math.inf)

    def running(self, now: float) -> bool:
        """Started and not finished: it holds one of the user's query slots."""
        return self.started is not None and self.status(now) in ACTIVE


@dataclass
class EmulatorState:
    """Mutable state of one emulator instance (also read by tests)."""

    dataset: Dataset
    client_id: str
    client_secret: SecretStr
    token_ttl: int
    row_cap: int
    allow_unlimited: bool
    max_queries_per_user: int
    faults: Faults
    clock: Callable[[], float]
    today: date | None
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    queries: dict[str, QuerySpec] = field(default_factory=dict)
    query_ids: dict[QuerySpec, str] = field(default_factory=dict)
    slugs: dict[str, str] = field(default_factory=dict)
    look_queries: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    pending: dict[str, list[Task]] = field(default_factory=dict)
    running: Counter[str] = field(default_factory=Counter)
    peak_running: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    logins: int = 0
    rows_served: int = 0
    allow_http_webhooks: bool = False
    scheduled_plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    dashboards: dict[str, Dashboard] = field(default_factory=dict)
    render_tasks: dict[str, RenderTask] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _plan_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def query_id(self, spec: QuerySpec) -> str:
        """Queries are immutable: the same query gets the same id."""
        existing = self.query_ids.get(spec)
        if existing is not None:
            return existing
        qid = str(next(self._ids))
        self.queries[qid] = spec
        self.query_ids[spec] = qid
        self.slugs[query_slug(qid)] = qid
        return qid

    def effective_limit(self, raw: str | None) -> int | None:
        """Rows a call may return: ``None`` means unlimited.

        A missing limit, and any limit above the cap, give the cap; ``-1`` (unlimited)
        is honoured only when ``allow_unlimited`` (the user's ``download_without_limit``
        permission on a streaming query), otherwise it is capped too.
        """
        if raw is None or str(raw).strip() == "":
            return self.row_cap
        try:
            n = int(str(raw).strip())
        except ValueError as exc:
            raise ValueError(f"limit must be an integer, got {raw!r}") from exc
        if n < 0:
            return None if self.allow_unlimited else self.row_cap
        return min(n, self.row_cap)

    def active_queries(self, user: str) -> int:
        """Queries holding one of ``user``'s slots: synchronous runs and started tasks."""
        self.advance(user)
        now = self.clock()
        tasks = sum(1 for t in self.pending.get(user, ()) if t.running(now))
        return self.running[user] + tasks

    def advance(self, user: str) -> None:
        """Replay ``user``'s queue up to now: each waiting task starts when a slot frees.

        Slots are held by synchronous runs (until they end) and by started tasks
        (until they finish or are killed). A waiting task starts at the moment the
        earliest slot frees, in creation order, or is dropped after
        :data:`QUEUE_TIMEOUT` seconds of waiting, however long ago that was.
        """
        now = self.clock()
        pending = self.pending.get(user, [])
        slots = [math.inf] * self.running[user]
        slots += [t.ends_at() for t in pending if t.started is not None]
        heapq.heapify(slots)
        for task in (t for t in pending if t.started is None and t.status(now) in ACTIVE):
            free_at = task.created
            if len(slots) >= self.max_queries_per_user:
                free_at = max(free_at, slots[0])
            if free_at - task.created >= QUEUE_TIMEOUT and now - task.created >= QUEUE_TIMEOUT:
                task.dropped = True
                task.ended = task.created + QUEUE_TIMEOUT
                continue
            if free_at > now:
                break  # still waiting, and so is every later task
            if len(slots) >= self.max_queries_per_user:
                heapq.heappop(slots)
            task.started = free_at
            heapq.heappush(slots, task.ends_at())
        self.pending[user] = [t for t in pending if t.status(now) in ACTIVE]
        busy = self.running[user] + sum(1 for t in self.pending[user] if t.started is not None)
        self.peak_running = max(self.peak_running, busy)

    def add_task(self, task: Task) -> None:
        self.tasks[task.id] = task
        self.pending.setdefault(task.user, []).append(task)
        self.advance(task.user)


Handler = Callable[[Request, EmulatorState, str], Awaitable[Response]]


def query_slug(qid: str) -> str:
    return hashlib.sha1(qid.encode(), usedforsecurity=False).hexdigest()[:22]


def request_user(request: Request, state: EmulatorState) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in {"token", "bearer"} or not token.strip():
        return None
    entry = state.tokens.get(token.strip())
    if entry is None:
        return None
    user, expires = entry
    if state.clock() >= expires:
        state.tokens.pop(token.strip(), None)
        return None
    return user


def unauthorized() -> JSONResponse:
    return error(401, "Requires authentication.")


def too_many(state: EmulatorState) -> JSONResponse:
    return error(
        429,
        f"Too many concurrent queries for this user (limit {state.max_queries_per_user}).",
        {"Retry-After": "1"},
    )
