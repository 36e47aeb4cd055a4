"""The Looker API 4.0 emulator: a Starlette app with the real rules of a Looker instance.

Login/logout with API3 credentials (404 on bad ones), ``token`` and ``Bearer``
schemes, token expiry with 401 after it, saved Looks, inline queries, stored
queries, async query tasks (``added`` -> ``running`` -> ``complete`` | ``error`` |
``expired`` | ``killed``), the row cap and ``limit`` semantics, the per-user query
concurrency limit with 429, content discovery (Looks, models, explores with
fields), an HTML 404 page for unknown paths, and fault injection
(:mod:`~ml_connector.emulators.looker.faults`) plus ``/__admin`` endpoints.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ml_connector.emulators.looker.dataset import (
    Dataset,
    Explore,
    Field,
    GeneratedSource,
    bench_explore,
    demo_dataset_dir,
    load_dataset,
)
from ml_connector.emulators.looker.engine import QuerySpec, execute, take
from ml_connector.emulators.looker.faults import Faults
from ml_connector.emulators.looker.filters import FilterError
from ml_connector.emulators.looker.render import CONTENT_TYPES, SUPPORTED_FORMATS, render

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


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS_URL}, status_code=status, headers=headers
    )


@dataclass
class Task:
    """One async query task."""

    id: str
    query_id: str
    result_format: str
    user: str
    limit: int | None
    needed_polls: int
    outcome: str
    look_id: str | None = None
    polls: int = 0
    killed: bool = False
    created: float = 0.0

    @property
    def status(self) -> str:
        if self.killed:
            return "killed"
        if self.polls == 0:
            return "added"
        if self.polls < self.needed_polls:
            return "running"
        return self.outcome

    @property
    def active(self) -> bool:
        return self.status in {"added", "running"}


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
    look_queries: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    running: Counter[str] = field(default_factory=Counter)
    peak_running: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    logins: int = 0
    rows_served: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def query_id(self, spec: QuerySpec) -> str:
        """Queries are immutable: the same query gets the same id."""
        existing = self.query_ids.get(spec)
        if existing is not None:
            return existing
        qid = str(next(self._ids))
        self.queries[qid] = spec
        self.query_ids[spec] = qid
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
        tasks = sum(1 for t in self.tasks.values() if t.user == user and t.active)
        return self.running[user] + tasks


Handler = Callable[[Request, EmulatorState, str], Awaitable[Response]]


def _query_body(spec: QuerySpec, qid: str) -> dict[str, Any]:
    body = spec.to_body()
    body.update(
        id=qid,
        slug=hashlib.sha1(qid.encode(), usedforsecurity=False).hexdigest()[:22],
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


def _field_body(f: Field, explore: Explore) -> dict[str, Any]:
    return {
        "name": f.name,
        "label": f"{explore.label} {f.label}",
        "label_short": f.label,
        "view": f.view,
        "view_label": explore.label,
        "category": f.category,
        "type": f.type,
        "description": f.description,
        "primary_key": f.primary_key,
        "measure": f.is_measure,
        "is_numeric": f.is_numeric,
        "is_filter": False,
        "is_timeframe": f.type == "date",
        "hidden": False,
        "sortable": True,
        "can_filter": True,
        "suggestable": not f.is_measure,
        "value_format_name": f.value_format_name,
        "sql": None,
        "enumerations": None,
        "dynamic": False,
        "permanent": None,
        "scope": f.view,
        "tags": [],
    }


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
    return {
        "id": task.id,
        "query_id": task.query_id,
        "status": task.status,
        "result_format": task.result_format,
        "look_id": task.look_id,
        "source": None,
        "runtime": 0.05 if task.status == "complete" else None,
        "result_source": "query" if task.status == "complete" else None,
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
        return _error(
            429,
            f"Too many concurrent queries for this user (limit {state.max_queries_per_user}).",
            {"Retry-After": "1"},
        )
    state.running[user] += 1
    state.peak_running = max(state.peak_running, state.running[user])
    try:
        if latency:
            await asyncio.sleep(latency)
        source = explore.source
        if fmt == "json" and isinstance(source, GeneratedSource):
            fast = source.fast_json(spec.fields, dict(spec.filters), spec.sorts, limit)
            if fast is not None:
                return Response(fast, media_type=CONTENT_TYPES[fmt])
        try:
            result = execute(explore, spec, today=state.today)
        except FilterError as exc:
            return _error(400, f"Invalid filter: {exc}")
        counted = _count(take(result.rows, limit), state)
        body = b"".join(render(fmt, result.fields, counted, explore.label))
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
        return _error(400, "Could not parse JSON body")
    if not isinstance(body, dict):
        return _error(400, "Expected a JSON object")
    return body


async def _body_query(request: Request) -> QuerySpec | Response:
    """The query in the request's JSON body, or the error response."""
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    return _validate_query(body)


def _validate_query(body: dict[str, Any]) -> QuerySpec | Response:
    if not body.get("model") or not body.get("view"):
        return JSONResponse(
            {
                "message": "Validation Failed",
                "errors": [
                    {"field": name, "code": "missing", "message": "This field is required."}
                    for name in ("model", "view")
                    if not body.get(name)
                ],
                "documentation_url": DOCS_URL,
            },
            status_code=422,
        )
    return QuerySpec.from_body(body)


async def run_inline_query(request: Request, state: EmulatorState, user: str) -> Response:
    spec = await _body_query(request)
    if isinstance(spec, Response):
        return spec
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


async def run_query(request: Request, state: EmulatorState, user: str) -> Response:
    qid = request.path_params["query_id"]
    if qid not in state.queries:
        return _error(404, "Not found")
    spec = state.queries[qid]
    return await _run(request, state, user, spec)


async def create_query_task(request: Request, state: EmulatorState, user: str) -> Response:
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    qid = str(body.get("query_id") or "")
    fmt = str(body.get("result_format") or "")
    if qid not in state.queries:
        return _error(404, "Not found")
    if fmt not in SUPPORTED_FORMATS:
        return _error(400, f"Unsupported result format: {fmt}")
    if state.active_queries(user) >= state.max_queries_per_user:
        return _error(
            429,
            f"Too many concurrent queries for this user (limit {state.max_queries_per_user}).",
            {"Retry-After": "1"},
        )
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
        outcome=state.faults.task_outcome,
        look_id=body.get("look_id"),
        created=state.clock(),
    )
    state.tasks[task.id] = task
    state.peak_running = max(state.peak_running, state.active_queries(user))
    return JSONResponse(_task_body(task, state))


def _task(request: Request, state: EmulatorState, user: str) -> Task | None:
    task = state.tasks.get(request.path_params["query_task_id"])
    return task if task is not None and task.user == user else None


async def query_task(request: Request, state: EmulatorState, user: str) -> Response:
    task = _task(request, state, user)
    if task is None:
        return _error(404, "Not found")
    if task.active:
        task.polls += 1
    return JSONResponse(_task_body(task, state))


async def query_task_results(request: Request, state: EmulatorState, user: str) -> Response:
    task = _task(request, state, user)
    if task is None:
        return _error(404, "The Query Task Id was not found or the results have expired.")
    if task.active:
        task.polls += 1
        if task.active:
            return Response(b"", status_code=202, media_type="application/json")
    status = task.status
    if status == "expired":
        return _error(404, "The Query Task Id was not found or the results have expired.")
    if status == "error":
        return _error(400, "An error occurred while running the query.")
    if status == "killed":
        return _error(400, "The query was killed.")
    spec = state.queries[task.query_id]
    explore = state.dataset.explore(spec.model, spec.view)
    if explore is None:
        return _error(404, "Not found")
    latency = _latency(request)
    if latency:
        await asyncio.sleep(latency)
    try:
        result = execute(explore, spec, today=state.today)
    except FilterError as exc:
        return _error(400, f"Invalid filter: {exc}")
    chunks = render(
        task.result_format,
        result.fields,
        _count(take(result.rows, task.limit), state),
        explore.label,
    )
    return StreamingResponse(chunks, media_type=CONTENT_TYPES[task.result_format])


async def kill_query(request: Request, state: EmulatorState, user: str) -> Response:
    task = _task(request, state, user)
    if task is None or not task.active:
        return _error(404, "Not found")
    task.killed = True
    return Response(status_code=204)


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
    dims = [_field_body(f, explore) for f in explore.fields.values() if not f.is_measure]
    measures = [_field_body(f, explore) for f in explore.fields.values() if f.is_measure]
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


PUBLIC = {"login", "logout", "versions"}


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
        query_endpoint = name in {"run_look", "run_inline_query", "run_query"}
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
) -> Starlette:
    """A Looker API 4.0 emulator serving ``dataset_dir`` (the demo dataset by default).

    ``bench_rows`` > 0 adds the generated explore ``bench`` / ``rows``. ``clock`` (seconds,
    monotonic) drives token expiry; ``today`` fixes relative date filters.
    """
    dataset = load_dataset(dataset_dir or demo_dataset_dir())
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
    )
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
        ("GET", "/queries/{query_id}", "query", query),
        ("GET", "/queries/{query_id}/run/{result_format}", "run_query", run_query),
        ("POST", "/query_tasks", "create_query_task", create_query_task),
        ("GET", "/query_tasks/{query_task_id}", "query_task", query_task),
        ("GET", "/query_tasks/{query_task_id}/results", "query_task_results", query_task_results),
        ("DELETE", "/running_queries/{query_task_id}", "kill_query", kill_query),
        ("GET", "/lookml_models", "all_lookml_models", all_lookml_models),
        ("GET", "/lookml_models/{lookml_model_name}", "lookml_model", lookml_model),
        (
            "GET",
            "/lookml_models/{lookml_model_name}/explores/{explore_name}",
            "lookml_model_explore",
            lookml_model_explore,
        ),
        ("GET", "/versions", "versions", versions),
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
