"""Per-row documents: each row's own PDF uploaded once and linked from its booking line;
a row whose document cannot be used is held with the reason, the other rows are posted."""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from fpdf import FPDF
from sync_support import CLIENT, PIPELINE, edited_looker
from test_sync_documents import steps_prepare_upload

from ml_connector.datev.api.names import DOCUMENT_MAX_BYTES
from ml_connector.engine.ports import iter_records
from ml_connector.formats.extf.reader import read_file
from ml_connector.interfaces.cli import main
from ml_connector.runs.row_documents import row_document_id
from ml_connector.runs.steps import LiveRunSteps
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall

PERIOD = "2025-12"
RENDER = """[pipelines.gl-monthly.documents.render]
dashboard_id = "1"
filters = { Period = "{period}" }
filename = "GuV_{period}.pdf"
"""
ROWS = """[pipelines.gl-monthly.documents.rows]
column = "gl_monthly.cost_center"
folder = "receipts"
"""
#: the demo's cost centers of 2025-12 renamed to what each row's document column says
NAMED = {
    "BER-IT": "BER-IT.pdf",
    "MUC-IT": "sub/Beleg München.pdf",
    "FRA-BER": "copy of BER-IT.pdf",  # the same bytes as BER-IT.pdf: one document
    "MUC-BER": "../outside.pdf",
    "CGN-SCH": "escape.pdf",  # a symbolic link out of the folder
    "CGN-PST": "missing.pdf",
    "HAM-PST": "https://evil.example.com/receipt.pdf",
    "CGN-BO": "not-a-pdf.pdf",
}
HELD = {
    "MUC-BER": "document_refused",
    "CGN-SCH": "document_refused",
    "CGN-PST": "document_missing",
    "HAM-PST": "document_refused",
    "CGN-BO": "document_invalid",
}


def _pdf(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


def _per_row(installed: DemoInstall) -> Path:
    """The demo configuration with per-row documents in ``receipts/``; that folder."""
    path = installed.config_path
    text = path.read_text("utf-8")
    assert RENDER in text
    path.write_text(text.replace(RENDER, ROWS), encoding="utf-8")
    folder = path.parent / "receipts"
    (folder / "sub").mkdir(parents=True)
    receipt = _pdf("Receipt BER-IT")
    (folder / "BER-IT.pdf").write_bytes(receipt)
    (folder / "copy of BER-IT.pdf").write_bytes(receipt)
    (folder / "sub" / "Beleg München.pdf").write_bytes(_pdf("Receipt MUC-IT"))
    (path.parent / "outside.pdf").write_bytes(_pdf("outside the folder"))
    os.symlink(path.parent / "outside.pdf", folder / "escape.pdf")
    (folder / "not-a-pdf.pdf").write_text("just text", encoding="utf-8")
    return folder


def _rename(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    for row in rows:
        if row["period_month"] == PERIOD:
            row["cost_center"] = NAMED[row["cost_center"]]
    return rows


def test_each_rows_document_is_uploaded_once_and_bad_ones_hold_only_their_rows(
    installed_on: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    _per_row(installed_on)
    with edited_looker(emulators, tmp_path, _rename) as url:
        steps = LiveRunSteps(dataclasses.replace(installed_on.settings, looker_url=url))
        try:
            spec = steps.spec_for(PIPELINE, PERIOD)
            prepared = steps_prepare_upload(steps, spec, tmp_path / "run")
        finally:
            steps.close()

    by_name = {d.filename.rsplit("_", 1)[0]: d for d in prepared.documents}
    assert set(by_name) == {"BER-IT", "Beleg München"}
    ber = by_name["BER-IT"]
    assert ber.filename == f"BER-IT_{ber.sha256[:8]}.pdf"
    assert ber.document_id == row_document_id(spec.customer, ber.sha256)
    records = list(iter_records(Path(prepared.records_path)))
    center = {r.row_key: r.source["gl_monthly.cost_center"] for r in records}
    assert Counter(center[k] for k in ber.row_keys or ()) == {
        "BER-IT.pdf": 9,
        "copy of BER-IT.pdf": 9,
    }
    muc = by_name["Beleg München"]
    assert {center[k] for k in muc.row_keys or ()} == {"sub/Beleg München.pdf"}

    # every sent line links its row's document; held rows say why
    links = {f'BEDI "{d.document_id}"': d for d in prepared.documents}
    lines = read_file(Path(prepared.files[0].path)).lines
    assert {line.beleglink for line in lines} == set(links)
    held: Counter[str] = Counter()
    for record in records:
        original = next(k for k, v in NAMED.items() if v == center[record.row_key])
        if original in HELD and "OPS-399" not in record.row_key:  # OPS-399: unmapped
            assert record.booking is None
            assert (record.rejection or "").startswith(HELD[original] + " (beleglink)")
            held[HELD[original]] += 1
    assert held == {"document_refused": 24, "document_missing": 7, "document_invalid": 5}
    report = json.loads((tmp_path / "run" / "report.json").read_text("utf-8"))
    counted = {h["reason"]: h["count"] for h in report["money"]["held"]}
    assert {k: counted[k] for k in held} == dict(held)

    stored = emulators.ledger.documents(CLIENT)
    assert sorted((d.id, d.filename) for d in stored) == sorted(
        (d.document_id, d.filename) for d in prepared.documents
    )


def test_the_same_file_keeps_its_id_in_another_period_and_a_too_big_file_is_held(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    folder = _per_row(installed)
    with (folder / "big.pdf").open("wb") as handle:
        handle.truncate(DOCUMENT_MAX_BYTES + 1)

    def rename(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for row in rows:
            if row["period_month"] in (PERIOD, "2025-11"):
                big = row["cost_center"] == "CGN-BO"
                row["cost_center"] = "big.pdf" if big else "BER-IT.pdf"
        return rows

    with edited_looker(emulators, tmp_path, rename) as url:
        steps = LiveRunSteps(dataclasses.replace(installed.settings, looker_url=url))
        steps.close()  # its settings are what the command line is given
        ids = set()
        for period in ("2025-11", PERIOD):
            out = tmp_path / period
            done = steps_dry_run(steps, period, out)
            [document] = json.loads((out / "documents.json").read_text("utf-8"))
            ids.add(document["document_id"])
            assert done["held"].get("document_too_large") == 5
        config = str(installed.config_path)
        preview = ["mapping", "preview", PIPELINE, "-n", "100", "--period", PERIOD]
        shown = CliRunner().invoke(main, [*preview, "--config", config, "--looker-url", url])
        assert shown.exit_code == 0, shown.output
        [line] = [x for x in shown.output.splitlines() if x.startswith("would upload")]
        assert f"id {ids.pop()}) and link it from 58 booking line(s)" in line
    assert not ids
    assert emulators.ledger.documents(CLIENT) == []


def steps_dry_run(steps: LiveRunSteps, period: str, out: Path) -> dict[str, dict[str, int]]:
    """The CLI dry run of ``period`` into ``out``: the held counts by reason."""
    config = str(steps.settings.config_path)
    args = ["run", PIPELINE, "--period", period, "--dry-run", "--config", config]
    assert steps.settings.looker_url is not None
    result = CliRunner().invoke(
        main, [*args, "--out", str(out), "--looker-url", steps.settings.looker_url]
    )
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.output.splitlines() if x.startswith("would upload")]
    assert "would upload BER-IT_" in line
    assert ".pdf (Sonstige, " in line
    assert "link it from 58 booking line(s), one per row naming it" in line
    report = json.loads((out / "report.json").read_text("utf-8"))
    return {"held": {h["reason"]: h["count"] for h in report["money"]["held"]}}


def test_a_file_changed_in_place_is_a_new_document_and_its_rows_are_corrected(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    folder = _per_row(installed)
    with edited_looker(emulators, tmp_path, _rename) as url:
        steps = LiveRunSteps(dataclasses.replace(installed.settings, looker_url=url))
        try:
            spec = steps.spec_for(PIPELINE, PERIOD)
            first = steps_prepare_upload(steps, spec, tmp_path / "run1")
            (folder / "BER-IT.pdf").write_bytes(_pdf("Receipt BER-IT, corrected"))
            second = steps_prepare_upload(steps, spec, tmp_path / "run2")
        finally:
            steps.close()
    # only the changed file's rows are sent again: reversal and new line, new link
    [new] = second.documents
    assert new.filename.startswith("BER-IT_")
    assert new.document_id not in {d.document_id for d in first.documents}
    lines = read_file(Path(second.files[0].path)).lines
    old = next(d for d in first.documents if d.filename.startswith("BER-IT_"))
    assert Counter(line.beleglink for line in lines) == {
        f'BEDI "{old.document_id}"': 9,
        f'BEDI "{new.document_id}"': 9,
    }
    # DATEV keeps both files: the new name is not refused as a duplicate (#DCO01253)
    names = sorted(d.filename for d in emulators.ledger.documents(CLIENT))
    assert names == sorted([*(d.filename for d in first.documents), new.filename])
