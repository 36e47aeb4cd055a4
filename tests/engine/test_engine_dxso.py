"""DXSO job folders through the engine: one job after the other, each DATEV call its own
step; outcomes 2/3/4 become posted or held rows; an open job is deleted when the run
fails, or by the replay (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_fakes import NEW_BELEGE_ONLINE_CLIENT, FakeDatev, FakeDxso, FakeDxsoSteps
from sqlalchemy import func, select

from ml_connector.engine.ports import RunSpec
from ml_connector.engine.runtime import Engine
from ml_connector.store.audit import iter_events, verify
from ml_connector.store.posted import iter_latest
from ml_connector.store.runs import get_run, list_files, list_protocol
from ml_connector.store.tables import PostedRecordRow

SPEC = RunSpec("ar", "acme", "100-1", "2026-10")
ALL_FILES = ["E11.xml", "E12.xml", "E13.xml", "document.xml"]


@pytest.fixture
def dxso(tmp_path: Path) -> FakeDxso:
    return FakeDxso(tmp_path / "dxso.sqlite3")


def _steps(datev: FakeDatev, dxso: FakeDxso) -> FakeDxsoSteps:
    return FakeDxsoSteps(datev, dxso=dxso)


def _outcomes(engine: Engine, run_id: str) -> list[dict[str, object]]:
    return [
        json.loads(e.payload)
        for e in iter_events(engine.store, run_id=run_id)
        if e.kind == "job_outcome"
    ]


def _posted(engine: Engine) -> int:
    with engine.store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(PostedRecordRow)).scalar_one())


def test_jobs_go_one_after_the_other_and_their_rows_are_posted(
    make_engine: Callable[..., Engine], datev: FakeDatev, dxso: FakeDxso
) -> None:
    engine = make_engine(_steps(datev, dxso))
    run_id = engine.enqueue(SPEC)
    outcome = engine.wait(run_id, timeout=60)
    assert (outcome.state, outcome.jobs_succeeded, outcome.error) == ("succeeded", 2, None)
    assert [(job, status, files) for job, status, files in dxso.jobs()] == [
        ("dxso-1", 2, ALL_FILES),
        ("dxso-2", 2, [n.replace("E1", "E2") for n in ALL_FILES]),
    ]
    # the second job is created only after the first one ended
    calls = [c for c in dxso.calls if not c.startswith("protocol")]
    assert calls.index("create dxso-2") > calls.index("ended dxso-1")
    assert [f.datev_job_id for f in list_files(engine.store, run_id)] == ["dxso-1", "dxso-2"]
    assert _posted(engine) == 6
    protocol = list_protocol(engine.store, run_id)
    assert [p.entry_filename for p in protocol if p.datev_job_id == "dxso-1"] == ALL_FILES
    assert protocol[0].text == "E11.xml wurde empfangen"
    assert datev.ledger() == []  # nothing went the EXTF way
    assert all(r.ok for r in verify(engine.store))


def test_a_partly_processed_job_posts_the_imported_entries_and_holds_the_rest(
    make_engine: Callable[..., Engine], datev: FakeDatev, tmp_path: Path
) -> None:
    dxso = FakeDxso(tmp_path / "dxso.sqlite3", refused=frozenset({"E12.xml"}))
    engine = make_engine(_steps(datev, dxso))
    run_id = engine.enqueue(SPEC)
    outcome = engine.wait(run_id, timeout=60)
    assert outcome.state == "partial"
    assert "1 of 3 entries not imported" in (outcome.error or "")
    assert "Belegnummer doppelt" in (outcome.error or "")
    first = _outcomes(engine, run_id)[0]
    assert first["refused"] == [{"line": 2, "reason": "Belegnummer doppelt"}]
    posted = {s.row_key for s in iter_latest(engine.store, pipeline="ar", datev_client="100-1",
                                             period="2026-10")}  # fmt: skip
    assert "2026-10/1/1" not in posted  # the refused entry's row is held, not posted
    assert len(posted) == 5
    assert all(r.ok for r in verify(engine.store))


def test_a_job_datev_did_not_process_posts_nothing_and_says_why(
    make_engine: Callable[..., Engine], datev: FakeDatev, tmp_path: Path
) -> None:
    refused = frozenset({"E11.xml", "E12.xml", "E13.xml"})
    dxso = FakeDxso(tmp_path / "dxso.sqlite3", refused=refused)
    engine = make_engine(_steps(datev, dxso))
    outcome = engine.wait(engine.enqueue(SPEC), timeout=60)
    assert (outcome.state, outcome.jobs_succeeded, outcome.jobs_failed) == ("partial", 1, 1)
    assert "DATEV dxso status 3" in (outcome.error or "")
    assert _posted(engine) == 3


def test_new_belege_online_stops_the_run_with_what_to_use(
    make_engine: Callable[..., Engine], datev: FakeDatev, dxso: FakeDxso
) -> None:
    engine = make_engine(_steps(datev, dxso))
    spec = RunSpec("ar", "acme", NEW_BELEGE_ONLINE_CLIENT, "2026-10")
    outcome = engine.wait(engine.enqueue(spec), timeout=60)
    assert outcome.state == "failed"
    assert "new Belege online" in (outcome.error or "")
    assert 'channel = "extf"' in (outcome.error or "")
    assert dxso.jobs() == []


def test_a_failed_upload_deletes_the_open_job_and_a_replay_sends_again(
    make_engine: Callable[..., Engine], datev: FakeDatev, dxso: FakeDxso
) -> None:
    dxso.failing_uploads.add("E12.xml")
    engine = make_engine(_steps(datev, dxso))
    run_id = engine.enqueue(SPEC)
    outcome = engine.wait(run_id, timeout=60)
    assert outcome.state == "failed"
    assert "E12.xml" in (outcome.error or "")
    assert dxso.jobs() == [("dxso-1", 5, ["E11.xml"])]  # deleted while open
    assert list_files(engine.store, run_id)[0].outcome == "failed"

    dxso.failing_uploads.clear()
    replay_id = engine.replay(run_id)
    assert engine.wait(replay_id, timeout=60).state == "succeeded"
    assert [(j, s) for j, s, _ in dxso.jobs()] == [("dxso-1", 5), ("dxso-2", 2), ("dxso-3", 2)]
    assert _posted(engine) == 6
    assert all(r.ok for r in verify(engine.store))


def test_a_replay_deletes_a_job_an_earlier_run_left_open(
    make_engine: Callable[..., Engine], datev: FakeDatev, dxso: FakeDxso
) -> None:
    dxso.failing_uploads.add("E12.xml")
    dxso.failing_cancels = 1  # the failing run cannot delete its job
    engine = make_engine(_steps(datev, dxso))
    run_id = engine.enqueue(SPEC)
    assert engine.wait(run_id, timeout=60).state == "failed"
    assert dxso.jobs() == [("dxso-1", 0, ["E11.xml"])]

    dxso.failing_uploads.clear()
    replay_id = engine.replay(run_id)
    assert engine.wait(replay_id, timeout=60).state == "succeeded"
    assert [(j, s) for j, s, _ in dxso.jobs()] == [("dxso-1", 5), ("dxso-2", 2), ("dxso-3", 2)]
    [settled] = _outcomes(engine, run_id)
    assert settled["settled_by"] == replay_id
    assert settled["outcome"] == "failed"
    run = get_run(engine.store, replay_id)
    assert run is not None
    assert run.jobs_succeeded == 2


def test_only_failed_replay_leaves_the_accepted_job_out(
    make_engine: Callable[..., Engine], datev: FakeDatev, tmp_path: Path
) -> None:
    refused = frozenset({"E21.xml", "E22.xml", "E23.xml"})
    dxso = FakeDxso(tmp_path / "dxso.sqlite3", refused=refused)
    engine = make_engine(_steps(datev, dxso))
    run_id = engine.enqueue(SPEC)
    assert engine.wait(run_id, timeout=60).state == "partial"
    dxso.refused = frozenset()
    replay_id = engine.replay(run_id, only_failed=True)
    assert engine.wait(replay_id, timeout=60).state == "succeeded"
    assert [(j, s) for j, s, _ in dxso.jobs()] == [("dxso-1", 2), ("dxso-2", 3), ("dxso-3", 2)]
    assert dxso.jobs()[2][2][0] == "E21.xml"
    assert _posted(engine) == 6
    assert all(r.ok for r in verify(engine.store))


def test_a_job_still_pending_stops_the_run_before_the_next_job_and_a_replay_awaits_it(
    make_engine: Callable[..., Engine], datev: FakeDatev, tmp_path: Path
) -> None:
    dxso = FakeDxso(tmp_path / "dxso.sqlite3", polls_needed=10_000)
    engine = make_engine(_steps(datev, dxso))
    run_id = engine.enqueue(SPEC)
    outcome = engine.wait(run_id, timeout=60)
    assert outcome.state == "failed"
    assert "still pending after 200 polls" in (outcome.error or "")
    assert [(j, s) for j, s, _ in dxso.jobs()] == [("dxso-1", 1)]  # no second job meanwhile

    dxso.polls_needed = 1
    replay_id = engine.replay(run_id)
    engine.wait(replay_id, timeout=60)
    [settled] = _outcomes(engine, run_id)
    assert (settled["settled_by"], settled["outcome"]) == (replay_id, "succeeded")
