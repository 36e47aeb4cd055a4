"""Looker emulator ``run_once`` -> the app's hook -> one queued run; repeats queue nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from dbos import DBOSClient

from ml_connector.engine.runtime import Engine, system_database_url
from ml_connector.interfaces.web import WebSettings, create_app
from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.launch import EngineOptions, engine_settings
from ml_connector.runs.steps import LiveRunSteps
from ml_connector.schedule import month_period
from ml_connector.store.open import open_store
from ml_connector.store.web import list_web_audit
from ml_connector_sandbox.demo.setup import write_demo_config
from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.looker import create_app as looker_app

SECRET = "gl-hook-secret-0123456789"
API = "/api/4.0"


@dataclass
class Hooked:
    """The app serving the hook, the Looker emulator, and where the queue lives."""

    app_url: str
    looker: httpx.Client
    looker_state: object
    data_dir: Path


@pytest.fixture
def hooked(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooked]:
    monkeypatch.setenv("GL_HOOK", SECRET)
    config = write_demo_config(tmp_path / "cfg", "http://127.0.0.1:9", credential="env:X")
    with config.open("a", encoding="utf-8") as file:
        file.write('\n[pipelines.gl-monthly.webhook]\nsecret = "env:GL_HOOK"\n')
    sync = SyncSettings(data_dir=data_dir, config_path=config)
    steps = LiveRunSteps(sync)
    try:  # create the run queue as a worker's first start does; no worker runs here
        Engine(engine_settings(sync, EngineOptions()), steps).launch().shutdown()
    finally:
        steps.close()
    web = create_app(WebSettings(data_dir=data_dir, config_path=config))
    looker = looker_app(client_id="cid", client_secret="sec", allow_http_webhooks=True)
    with serve_in_thread(web) as app, serve_in_thread(looker) as lk, httpx.Client() as client:
        client.base_url = httpx.URL(lk.url + API)
        token = client.post("/login", data={"client_id": "cid", "client_secret": "sec"})
        client.headers["Authorization"] = f"token {token.json()['access_token']}"
        yield Hooked(app.url, client, looker.state.looker, data_dir)


def _queued(data_dir: Path) -> list[str]:
    client = DBOSClient(system_database_url=system_database_url(data_dir))
    try:
        return [w.workflow_id for w in client.list_workflows()]
    finally:
        client.destroy()


def _run_once(hooked: Hooked, token: str) -> int:
    """Looker delivers the plan once; the status the hook answered."""
    address = f"{hooked.app_url}/hooks/looker/gl-monthly?token={token}"
    plan = {
        "name": "GL to DATEV",
        "look_id": "1",
        "scheduled_plan_destination": [{"type": "webhook", "address": address, "format": "csv"}],
    }
    assert hooked.looker.post("/scheduled_plans/run_once", json=plan).status_code == 200
    deliveries = hooked.looker_state.deliveries  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while not (deliveries and (deliveries[-1].status_code or deliveries[-1].error)):
        assert time.monotonic() < deadline, "the emulator never delivered"
        time.sleep(0.05)
    assert deliveries[-1].error is None, deliveries[-1].error
    return int(deliveries[-1].status_code)


def test_a_delivery_queues_one_run_and_its_repeat_nothing(hooked: Hooked) -> None:
    period = month_period("previous_month", datetime.now(UTC), "Europe/Berlin")
    assert _run_once(hooked, SECRET) == 202
    assert _queued(hooked.data_dir) == [f"run:gl-monthly:{period}"]
    delivery = hooked.looker_state.deliveries[-1]  # type: ignore[attr-defined]
    again = httpx.post(delivery.address, content=delivery.body)
    assert again.status_code == 202
    assert again.json() == {"run_id": f"run:gl-monthly:{period}", "period": period, "queued": False}
    assert _run_once(hooked, SECRET) == 202  # a second plan run: same period, same run
    assert _queued(hooked.data_dir) == [f"run:gl-monthly:{period}"]
    engine = open_store(None, data_dir=hooked.data_dir)
    actions = [(e.user_name, e.action) for e in list_web_audit(engine)]
    engine.dispose()
    assert ("looker-webhook:gl-monthly", "looker.delivery.queued") in actions
    assert ("looker-webhook:gl-monthly", "looker.delivery.repeated") in actions


def test_a_wrong_secret_gets_401_and_queues_nothing(hooked: Hooked) -> None:
    assert _run_once(hooked, "not-the-secret") == 401
    answer = httpx.post(f"{hooked.app_url}/hooks/looker/gl-monthly", content=b"{}")
    assert answer.status_code == 401
    assert _queued(hooked.data_dir) == []


def test_unknown_pipeline_and_a_foreign_body_are_one_line_errors(hooked: Hooked) -> None:
    url = f"{hooked.app_url}/hooks/looker"
    unknown = httpx.post(f"{url}/nope?token={SECRET}", content=b"{}")
    assert unknown.status_code == 404
    assert "accepts no Looker webhook" in unknown.json()["error"]
    foreign = httpx.post(f"{url}/gl-monthly?token={SECRET}", content=b"<xml/>")
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "the webhook body is not JSON"
    assert _queued(hooked.data_dir) == []
