"""The Looker emulator's Looks, queries and async query tasks: run, queue, poll, kill."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ml_connector_sandbox.emulators.looker.dataset import Explore, GeneratedSource
from ml_connector_sandbox.emulators.looker.engine import QuerySpec, execute, take, to_sql
from ml_connector_sandbox.emulators.looker.filters import FilterError
from ml_connector_sandbox.emulators.looker.render import (
    CONTENT_TYPES,
    SUPPORTED_FORMATS,
    FormatUnavailableError,
    render,
)
from ml_connector_sandbox.emulators.looker.state import (
    ACTIVE,
    EmulatorState,
    Task,
    error,
    query_slug,
    too_many,
    validation_failed,
)
from ml_connector_sandbox.emulators.looker.validation import FieldError


def query_body(spec: QuerySpec, qid: str) -> dict[str, Any]:
    body = spec.to_body()
    body.update(
        id=qid,
        slug=query_slug(qid),
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
        body["query"] = query_body(spec, qid)
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


def run_result(
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
        return error(400, f"Unsupported result format: {fmt}")
    explore = state.dataset.explore(spec.model, spec.view)
    if explore is None:
        return error(404, "Not found")
    try:
        limit = state.effective_limit(limit_raw)
    except ValueError as exc:
        return error(400, str(exc))
    if state.active_queries(user) >= state.max_queries_per_user:
        return too_many(state)
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
            body = b"".join(run_result(state, explore, spec, fmt, limit))
        except FilterError as exc:
            return error(400, f"Invalid filter: {exc}")
        except FormatUnavailableError as exc:
            return error(400, str(exc))
    finally:
        state.running[user] -= 1
    return Response(body, media_type=CONTENT_TYPES[fmt])


def _count(rows: Iterator[Any], state: EmulatorState) -> Iterator[Any]:
    for row in rows:
        state.rows_served += 1
        yield row


async def all_looks(request: Request, state: EmulatorState, user: str) -> Response:
    return JSONResponse([_look_body(state, lid, False) for lid in state.dataset.looks])


async def look(request: Request, state: EmulatorState, user: str) -> Response:
    look_id = request.path_params["look_id"]
    if look_id not in state.dataset.looks:
        return error(404, "Not found")
    return JSONResponse(_look_body(state, look_id, True))


def _latency(request: Request) -> float:
    return float(getattr(request.state, "latency", 0.0))


async def run_look(request: Request, state: EmulatorState, user: str) -> Response:
    look_id = request.path_params["look_id"]
    if look_id not in state.dataset.looks:
        return error(404, "Not found")
    spec = state.queries[state.look_queries[look_id]]
    return await _run(request, state, user, spec)


async def json_body(request: Request) -> dict[str, Any] | Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return error(400, "JSON parse error")
    if not isinstance(body, dict):
        return validation_failed([FieldError("body", "invalid", "Expected a JSON object")])
    return body


async def _body_query(request: Request) -> QuerySpec | Response:
    """The query in the request's JSON body, or the error response."""
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    return _validate_query(body)


def _validate_query(body: dict[str, Any]) -> QuerySpec | Response:
    """A ``Query`` body already checked against the spec; model and view must not be empty."""
    missing = [name for name in ("model", "view") if not body.get(name)]
    if missing:
        return validation_failed(
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
        return error(404, "Not found")
    return JSONResponse(query_body(spec, state.query_id(spec)))


async def query(request: Request, state: EmulatorState, user: str) -> Response:
    qid = request.path_params["query_id"]
    if qid not in state.queries:
        return error(404, "Not found")
    return JSONResponse(query_body(state.queries[qid], qid))


async def query_for_slug(request: Request, state: EmulatorState, user: str) -> Response:
    qid = state.slugs.get(request.path_params["slug"])
    if qid is None:
        return error(404, "Not found")
    return JSONResponse(query_body(state.queries[qid], qid))


async def run_query(request: Request, state: EmulatorState, user: str) -> Response:
    qid = request.path_params["query_id"]
    if qid not in state.queries:
        return error(404, "Not found")
    spec = state.queries[qid]
    return await _run(request, state, user, spec)


async def create_query_task(request: Request, state: EmulatorState, user: str) -> Response:
    """A new task: it starts at once if the user has a free query slot, else it queues."""
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    qid = str(body.get("query_id") or "")
    fmt = str(body.get("result_format") or "")
    if qid not in state.queries:
        return error(404, "Not found")
    if fmt not in SUPPORTED_FORMATS:
        return error(400, f"Unsupported result format: {fmt}")
    try:
        limit = state.effective_limit(request.query_params.get("limit", state.queries[qid].limit))
    except ValueError as exc:
        return error(400, str(exc))
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
        return error(404, "Not found")
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
        return error(404, _EXPIRED)
    status = _poll(task, state)
    if status in ACTIVE:
        return Response(b"", status_code=202, media_type="application/json")
    if status in _FAILED:
        return error(*_FAILED[status])
    spec = state.queries[task.query_id]
    explore = state.dataset.explore(spec.model, spec.view)
    if explore is None:
        return error(404, "Not found")
    latency = _latency(request)
    if latency:
        await asyncio.sleep(latency)
    try:
        chunks = run_result(state, explore, spec, task.result_format, task.limit)
    except FilterError as exc:
        return error(400, f"Invalid filter: {exc}")
    except FormatUnavailableError as exc:
        return error(400, str(exc))
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
        text = b"".join(run_result(state, explore, spec, task.result_format, task.limit))
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
        return error(400, "query_task_ids is required")
    return JSONResponse({tid: _multi_result(state, user, tid) for tid in dict.fromkeys(ids)})


def iso_time(clock_value: float, state: EmulatorState) -> str:
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
                "slug": query_slug(task.query_id),
                "query": query_body(spec, task.query_id),
                "user": {"id": user, "display_name": "API user"},
                "created_at": iso_time(task.started, state),
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
        return error(404, "Not found")
    task.killed = True
    task.ended = state.clock()
    state.advance(user)
    return Response(status_code=204)
