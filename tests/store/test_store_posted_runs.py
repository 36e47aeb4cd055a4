"""Posted records (restatement memory), runs and the audit export."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ml_connector.canonical import canonical_json, sha256_hex
from ml_connector.store.audit import AuditEvent, append_events
from ml_connector.store.export import ROW_COLUMNS, export_trail
from ml_connector.store.posted import PostedRecord, latest, record_posted
from ml_connector.store.runs import (
    RunFileRecord,
    add_file,
    ensure_run,
    get_run,
    list_files,
    list_runs,
    set_file_job,
    set_file_outcome,
    update_run,
)
from ml_connector.store.transactions import write_transaction


def _posted(key: str, amount: str, run: str) -> PostedRecord:
    return PostedRecord(
        pipeline="gl",
        datev_client="100-1",
        period="2026-10",
        row_key=key,
        booking_json=canonical_json({"Umsatz": Decimal(amount), "Konto": "1200"}),
        run_id=run,
    )


def test_latest_posting_per_key_wins(store_engine: Engine) -> None:
    record_posted(store_engine, [_posted("a", "10.00", "r1"), _posted("b", "5.00", "r1")])
    record_posted(store_engine, [_posted("a", "12.00", "r2")])
    state = latest(store_engine, pipeline="gl", datev_client="100-1", period="2026-10")
    assert set(state) == {"a", "b"}
    assert state["a"].run_id == "r2"
    assert state["a"].digest == sha256_hex('{"Konto":"1200","Umsatz":"12.00"}')
    assert json.loads(state["a"].booking) == {"Konto": "1200", "Umsatz": "12.00"}
    assert latest(store_engine, pipeline="gl", datev_client="100-1", period="2026-09") == {}
    with pytest.raises(DBAPIError, match="append-only"), store_engine.begin() as conn:
        conn.execute(text("DELETE FROM posted_records"))


def test_runs_and_files(store_engine: Engine) -> None:
    with write_transaction(store_engine) as conn:
        for _ in range(2):  # idempotent
            ensure_run(
                conn,
                run_id="r1",
                pipeline="gl",
                customer="acme",
                datev_client="1-2",
                period="2026-10",
            )
        update_run(conn, "r1", state="running", rows_read=7)
        file = RunFileRecord("r1", 1, "files/f.csv", "f.csv", "ab" * 32, "ref-1", 7)
        add_file(conn, file)
        add_file(conn, file)
        set_file_job(conn, "r1", "f.csv", "job-9")
        set_file_outcome(conn, "r1", "f.csv", "succeeded", None)
        with pytest.raises(ValueError, match="unknown run fields"):
            update_run(conn, "r1", colour="red")
    run = get_run(store_engine, "r1")
    assert run is not None
    assert (run.state, run.rows_read, run.customer) == ("running", 7, "acme")
    [stored] = list_files(store_engine, "r1")
    assert (stored.datev_job_id, stored.outcome) == ("job-9", "succeeded")
    assert [r.id for r in list_runs(store_engine, customer="acme")] == ["r1"]
    assert list_runs(store_engine, customer="other") == []


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_joins_rows_with_their_job(store_engine: Engine, tmp_path: Path, fmt: str) -> None:
    append_events(
        store_engine,
        "1-2",
        [
            AuditEvent(
                "row",
                "r1",
                {"source": {"amt": "1.50"}, "booking": {"Umsatz": "1,50"}, "line": 1},
                row_key="k1",
                filename="f.csv",
            ),
            AuditEvent(
                "row", "r1", {"source": {"amt": "x"}, "rejection": "bad amount"}, row_key="k2"
            ),
            AuditEvent("file_submitted", "r1", {"datev_job_id": "job-9"}, filename="f.csv"),
            AuditEvent(
                "job_outcome",
                "r1",
                {"datev_job_id": "job-9", "outcome": "succeeded"},
                filename="f.csv",
            ),
        ],
    )
    out = tmp_path / f"trail.{fmt}"
    assert export_trail(store_engine, out, fmt=fmt) == 2  # type: ignore[arg-type]
    if fmt == "csv":
        with out.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert tuple(rows[0]) == ROW_COLUMNS
        assert (rows[0]["datev_job_id"], rows[0]["job_outcome"], rows[0]["line"]) == (
            "job-9",
            "succeeded",
            "1",
        )
        assert json.loads(rows[0]["source"]) == {"amt": "1.50"}
        assert (rows[1]["rejection"], rows[1]["filename"], rows[1]["job_outcome"]) == (
            "bad amount",
            "",
            "",
        )
    else:
        doc = json.loads(out.read_text(encoding="utf-8"))
        assert doc["chains"] == [
            {"chain": "1-2", "seq": 4, "head_hash": doc["events"][-1]["row_hash"], "verified": True}
        ]
        assert len(doc["events"]) == 4
        assert doc["rows"][0]["booking"] == {"Umsatz": "1,50"}
        assert doc["rows"][0]["job_outcome"] == "succeeded"
