"""A period's rendered P&L uploaded once and linked from every booking line (Beleglink)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sync_support import CLIENT, PIPELINE, drive

from ml_connector.config import load_config
from ml_connector.engine.ports import Prepared, RunSpec
from ml_connector.errors import DataError
from ml_connector.formats.extf.reader import read_file
from ml_connector.interfaces.cli import main
from ml_connector.runs.documents import document_id
from ml_connector.runs.steps import LiveRunSteps
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall

DEMO_DOCUMENTS = 'document_type = "Sonstige"'


def _with_documents(installed: DemoInstall, document_type: str = "Sonstige") -> None:
    """The demo's own documents settings, with ``document_type``."""
    path = installed.config_path
    text = path.read_text("utf-8")
    assert DEMO_DOCUMENTS in text
    path.write_text(
        text.replace(DEMO_DOCUMENTS, f'document_type = "{document_type}"'), encoding="utf-8"
    )
    docs = load_config(path).pipeline(PIPELINE).documents
    assert docs is not None
    assert docs.document_type == document_type


def test_the_period_pdf_is_uploaded_once_and_linked_from_every_line(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    _with_documents(installed)
    steps = LiveRunSteps(installed.settings)
    spec = steps.spec_for(PIPELINE, "2025-12")
    prepared = steps_prepare_upload(steps, spec, tmp_path / "run1")
    [document] = prepared.documents
    assert document.filename == "GuV_2025-12.pdf"
    assert document.document_id == document_id(spec.customer, PIPELINE, "2025-12", document.source)
    text = PdfReader(io.BytesIO(Path(document.path).read_bytes())).pages[0].extract_text()
    assert "Period: 2025-12" in text

    lines = read_file(Path(prepared.files[0].path)).lines
    assert lines
    assert {line.beleglink for line in lines} == {f'BEDI "{document.document_id}"'}
    raw = Path(prepared.files[0].path).read_bytes().decode("cp1252")
    assert f'"BEDI ""{document.document_id}"""' in raw

    [stored] = emulators.ledger.documents(CLIENT)
    assert (stored.id, stored.filename, stored.document_type) == (
        document.document_id,
        "GuV_2025-12.pdf",
        "Sonstige",
    )
    # the same upload again (a retry, a replay) is answered "already there"
    assert asyncio.run(steps.upload_document(spec, document)) is False
    assert len(emulators.ledger.documents(CLIENT)) == 1


def steps_prepare_upload(steps: LiveRunSteps, spec: RunSpec, workdir: Path) -> Prepared:
    """Prepare, upload the documents (as the engine's document step does), then send."""

    async def go() -> Prepared:
        prepared = await steps.prepare(spec, workdir)
        for document in prepared.documents:
            assert await steps.upload_document(spec, document) is True
        return prepared

    prepared = asyncio.run(go())
    drive(steps, spec, workdir)
    return prepared


def test_the_dry_run_shows_the_document_and_sends_nothing(
    installed_on: DemoInstall, db_url: str | None, emulators: DemoEmulators, tmp_path: Path
) -> None:
    _with_documents(installed_on)
    out = tmp_path / "dry"
    args = ["run", PIPELINE, "--period", "2025-12", "--dry-run", "--config"]
    store = ["--store-url", db_url] if db_url else []
    dry = CliRunner().invoke(
        main, [*args, str(installed_on.config_path), "--out", str(out), *store]
    )
    assert dry.exit_code == 0, dry.output
    [line] = [x for x in dry.output.splitlines() if x.startswith("would upload")]
    assert "GuV_2025-12.pdf (Sonstige" in line
    assert "link it from all 63 booking line(s)" in line
    [listed] = json.loads((out / "documents.json").read_text("utf-8"))
    assert listed["filename"] == "GuV_2025-12.pdf"
    assert listed["row_keys"] is None
    assert (out / "documents" / "GuV_2025-12.pdf").read_bytes().startswith(b"%PDF-")
    assert emulators.ledger.documents(CLIENT) == []


def test_an_unknown_document_type_stops_before_any_upload_and_lists_the_valid_ones(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    _with_documents(installed, "Belege")
    steps = LiveRunSteps(installed.settings)
    spec = steps.spec_for(PIPELINE, "2025-12")
    prepared = asyncio.run(steps.prepare(spec, tmp_path / "run"))
    with pytest.raises(DataError) as err:
        asyncio.run(steps.upload_document(spec, prepared.documents[0]))
    assert "Belege" in str(err.value)
    assert "Rechnungseingang" in (err.value.hint or "")
    assert emulators.ledger.documents(CLIENT) == []
