"""The worker fires close-calendar schedules into runs, once per (pipeline, period)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from engine_fakes import FakeDatev, FakeSteps

from ml_connector.engine.ports import RunSpec, ScheduledPipeline
from ml_connector.engine.runtime import (
    Engine,
    EngineSettings,
    enqueue_remote,
    run_worker,
)
from ml_connector.http.polling import PollPolicy
from ml_connector.schedule import parse_rule
from ml_connector.store.db import make_engine as make_store
from ml_connector.store.db import sqlite_url
from ml_connector.store.runs import list_runs

BERLIN = ZoneInfo("Europe/Berlin")
SCHEDULES = [
    ScheduledPipeline("gl", "acme", "100-1", parse_rule("workday 3 at 06:00 holidays=DE-BY")),
    ScheduledPipeline("fs", "beta", "200-1", parse_rule("cron 0 6 1 * * tz=Europe/Berlin")),
]


def test_due_schedules_are_enqueued_once(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    engine = make_engine(FakeSteps(datev))
    before = datetime(2026, 12, 3, 5, 59, tzinfo=BERLIN)  # 3rd working day of December: 06:00
    assert engine.fire_schedules(SCHEDULES, before, timedelta(days=3)) == ["run:fs:2026-11"]
    fired = engine.fire_schedules(SCHEDULES, before + timedelta(minutes=1), timedelta(days=3))
    assert fired == ["run:gl:2026-11"]
    assert engine.fire_schedules(SCHEDULES, before + timedelta(hours=2), timedelta(days=3)) == []
    assert engine.wait("run:gl:2026-11", timeout=60).state == "succeeded"
    assert engine.wait("run:fs:2026-11", timeout=60).state == "succeeded"
    assert len(datev.ledger()) == 4


def test_run_worker_executes_scheduled_runs_until_stopped(tmp_path: Path) -> None:
    datev = FakeDatev(tmp_path / "datev.sqlite3")
    stop = threading.Event()
    settings = EngineSettings(
        data_dir=tmp_path,
        queue_polling_interval=0.05,
        poll=PollPolicy(base=0.01, cap=0.02, floor=0.0, max_polls=200),
    )
    store = make_store(sqlite_url(tmp_path))

    def clock() -> datetime:
        runs = list_runs(store) if (tmp_path / "ml-connector.sqlite3").exists() else []
        if len(runs) == 2 and all(r.state == "succeeded" for r in runs):
            stop.set()
        return datetime(2026, 12, 3, 7, 0, tzinfo=BERLIN)

    worker = threading.Thread(
        target=run_worker,
        args=(settings, FakeSteps(datev)),
        kwargs={"schedules": SCHEDULES, "stop": stop, "tick": 0.1, "clock": clock},
    )
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    assert sorted(r.id for r in list_runs(store)) == ["run:fs:2026-11", "run:gl:2026-11"]
    store.dispose()


def test_a_run_enqueued_from_another_process_is_executed_by_the_worker(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    engine = make_engine(FakeSteps(datev))
    spec = RunSpec("gl", "acme", "100-1", "2026-09")
    run_id = enqueue_remote(engine.system_database_url, spec)
    assert run_id == "run:gl:2026-09"
    assert enqueue_remote(engine.system_database_url, spec) == run_id  # idempotent
    assert engine.wait(run_id, timeout=60).state == "succeeded"
    assert len(datev.ledger()) == 2
