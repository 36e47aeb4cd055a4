"""Supporting documents in the engine: uploaded in their own steps before the files,
recorded with the rows they belong to, never stored twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine_fakes import FakeDatev, FakeSteps

from ml_connector.engine.ports import JobStatus, Prepared, PreparedFile, RunSpec
from ml_connector.engine.runtime import Engine
from ml_connector.store.audit import iter_events, verify

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
