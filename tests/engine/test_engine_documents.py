"""Supporting documents in the engine: uploaded in their own steps before the files,
recorded with the rows they belong to, never stored twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from engine_fakes import FakeDatev, FakeSteps

from ml_connector.engine.ports import JobStatus, Prepared, PreparedFile, RunSpec
from ml_connector.engine.runtime import Engine
from ml_connector.store.audit import iter_events, verify
from ml_connector.store.db import make_engine, sqlite_url
from ml_connector.store.lineage import find_rows

SPEC = RunSpec("gl", "acme", "100-1", "2026-10")


@dataclass
class OrderedSteps:
    """Fake steps that note the order of uploads and submissions."""

    inner: FakeSteps
    order: list[str] = field(default_factory=list)

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        return await self.inner.prepare(spec, workdir)

    async def upload_document(self, spec: RunSpec, document: object) -> bool:
        self.order.append("document")
        return await self.inner.upload_document(spec, document)  # type: ignore[arg-type]

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        return await self.inner.find_submission(spec, file)

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        self.order.append("file")
        return await self.inner.submit(spec, file)

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        return await self.inner.poll(spec, file, job_id)


def _document_events(engine: Engine, run_id: str) -> list[dict[str, object]]:
    return [
        json.loads(e.payload)
        for e in iter_events(engine.store, run_id=run_id)
        if e.kind == "document_uploaded"
    ]


def test_documents_go_first_and_a_replay_finds_them_there(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    steps = OrderedSteps(FakeSteps(datev, documents=1))
    engine = make_engine(steps)
    run_id = engine.enqueue(SPEC)
    assert engine.wait(run_id, timeout=60).state == "succeeded"
    assert steps.order == ["document", "file", "file"]
    [event] = _document_events(engine, run_id)
    assert event["linked_rows"] == "all"
    assert event["already_there"] is False
    assert event["document_type"] == "Sonstige"

    replay_id = engine.replay(run_id)
    assert engine.wait(replay_id, timeout=60).state == "succeeded"
    [again] = _document_events(engine, replay_id)
    assert again["already_there"] is True
    assert again["document_id"] == event["document_id"]
    assert [name for _, name, _ in datev.documents()] == ["doc-1.pdf"]
    assert all(r.ok for r in verify(engine.store))


@dataclass
class NoDocumentSteps:
    """Steps that cannot upload documents although prepare lists one."""

    inner: FakeSteps

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        return await self.inner.prepare(spec, workdir)

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        return await self.inner.find_submission(spec, file)

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        return await self.inner.submit(spec, file)

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        return await self.inner.poll(spec, file, job_id)


def test_a_run_whose_documents_cannot_go_sends_no_file(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    engine = make_engine(NoDocumentSteps(FakeSteps(datev, documents=1)))
    outcome = engine.wait(engine.enqueue(SPEC), timeout=60)
    assert outcome.state == "failed"
    assert "cannot upload" in (outcome.error or "")
    assert datev.ledger() == []


SCRIPT = Path(__file__).with_name("engine_worker_main.py")
#: the document boundaries of a run with two per-row documents (one per file's rows)
ROW_DOCUMENT_BOUNDARIES = [
    "uploaded_document:1",  # DATEV has the document, the run has not recorded it
    "document:1",
    "uploaded_document:2",
    "document:2",
]


def _worker(tmp_path: Path, db_urls: tuple[str | None, str | None], *kill: str) -> dict[str, str]:
    sys_url, store_url = db_urls
    urls = [kill[0] if kill else "", sys_url, store_url, "w1"] if sys_url else list(kill)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), "2026-10", *[u or "" for u in urls]],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, "ENGINE_TEST_DOCUMENTS": "2", "ENGINE_TEST_ROW_DOCUMENTS": "1"},
    )
    if kill:
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
        return {}
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("kill_at", ROW_DOCUMENT_BOUNDARIES)
def test_a_killed_worker_never_stores_a_row_document_twice(
    tmp_path: Path, db_urls: tuple[str | None, str | None], kill_at: str
) -> None:
    _worker(tmp_path, db_urls, kill_at)
    assert _worker(tmp_path, db_urls)["state"] == "succeeded"

    datev = FakeDatev(tmp_path / "datev.sqlite3")
    stored = datev.documents()
    assert [name for _, name, _ in stored] == ["doc-1.pdf", "doc-2.pdf"]
    # the document whose step had not ended at the kill was sent again and found there
    again = f"doc-{kill_at[-1]}.pdf"
    assert {name: n for _, name, n in stored} == {
        name: 2 if name == again else 1 for _, name, _ in stored
    }
    store = make_engine(db_urls[1] or sqlite_url(tmp_path))
    try:
        events = list(iter_events(store, run_id="run:gl:2026-10"))
        uploaded = {
            e.filename: json.loads(e.payload) for e in events if e.kind == "document_uploaded"
        }
        assert sorted(uploaded) == ["doc-1.pdf", "doc-2.pdf"]
        for n, name in enumerate(sorted(uploaded), start=1):
            rows = [f"2026-10/{n}/{i}" for i in range(3)]
            assert uploaded[name]["linked_rows"] == rows
            linked = [
                e.row_key
                for e in events
                if e.kind == "row"
                and json.loads(e.payload)["booking"]
                and json.loads(e.payload)["booking"].get("beleglink")
                == f'BEDI "{uploaded[name]["document_id"]}"'
            ]
            assert linked == rows
            [hit] = find_rows(store, row_key=rows[0])
            assert (hit.document_id, hit.document_name) == (uploaded[name]["document_id"], name)
        assert all(r.ok for r in verify(store))
    finally:
        store.dispose()
