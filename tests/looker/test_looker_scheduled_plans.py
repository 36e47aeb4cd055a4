"""The Looker emulator's scheduled plans: checks as Looker does, webhook deliveries as sent."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector_sandbox.emulators._server import ServerHandle, serve_in_thread
from ml_connector_sandbox.emulators.looker import create_app

API = "/api/4.0"


class Receiver:
    """A webhook receiver on loopback that keeps every body it gets."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        assert request.headers["content-type"] == "application/json"
        self.bodies.append(json.loads(await request.body()))
        return Response(status_code=200)

    def wait(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 30
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.bodies) >= count, "no webhook delivery arrived"
        return self.bodies


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ServerHandle]]:
    hooks = Receiver()
    with serve_in_thread(hooks.app) as handle:
        yield hooks, handle


@pytest.fixture
def looker(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """A logged-in client of an emulator that may deliver to http:// on loopback."""
    allow = getattr(request, "param", True)
    app = create_app(client_id="cid", client_secret="sec", allow_http_webhooks=allow)
    with serve_in_thread(app) as handle, httpx.Client(base_url=handle.url + API) as http:
        token = http.post("/login", data={"client_id": "cid", "client_secret": "sec"}).json()
        http.headers["Authorization"] = f"token {token['access_token']}"
        yield http


def _plan(address: str, fmt: str = "csv") -> dict[str, Any]:
    destination = {"type": "webhook", "address": address, "format": fmt}
    return {"name": "GL to DATEV", "look_id": "1", "scheduled_plan_destination": [destination]}


def test_run_once_delivers_the_look_as_looker_does(
    looker: httpx.Client, receiver: tuple[Receiver, ServerHandle]
) -> None:
    hooks, server = receiver
    answer = looker.post("/scheduled_plans/run_once", json=_plan(f"{server.url}/hook"))
    assert answer.status_code == 200
    plan = answer.json()
    body = hooks.wait(1)[0]
    assert body["type"] == "query"
    assert body["scheduled_plan"]["scheduled_plan_id"] == plan["id"]
    assert body["scheduled_plan"]["type"] == "Look"
    assert body["scheduled_plan"]["title"] == "GL monthly for DATEV"
    assert body["scheduled_plan"]["url"].endswith("/looks/1")
    assert body["attachment"]["mimetype"] == "text/csv"
    rows = list(csv.reader(io.StringIO(body["attachment"]["data"])))
    assert len(rows) > 1
    assert body["form_params"] == {}


def test_created_plan_runs_once_by_id_and_keeps_its_destination(
    looker: httpx.Client, receiver: tuple[Receiver, ServerHandle]
) -> None:
    hooks, server = receiver
    created = looker.post(
        "/scheduled_plans", json={**_plan(f"{server.url}/hook", "json"), "crontab": "0 6 1 * *"}
    ).json()
    assert looker.get(f"/scheduled_plans/{created['id']}").json()["crontab"] == "0 6 1 * *"
    copy = looker.post(f"/scheduled_plans/{created['id']}/run_once").json()
    assert copy["id"] != created["id"]
    assert copy["run_once"] is True
    body = hooks.wait(1)[0]
    assert body["scheduled_plan"]["scheduled_plan_id"] == copy["id"]
    assert isinstance(json.loads(body["attachment"]["data"]), list)
    assert looker.post("/scheduled_plans/999/run_once").status_code == 404


def test_xlsx_travels_base64_and_inline_json_in_data(
    looker: httpx.Client, receiver: tuple[Receiver, ServerHandle]
) -> None:
    pytest.importorskip("openpyxl")
    hooks, server = receiver
    looker.post("/scheduled_plans/run_once", json=_plan(f"{server.url}/hook", "xlsx"))
    looker.post("/scheduled_plans/run_once", json=_plan(f"{server.url}/hook", "inline_json"))
    bodies = {(b["attachment"] or {}).get("extension", "inline"): b for b in hooks.wait(2)}
    assert bodies["xlsx"]["attachment"]["mimetype"].endswith(";base64")
    assert base64.b64decode(bodies["xlsx"]["attachment"]["data"])[:2] == b"PK"
    assert isinstance(json.loads(bodies["inline"]["data"]), list)


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"name": ""}, 422, "name"),
        ({"look_id": None}, 422, "look_id"),
        ({"look_id": "404"}, 404, None),
        ({"scheduled_plan_destination": []}, 422, "scheduled_plan_destination"),
        ({"crontab": None}, 422, "crontab"),
    ],
)
def test_create_refuses_what_looker_refuses(
    looker: httpx.Client, change: dict[str, Any], status: int, field: str | None
) -> None:
    plan = {**_plan("https://hooks.example/x"), "crontab": "0 6 1 * *", **change}
    answer = looker.post("/scheduled_plans", json=plan)
    assert answer.status_code == status
    if field is not None:
        assert answer.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("looker", [False], indirect=True)
def test_webhook_must_be_https_by_default(looker: httpx.Client) -> None:
    answer = looker.post("/scheduled_plans/run_once", json=_plan("http://127.0.0.1:9/hook"))
    assert answer.status_code == 422
    assert "https" in answer.json()["errors"][0]["message"]
    assert looker.get("/scheduled_plans/1").status_code == 404


def test_plans_need_a_login() -> None:
    app = create_app(client_id="cid", client_secret="sec")
    with serve_in_thread(app) as handle:
        answer = httpx.post(
            f"{handle.url}{API}/scheduled_plans/run_once", json=_plan("https://x/y")
        )
    assert answer.status_code == 401
