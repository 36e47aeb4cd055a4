"""A run leaves an audit anchor (outcome, notification, file) and posted rows under the chain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from engine_fakes import FakeDatev, FakeSteps
from sqlalchemy import text

from ml_connector.engine.ports import RunOutcome, RunSpec
from ml_connector.engine.runtime import Engine
from ml_connector.notify.message import notification_for
from ml_connector.store.audit import chain_heads, iter_events, read_anchor, verify

SPEC = RunSpec("gl", "acme", "100-1", "2026-10")


def test_a_run_carries_its_anchor_and_vouches_for_its_posted_rows(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    datev = FakeDatev(tmp_path / "datev.sqlite3", failing=frozenset({"EXTF_gl_2026-10_002.csv"}))
    notes: list[RunOutcome] = []
    engine = make_engine(FakeSteps(datev), notifications=notes)
    run_id = engine.enqueue(SPEC)
    outcome = engine.wait(run_id, timeout=60)
    assert outcome.state == "partial"

    [head] = chain_heads(engine.store, chain="100-1")
    assert outcome.audit_anchor is not None
    assert outcome.audit_anchor["chains"] == [head.as_json()]
    [note] = notes
    message = notification_for(note)
    assert message is not None
    assert message.as_json()["audit_anchor"]["chains"] == [head.as_json()]
    [written] = tmp_path.rglob("audit-anchor.json")
    pins = read_anchor(written.read_text(encoding="utf-8"))
    assert all(r.ok for r in verify(engine.store, anchor=pins))

    outcomes = [e for e in iter_events(engine.store, run_id=run_id) if e.kind == "job_outcome"]
    posted = {e.filename: json.loads(e.payload).get("posted") for e in outcomes}
    assert posted["EXTF_gl_2026-10_001.csv"]["rows"] == 3
    assert posted["EXTF_gl_2026-10_002.csv"] is None  # nothing posted from a failed file

    with engine.store.begin() as conn:  # a posted row edited behind the chain's back
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE posted_records DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER posted_records_no_update"))
        conn.execute(text("UPDATE posted_records SET digest = 'x' WHERE id = 1"))
    [report] = verify(engine.store, chain="100-1")
    assert not report.ok
    assert "posted_records" in str(report.reason)
