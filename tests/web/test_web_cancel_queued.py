"""Cancelling a run that really waits in the queue: a worker runs one run per DATEV
client at a time, so a second run of the same client waits; an operator cancels it from
the runs page or the API, it never runs, and the web audit says who cancelled it."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine as SqlEngine
from web_support import TestClient, login, page_csrf

from ml_connector.engine.ports import JobStatus, Prepared, PreparedFile, RunSpec
from ml_connector.engine.runtime import (
    Engine,
    EngineSettings,
    enqueue_remote,
    queued_runs,
    system_database_url,
)
from ml_connector.errors import ConfigurationError
from ml_connector.http.polling import PollPolicy
from ml_connector.interfaces.web import WebSettings, create_app
from ml_connector.store.runs import get_run
from ml_connector.store.web import list_web_audit

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from engine_fakes import FakeDatev, FakeSteps

FIRST = RunSpec("gl", "acme", "100-1", "2026-01")


@dataclass
class FirstRunWaits:
    """Fake steps whose first run holds its DATEV client until ``release`` is set."""

    inner: FakeSteps
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        if spec.period == FIRST.period:
            self.started.set()
            assert await asyncio.to_thread(self.release.wait, 60), "never released"
        return await self.inner.prepare(spec, workdir)

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        return await self.inner.find_submission(spec, file)

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        return await self.inner.submit(spec, file)

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        return await self.inner.poll(spec, file, job_id)


@dataclass
class Worker:
    engine: Engine
    steps: FirstRunWaits
    queue: str
    app: FastAPI


@pytest.fixture
def worker(web_engine: SqlEngine, data_dir: Path) -> Iterator[Worker]:
    """A worker (fake steps) and the app on the same store and queue."""
    store_url = web_engine.url.render_as_string(hide_password=False)
    shared = None if web_engine.dialect.name == "sqlite" else store_url
    steps = FirstRunWaits(FakeSteps(FakeDatev(data_dir / "datev.sqlite3"), files=1))
    settings = EngineSettings(
        data_dir=data_dir,
        store_url=store_url,
        system_database_url=shared,
        queue_polling_interval=0.05,
        poll=PollPolicy(base=0.01, cap=0.02, floor=0.0, max_polls=200),
        application_version="web-cancel-test",
    )
    engine = Engine(settings, steps).launch()
    web = WebSettings(data_dir=data_dir, store_url=store_url, system_db_url=shared)
    try:
        app = create_app(web, engine=web_engine)
        yield Worker(engine, steps, system_database_url(data_dir, shared), app)
    finally:
        steps.release.set()
        engine.shutdown()


def test_an_operator_cancels_a_queued_run_and_it_never_runs(worker: Worker) -> None:
    first = enqueue_remote(worker.queue, FIRST)
    assert worker.steps.started.wait(60), "the first run never started"
    waiting = [RunSpec("gl", "acme", "100-1", p) for p in ("2026-02", "2026-03")]
    by_page = enqueue_remote(worker.queue, waiting[0])  # as the app and 'run --queue' do
    by_api = worker.engine.enqueue(waiting[1])  # as a worker fires a schedule: recorded
    assert run_state(worker, by_api) == "queued"
    assert {q.run_id for q in queued_runs(worker.queue)} == {by_page, by_api}

    viewer = TestClient(worker.app)
    assert login(viewer, "viewer") == 303
    assert "Cancel…" not in viewer.get("/").text
    refused = viewer.post(
        f"/api/v1/runs/{by_page}/cancel", headers={"X-CSRF-Token": page_csrf(viewer)}
    )
    assert refused.status_code == 403

    operator = TestClient(worker.app)
    assert login(operator, "operator") == 303
    running = operator.post(
        f"/api/v1/runs/{first}/cancel", headers={"X-CSRF-Token": page_csrf(operator)}
    )
    assert running.status_code == 400  # a run that started finishes
    page = operator.get("/").text
    assert "Waiting for a worker" in page
    assert page.count("Cancel…") == 2
    form = {"run_id": by_page, "csrf_token": page_csrf(operator)}
    confirm = operator.post("/actions/cancel", data=form)
    assert f"Cancel the queued run {by_page}?" in confirm.text
    done = operator.post("/actions/cancel", data={**form, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    headers = {"X-CSRF-Token": page_csrf(operator)}
    answer = operator.post(f"/api/v1/runs/{by_api}/cancel", headers=headers)
    assert answer.json() == {"id": by_api, "state": "cancelled"}
    again = operator.post(f"/api/v1/runs/{by_api}/cancel", headers=headers)
    assert again.status_code == 400
    assert "is not waiting in the queue" in again.json()["error"]
    assert queued_runs(worker.queue) == []
    assert run_state(worker, by_api) is None  # no run left "queued" for ever
    with pytest.raises(ConfigurationError, match="cancelled before it started"):
        worker.engine.wait(by_api, timeout=30)
    assert "Waiting for a worker" not in operator.get("/").text

    # the client is free again: the first run finishes, then a run queued after the
    # cancelled ones; theirs never started
    worker.steps.release.set()
    assert worker.engine.wait(first, timeout=60).state == "succeeded"
    later = enqueue_remote(worker.queue, RunSpec("gl", "acme", "100-1", "2026-04"))
    assert worker.engine.wait(later, timeout=60).state == "succeeded"
    assert worker.steps.inner.prepared == ["2026-01", "2026-04"]
    assert run_state(worker, by_page) is None
    assert run_state(worker, by_api) is None
    cancels = [
        (e.user_name, e.target)
        for e in list_web_audit(worker.engine.store)
        if e.action == "run_cancel"
    ]
    assert sorted(cancels) == sorted([("operator", by_page), ("operator", by_api)])

    # the cancelled periods can be queued again, and then they run
    assert enqueue_remote(worker.queue, waiting[0]) == by_page
    assert worker.engine.wait(by_page, timeout=60).state == "succeeded"
    assert worker.engine.enqueue(waiting[1]) == by_api
    assert worker.engine.wait(by_api, timeout=60).state == "succeeded"
    assert worker.steps.inner.prepared == ["2026-01", "2026-04", "2026-02", "2026-03"]


def run_state(worker: Worker, run_id: str) -> str | None:
    """The state the store records for ``run_id`` (None: no record)."""
    run = get_run(worker.engine.store, run_id)
    return None if run is None else run.state
