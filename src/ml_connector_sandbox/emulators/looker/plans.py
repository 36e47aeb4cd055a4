"""The Looker emulator's scheduled plans (webhook deliveries) and dashboard render tasks."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector_sandbox.emulators.looker.dashboards import RenderTask, new_task, render_pdf
from ml_connector_sandbox.emulators.looker.filters import FilterError
from ml_connector_sandbox.emulators.looker.queries import (
    iso_time,
    json_body,
    query_body,
    run_result,
)
from ml_connector_sandbox.emulators.looker.render import CONTENT_TYPES, FormatUnavailableError
from ml_connector_sandbox.emulators.looker.scheduled import (
    Delivery,
    check_plan,
    plan_body,
    webhook_payload,
)
from ml_connector_sandbox.emulators.looker.state import EmulatorState, error, validation_failed
from ml_connector_sandbox.emulators.looker.validation import FieldError


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
        return error(404, "Not found")
    return validation_failed([FieldError(problem.field, "invalid", problem.message)])


def _store_plan(state: EmulatorState, plan: dict[str, Any], user: str) -> dict[str, Any]:
    plan_id = str(next(state._plan_ids))
    look_id = plan.get("look_id")
    title = state.dataset.looks[str(look_id)].title if look_id else None
    stored = plan_body({**plan, "user_id": user}, plan_id, title=title)
    state.scheduled_plans[plan_id] = stored
    return stored


async def create_scheduled_plan(request: Request, state: EmulatorState, user: str) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    refused = _plan_problem(state, body, run_once=False)
    return refused or JSONResponse(_store_plan(state, body, user))


async def scheduled_plan(request: Request, state: EmulatorState, user: str) -> Response:
    plan = state.scheduled_plans.get(request.path_params["scheduled_plan_id"])
    return JSONResponse(plan) if plan is not None else error(404, "Not found")


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
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    return await _run_once(request, state, user, body)


async def scheduled_plan_run_once_by_id(
    request: Request, state: EmulatorState, user: str
) -> Response:
    existing = state.scheduled_plans.get(request.path_params["scheduled_plan_id"])
    if existing is None:
        return error(404, "Not found")
    body = await json_body(request)
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
    return str(qid), b"".join(run_result(state, explore, spec, render_fmt, limit))


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
            query = query_body(state.queries[qid], qid)
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
        return error(404, "Not found")
    if fmt != "pdf":
        return error(400, f"Unsupported result format: {fmt} (this emulator renders pdf)")
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    try:
        size = {k: int(request.query_params[k]) for k in ("width", "height")}
    except (KeyError, ValueError):
        return error(400, "width and height are required integers")
    task = new_task(
        user,
        board_id,
        fmt,
        {
            **size,
            "dashboard_filters": str(body.get("dashboard_filters") or ""),
            "dashboard_style": str(body.get("dashboard_style") or "tiled"),
            "created_at": iso_time(state.clock(), state),
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
        return error(404, "Not found")
    task.polls += 1
    return JSONResponse(task.body())


async def render_task_results(request: Request, state: EmulatorState, user: str) -> Response:
    """202 with ``Retry-After`` until the task succeeded, then the document."""
    task = _render_task(request, state, user)
    if task is None:
        return error(404, "Not found")
    if task.status != "success":
        return Response(b"", status_code=202, headers={"Retry-After": "1"})
    if task.result is None:
        board = state.dashboards[task.dashboard_id]
        try:
            task.result = render_pdf(state.dataset, board, task, state.today)
        except FilterError as exc:
            return error(400, f"Invalid filter: {exc}")
    return Response(task.result, media_type="application/pdf")
