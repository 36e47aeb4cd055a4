"""``run --dry-run`` of a dxso pipeline shows the DXSO files (sent: test_sync_dxso.py)."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner
from dxso_support import BASE
from fpdf import FPDF

from ml_connector.formats.dxso.jobs import MANIFEST
from ml_connector.formats.dxso.schemas import validate_document, validate_ledger
from ml_connector.formats.dxso.writer import DOCUMENT_NS as NS
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


def test_per_row_documents_are_receipts_stapled_to_their_invoice(tmp_path: Path) -> None:
    config, rows = _files(tmp_path)
    text = config.read_text("utf-8").replace('"inv.due"]', '"inv.due", "inv.receipt"]')
    text = text.replace('channel = "dxso"', 'channel = "dxso"\nreject_policy = "hold_rejected"')
    text += (
        '[pipelines.p.documents]\ndocument_type = "Rechnungsausgang"\n'
        '[pipelines.p.documents.rows]\ncolumn = "inv.receipt"\nfolder = "receipts"\n'
    )
    config.write_text(text, encoding="utf-8")
    (tmp_path / "receipts").mkdir()
    pdf = FPDF()
    pdf.add_page()
    receipt = bytes(pdf.output())
    (tmp_path / "receipts" / "RE-1001.pdf").write_bytes(receipt)
    named = [dict(ROWS[0], **{"inv.receipt": "RE-1001.pdf"}),
             dict(ROWS[1], **{"inv.receipt": "missing.pdf"}),
             dict(ROWS[0], **{"inv.id": "RE-1003", "inv.receipt": "RE-1001.pdf"})]  # fmt: skip
    rows.write_text("".join(json.dumps(r) + "\n" for r in named), encoding="utf-8")
    out = tmp_path / "out"
    args = ["run", "p", "--period", "2026-01", "--dry-run", "--config", str(config)]
    result = CliRunner().invoke(main, [*args, "--rows", str(rows), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (job,) = out.glob("DXSO_AR_2026-01_01_*")
    manifest = json.loads((job / MANIFEST).read_text("utf-8"))
    pdfs = [f["name"] for f in manifest["files"] if f["media_type"] == "application/pdf"]
    stem = f"RE-1001_{hashlib.sha256(receipt).hexdigest()[:8]}"
    assert pdfs == [f"{stem}.pdf", f"{stem}_RE-1003.pdf"]
    assert all((job / name).read_bytes() == receipt for name in pdfs)
    document = (job / "document.xml").read_bytes()
    validate_document(document)
    stapled = {
        node.find(f"{{{NS}}}extension").get("datafile"): [  # type: ignore[union-attr]
            e.get("name") for e in node.iter(f"{{{NS}}}extension") if e.get("name")
        ]
        for node in ET.fromstring(document).iter(f"{{{NS}}}document")  # noqa: S314
    }
    assert stapled == {
        "AR_202601_0001.xml": [f"{stem}.pdf"],
        "AR_202601_0002.xml": [f"{stem}_RE-1003.pdf"],
    }
    [held] = [json.loads(x) for x in (out / "held.jsonl").read_text("utf-8").splitlines()]
    assert (held["_reason"], held["inv.id"]) == ("document_missing", "RE-1002")
    # the receipts travel in the job: nothing for the documents API
    assert json.loads((out / "documents.json").read_text("utf-8")) == []
    assert "would upload" not in result.output


def test_a_mapping_that_sets_beleglink_itself_cannot_have_per_row_documents(
    tmp_path: Path,
) -> None:
    config, rows = _files(tmp_path)
    text = config.read_text("utf-8").replace(
        'belegfeld_1 = "inv.id"\n', 'belegfeld_1 = "inv.id"\nbeleglink = "\'BEDI x\'"\n'
    )
    text += '[pipelines.p.documents]\ndocument_type = "X"\n[pipelines.p.documents.rows]\n'
    config.write_text(text + 'column = "inv.id"\nfolder = "."\n', encoding="utf-8")
    args = ["run", "p", "--period", "2026-01", "--dry-run", "--config", str(config)]
    result = CliRunner().invoke(main, [*args, "--rows", str(rows), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "maps beleglink itself and also has [documents.rows]" in result.output
    assert "Traceback" not in result.output
