"""The Looker API 4.0 emulator: a Starlette app with the real rules of a Looker instance.

Login/logout with API3 credentials (404 on bad ones), ``token`` and ``Bearer``
schemes, token expiry with 401 after it, every request checked against the
published spec (422 ``Validation Failed`` for a body of the wrong shape, 400 for a
bad parameter), saved Looks, inline, stored and URL-encoded queries (by id or
slug), async query tasks that run in the background (``added`` -> ``running`` ->
``complete`` | ``error`` | ``expired`` | ``killed``) and queue beyond the per-user
concurrency limit, the row cap and ``limit`` semantics, 429 for synchronous runs
beyond that limit, content discovery (Looks, models, explores with fields), an
HTML 404 page for unknown paths, 405 for a known path with another method, and
fault injection (:mod:`~ml_connector_sandbox.emulators.looker.faults`) plus ``/__admin``
endpoints, and scheduled plans that deliver to webhooks
(:mod:`~ml_connector_sandbox.emulators.looker.scheduled`).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import itertools
import json
import math
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Match, Route

from ml_connector_sandbox.emulators.looker.dashboards import (
    Dashboard,
    RenderTask,
    load_dashboards,
    new_task,
    render_pdf,
)
from ml_connector_sandbox.emulators.looker.dataset import (
    Dataset,
    Explore,
    GeneratedSource,
    bench_explore,
    demo_dataset_dir,
    load_dataset,
)
from ml_connector_sandbox.emulators.looker.engine import QuerySpec, execute, take, to_sql
from ml_connector_sandbox.emulators.looker.faults import Faults
from ml_connector_sandbox.emulators.looker.filters import FilterError
from ml_connector_sandbox.emulators.looker.render import (
    CONTENT_TYPES,
    SUPPORTED_FORMATS,
    FormatUnavailableError,
    field_body,
    render,
)
from ml_connector_sandbox.emulators.looker.scheduled import (
    Delivery,
    check_plan,
    plan_body,
    webhook_payload,
)
from ml_connector_sandbox.emulators.looker.validation import FieldError, check_request

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "EmulatorState",
    "create_app",
]

DEFAULT_CLIENT_ID = "demo-client-id"
DEFAULT_CLIENT_SECRET = "demo-client-secret"  # noqa: S105 - the documented sandbox default
DOCS_URL = "https://cloud.google.com/looker/docs/"
API = "/api/4.0"
NOT_FOUND_HTML = (
    "<!DOCTYPE html><html><head><title>Looker Not Found (404)</title></head>"
    "<body><h1>Looker Not Found (404)</h1><p>The page you requested could not be found.</p>"
    "</body></html>"
)


#: seconds a queued query waits for a free slot before Looker drops it
QUEUE_TIMEOUT = 600.0
ACTIVE = frozenset({"added", "running"})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS_URL}, status_code=status, headers=headers
    )


def _validation_failed(errors: Iterable[FieldError]) -> JSONResponse:
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
        self.slugs[_slug(qid)] = qid
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


def _slug(qid: str) -> str:
    return hashlib.sha1(qid.encode(), usedforsecurity=False).hexdigest()[:22]


def _query_body(spec: QuerySpec, qid: str) -> dict[str, Any]:
    body = spec.to_body()
    body.update(
        id=qid,
        slug=_slug(qid),
        pivots=None,
        fill_fields=None,
        filter_expression=None,
        total=False,
        row_total=None,
        subtotals=None,
        vis_config=None,
        filter_config=None,
        query_timezone=None,
        has_table_calculations=False,
        can={"run": True, "see_results": True, "explore": True},
    )
    return body


def _look_body(state: EmulatorState, look_id: str, with_query: bool) -> dict[str, Any]:
    look = state.dataset.looks[look_id]
    qid = state.look_queries[look_id]
    spec = state.queries[qid]
    body: dict[str, Any] = {
        "id": look.id,
        "title": look.title,
        "description": look.description,
        "query_id": qid,
        "model": {"id": spec.model, "label": state.dataset.model_labels.get(spec.model)},
        "folder_id": "1",
        "user_id": "1",
        "public": False,
        "deleted": False,
        "is_run_on_load": False,
        "can": {"run": True, "see_results": True, "explore": True},
    }
    if with_query:
        body["query"] = _query_body(spec, qid)
        body["url"] = f"/looks/{look.id}"
    return body


def _task_body(task: Task, state: EmulatorState) -> dict[str, Any]:
    state.advance(task.user)
    status = task.status(state.clock())
    return {
        "id": task.id,
        "query_id": task.query_id,
        "status": status,
        "result_format": task.result_format,
        "look_id": task.look_id,
        "source": None,
        "runtime": 0.05 if status == "complete" else None,
        "result_source": "query" if status == "complete" else None,
        "cache_key": None,
        "can": {"see_results": True, "cancel": True},
    }


def _user(request: Request, state: EmulatorState) -> str | None:
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


def _unauthorized() -> JSONResponse:
    return _error(401, "Requires authentication.")


def _too_many(state: EmulatorState) -> JSONResponse:
    return _error(
        429,
        f"Too many concurrent queries for this user (limit {state.max_queries_per_user}).",
        {"Retry-After": "1"},
    )


def _result(
    state: EmulatorState, explore: Explore, spec: QuerySpec, fmt: str, limit: int | None
) -> Iterator[bytes]:
    """The result of ``spec`` in ``fmt`` (rows counted as served); FilterError if bad."""
    sql = to_sql(explore, spec, limit)
    if fmt == "sql":
        return render(fmt, [], iter(()), explore.label, sql=sql)
    result = execute(explore, spec, today=state.today)
    rows = _count(take(result.rows, limit), state)
    return render(fmt, result.fields, rows, explore.label, sql=sql, filters=dict(spec.filters))


async def _run(request: Request, state: EmulatorState, user: str, spec: QuerySpec) -> Response:
    """Run a query synchronously, holding one of the user's query slots meanwhile.

    The result format comes from the path, the limit from the query string (default:
    the query's own), the simulated latency from the request state.
    """
    fmt = request.path_params["result_format"]
    limit_raw = request.query_params.get("limit", spec.limit)
    latency = _latency(request)
    if fmt not in SUPPORTED_FORMATS:
        return _error(400, f"Unsupported result format: {fmt}")
    explore = state.dataset.explore(spec.model, spec.view)
    if explore is None:
        return _error(404, "Not found")
    try:
        limit = state.effective_limit(limit_raw)
    except ValueError as exc:
        return _error(400, str(exc))
    if state.active_queries(user) >= state.max_queries_per_user:
        return _too_many(state)
    state.running[user] += 1
    state.peak_running = max(state.peak_running, state.active_queries(user))
    try:
        if latency:
            await asyncio.sleep(latency)
        source = explore.source
        if fmt == "json" and isinstance(source, GeneratedSource):
            fast = source.fast_json(spec.fields, dict(spec.filters), spec.sorts, limit)
            if fast is not None:
                return Response(fast, media_type=CONTENT_TYPES[fmt])
        try:
            body = b"".join(_result(state, explore, spec, fmt, limit))
        except FilterError as exc:
            return _error(400, f"Invalid filter: {exc}")
        except FormatUnavailableError as exc:
            return _error(400, str(exc))
    finally:
        state.running[user] -= 1
    return Response(body, media_type=CONTENT_TYPES[fmt])


def _count(rows: Iterator[Any], state: EmulatorState) -> Iterator[Any]:
    for row in rows:
        state.rows_served += 1
        yield row


async def login(request: Request, state: EmulatorState, _: str) -> Response:
    raw = (await request.body()).decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(raw).items()}
    client_id = form.get("client_id") or request.query_params.get("client_id") or ""
    client_secret = form.get("client_secret") or request.query_params.get("client_secret") or ""
    good_id = hmac.compare_digest(client_id.encode(), state.client_id.encode())
    good_secret = hmac.compare_digest(
        client_secret.encode(), state.client_secret.get_secret_value().encode()
    )
    if not (good_id and good_secret):
        return _error(404, "Not found")
    token = secrets.token_urlsafe(30)
    state.tokens[token] = ("1", state.clock() + state.token_ttl)
    state.logins += 1
    return JSONResponse(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": state.token_ttl,
            "refresh_token": None,
        }
    )


async def logout(request: Request, state: EmulatorState, _: str) -> Response:
    _, _, token = request.headers.get("authorization", "").partition(" ")
    state.tokens.pop(token.strip(), None)
    return Response(status_code=204)


async def all_looks(request: Request, state: EmulatorState, user: str) -> Response:
    return JSONResponse([_look_body(state, lid, False) for lid in state.dataset.looks])


async def look(request: Request, state: EmulatorState, user: str) -> Response:
    look_id = request.path_params["look_id"]
    if look_id not in state.dataset.looks:
        return _error(404, "Not found")
    return JSONResponse(_look_body(state, look_id, True))


def _latency(request: Request) -> float:
    return float(getattr(request.state, "latency", 0.0))


async def run_look(request: Request, state: EmulatorState, user: str) -> Response:
    look_id = request.path_params["look_id"]
    if look_id not in state.dataset.looks:
        return _error(404, "Not found")
    spec = state.queries[state.look_queries[look_id]]
    return await _run(request, state, user, spec)


async def _json_body(request: Request) -> dict[str, Any] | Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _error(400, "JSON parse error")
    if not isinstance(body, dict):
        return _validation_failed([FieldError("body", "invalid", "Expected a JSON object")])
    return body


async def _body_query(request: Request) -> QuerySpec | Response:
    """The query in the request's JSON body, or the error response."""
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    return _validate_query(body)


def _validate_query(body: dict[str, Any]) -> QuerySpec | Response:
    """A ``Query`` body already checked against the spec; model and view must not be empty."""
    missing = [name for name in ("model", "view") if not body.get(name)]
    if missing:
        return _validation_failed(
            FieldError(name, "missing", "This field is required.") for name in missing
        )
    return QuerySpec.from_body(body)


async def run_inline_query(request: Request, state: EmulatorState, user: str) -> Response:
    spec = await _body_query(request)
    if isinstance(spec, Response):
        return spec
    state.query_id(spec)
    return await _run(request, state, user, spec)


def _url_encoded_spec(request: Request) -> QuerySpec:
    """The query of ``run_url_encoded_query``: ``fields``, ``f[field]``, ``sorts``, ``limit``."""
    params = request.query_params

    def listed(name: str) -> list[str]:
        return [p.strip() for v in params.getlist(name) for p in v.split(",") if p.strip()]

    filters = {k[2:-1]: v for k, v in params.multi_items() if k.startswith("f[") and k[-1] == "]"}
    return QuerySpec.from_body(
        {
            "model": request.path_params["model_name"],
            "view": request.path_params["view_name"],
            "fields": listed("fields"),
            "filters": filters,
            "sorts": listed("sorts"),
            "limit": params.get("limit"),
        }
    )


async def run_url_encoded_query(request: Request, state: EmulatorState, user: str) -> Response:
    spec = _url_encoded_spec(request)
    state.query_id(spec)
    return await _run(request, state, user, spec)


async def create_query(request: Request, state: EmulatorState, user: str) -> Response:
    spec = await _body_query(request)
    if isinstance(spec, Response):
        return spec
    if state.dataset.explore(spec.model, spec.view) is None:
        return _error(404, "Not found")
    return JSONResponse(_query_body(spec, state.query_id(spec)))


async def query(request: Request, state: EmulatorState, user: str) -> Response:
    qid = request.path_params["query_id"]
    if qid not in state.queries:
        return _error(404, "Not found")
    return JSONResponse(_query_body(state.queries[qid], qid))


async def query_for_slug(request: Request, state: EmulatorState, user: str) -> Response:
    qid = state.slugs.get(request.path_params["slug"])
    if qid is None:
        return _error(404, "Not found")
    return JSONResponse(_query_body(state.queries[qid], qid))


async def run_query(request: Request, state: EmulatorState, user: str) -> Response:
    qid = request.path_params["query_id"]
    if qid not in state.queries:
        return _error(404, "Not found")
    spec = state.queries[qid]
    return await _run(request, state, user, spec)


async def create_query_task(request: Request, state: EmulatorState, user: str) -> Response:
    """A new task: it starts at once if the user has a free query slot, else it queues."""
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    qid = str(body.get("query_id") or "")
    fmt = str(body.get("result_format") or "")
    if qid not in state.queries:
        return _error(404, "Not found")
    if fmt not in SUPPORTED_FORMATS:
        return _error(400, f"Unsupported result format: {fmt}")
    try:
        limit = state.effective_limit(request.query_params.get("limit", state.queries[qid].limit))
    except ValueError as exc:
        return _error(400, str(exc))
    task = Task(
        id=secrets.token_hex(16),
        query_id=qid,
        result_format=fmt,
        user=user,
        limit=limit,
        needed_polls=max(1, state.faults.task_polls + state.faults.slow_query_polls),
        run_seconds=state.faults.task_seconds,
        outcome=state.faults.task_outcome,
        look_id=body.get("look_id"),
        created=state.clock(),
    )
    state.add_task(task)
    return JSONResponse(_task_body(task, state))


def _task(request: Request, state: EmulatorState, user: str) -> Task | None:
    task = state.tasks.get(request.path_params["query_task_id"])
    return task if task is not None and task.user == user else None


def _poll(task: Task, state: EmulatorState) -> str:
    """Count a poll of a started task; the task's status afterwards."""
    state.advance(task.user)
    now = state.clock()
    if task.running(now):
        task.polls += 1
        if not task.running(now):
            task.ended = now
    return task.status(now)


async def query_task(request: Request, state: EmulatorState, user: str) -> Response:
    task = _task(request, state, user)
    if task is None:
        return _error(404, "Not found")
    _poll(task, state)
    return JSONResponse(_task_body(task, state))


_EXPIRED = "The Query Task Id was not found or the results have expired."
_FAILED = {
    "expired": (404, _EXPIRED),
    "error": (400, "An error occurred while running the query."),
    "killed": (400, "The query was killed."),
}


async def query_task_results(request: Request, state: EmulatorState, user: str) -> Response:
    task = _task(request, state, user)
    if task is None:
        return _error(404, _EXPIRED)
    status = _poll(task, state)
    if status in ACTIVE:
        return Response(b"", status_code=202, media_type="application/json")
    if status in _FAILED:
        return _error(*_FAILED[status])
    spec = state.queries[task.query_id]
    explore = state.dataset.explore(spec.model, spec.view)
    if explore is None:
        return _error(404, "Not found")
    latency = _latency(request)
    if latency:
        await asyncio.sleep(latency)
    try:
        chunks = _result(state, explore, spec, task.result_format, task.limit)
    except FilterError as exc:
        return _error(400, f"Invalid filter: {exc}")
    except FormatUnavailableError as exc:
        return _error(400, str(exc))
    return StreamingResponse(chunks, media_type=CONTENT_TYPES[task.result_format])


def _multi_result(state: EmulatorState, user: str, task_id: str) -> dict[str, Any]:
    task = state.tasks.get(task_id)
    if task is None or task.user != user:
        return {"status": "missing", "data": None}
    status = task.status(state.clock())
    spec = state.queries[task.query_id]
    explore = state.dataset.explore(spec.model, spec.view)
    if status != "complete" or explore is None:
        return {"status": status, "data": None}
    try:
        text = b"".join(_result(state, explore, spec, task.result_format, task.limit))
    except (FilterError, FormatUnavailableError) as exc:
        return {"status": "error", "data": None, "errors": [{"message": str(exc)}]}
    if task.result_format.startswith("json"):
        return {"status": status, "data": json.loads(text)}
    return {"status": status, "data": text.decode("utf-8", "replace")}


async def query_task_multi_results(request: Request, state: EmulatorState, user: str) -> Response:
    """Results of several tasks by id (``query_task_ids=a,b``); unknown ids are ``missing``."""
    state.advance(user)
    raw = request.query_params.getlist("query_task_ids")
    ids = [p.strip() for v in raw for p in v.split(",") if p.strip()]
    if not ids:
        return _error(400, "query_task_ids is required")
    return JSONResponse({tid: _multi_result(state, user, tid) for tid in dict.fromkeys(ids)})


def _iso(clock_value: float, state: EmulatorState) -> str:
    """A clock reading as a wall-clock timestamp (the clock may be monotonic)."""
    offset = time.time() - state.clock()
    return datetime.fromtimestamp(clock_value + offset, UTC).isoformat()


async def all_running_queries(request: Request, state: EmulatorState, user: str) -> Response:
    """The user's started, unfinished query tasks as ``RunningQueries``."""
    state.advance(user)
    now = state.clock()
    out = []
    for task in state.pending.get(user, ()):
        if not task.running(now) or task.started is None:
            continue
        spec = state.queries[task.query_id]
        out.append(
            {
                "id": task.id,
                "query_task_id": task.id,
                "query_id": task.query_id,
                "slug": _slug(task.query_id),
                "query": _query_body(spec, task.query_id),
                "user": {"id": user, "display_name": "API user"},
                "created_at": _iso(task.started, state),
                "completed_at": None,
                "source": "api",
                "status": task.status(now),
                "connection_name": "warehouse",
                "runtime": round(now - task.started, 3),
                "can": {"cancel": True},
            }
        )
    return JSONResponse(out)


async def kill_query(request: Request, state: EmulatorState, user: str) -> Response:
    task = _task(request, state, user)
    if task is None or task.status(state.clock()) not in ACTIVE:
        return _error(404, "Not found")
    task.killed = True
    task.ended = state.clock()
    state.advance(user)
    return Response(status_code=204)


async def me(request: Request, state: EmulatorState, user: str) -> Response:
    """The API user the token belongs to (``User``)."""
    return JSONResponse(
        {
            "id": user,
            "first_name": "API",
            "last_name": "User",
            "display_name": "API User",
            "email": None,
            "is_disabled": False,
            "is_service_account": False,
            "locale": "en",
            "role_ids": ["2"],
            "group_ids": ["1"],
            "personal_folder_id": "1",
            "home_folder_id": "1",
            "credentials_api3": [
                {"id": "1", "client_id": state.client_id, "type": "api3", "is_disabled": False}
            ],
            "can": {"show": True, "index": True, "show_details": True},
            "url": f"{str(request.base_url).rstrip('/')}{API}/users/{user}",
        }
    )


def _model_body(state: EmulatorState, name: str) -> dict[str, Any]:
    explores = state.dataset.models[name]
    return {
        "name": name,
        "label": state.dataset.model_labels.get(name, name),
        "project_name": name,
        "allowed_db_connection_names": ["warehouse"],
        "unlimited_db_connections": False,
        "has_content": True,
        "explores": [
            {"name": e.name, "label": e.label, "description": e.description, "hidden": False}
            for e in explores.values()
        ],
        "can": {"index": True, "show": True},
    }


async def all_lookml_models(request: Request, state: EmulatorState, user: str) -> Response:
    return JSONResponse([_model_body(state, name) for name in state.dataset.models])


async def lookml_model(request: Request, state: EmulatorState, user: str) -> Response:
    name = request.path_params["lookml_model_name"]
    if name not in state.dataset.models:
        return _error(404, "Not found")
    return JSONResponse(_model_body(state, name))


async def lookml_model_explore(request: Request, state: EmulatorState, user: str) -> Response:
    explore = state.dataset.explore(
        request.path_params["lookml_model_name"], request.path_params["explore_name"]
    )
    if explore is None:
        return _error(404, "Not found")
    dims = [field_body(f, explore.label) for f in explore.fields.values() if not f.is_measure]
    measures = [field_body(f, explore.label) for f in explore.fields.values() if f.is_measure]
    return JSONResponse(
        {
            "id": f"{explore.model}::{explore.name}",
            "name": explore.name,
            "label": explore.label,
            "description": explore.description,
            "model_name": explore.model,
            "view_name": explore.name,
            "connection_name": "warehouse",
            "hidden": False,
            "fields": {"dimensions": dims, "measures": measures, "filters": [], "parameters": []},
        }
    )


async def versions(request: Request, state: EmulatorState, _: str) -> Response:
    base = str(request.base_url).rstrip("/")
    current = {
        "version": "4.0",
        "full_version": "4.0.26.0",
        "status": "current",
        "swagger_url": f"{base}/api/4.0/swagger.json",
    }
    return JSONResponse(
        {
            "looker_release_version": "26.0.0",
            "current_version": current,
            "supported_versions": [current],
            "api_server_url": base,
            "web_server_url": base,
        }
    )


def _plan_problem(state: EmulatorState, plan: dict[str, Any], run_once: bool) -> Response | None:
    problem = check_plan(
        plan,
        run_once=run_once,
        known_looks=set(state.dataset.looks),
        http_ok=state.allow_http_webhooks,
    )
    if problem is None:
        return None
    if problem.status == 404:
        return _error(404, "Not found")
    return _validation_failed([FieldError(problem.field, "invalid", problem.message)])


def _store_plan(state: EmulatorState, plan: dict[str, Any], user: str) -> dict[str, Any]:
    plan_id = str(next(state._plan_ids))
    look_id = plan.get("look_id")
    title = state.dataset.looks[str(look_id)].title if look_id else None
    stored = plan_body({**plan, "user_id": user}, plan_id, title=title)
    state.scheduled_plans[plan_id] = stored
    return stored


async def create_scheduled_plan(request: Request, state: EmulatorState, user: str) -> Response:
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    refused = _plan_problem(state, body, run_once=False)
    return refused or JSONResponse(_store_plan(state, body, user))


async def scheduled_plan(request: Request, state: EmulatorState, user: str) -> Response:
    plan = state.scheduled_plans.get(request.path_params["scheduled_plan_id"])
    return JSONResponse(plan) if plan is not None else _error(404, "Not found")


async def _run_once(
    request: Request, state: EmulatorState, user: str, plan: dict[str, Any]
) -> Response:
    refused = _plan_problem(state, plan, run_once=True)
    if refused is not None:
        return refused
    stored = _store_plan(state, {**plan, "run_once": True}, user)
    base_url = str(request.base_url).rstrip("/")
    task = asyncio.create_task(_deliver(state, stored, base_url))
    state.background.add(task)
    task.add_done_callback(state.background.discard)
    return JSONResponse(stored)


async def scheduled_plan_run_once(request: Request, state: EmulatorState, user: str) -> Response:
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    return await _run_once(request, state, user, body)


async def scheduled_plan_run_once_by_id(
    request: Request, state: EmulatorState, user: str
) -> Response:
    existing = state.scheduled_plans.get(request.path_params["scheduled_plan_id"])
    if existing is None:
        return _error(404, "Not found")
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    copy = {k: v for k, v in existing.items() if k not in {"id", "title", "can"}}
    return await _run_once(request, state, user, {**copy, **body})


def _plan_result(state: EmulatorState, plan: dict[str, Any], fmt: str) -> tuple[str, bytes]:
    """The query id and rendered result a plan delivers (all rows with send_all_results)."""
    qid = state.look_queries[str(plan["look_id"])] if plan.get("look_id") else plan["query_id"]
    spec = state.queries[str(qid)]
    explore = state.dataset.explore(spec.model, spec.view)
    if explore is None:
        raise FilterError(f"unknown explore {spec.model}/{spec.view}")
    limit = None if plan.get("send_all_results") else state.row_cap
    render_fmt = "json" if fmt == "inline_json" else fmt
    return str(qid), b"".join(_result(state, explore, spec, render_fmt, limit))


async def _deliver(state: EmulatorState, plan: dict[str, Any], base_url: str) -> None:
    """POST the plan's result to each webhook destination and record each attempt."""
    import httpx

    for dest in plan["scheduled_plan_destination"]:
        if dest.get("type") != "webhook":
            continue
        fmt = dest.get("format") or "json"
        delivery = Delivery(plan["id"], str(dest["address"]), b"")
        state.deliveries.append(delivery)
        try:
            qid, result = _plan_result(state, plan, fmt)
            query = _query_body(state.queries[qid], qid)
            content_type = CONTENT_TYPES["json" if fmt == "inline_json" else fmt]
            delivery.body = webhook_payload(
                plan, base_url=base_url, query=query, fmt=fmt, result=result,
                content_type=content_type,
            )  # fmt: skip
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.post(
                    delivery.address,
                    content=delivery.body,
                    headers={"Content-Type": "application/json"},
                )
            delivery.status_code = response.status_code
        except (httpx.HTTPError, FilterError, FormatUnavailableError, KeyError) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"


async def create_dashboard_render_task(
    request: Request, state: EmulatorState, user: str
) -> Response:
    """A render task of a dashboard (spec ``create_dashboard_render_task``)."""
    board_id = request.path_params["dashboard_id"]
    fmt = request.path_params["result_format"]
    if board_id not in state.dashboards:
        return _error(404, "Not found")
    if fmt != "pdf":
        return _error(400, f"Unsupported result format: {fmt} (this emulator renders pdf)")
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    try:
        size = {k: int(request.query_params[k]) for k in ("width", "height")}
    except (KeyError, ValueError):
        return _error(400, "width and height are required integers")
    task = new_task(
        user,
        board_id,
        fmt,
        {
            **size,
            "dashboard_filters": str(body.get("dashboard_filters") or ""),
            "dashboard_style": str(body.get("dashboard_style") or "tiled"),
            "created_at": _iso(state.clock(), state),
        },
    )
    state.render_tasks[task.id] = task
    return JSONResponse(task.body())


def _render_task(request: Request, state: EmulatorState, user: str) -> RenderTask | None:
    task = state.render_tasks.get(request.path_params["render_task_id"])
    return task if task is not None and task.user == user else None


async def render_task(request: Request, state: EmulatorState, user: str) -> Response:
    """Each read moves the task one status on, up to ``success``."""
    task = _render_task(request, state, user)
    if task is None:
        return _error(404, "Not found")
    task.polls += 1
    return JSONResponse(task.body())


async def render_task_results(request: Request, state: EmulatorState, user: str) -> Response:
    """202 with ``Retry-After`` until the task succeeded, then the document."""
    task = _render_task(request, state, user)
    if task is None:
        return _error(404, "Not found")
    if task.status != "success":
        return Response(b"", status_code=202, headers={"Retry-After": "1"})
    if task.result is None:
        board = state.dashboards[task.dashboard_id]
        try:
            task.result = render_pdf(state.dataset, board, task, state.today)
        except FilterError as exc:
            return _error(400, f"Invalid filter: {exc}")
    return Response(task.result, media_type="application/pdf")


PUBLIC = {"login", "logout", "versions"}
RUN_ENDPOINTS = {"run_look", "run_inline_query", "run_query", "run_url_encoded_query"}


def _endpoint(name: str, handler: Handler, state: EmulatorState) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        state.calls[name] += 1
        latency = 0.0
        for fault in state.faults.for_endpoint(name):
            latency += fault.latency_ms / 1000.0
            if fault.unauthorized_next > 0:
                fault.unauthorized_next -= 1
                return _unauthorized()
            if fault.rate_limited_next > 0:
                fault.rate_limited_next -= 1
                return _error(429, "Too many requests.", {"Retry-After": str(fault.retry_after)})
            if fault.html_next > 0:
                fault.html_next -= 1
                return HTMLResponse(
                    f"<html><body><h1>{fault.html_status} Bad Gateway</h1></body></html>",
                    status_code=fault.html_status,
                )
            if state.faults.roll(fault.error_rate):
                return _error(fault.error_status, "Service unavailable, try again later.")
        query_endpoint = name in RUN_ENDPOINTS
        if query_endpoint or name == "query_task_results":
            request.state.latency = latency
        elif latency:
            await asyncio.sleep(latency)
        user = ""
        if name not in PUBLIC:
            found = _user(request, state)
            if found is None:
                return _unauthorized()
            user = found
        invalid = check_request(request, await request.body() or None)
        if invalid.parameters:
            return _error(400, "; ".join(invalid.parameters))
        if invalid.body:
            return _validation_failed(invalid.body)
        return await handler(request, state, user)

    return endpoint


async def _admin_faults(request: Request) -> Response:
    state: EmulatorState = request.app.state.looker
    if request.method == "PUT":
        try:
            state.faults = Faults.from_dict(json.loads(await request.body() or b"{}"))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
    return JSONResponse(state.faults.to_dict())


async def _admin_stats(request: Request) -> Response:
    state: EmulatorState = request.app.state.looker
    return JSONResponse(
        {
            "calls": dict(state.calls),
            "logins": state.logins,
            "rows_served": state.rows_served,
            "peak_running": state.peak_running,
        }
    )


async def _not_found(request: Request) -> Response:
    """405 (JSON, as the API answers) for a known path with another method, else HTML 404."""
    allowed = sorted(
        method
        for route in request.app.routes
        if isinstance(route, Route)
        and route.path != "/{path:path}"
        and route.matches(request.scope)[0] is Match.PARTIAL
        for method in route.methods or ()
        if method != "HEAD"
    )
    if allowed:
        return _error(405, "Method Not Allowed", {"Allow": ", ".join(allowed)})
    return HTMLResponse(NOT_FOUND_HTML, status_code=404)


def create_app(
    dataset_dir: Path | str | None = None,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: SecretStr | str = DEFAULT_CLIENT_SECRET,
    token_ttl: int = 3599,
    row_cap: int = 5000,
    allow_unlimited: bool = False,
    max_queries_per_user: int = 15,
    bench_rows: int = 0,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.monotonic,
    today: date | None = None,
    allow_http_webhooks: bool = False,
) -> Starlette:
    """A Looker API 4.0 emulator serving ``dataset_dir`` (the demo dataset by default).

    ``bench_rows`` > 0 adds the generated explore ``bench`` / ``rows``. ``clock`` (seconds,
    monotonic) drives token expiry; ``today`` fixes relative date filters.
    ``allow_http_webhooks`` lets scheduled plans deliver to ``http://`` receivers (tests on
    loopback); Looker itself delivers to ``https://`` only.
    """
    root = dataset_dir or demo_dataset_dir()
    dataset = load_dataset(root)
    if bench_rows > 0:
        dataset.add(bench_explore(bench_rows), "Benchmark")
    secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
    state = EmulatorState(
        dataset=dataset,
        client_id=client_id,
        client_secret=secret,
        token_ttl=token_ttl,
        row_cap=row_cap,
        allow_unlimited=allow_unlimited,
        max_queries_per_user=max_queries_per_user,
        faults=faults or Faults(),
        clock=clock,
        today=today,
        allow_http_webhooks=allow_http_webhooks,
    )
    state.dashboards = load_dashboards(Path(root), dataset)
    for look_id, saved in dataset.looks.items():
        state.look_queries[look_id] = state.query_id(QuerySpec.from_body(saved.query))
    table: list[tuple[str, str, str, Handler]] = [
        ("POST", "/login", "login", login),
        ("DELETE", "/logout", "logout", logout),
        ("GET", "/looks", "all_looks", all_looks),
        ("GET", "/looks/{look_id}", "look", look),
        ("GET", "/looks/{look_id}/run/{result_format}", "run_look", run_look),
        ("POST", "/queries/run/{result_format}", "run_inline_query", run_inline_query),
        ("POST", "/queries", "create_query", create_query),
        ("GET", "/queries/slug/{slug}", "query_for_slug", query_for_slug),
        (
            "GET",
            "/queries/models/{model_name}/views/{view_name}/run/{result_format}",
            "run_url_encoded_query",
            run_url_encoded_query,
        ),
        ("GET", "/queries/{query_id}", "query", query),
        ("GET", "/queries/{query_id}/run/{result_format}", "run_query", run_query),
        ("POST", "/query_tasks", "create_query_task", create_query_task),
        (
            "GET",
            "/query_tasks/multi_results",
            "query_task_multi_results",
            query_task_multi_results,
        ),
        ("GET", "/query_tasks/{query_task_id}", "query_task", query_task),
        ("GET", "/query_tasks/{query_task_id}/results", "query_task_results", query_task_results),
        ("GET", "/running_queries", "all_running_queries", all_running_queries),
        ("DELETE", "/running_queries/{query_task_id}", "kill_query", kill_query),
        ("GET", "/user", "me", me),
        ("GET", "/lookml_models", "all_lookml_models", all_lookml_models),
        ("GET", "/lookml_models/{lookml_model_name}", "lookml_model", lookml_model),
        (
            "GET",
            "/lookml_models/{lookml_model_name}/explores/{explore_name}",
            "lookml_model_explore",
            lookml_model_explore,
        ),
        ("GET", "/versions", "versions", versions),
        ("POST", "/scheduled_plans", "create_scheduled_plan", create_scheduled_plan),
        (
            "POST",
            "/scheduled_plans/run_once",
            "scheduled_plan_run_once",
            scheduled_plan_run_once,
        ),
        ("GET", "/scheduled_plans/{scheduled_plan_id}", "scheduled_plan", scheduled_plan),
        (
            "POST",
            "/scheduled_plans/{scheduled_plan_id}/run_once",
            "scheduled_plan_run_once_by_id",
            scheduled_plan_run_once_by_id,
        ),
        (
            "POST",
            "/render_tasks/dashboards/{dashboard_id}/{result_format}",
            "create_dashboard_render_task",
            create_dashboard_render_task,
        ),
        ("GET", "/render_tasks/{render_task_id}", "render_task", render_task),
        (
            "GET",
            "/render_tasks/{render_task_id}/results",
            "render_task_results",
            render_task_results,
        ),
    ]
    routes = [
        Route(API + path, _endpoint(name, handler, state), methods=[method], name=name)
        for method, path, name, handler in table
    ]
    # what looker-sdk sends on logout, and the unversioned discovery call
    routes.append(Route("/api/logout", _endpoint("logout", logout, state), methods=["DELETE"]))
    routes.append(Route("/versions", _endpoint("versions", versions, state), methods=["GET"]))
    routes.append(Route("/__admin/faults", _admin_faults, methods=["GET", "PUT"]))
    routes.append(Route("/__admin/stats", _admin_stats, methods=["GET"]))
    routes.append(
        Route("/{path:path}", _not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    )
    app = Starlette(routes=routes)
    app.state.looker = state
    return app
