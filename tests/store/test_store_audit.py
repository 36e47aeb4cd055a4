"""Audit trail: append-only, hash-chained per DATEV client, tampering detected."""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ml_connector.canonical import canonical_json, sha256_hex
from ml_connector.store.audit import (
    GENESIS_HASH,
    AuditEvent,
    append_events,
    event_hash,
    has_event,
    iter_events,
    verify,
)


def _rows(run: str, n: int) -> list[AuditEvent]:
    return [
        AuditEvent(
            kind="row",
            run_id=run,
            row_key=f"k{i}",
            filename="EXTF_1.csv",
            payload={"source": {"amount": Decimal("12.50"), "i": i}, "line": i + 1},
        )
        for i in range(n)
    ]


def _drop_guard(engine: Engine, action: str) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        else:
            conn.execute(text(f"DROP TRIGGER audit_events_no_{action}"))


def test_chains_are_per_datev_client_and_verify(store_engine: Engine) -> None:
    assert append_events(store_engine, "100-1", _rows("r1", 3)) == 3
    assert append_events(store_engine, "100-2", _rows("r2", 2)) == 2
    assert append_events(store_engine, "100-1", _rows("r3", 2)) == 5
    events = list(iter_events(store_engine, chain="100-1"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(events))
    assert '"amount":"12.50"' in events[0].payload
    reports = verify(store_engine)
    assert [(r.chain, r.events, r.ok) for r in reports] == [("100-1", 5, True), ("100-2", 2, True)]
    with store_engine.connect() as conn:
        assert has_event(conn, run_id="r3", kind="row", filename="EXTF_1.csv")
        assert not has_event(conn, run_id="r3", kind="job_outcome")


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET kind = 'x'", "DELETE FROM audit_events"]
)
def test_database_refuses_update_and_delete(store_engine: Engine, statement: str) -> None:
    append_events(store_engine, "c", _rows("r", 2))
    with pytest.raises(DBAPIError, match="append-only"), store_engine.begin() as conn:
        conn.execute(text(statement))
    assert verify(store_engine)[0].ok


def test_modified_payload_is_named_by_verify(store_engine: Engine) -> None:
    append_events(store_engine, "c", _rows("r", 5))
    _drop_guard(store_engine, "update")
    with store_engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET payload = :p WHERE chain = 'c' AND seq = 3"),
            {"p": '{"line":3,"source":{"amount":"99.00","i":2}}'},
        )
    [report] = verify(store_engine)
    assert not report.ok
    assert report.broken_seq == 3
    assert report.reason == "content does not match row_hash"
    target = next(e for e in iter_events(store_engine) if e.seq == 3)
    assert report.broken_event_id == target.id


def test_rehashed_row_breaks_the_next_link(store_engine: Engine) -> None:
    """A forger who also fixes row_hash of the changed row is caught at the next row."""
    append_events(store_engine, "c", _rows("r", 4))
    _drop_guard(store_engine, "update")
    with store_engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET row_hash = :h WHERE seq = 2"), {"h": "f" * 64})
    [report] = verify(store_engine)
    assert (report.ok, report.broken_seq) == (False, 2)


def test_deleted_rows_are_detected(store_engine: Engine) -> None:
    append_events(store_engine, "c", _rows("r", 4))
    _drop_guard(store_engine, "delete")
    with store_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    [report] = verify(store_engine)
    assert (report.ok, report.broken_seq) == (False, 3)
    assert "expected seq 2" in (report.reason or "")


def test_cut_off_tail_is_detected_through_the_head(store_engine: Engine) -> None:
    append_events(store_engine, "c", _rows("r", 4))
    _drop_guard(store_engine, "delete")
    with store_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    [report] = verify(store_engine)
    assert (report.ok, report.broken_seq) == (False, 4)
    assert "chain head" in (report.reason or "")


def test_concurrent_appends_keep_one_unbroken_chain(store_engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(10):
                append_events(store_engine, "shared", _rows(f"{name}-{i}", 2))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    [report] = verify(store_engine)
    assert (report.ok, report.events, report.head_seq) == (True, 80, 80)


@pytest.mark.parametrize(
    ("row_key", "filename", "payload"),
    [
        ("k1", "EXTF_1.csv", '{"a":"12.50"}'),
        (None, None, "{}"),
        ('Grüße "quoted" \\ \u2028 \x01', "ä.csv", '{"text":"Straße \\"x\\""}'),
    ],
)
def test_row_hash_is_sha256_of_the_event_canonical_json(
    row_key: str | None, filename: str | None, payload: str
) -> None:
    event = {
        "chain": "client:1-2",
        "seq": 7,
        "recorded_at": "2026-01-05T06:00:00.000001+00:00",
        "run_id": "run-ü",
        "kind": "row",
        "row_key": row_key,
        "filename": filename,
        "payload": payload,
    }
    prev = "f" * 64
    expected = sha256_hex(prev + canonical_json(event))
    assert event_hash(prev, **event) == expected  # type: ignore[arg-type]
