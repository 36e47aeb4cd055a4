"""A worker SIGKILLed at any step boundary resumes without losing or doubling anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fakes import FakeDatev, FakeDxso
from sqlalchemy import func, select

from ml_connector.store.audit import verify
from ml_connector.store.db import make_engine, sqlite_url
from ml_connector.store.runs import get_run, list_files, list_protocol
from ml_connector.store.tables import AuditEventRow, PostedRecordRow

SCRIPT = Path(__file__).with_name("engine_worker_main.py")
BOUNDARIES = [
    "start",
    "prepare",
    "rows_chunk:1",  # two of three row chunks recorded
    "record_rows",
    "submitted:1",  # DATEV has the file, the job id is stored nowhere yet
    "submit:1",
    "submitted:2",
    "poll:1",
    "outcome:1",
    "finish",
]


def _worker(
    data_dir: Path, *extra: str, documents: int = 0, channel: str = "extf"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENGINE_TEST_DOCUMENTS": str(documents), "ENGINE_TEST_CHANNEL": channel}
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(data_dir), "2026-10", *extra],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("kill_at", BOUNDARIES)
def test_killed_worker_resumes_without_loss_or_duplicates(tmp_path: Path, kill_at: str) -> None:
    killed = _worker(tmp_path, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = _worker(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["state"] == "succeeded"

    ledger = FakeDatev(tmp_path / "datev.sqlite3").ledger()
    assert [(ref, state) for _, ref, state in ledger] == [
        ("100-1:gl:2026-10:1", "succeeded"),
        ("100-1:gl:2026-10:2", "succeeded"),
    ]
    store = make_engine(sqlite_url(tmp_path))
    try:
        run = get_run(store, "run:gl:2026-10")
        assert run is not None
        assert (run.state, run.rows_read, run.rows_rejected, run.jobs_succeeded) == (
            "succeeded",
            7,
            1,
            2,
        )
        assert [f.datev_job_id for f in list_files(store, run.id)] == ["job-1", "job-2"]
        events = AuditEventRow.__table__
        with store.connect() as conn:
            kinds = dict(
                conn.execute(select(events.c.kind, func.count()).group_by(events.c.kind)).all()
            )
            posted = conn.execute(select(func.count()).select_from(PostedRecordRow)).scalar_one()
        assert kinds == {
            "run_started": 1,
            "file_written": 2,
            "row": 7,
            "rows_chunk": 3,
            "rows_recorded": 1,
            "file_submitted": 2,
            "job_outcome": 2,
            "run_finished": 1,
        }
        assert posted == 6
        assert all(r.ok for r in verify(store))
    finally:
        store.dispose()


#: boundaries of a run with two supporting documents, uploaded before the files
DOCUMENT_BOUNDARIES = [
    "uploaded_document:1",  # DATEV has the document, the run has not recorded it
    "document:1",
    "uploaded_document:2",
    "submitted:1",
]


@pytest.mark.parametrize("kill_at", DOCUMENT_BOUNDARIES)
def test_killed_worker_never_uploads_a_document_twice(tmp_path: Path, kill_at: str) -> None:
    killed = _worker(tmp_path, kill_at, documents=2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = _worker(tmp_path, documents=2)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["state"] == "succeeded"

    datev = FakeDatev(tmp_path / "datev.sqlite3")
    stored = datev.documents()
    assert [(doc_id[-1], name) for doc_id, name, _ in stored] == [
        ("1", "doc-1.pdf"),
        ("2", "doc-2.pdf"),
    ]
    # a document whose step had not ended at the kill was sent once more and found there
    attempts = {name: n for _, name, n in stored}
    again = {"uploaded_document:1": "doc-1.pdf", "document:1": "doc-1.pdf"}.get(
        kill_at, "doc-2.pdf" if kill_at == "uploaded_document:2" else None
    )
    assert attempts == {name: 2 if name == again else 1 for name in attempts}
    assert len(datev.ledger()) == 2
    store = make_engine(sqlite_url(tmp_path))
    try:
        events = AuditEventRow.__table__
        with store.connect() as conn:
            recorded = conn.execute(
                select(events.c.filename, events.c.payload).where(
                    events.c.kind == "document_uploaded"
                )
            ).all()
        assert sorted(name for name, _ in recorded) == ["doc-1.pdf", "doc-2.pdf"]
        assert all(r.ok for r in verify(store))
    finally:
        store.dispose()


#: boundaries of a dxso run (two job folders of three entries: four files each)
DXSO_BOUNDARIES = [
    "dxso_created:1",  # the job id is stored, the step not checkpointed
    "dxso_uploaded:1:1",  # DATEV has the file, the step not checkpointed
    "dxso_uploaded:1:3",
    "dxso_uploaded:1:4",  # document.xml in, not finalized
    "dxso_finalized:1",
    "dxso_poll:1",
    "dxso_protocol:1",
    "outcome:1",
    "dxso_created:2",
    "dxso_uploaded:2:2",
    "finish",
]


def _dxso_store_facts(
    data_dir: Path, store_url: str | None = None
) -> tuple[dict[str, int], int, list[str | None], int]:
    """(event kinds, posted records, job ids of the run's files, protocol entries)."""
    store = make_engine(store_url or sqlite_url(data_dir))
    try:
        events = AuditEventRow.__table__
        with store.connect() as conn:
            kinds = dict(
                conn.execute(select(events.c.kind, func.count()).group_by(events.c.kind)).all()
            )
            posted = conn.execute(select(func.count()).select_from(PostedRecordRow)).scalar_one()
        jobs = [f.datev_job_id for f in list_files(store, "run:gl:2026-10")]
        protocol = len(list_protocol(store, "run:gl:2026-10"))
        assert all(r.ok for r in verify(store))
        return kinds, posted, jobs, protocol
    finally:
        store.dispose()


@pytest.mark.parametrize("kill_at", DXSO_BOUNDARIES)
def test_killed_dxso_worker_creates_no_second_job_and_sends_no_file_twice(
    tmp_path: Path, kill_at: str
) -> None:
    _check_dxso_resume(tmp_path, kill_at)


@pytest.mark.postgres
@pytest.mark.parametrize("kill_at", ["dxso_created:1", "dxso_uploaded:1:3", "dxso_finalized:1"])
def test_killed_dxso_worker_resumes_on_postgresql(
    tmp_path: Path, kill_at: str, postgres_url: str
) -> None:
    _check_dxso_resume(tmp_path, kill_at, postgres_url)


def _check_dxso_resume(tmp_path: Path, kill_at: str, db_url: str | None = None) -> None:
    urls = () if db_url is None else (db_url, db_url, "dxso-test")
    killed = _worker(tmp_path, kill_at, *urls, channel="dxso")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = _worker(tmp_path, "", *urls, channel="dxso")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["state"] == "succeeded"

    jobs = FakeDxso(tmp_path / "dxso.sqlite3").jobs()
    assert jobs == [
        ("dxso-1", 2, ["E11.xml", "E12.xml", "E13.xml", "document.xml"]),
        ("dxso-2", 2, ["E21.xml", "E22.xml", "E23.xml", "document.xml"]),
    ]
    kinds, posted, job_ids, protocol = _dxso_store_facts(tmp_path, db_url)
    assert job_ids == ["dxso-1", "dxso-2"]
    assert (kinds["file_submitted"], kinds["job_outcome"], kinds["row"]) == (2, 2, 7)
    assert posted == 6
    assert protocol == 8
