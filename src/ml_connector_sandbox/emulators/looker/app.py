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

This module holds the routes' table, authentication, fault injection and the admin
endpoints; the handlers are in :mod:`.queries` (Looks, queries, query tasks) and
:mod:`.plans` (scheduled plans, render tasks), the state they share in :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Match, Route

from ml_connector_sandbox.emulators.looker.dashboards import load_dashboards
from ml_connector_sandbox.emulators.looker.dataset import (
    bench_explore,
    demo_dataset_dir,
    load_dataset,
)
from ml_connector_sandbox.emulators.looker.engine import QuerySpec
from ml_connector_sandbox.emulators.looker.faults import Faults
from ml_connector_sandbox.emulators.looker.plans import (
    create_dashboard_render_task,
    create_scheduled_plan,
    render_task,
    render_task_results,
    scheduled_plan,
    scheduled_plan_run_once,
    scheduled_plan_run_once_by_id,
)
from ml_connector_sandbox.emulators.looker.queries import (
    all_looks,
    all_running_queries,
    create_query,
    create_query_task,
    kill_query,
    look,
    query,
    query_for_slug,
    query_task,
    query_task_multi_results,
    query_task_results,
    run_inline_query,
    run_look,
    run_query,
    run_url_encoded_query,
)
from ml_connector_sandbox.emulators.looker.render import field_body
from ml_connector_sandbox.emulators.looker.state import (
    EmulatorState,
    Handler,
    error,
    request_user,
    unauthorized,
    validation_failed,
)
from ml_connector_sandbox.emulators.looker.validation import check_request

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "EmulatorState",
    "create_app",
]


DEFAULT_CLIENT_ID = "demo-client-id"


DEFAULT_CLIENT_SECRET = "demo-client-secret"  # noqa: S105 - the documented sandbox default


API = "/api/4.0"


NOT_FOUND_HTML = (
    "<!DOCTYPE html><html><head><title>Looker Not Found (404)</title></head>"
    "<body><h1>Looker Not Found (404)</h1><p>The page you requested could not be found.</p>"
    "</body></html>"
)


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
        return error(404, "Not found")
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
        return error(404, "Not found")
    return JSONResponse(_model_body(state, name))


async def lookml_model_explore(request: Request, state: EmulatorState, user: str) -> Response:
    explore = state.dataset.explore(
        request.path_params["lookml_model_name"], request.path_params["explore_name"]
    )
    if explore is None:
        return error(404, "Not found")
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
                return unauthorized()
            if fault.rate_limited_next > 0:
                fault.rate_limited_next -= 1
                return error(429, "Too many requests.", {"Retry-After": str(fault.retry_after)})
            if fault.html_next > 0:
                fault.html_next -= 1
                return HTMLResponse(
                    f"<html><body><h1>{fault.html_status} Bad Gateway</h1></body></html>",
                    status_code=fault.html_status,
                )
            if state.faults.roll(fault.error_rate):
                return error(fault.error_status, "Service unavailable, try again later.")
        query_endpoint = name in RUN_ENDPOINTS
        if query_endpoint or name == "query_task_results":
            request.state.latency = latency
        elif latency:
            await asyncio.sleep(latency)
        user = ""
        if name not in PUBLIC:
            found = request_user(request, state)
            if found is None:
                return unauthorized()
            user = found
        invalid = check_request(request, await request.body() or None)
        if invalid.parameters:
            return error(400, "; ".join(invalid.parameters))
        if invalid.body:
            return validation_failed(invalid.body)
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
        return error(405, "Method Not Allowed", {"Allow": ", ".join(allowed)})
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
