"""``run --dry-run`` of a dxso pipeline shows the DXSO files (sent: test_sync_dxso.py)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from dxso_support import BASE

from ml_connector.formats.dxso.jobs import MANIFEST
from ml_connector.formats.dxso.schemas import validate_document, validate_ledger
from ml_connector.interfaces.cli import main

ROWS = [
    {"inv.id": "RE-1001", "inv.date": "2026-01-05", "inv.amount": "119.00", "inv.debtor": "10001",
     "inv.customer": "Muster GmbH", "inv.due": "2026-02-04"},
    {"inv.id": "RE-1002", "inv.date": "2026-01-07", "inv.amount": "-20.00", "inv.debtor": "10002",
     "inv.customer": "Beispiel AG", "inv.due": ""},
]  # fmt: skip


def _files(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "ml-connector.toml"
    config.write_text(BASE.replace("LEDGER", "accounts_receivable"), encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return config, rows


def test_dry_run_writes_the_dxso_job_and_sends_nothing(tmp_path: Path) -> None:
    config, rows = _files(tmp_path)
    out = tmp_path / "out"
    args = ["run", "p", "--period", "2026-01", "--dry-run", "--config", str(config)]
    result = CliRunner().invoke(main, [*args, "--rows", str(rows), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (job,) = out.glob("DXSO_AR_2026-01_01_*")
    assert job.name in result.output
    manifest = json.loads((job / MANIFEST).read_text("utf-8"))
    assert [f["name"] for f in manifest["files"]][-1] == "document.xml"
    for item in manifest["files"][:-1]:
        validate_ledger((job / item["name"]).read_bytes())
    validate_document((job / "document.xml").read_bytes())
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report["channel"] == "dxso"
    assert report["files"] == [
        {"file": job.name, "bookings": 2, "bytes": report["files"][0]["bytes"]}
    ]


def test_preview_shows_the_dxso_xml(tmp_path: Path) -> None:
    config, rows = _files(tmp_path)
    args = ["mapping", "preview", "p", "--period", "2026-01", "--config", str(config)]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, [*args, "--rows", str(rows)])
    assert result.exit_code == 0, result.output
    assert "2 mapped, 0 rejected" in result.output
    assert "AR_202601_0001.xml" in result.output
    assert '<consolidate consolidatedAmount="119.00"' in result.output
    assert "<customerName>Muster GmbH</customerName>" in result.output
    assert "document.xml" in result.output
