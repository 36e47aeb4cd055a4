"""The end-to-end demo: its summary agrees with the DATEV emulator's ledger."""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from ml_connector.errors import ConfigurationError
from ml_connector.formats.extf.reader import read_file
from ml_connector.mapping.money import format_money
from ml_connector_sandbox.demo import run_demo
from ml_connector_sandbox.demo.emulators import running_emulators


def test_demo_posts_what_it_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ML_CONNECTOR_LOOKER_CLIENT_ID", raising=False)
    monkeypatch.delenv("ML_CONNECTOR_LOOKER_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(tmp_path / "elsewhere"))
    progress: list[str] = []
    with running_emulators() as emulators:
        summary = run_demo(
            tmp_path / "demo",
            months=["2025-12", "2026-10"],
            json_output=True,
            progress=progress.append,
            emulators=emulators,
        )
        transfers = emulators.ledger.transfers("29098-55003")
        dxso_jobs = {t.job_id for t in transfers if t.kind == "dxso"}
        everything = emulators.ledger.bookings("29098-55003")
        ledger = [b for b in everything if b.job_id not in dxso_jobs]
        transfers = [t for t in transfers if t.kind == "extf"]
        stored_documents = emulators.ledger.documents("29098-55003")

    assert summary.ok
    assert [(r.period, r.state) for r in summary.runs] == [
        ("2025-12", "succeeded"),
        ("2026-10", "succeeded"),
    ]
    assert (summary.rows_read, summary.rows_rejected) == (64 + 63, 1)
    # months of the dataset before 2025-12 and between the two runs, taken on by no run,
    # are named (a schedule would never reach them); 2025-12 itself is by then
    first, second = (" ".join(r.warnings) for r in summary.runs)
    counts = [
        re.search(r"in (\d+) earlier period\(s\) that no run has taken on", w)
        for w in (first, second)
    ]
    assert all(counts), (first, second)
    before, between = (int(m.group(1)) for m in counts if m)
    # the second run also names 2026-01 .. 2026-09, but no longer 2025-12
    assert between == before + 9
    [rejection] = summary.rejections
    assert rejection.row_key == "2025-12|ZD|OPS-399|CGN-BO"
    assert "unmapped_account" in rejection.reason
    # the ledger holds exactly the booking lines of the files the summary names
    assert summary.bookings_posted == summary.datev_ledger_bookings == len(ledger) == 126
    on_disk = Counter(
        (line.belegfeld_1, str(line.umsatz), line.soll_haben)
        for f in summary.files
        for line in read_file(Path(f.path)).lines
    )
    assert on_disk == Counter((b.document_field, str(b.amount), b.debit_credit) for b in ledger)
    assert sorted(t.job_id for t in transfers) == sorted(str(f.datev_job_id) for f in summary.files)
    assert all(f.outcome == "succeeded" for f in summary.files)
    assert summary.audit_verified
    # money: debit and credit per account as the files on disk book them
    sums: dict[int, list[Decimal]] = {}
    for f in summary.files:
        for line in read_file(Path(f.path)).lines:
            debit, credit = (
                (line.konto, line.gegenkonto)
                if line.soll_haben == "S"
                else (line.gegenkonto, line.konto)
            )
            sums.setdefault(debit, [Decimal(0), Decimal(0)])[0] += line.umsatz
            sums.setdefault(credit, [Decimal(0), Decimal(0)])[1] += line.umsatz
    assert {a.account: [a.debit, a.credit] for a in summary.money.accounts} == sums
    [held] = summary.money.held
    assert (held.reason, held.count, held.without_amount) == ("unmapped_account", 1, 0)
    assert held.amount > 0
    assert [t.period for t in summary.tie_outs] == ["2025-12", "2026-10"]
    for tie in summary.tie_outs:
        assert tie.ok
        assert tie.looker_amount == tie.booked_amount + tie.held_amount
    # each month's P&L, rendered by Looker, is in Belege online and linked from its lines
    assert [(d.period, d.filename, d.linked_lines) for d in summary.documents] == [
        ("2025-12", "GuV_2025-12.pdf", 63),
        ("2026-10", "GuV_2026-10.pdf", 63),
    ]
    assert sorted((d.id, d.filename) for d in stored_documents) == sorted(
        (d.document_id, d.filename) for d in summary.documents
    )
    for doc in summary.documents:
        [run_file] = [f for f in summary.files if f.period == doc.period]
        links = {line.beleglink for line in read_file(Path(run_file.path)).lines}
        assert links == {f'BEDI "{doc.document_id}"'}
    text = summary.render()
    assert "GuV_2025-12.pdf (Sonstige, " in text
    assert "linked from 63 booking line(s)" in text
    assert "money (EUR): debit " in text
    assert "unmapped_account: 1 rows, " in text
    # no secret in the configuration, the key stored encrypted in the data directory
    config = Path(summary.config_path).read_text("utf-8")
    assert emulators.looker_client_secret.get_secret_value() not in config
    assert 'credential = "store:' in config
    assert not (tmp_path / "elsewhere").exists()
    # the last month's invoices went to Belege online as DXSO booking suggestions
    [job] = summary.dxso
    assert (job.pipeline, job.period, job.state, job.outcome) == (
        "ar-invoices",
        "2026-10",
        "succeeded",
        "succeeded",
    )
    suggested = [b for b in everything if b.job_id == job.datev_job_id]
    assert job.entries == summary.datev_dxso_entries == len(suggested) == 7
    assert job.amount == sum((b.amount for b in suggested), Decimal("0.00"))
    assert f"7 entries, {format_money(job.amount)} EUR" in text

    printed = json.loads(capsys.readouterr().out)
    assert printed["bookings_posted"] == 126
    assert printed["money"]["held"][0]["amount"] == str(held.amount)
    assert printed["files"][0]["path"] == summary.files[0].path
    assert any("submitted to DATEV" in line for line in progress)
    assert printed["dxso"]["datev_entries"] == 7
    assert any(
        line.startswith("ar-invoices 2026-10: DATEV dxso job 1 created") for line in progress
    )

    with pytest.raises(ConfigurationError):
        run_demo(tmp_path / "demo", progress=None, print_summary=False)
