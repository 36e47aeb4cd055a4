"""The streamed run of a dxso pipeline writes job folders whose XML validates; holds stay held."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from dxso_support import BASE, make_row

from ml_connector.config import parse_config
from ml_connector.formats.dxso.jobs import MANIFEST
from ml_connector.formats.dxso.schemas import validate_document, validate_ledger
from ml_connector.mapping.stream import RunStream

NOW = datetime(2026, 2, 1, 7, 0, tzinfo=UTC)
TEXT = BASE.replace("LEDGER", "accounts_receivable").replace(
    'customer = "acme"\n', 'customer = "acme"\nreject_policy = "hold_rejected"\n'
)


def _run(tmp_path: Path, rows: list[dict[str, object]]) -> tuple[RunStream, Path]:
    config = parse_config(TEXT, path=tmp_path / "ml-connector.toml")
    out = tmp_path / "out"
    run = RunStream(config, "p", "2026-01", out, now=NOW, trace_rows=True)
    run.add_many(rows)
    return run, out


def test_dxso_run_writes_one_valid_job_with_document_xml_last(tmp_path: Path) -> None:
    rows = [
        make_row(),
        make_row(id="RE-1002", amount=Decimal("-40.00"), date=date(2026, 1, 9)),
        make_row(id="RE-1003", debtor=4000),  # held: not a personal account
    ]
    run, out = _run(tmp_path, rows)
    with run:
        done = run.finish()
    assert done.facts.rows_mapped == 2
    assert done.facts.rows_rejected == 1
    assert len(done.files) == 1
    job = done.files[0].path
    assert job.is_dir()
    assert job.name.startswith("DXSO_AR_2026-01_01_")
    manifest = json.loads((job / MANIFEST).read_text("utf-8"))
    names = [f["name"] for f in manifest["files"]]
    assert names == ["AR_202601_0001.xml", "AR_202601_0002.xml", "document.xml"]
    assert manifest["import_type"] == "accountsReceivableLedgerImport"
    assert manifest["entries"] == 2
    for name in names[:-1]:
        validate_ledger((job / name).read_bytes())
    validate_document((job / "document.xml").read_bytes())
    amounts = [(job / n).read_text("utf-8").split('consolidatedAmount="')[1][:6] for n in names[:2]]
    assert amounts == ["119.00", "-40.00"]
    assert not list(out.glob("EXTF_*.csv"))
    assert json.loads((out / "held.jsonl").read_text("utf-8").splitlines()[0])


def test_dry_run_files_are_byte_identical_on_a_second_prepare(tmp_path: Path) -> None:
    contents = []
    for attempt in ("a", "b"):
        run, _ = _run(tmp_path / attempt, [make_row()])
        with run:
            job = run.finish().files[0].path
            contents.append({p.name: p.read_bytes() for p in sorted(job.iterdir())})
    assert contents[0] == contents[1]
