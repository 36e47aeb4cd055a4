"""Runs whose files and chunks exceed the store's batch sizes: streamed, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from engine_fakes import FakeDatev, FakeSteps

from ml_connector.engine import workflow
from ml_connector.engine.ports import RunSpec
from ml_connector.engine.runtime import Engine
from ml_connector.store.audit import iter_events, verify
from ml_connector.store.posted import latest

SPEC = RunSpec("gl", "acme", "100-1", "2026-11")


def test_large_files_are_recorded_and_posted_in_full(
    make_engine: Callable[..., Engine], datev: FakeDatev, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2 files of 1,500 lines: more than one insert batch (1,000) per file, and the
    # 3,001 row events span four chunks of 1,000 (the last one holds a single row)
    monkeypatch.setattr(workflow, "ROWS_PER_TRANSACTION", 1000)
    engine = make_engine(FakeSteps(datev, files=2, rows_per_file=1500))
    outcome = engine.wait(engine.enqueue(SPEC), timeout=120)
    assert (outcome.state, outcome.rows_read, outcome.jobs_succeeded) == ("succeeded", 3001, 2)

    events = list(iter_events(engine.store, run_id=outcome.run_id))
    rows = [e for e in events if e.kind == "row"]
    assert len(rows) == len({e.row_key for e in rows}) == 3001
    chunks = [(e.row_key, json.loads(e.payload)["rows"]) for e in events if e.kind == "rows_chunk"]
    assert chunks == [("0", 1000), ("1", 1000), ("2", 1000), ("3", 1)]
    posted = latest(engine.store, pipeline="gl", datev_client="100-1", period="2026-11")
    assert len(posted) == 3000
    assert {p.run_id for p in posted.values()} == {outcome.run_id}
    assert all(r.ok for r in verify(engine.store))
