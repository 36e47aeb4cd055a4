"""Tampering the verify step must catch: a cut tail, a moved head, a rewritten chain
(with an anchor), edited posted rows and edited run rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from ml_connector.canonical import canonical_json
from ml_connector.errors import ConfigurationError
from ml_connector.interfaces.cli import main
from ml_connector.store.audit import (
    GENESIS_HASH,
    AuditEvent,
    anchor,
    append_events,
    event_hash,
    iter_events,
    read_anchor,
    verify,
)
from ml_connector.store.posted import PostedRecord, record_posted_in
from ml_connector.store.runs import ensure_run, update_run
from ml_connector.store.transactions import write_transaction

CHAIN = "1-2"
RUN = "run:gl:2026-10"


def _unguard(conn: Connection, table: str) -> None:
    """What someone with database access does first: switch the triggers off."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        return
    names = conn.execute(
        text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
        {"t": table},
    ).scalars()
    for name in list(names):
        conn.execute(text(f"DROP TRIGGER {name}"))


def _events(n: int) -> list[AuditEvent]:
    return [AuditEvent("note", RUN, {"n": i}) for i in range(n)]


def _broken(engine: Engine, **kwargs: object) -> str:
    [report] = verify(engine, chain=CHAIN, **kwargs)  # type: ignore[arg-type]
    assert not report.ok
    assert report.reason is not None
    return report.reason


def test_the_head_only_moves_forward(store_engine: Engine) -> None:
    append_events(store_engine, CHAIN, _events(3))
    refused = [
        "UPDATE audit_chain_heads SET seq = 2",
        "UPDATE audit_chain_heads SET head_hash = 'ff'",
        "UPDATE audit_chain_heads SET seq = 9, head_hash = '" + "ab" * 32 + "'",
        "DELETE FROM audit_chain_heads",
        "INSERT INTO audit_chain_heads VALUES ('x', 5, '" + "ab" * 32 + "')",
    ]
    for statement in refused:
        with pytest.raises(DBAPIError, match="audit_chain_heads"), store_engine.begin() as c:
            c.execute(text(statement))
    append_events(store_engine, CHAIN, _events(1))  # appends still move it
    assert all(r.ok for r in verify(store_engine))


def test_a_cut_tail_with_its_head_removed_is_reported(store_engine: Engine) -> None:
    append_events(store_engine, CHAIN, _events(3))
    with store_engine.begin() as conn:
        _unguard(conn, "audit_events")
        _unguard(conn, "audit_chain_heads")
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
        conn.execute(text("DELETE FROM audit_chain_heads"))
    assert _broken(store_engine) == "chain head missing"


def _move_head_back(engine: Engine, keep: int) -> None:
    with engine.begin() as conn:
        _unguard(conn, "audit_events")
        _unguard(conn, "audit_chain_heads")
        last = conn.execute(
            text("SELECT row_hash FROM audit_events WHERE chain = :c AND seq = :s"),
            {"c": CHAIN, "s": keep},
        ).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": keep})
        conn.execute(
            text("UPDATE audit_chain_heads SET seq = :s, head_hash = :h"), {"s": keep, "h": last}
        )


def test_the_anchor_catches_a_tail_cut_with_the_head_moved_back(store_engine: Engine) -> None:
    append_events(store_engine, CHAIN, _events(4))
    pins = read_anchor(json.dumps(anchor(store_engine)))
    _move_head_back(store_engine, keep=2)
    assert all(r.ok for r in verify(store_engine))  # consistent inside the database
    assert "anchor has events up to seq 4" in _broken(store_engine, anchor=pins)


def test_the_anchor_catches_a_rewritten_chain(store_engine: Engine) -> None:
    append_events(store_engine, CHAIN, _events(3))
    pins = read_anchor(json.dumps(anchor(store_engine)))
    stored = list(iter_events(store_engine, chain=CHAIN))
    with store_engine.begin() as conn:  # forge event 1 and re-hash the whole chain
        _unguard(conn, "audit_events")
        _unguard(conn, "audit_chain_heads")
        prev = GENESIS_HASH
        for event in stored:
            payload = '{"n":"forged"}' if event.seq == 1 else event.payload
            fields = {
                "chain": event.chain,
                "seq": event.seq,
                "recorded_at": event.recorded_at,
                "run_id": event.run_id,
                "kind": event.kind,
                "row_key": event.row_key,
                "filename": event.filename,
            }
            row_hash = event_hash(prev, payload=payload, **fields)  # type: ignore[arg-type]
            conn.execute(
                text(
                    "UPDATE audit_events SET payload = :p, prev_hash = :v, row_hash = :h"
                    " WHERE id = :i"
                ),
                {"p": payload, "v": prev, "h": row_hash, "i": event.id},
            )
            prev = row_hash
        conn.execute(text("UPDATE audit_chain_heads SET head_hash = :h"), {"h": prev})
    assert all(r.ok for r in verify(store_engine))
    assert "differs from the anchor" in _broken(store_engine, anchor=pins)


def test_a_chain_missing_altogether_fails_against_the_anchor(store_engine: Engine) -> None:
    pins = read_anchor(
        json.dumps(
            {
                "format": "ml-connector-audit-anchor/1",
                "chains": [{"chain": CHAIN, "seq": 2, "head_hash": "ab" * 32}],
            }
        )
    )
    assert "anchor has events up to seq 2" in _broken(store_engine, anchor=pins)


def test_a_bad_anchor_file_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="not an ml-connector audit anchor"):
        read_anchor('{"chains": 3}', source="x.json")


def _post_file(engine: Engine) -> None:
    records = [
        PostedRecord(
            pipeline="gl",
            datev_client=CHAIN,
            period="2026-10",
            row_key=f"k{i}",
            booking_json=canonical_json({"Umsatz": Decimal(f"{i}.50")}),
            run_id=RUN,
            filename="f.csv",
            datev_job_id="job-1",
        )
        for i in range(3)
    ]
    with write_transaction(engine) as conn:
        summary = record_posted_in(conn, records).summary()
    payload = {"datev_job_id": "job-1", "outcome": "succeeded", "posted": summary}
    append_events(engine, CHAIN, [AuditEvent("job_outcome", RUN, payload, filename="f.csv")])


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("UPDATE posted_records SET payload = '{\"Umsatz\":\"9.50\"}' WHERE row_key = 'k1'",
         "booking of k1 does not match its digest"),
        ("UPDATE posted_records SET row_key = 'k9' WHERE row_key = 'k1'", "do not match"),
        ("DELETE FROM posted_records WHERE row_key = 'k2'", "do not match"),
        ("DELETE FROM posted_records", "are missing"),
        ("INSERT INTO posted_records (pipeline, datev_client, period, row_key, digest, payload,"
         " run_id, filename, recorded_at) SELECT pipeline, datev_client, period, row_key, digest,"
         " payload, 'run:other', filename, recorded_at FROM posted_records WHERE row_key = 'k0'",
         "no job_outcome event"),
    ],
)  # fmt: skip
def test_edited_posted_rows_fail_verification(
    store_engine: Engine, statement: str, reason: str
) -> None:
    _post_file(store_engine)
    assert all(r.ok for r in verify(store_engine))
    with store_engine.begin() as conn:
        _unguard(conn, "posted_records")
        conn.execute(text(statement))
    assert reason in _broken(store_engine)


def _run_with_events(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        ensure_run(
            conn, run_id=RUN, pipeline="gl", customer="acme", datev_client=CHAIN, period="2026-10"
        )
        update_run(conn, RUN, state="failed", rows_read=4, jobs_failed=1)
    started = {"pipeline": "gl", "customer": "acme", "period": "2026-10", "replay_of": None}
    append_events(
        engine,
        CHAIN,
        [
            AuditEvent("run_started", RUN, started),
            AuditEvent("rows_recorded", RUN, {"rows_read": 4}),
            AuditEvent("run_finished", RUN, {"state": "failed", "jobs_failed": 1}),
        ],
    )


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("UPDATE runs SET state = 'succeeded'", "state differ"),
        ("UPDATE runs SET rows_read = 3", "rows_read differ"),
        ("UPDATE runs SET customer = 'other'", "customer differ"),
        ("DELETE FROM runs", "no row in runs"),
    ],
)
def test_edited_run_rows_fail_verification(
    store_engine: Engine, statement: str, reason: str
) -> None:
    _run_with_events(store_engine)
    assert all(r.ok for r in verify(store_engine))
    with store_engine.begin() as conn:
        conn.execute(text(statement))
    assert reason in _broken(store_engine)


def test_cli_anchor_then_verify_against_it(store_engine: Engine, tmp_path: Path) -> None:
    url = store_engine.url.render_as_string(hide_password=False)
    append_events(store_engine, CHAIN, _events(3))
    runner = CliRunner()
    printed = runner.invoke(main, ["audit", "anchor", "--store-url", url])
    assert printed.exit_code == 0, printed.output
    anchor_file = tmp_path / "anchor.json"
    anchor_file.write_text(printed.output, encoding="utf-8")
    args = ["audit", "verify", "--store-url", url, "--anchor", str(anchor_file)]
    assert runner.invoke(main, args).exit_code == 0
    _move_head_back(store_engine, keep=1)
    assert runner.invoke(main, args[:-2]).exit_code == 0
    cut = runner.invoke(main, args)
    assert cut.exit_code == 1
    assert "anchor has events up to seq 3" in cut.output
