"""What a run tells about its rows when it cannot simply post them all (fake steps)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from engine_fakes import FakeDatev, FakeSteps
from sqlalchemy.exc import DataError as DatabaseDataError

from ml_connector.engine.ports import (
    Prepared,
    RowRecord,
    RunBlockedError,
    RunOutcome,
    RunSpec,
    write_records,
)
from ml_connector.engine.runtime import Engine
from ml_connector.interfaces.cli import main
from ml_connector.notify.message import notification_for
from ml_connector.store.audit import iter_events
from ml_connector.store.runs import get_run

SPEC = RunSpec("gl", "acme", "100-1", "2026-10")


@dataclass
class BlockedSteps(FakeSteps):
    """Reads its rows, then refuses to send them (as a failed tie-out does)."""

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        prepared = await super().prepare(spec, workdir)
        held = dataclasses.replace(prepared, files=())
        raise RunBlockedError(
            f"{spec.pipeline} {spec.period} is blocked: the tie-out failed",
            prepared=held,
            hint="fix the data, then replay the run",
        )


@dataclass
class DatabaseFailingSteps(FakeSteps):
    """Fails the way a database refusing a row does: the driver's text quotes the rows."""

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        params = [{"row_key": "K" * 300, "amount": "98765.43", "text": "Gehalt Müller"}]
        raise DatabaseDataError(
            "INSERT INTO audit_events ...", params, Exception("value too long: 98765.43")
        )


@dataclass
class QuietSteps(FakeSteps):
    """Looker had no rows for the period; two rows of the pipeline carry no period."""

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        records = workdir / "records.jsonl"
        write_records(records, [])
        unassigned = workdir / "unassigned.jsonl"
        write_records(
            unassigned,
            [
                RowRecord("x-1", {"id": "x-1", "period": None}, rejection="no_period: empty"),
                RowRecord("x-2", {"id": "x-2", "period": "2026-13"}, rejection="no_period"),
            ],
        )
        warning = f"Looker returned no rows for {spec.period}"
        return Prepared(
            (),
            str(records),
            0,
            0,
            0,
            warnings=(warning,),
            unassigned_path=str(unassigned),
            rows_unassigned=2,
        )


def test_a_blocked_run_reports_and_records_the_rows_it_read(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    notes: list[RunOutcome] = []
    engine = make_engine(BlockedSteps(datev), notifications=notes)
    outcome = engine.wait(engine.enqueue(SPEC), timeout=60)
    assert (outcome.state, outcome.rows_read, outcome.rows_rejected) == ("failed", 7, 1)
    assert "tie-out failed" in (outcome.error or "")
    run = get_run(engine.store, outcome.run_id)
    assert run is not None
    assert (run.state, run.rows_read, run.rows_mapped, run.rows_rejected) == ("failed", 7, 6, 1)
    rows = [e for e in iter_events(engine.store, run_id=outcome.run_id) if e.kind == "row"]
    assert len(rows) == 7
    assert datev.ledger() == []
    assert [n.rows_read for n in notes] == [7]


def test_a_database_error_is_stored_without_row_data(
    make_engine: Callable[..., Engine], datev: FakeDatev
) -> None:
    notes: list[RunOutcome] = []
    engine = make_engine(DatabaseFailingSteps(datev), notifications=notes)
    outcome = engine.wait(engine.enqueue(SPEC), timeout=60)
    assert outcome.state == "failed"
    run = get_run(engine.store, outcome.run_id)
    assert run is not None
    assert run.error is not None
    assert "Exception" in run.error
    [note] = notes
    for text in (run.error, note.error or "", str(notification_for(note))):
        assert "98765.43" not in text
        assert "Müller" not in text
        assert "KKKK" not in text


def test_a_datev_job_failure_stores_datevs_reason(
    make_engine: Callable[..., Engine], tmp_path: Path, db_urls: tuple[str | None, str | None]
) -> None:
    files = frozenset({"EXTF_gl_2026-10_001.csv", "EXTF_gl_2026-10_002.csv"})
    datev = FakeDatev(tmp_path / "datev.sqlite3", failing=files)
    engine = make_engine(FakeSteps(datev))
    outcome = engine.wait(engine.enqueue(SPEC), timeout=60)
    assert outcome.state == "failed"
    run = get_run(engine.store, outcome.run_id)
    assert run is not None
    assert run.error is not None
    assert "Buchungsstapel abgelehnt" in run.error
    assert "EXTF_gl_2026-10_001.csv" in run.error

    store_url = db_urls[1] or f"sqlite:///{tmp_path / 'ml-connector.sqlite3'}"
    shown = CliRunner().invoke(main, ["status", "--store-url", store_url])
    assert shown.exit_code == 0, shown.output
    assert "Buchungsstapel abgelehnt" in shown.output


def test_no_rows_is_a_warning_and_unassigned_rows_are_recorded_once(
    make_engine: Callable[..., Engine],
    datev: FakeDatev,
    tmp_path: Path,
    db_urls: tuple[str | None, str | None],
) -> None:
    notes: list[RunOutcome] = []
    engine = make_engine(QuietSteps(datev), notifications=notes)
    first = engine.wait(engine.enqueue(SPEC), timeout=60)
    second = engine.wait(engine.enqueue(dataclasses.replace(SPEC, period="2026-11")), timeout=60)
    assert (first.state, second.state) == ("succeeded", "succeeded")
    assert first.warnings == ("Looker returned no rows for 2026-10",)
    assert [n.state for n in notes] == ["succeeded", "succeeded"]
    note = notification_for(notes[1])
    assert note is not None
    assert note.event == "partial"
    assert "Looker returned no rows for 2026-11" in note.as_text()

    run = get_run(engine.store, second.run_id)
    assert run is not None
    assert (run.rows_unassigned, run.warnings) == (2, "Looker returned no rows for 2026-11")
    held = [e for e in iter_events(engine.store) if e.kind == "row_unassigned"]
    assert sorted(e.row_key or "" for e in held) == ["x-1", "x-2"]
    assert {e.run_id for e in held} == {first.run_id}

    store_url = db_urls[1] or f"sqlite:///{tmp_path / 'ml-connector.sqlite3'}"
    shown = CliRunner().invoke(main, ["status", "--store-url", store_url])
    assert "Looker returned no rows for 2026-11" in shown.output
    listed = CliRunner().invoke(main, ["status", "--store-url", store_url, "--json"])
    assert {r["rows_unassigned"] for r in json.loads(listed.output)} == {2}
