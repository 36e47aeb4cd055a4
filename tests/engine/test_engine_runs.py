"""Runs end to end with fake steps: outcomes, store, notifications, replay, exclusivity."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from engine_fakes import FakeDatev, FakeSteps

from ml_connector.datev.api.problems import DatevUnavailableError
from ml_connector.engine.ports import JobStatus, Prepared, PreparedFile, RunOutcome, RunSpec
from ml_connector.engine.runtime import Engine
from ml_connector.interfaces.cli._engine import next_step
from ml_connector.store.audit import verify
from ml_connector.store.export import iter_row_view
from ml_connector.store.posted import latest
from ml_connector.store.runs import get_run, list_files

SPEC = RunSpec("gl", "acme", "100-1", "2026-10")
FILE2 = "EXTF_gl_2026-10_002.csv"


def test_run_records_rows_files_jobs_and_posted_records(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    steps = FakeSteps(datev)
    engine = make_engine(steps)
    run_id = engine.enqueue(SPEC)
    outcome = engine.wait(run_id, timeout=60)
    assert (outcome.state, outcome.rows_read, outcome.rows_rejected) == ("succeeded", 7, 1)
    assert engine.enqueue(SPEC) == run_id  # same (pipeline, period): the same run
    assert engine.wait(run_id, timeout=60).state == "succeeded"
    assert steps.prepared == ["2026-10"]
    assert len(datev.ledger()) == 2

    rows = list(iter_row_view(engine.store, run_id=run_id))
    assert len(rows) == 7
    accepted = [r for r in rows if r["booking"] is not None]
    assert {r["job_outcome"] for r in accepted} == {"succeeded"}
    assert {r["datev_job_id"] for r in accepted} == {"job-1", "job-2"}
    [rejected] = [r for r in rows if r["booking"] is None]
    assert rejected["rejection"] == "amount is not a number"
    assert accepted[0]["source"]["amount"] == "10.50"  # exact digits, as text
    assert all(r.ok for r in verify(engine.store))
    posted = latest(engine.store, pipeline="gl", datev_client="100-1", period="2026-10")
    assert len(posted) == 6


def test_partial_run_notifies_and_only_failed_replay_resubmits_only_that_file(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    datev = FakeDatev(tmp_path / "datev.sqlite3", failing=frozenset({FILE2}))
    notes: list[RunOutcome] = []
    engine = make_engine(FakeSteps(datev), notifications=notes)
    run_id = engine.enqueue(SPEC)
    outcome = engine.wait(run_id, timeout=60)
    assert (outcome.state, outcome.jobs_succeeded, outcome.jobs_failed) == ("partial", 1, 1)
    assert [n.state for n in notes] == ["partial"]
    assert [f.outcome for f in list_files(engine.store, run_id)] == ["succeeded", "failed"]

    datev.failing = frozenset()
    replay_id = engine.replay(run_id, only_failed=True)
    assert replay_id == f"{run_id}:replay-1"
    replayed = engine.wait(replay_id, timeout=60)
    assert (replayed.state, replayed.jobs_succeeded, replayed.replay_of) == ("succeeded", 1, run_id)
    assert [ref for _, ref, _ in datev.ledger()] == [
        "100-1:gl:2026-10:1",
        "100-1:gl:2026-10:2",
        "100-1:gl:2026-10:2",
    ]
    assert [f.filename for f in list_files(engine.store, replay_id)][1] == FILE2

    # a full replay asks DATEV first and finds both files accepted: nothing is posted twice
    full_id = engine.replay(replay_id)
    assert full_id == f"{run_id}:replay-2"
    assert engine.wait(full_id, timeout=60).state == "succeeded"
    assert len(datev.ledger()) == 3
    # every run still holds the rejected row back, so each one tells someone about it
    assert [(n.state, n.rows_rejected) for n in notes] == [
        ("partial", 1),
        ("succeeded", 1),
        ("succeeded", 1),
    ]


def test_a_clean_run_notifies_nobody_and_held_rows_are_announced(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    datev = FakeDatev(tmp_path / "datev.sqlite3")
    notes: list[RunOutcome] = []
    clean = make_engine(FakeSteps(datev, rejected=0), notifications=notes)
    outcome = clean.wait(clean.enqueue(SPEC), timeout=60)
    assert (outcome.state, outcome.rows_rejected) == ("succeeded", 0)
    assert notes == []


def test_reconsent_needed_stops_the_run_and_notifies(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    notes: list[RunOutcome] = []
    engine = make_engine(FakeSteps(datev, reconsent=True), notifications=notes)
    outcome = engine.wait(engine.enqueue(SPEC), timeout=60)
    assert (outcome.state, outcome.error_kind) == ("needs_user", "ReconsentRequiredError")
    assert "datev login" in (outcome.error or "")
    [note] = notes
    assert note.state == "needs_user"
    run = get_run(engine.store, outcome.run_id)
    assert run is not None
    assert run.state == "needs_user"
    assert datev.ledger() == []


@dataclass
class TrackingSteps:
    """Steps that record overlapping runs per DATEV client."""

    inner: FakeSteps
    active: dict[str, int] = field(default_factory=dict)
    max_active: dict[str, int] = field(default_factory=dict)
    b_started: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _enter(self, client: str) -> None:
        with self.lock:
            self.active[client] = self.active.get(client, 0) + 1
            self.max_active[client] = max(self.max_active.get(client, 0), self.active[client])

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        self._enter(spec.datev_client)
        if spec.datev_client == "B":
            self.b_started.set()
        elif spec.period == "2026-01":
            # the first run of client A only goes on once client B's run is running too
            assert await asyncio.to_thread(self.b_started.wait, 30), "client B never ran"
        await asyncio.sleep(0.05)
        return await self.inner.prepare(spec, workdir)

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        return await self.inner.find_submission(spec, file)

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        return await self.inner.submit(spec, file)

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        status = await self.inner.poll(spec, file, job_id)
        if status.state != "pending" and file.part == self.inner.files:
            with self.lock:
                self.active[spec.datev_client] -= 1
        return status


def test_one_run_per_datev_client_at_a_time_and_clients_in_parallel(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    steps = TrackingSteps(FakeSteps(datev, files=1, rows_per_file=1))
    engine = make_engine(steps)
    ids = [engine.enqueue(RunSpec(f"p-{m}", "acme", "A", f"2026-0{m}")) for m in (1, 2, 3)]
    ids += [engine.enqueue(RunSpec(f"q-{m}", "beta", "B", f"2026-0{m}")) for m in (1, 2)]
    outcomes = [engine.wait(i, timeout=90) for i in ids]
    assert {o.state for o in outcomes} == {"succeeded"}
    assert steps.max_active == {"A": 1, "B": 1}


@dataclass
class DatevGoesDown:
    """DATEV takes every file, then stops answering while the run polls."""

    inner: FakeSteps
    down: bool = True

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        return await self.inner.prepare(spec, workdir)

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        return await self.inner.find_submission(spec, file)

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        return await self.inner.submit(spec, file)

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        if self.down:
            raise DatevUnavailableError(f"status of job {job_id}: cannot reach DATEV (refused)")
        return await self.inner.poll(spec, file, job_id)


def test_datev_down_mid_run_says_what_happened_and_a_replay_finishes_it(
    make_engine: Callable[..., Engine], datev: FakeDatev, capfd: pytest.CaptureFixture[str]
) -> None:
    steps = DatevGoesDown(FakeSteps(datev))
    engine = make_engine(steps)
    outcome = engine.wait(engine.enqueue(SPEC), timeout=120)
    assert outcome.state == "failed"
    assert outcome.error_kind == "DatevUnavailableError"
    assert "cannot reach DATEV" in (outcome.error or "")
    # DATEV has both files: the outcome says so instead of "0/0"
    assert sorted(outcome.jobs) == sorted(outcome.files)
    assert len(datev.ledger()) == 2
    assert "Traceback" not in capfd.readouterr().err, "tracebacks are for --log-level DEBUG"
    advice = next_step(outcome) or ""
    assert "received 2 of 2 file(s)" in advice
    assert f"ml-connector replay {outcome.run_id}" in advice

    steps.down = False
    replay = engine.replay(outcome.run_id)
    assert engine.wait(replay, timeout=120).state == "succeeded"
    assert len(datev.ledger()) == 2, "the replay found the files and sent nothing twice"
