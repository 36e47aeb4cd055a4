"""Multi-process PostgreSQL mode: a live worker recovers the runs of a dead one."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dbos import DBOS
from engine_fakes import FakeDatev, FakeSteps

from ml_connector.engine.runtime import Engine

SCRIPT = Path(__file__).with_name("engine_worker_main.py")


@pytest.mark.postgres
@pytest.mark.parametrize("db_urls", ["postgresql"], indirect=True)
def test_live_worker_recovers_runs_of_a_dead_executor(
    make_engine: Callable[..., Engine],
    db_urls: tuple[str | None, str | None],
    tmp_path: Path,
) -> None:
    sys_url, store_url = db_urls
    assert sys_url is not None
    dead = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(tmp_path),
            "2026-10",
            "submit:1",
            sys_url,
            str(store_url),
            "w1",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert dead.returncode == -signal.SIGKILL, dead.stderr[-2000:]

    datev = FakeDatev(tmp_path / "datev.sqlite3")
    engine = make_engine(FakeSteps(datev), executor_id="w2")
    run_id = "run:gl:2026-10"
    status = DBOS.get_workflow_status(run_id)
    assert (status.status, status.executor_id) == ("PENDING", "w1")
    assert engine.recover_dead_executors(dead_after=3600) == []  # w1's heartbeat is recent
    assert engine.recover_dead_executors(dead_after=0) == ["w1"]
    outcome = engine.wait(run_id, timeout=60)
    assert outcome.state == "succeeded"
    assert [ref for _, ref, _ in datev.ledger()] == ["100-1:gl:2026-10:1", "100-1:gl:2026-10:2"]
    assert engine.recover_dead_executors(dead_after=0) == []  # already handled
