"""``audit verify``, ``audit export`` and ``status`` on a real store."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, text

from ml_connector.interfaces.cli import main
from ml_connector.store.audit import AuditEvent, append_events
from ml_connector.store.runs import ensure_run, update_run
from ml_connector.store.transactions import write_transaction


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _fill(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        ensure_run(
            conn,
            run_id="run:gl:2026-10",
            pipeline="gl",
            customer="acme",
            datev_client="1-2",
            period="2026-10",
        )
        update_run(
            conn,
            "run:gl:2026-10",
            state="partial",
            rows_read=5,
            jobs_failed=1,
            error="DATEV rejected part 2",
            data_changes='{"document_number_cleaned": 3, "text_shortened": 12}',
        )
    events = [
        AuditEvent(
            "row",
            "run:gl:2026-10",
            {"source": {"n": i}, "line": i},
            row_key=f"k{i}",
            filename="f.csv",
        )
        for i in range(3)
    ]
    run = "run:gl:2026-10"
    started = {"pipeline": "gl", "customer": "acme", "period": "2026-10", "replay_of": None}
    run_events = [  # what the engine records about the run's row
        AuditEvent("run_started", run, started),
        AuditEvent("rows_recorded", run, {"rows_read": 5}),
        AuditEvent("run_finished", run, {"state": "partial", "jobs_failed": 1}),
    ]
    append_events(engine, "1-2", [*events, *run_events])
    append_events(engine, "3-4", events[:1])


def test_audit_verify_reports_ok_then_names_the_broken_link(store_engine: Engine) -> None:
    _fill(store_engine)
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--store-url", _url(store_engine)])
    assert ok.exit_code == 0, ok.output
    assert "chain 1-2: 6 events" in ok.output
    assert "chain 3-4: 1 events" in ok.output
    with store_engine.begin() as conn:
        if store_engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(
            text("UPDATE audit_events SET row_key = 'forged' WHERE chain = '1-2' AND seq = 2")
        )
    bad = runner.invoke(main, ["audit", "verify", "--store-url", _url(store_engine), "--json"])
    assert bad.exit_code == 1
    doc = json.loads(bad.output)
    assert doc["ok"] is False
    broken = {c["chain"]: c for c in doc["chains"]}
    assert (broken["1-2"]["ok"], broken["1-2"]["broken_seq"]) == (False, 2)
    assert broken["3-4"]["ok"] is True


def test_audit_export_and_status(store_engine: Engine, tmp_path: Path) -> None:
    _fill(store_engine)
    runner = CliRunner()
    out = tmp_path / "trail.csv"
    result = runner.invoke(
        main,
        [
            "audit",
            "export",
            "--format",
            "csv",
            "--out",
            str(out),
            "--chain",
            "1-2",
            "--store-url",
            _url(store_engine),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3 rows" in result.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4

    status = runner.invoke(main, ["status", "--json", "--store-url", _url(store_engine)])
    assert status.exit_code == 0, status.output
    [run] = json.loads(status.output)
    assert (run["id"], run["state"], run["jobs_failed"]) == ("run:gl:2026-10", "partial", 1)
    assert run["data_changes"] == {"document_number_cleaned": 3, "text_shortened": 12}
    table = runner.invoke(
        main, ["status", "--store-url", _url(store_engine)], env={"COLUMNS": "250"}
    )
    assert "12 texts shortened, 3 document numbers cleaned" in table.output
    assert "customer acme" in table.output
    assert "DATEV rejected part 2" in table.output
