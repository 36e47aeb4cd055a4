"""A worker SIGKILLed mid-run resumes: nothing lost, nothing posted twice (DATEV's ledger)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sync_support import CLIENT

from ml_connector.runs.connect import open_sync_store
from ml_connector.store.audit import verify
from ml_connector.store.runs import get_run, list_files
from ml_connector.store.tables import AuditEventRow
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DEMO_DXSO_PIPELINE, DemoInstall, add_dxso_pipeline
from ml_connector_sandbox.emulators.datev.app import emulator_state

SCRIPT = Path(__file__).with_name("sync_worker_main.py")


def _worker(
    installed: DemoInstall, emulators: DemoEmulators, *extra: str, pipeline: str = "gl-monthly"
) -> subprocess.CompletedProcess[str]:
    settings = installed.settings
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(settings.data_dir),
            str(installed.config_path),
            emulators.datev_url,
            "2026-10",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SYNC_TEST_PIPELINE": pipeline},
    )


@pytest.mark.parametrize(
    "kill_at",
    [
        "start",  # the run is recorded, nothing else yet
        "prepare",  # files written, the step's result not checkpointed: prepared again
        "record_rows",  # every row's audit event written, the step not checkpointed
        "submitted:1",  # DATEV has the file; the job id is stored nowhere yet
        "submit:1",  # the job id is stored, no poll yet
        "poll:1",  # the job id is stored, the outcome not yet
        "outcome:1",  # the outcome and the posted records stored, the run not finished
        "finish",  # the run is finished, the notification step not yet run
    ],
)
def test_killed_worker_resumes_without_loss_or_double_posting(
    installed: DemoInstall, emulators: DemoEmulators, kill_at: str
) -> None:
    killed = _worker(installed, emulators, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # the file reached DATEV before the kill, unless the kill came before submitting
    before_submit = kill_at in ("start", "prepare", "record_rows")
    assert len(emulators.ledger.transfers(CLIENT)) == (0 if before_submit else 1)

    resumed = _worker(installed, emulators)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["state"] == "succeeded", result

    [transfer] = emulators.ledger.transfers(CLIENT)
    assert transfer.succeeded
    assert list(result["jobs"].values()) == [transfer.job_id]
    assert len(emulators.ledger.bookings(CLIENT)) == 63
    assert emulators.ledger.duplicates() == []

    store = open_sync_store(installed.settings)
    try:
        run = get_run(store, "run:gl-monthly:2026-10")
        assert run is not None
        assert (run.state, run.rows_read, run.jobs_succeeded) == ("succeeded", 63, 1)
        assert [f.datev_job_id for f in list_files(store, run.id)] == [transfer.job_id]
        assert all(r.ok for r in verify(store))
        events = AuditEventRow.__table__
        with store.connect() as conn:
            submitted = conn.execute(
                select(events.c.payload).where(events.c.kind == "file_submitted")
            ).scalars()
            [payload] = [json.loads(p) for p in submitted]
            rows = conn.execute(
                select(func.count()).select_from(events).where(events.c.kind == "row")
            ).scalar_one()
        assert rows == 63
        # killed before the job id was stored: the resumed run found DATEV's job
        assert payload["found_earlier_submission"] is (kill_at == "submitted:1")
    finally:
        store.dispose()


@pytest.mark.parametrize(
    "kill_at",
    [
        "dxso_created:1",  # the job is open at DATEV, its id stored, the step not checkpointed
        "dxso_uploaded:1:3",  # DATEV has the third file, the step not checkpointed
        "dxso_uploaded:1:8",  # document.xml is in, the job not finalized
        "dxso_finalized:1",
        "dxso_protocol:1",  # the protocol stored, the outcome not yet
    ],
)
def test_killed_dxso_worker_resumes_with_one_job_and_each_file_once(
    installed: DemoInstall, emulators: DemoEmulators, kill_at: str
) -> None:
    add_dxso_pipeline(installed.config_path)
    killed = _worker(installed, emulators, kill_at, pipeline=DEMO_DXSO_PIPELINE)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = _worker(installed, emulators, pipeline=DEMO_DXSO_PIPELINE)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["state"] == "succeeded", result

    [(job_id, job)] = emulator_state(emulators.datev_app).dxso_jobs.items()
    names = [name for name, _ in job.files]
    assert len(names) == len(set(names)) == 8  # seven invoices, then document.xml
    assert names[-1] == "document.xml"
    assert list(result["jobs"].values()) == [job_id]
    assert len(emulators.ledger.bookings(CLIENT)) == 7
    store = open_sync_store(installed.settings)
    try:
        run = get_run(store, "run:ar-invoices:2026-10")
        assert run is not None
        assert (run.state, run.jobs_succeeded) == ("succeeded", 1)
        assert all(r.ok for r in verify(store))
    finally:
        store.dispose()
