"""Sending a prepared dxso job folder step by step against the emulator, and resuming."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from datev_api_support import Setup, emulator_config

from ml_connector.datev.api.models import DxsoStatus, ProtocolEntry
from ml_connector.engine.ports import DxsoJob
from ml_connector.errors import ConfigurationError
from ml_connector.formats.dxso.jobs import write_jobs
from ml_connector.formats.dxso.models import Ledger, LedgerEntry, Receipt
from ml_connector.formats.dxso.schemas import validate_document
from ml_connector.formats.dxso.writer import with_folder_name
from ml_connector.runs import dxso_send
from ml_connector.runs.steps import dxso_result
from ml_connector_sandbox.emulators.datev.config import EmulatedClient, EmulatorConfig

CLIENT = "455148-1"
PDF = b"%PDF-1.1\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def config() -> EmulatorConfig:
    base = emulator_config()
    new = EmulatedClient(
        consultant_number=455148, client_number=4, name="Neu", new_belege_online=True
    )
    return base.model_copy(update={"clients": (*base.clients, new)})


def _folder(tmp_path: Path) -> Path:
    entries = [
        LedgerEntry(date=date(2026, 1, 5), amount=Decimal("119.00"), account_no=8400,
                    invoice_id="RE-1", bp_account_no=10001, party_name="Muster GmbH"),
        LedgerEntry(date=date(2026, 1, 8), amount=Decimal("59.50"), account_no=8400,
                    invoice_id="RE-2", bp_account_no=10002),
    ]  # fmt: skip
    (job,) = write_jobs(
        entries,
        Ledger.ACCOUNTS_RECEIVABLE,
        tmp_path,
        period="2026-01",
        created=datetime(2026, 2, 1, 8, 0),
        generator_info="Acme GmbH",
        receipts=[Receipt("RE-1.pdf", PDF, "RE-1")],
    )
    return job.path


async def _upload_all(
    setup: Setup, folder: Path, opened: DxsoJob, uploaded: frozenset[str]
) -> list[str]:
    sent = []
    while name := await dxso_send.upload_next(setup.client, CLIENT, folder, opened, uploaded):
        sent.append(name)
        uploaded |= {name}
    return sent


async def test_a_job_folder_goes_through_every_step(setup: Setup, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    opened = await dxso_send.open_job(setup.client, CLIENT, folder)
    assert opened.folder_name == "Ausgangsrechnungen"
    sent = await _upload_all(setup, folder, opened, frozenset())
    assert sent == ["AR_202601_0001.xml", "AR_202601_0002.xml", "RE-1.pdf", "document.xml"]
    await dxso_send.finalize(setup.client, CLIENT, opened.job_id)
    await dxso_send.finalize(setup.client, CLIENT, opened.job_id)  # a retry is harmless
    status = DxsoStatus.PROCESSING
    while not status.finished:
        status = await dxso_send.poll_once(setup.client, CLIENT, opened.job_id)
    outcome = await dxso_send.read_outcome(setup.client, CLIENT, opened.job_id, status)
    assert outcome.accepted
    assert outcome.failed_files() == frozenset()
    assert "status 2" in outcome.summary()
    received = {e.filename for e in outcome.protocol if e.filename}
    assert received == set(sent)
    amounts = [b.amount for b in setup.state.ledger.bookings(CLIENT)]
    assert amounts == [Decimal("119.00"), Decimal("59.50")]


async def test_resume_after_an_unrecorded_upload_sends_no_file_twice(
    setup: Setup, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    opened = await dxso_send.open_job(setup.client, CLIENT, folder)
    first = await dxso_send.upload_next(setup.client, CLIENT, folder, opened, frozenset())
    assert first == "AR_202601_0001.xml"
    # the process died before recording the upload: the protocol tells what arrived
    received = await dxso_send.received_files(setup.client, CLIENT, opened.job_id)
    assert received == {first}
    rest = await _upload_all(setup, folder, opened, received)
    assert first not in rest
    job = setup.state.dxso_jobs[opened.job_id]
    names = [name for name, _ in job.files]
    assert len(names) == len(set(names)) == 4
    assert names[-1] == "document.xml"


def test_document_xml_carries_the_folder_the_job_answered(tmp_path: Path) -> None:
    original = (_folder(tmp_path) / "document.xml").read_bytes()
    content = with_folder_name(original, "Rechnungsausgang 2026")
    validate_document(content)
    assert b'value="Rechnungsausgang 2026"' in content
    assert b'value="Ausgangsrechnungen"' not in content


async def test_new_belege_online_stops_with_what_to_use_instead(
    setup: Setup, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError) as info:
        await dxso_send.open_job(setup.client, "455148-4", _folder(tmp_path))
    assert "new Belege online" in str(info.value)
    assert 'channel = "extf"' in str(info.value)


async def test_partial_job_maps_each_entry_to_its_file_outcome(
    setup: Setup, tmp_path: Path
) -> None:
    setup.state.faults.update(dxso_partial_rate=1.0)
    folder = _folder(tmp_path)
    opened = await dxso_send.open_job(setup.client, CLIENT, folder)
    await _upload_all(setup, folder, opened, frozenset())
    await dxso_send.finalize(setup.client, CLIENT, opened.job_id)
    status = DxsoStatus.PROCESSING
    while not status.finished:
        status = await dxso_send.poll_once(setup.client, CLIENT, opened.job_id)
    outcome = await dxso_send.read_outcome(setup.client, CLIENT, opened.job_id, status)
    assert outcome.status is DxsoStatus.PARTIALLY_PROCESSED
    outcomes = outcome.entry_outcomes(folder)
    assert outcomes[0] is None  # RE-1 imported
    assert outcomes[1] is not None  # RE-2's file refused, with DATEV's text
    assert "nicht verarbeitet" in outcomes[1]


@pytest.mark.parametrize(
    ("status", "state", "refused"),
    [
        (DxsoStatus.SUCCEEDED, "succeeded", ()),
        (DxsoStatus.PARTIALLY_PROCESSED, "succeeded", ((2, "Belegsatz fehlerhaft"),)),
        (DxsoStatus.FAILED, "failed", ()),
        (DxsoStatus.CANCELLED, "failed", ()),
        (DxsoStatus.CANCELLATION_REFUSED, "failed", ()),
    ],
)
def test_the_engine_sees_each_status_as_posted_held_or_failed(
    tmp_path: Path, status: DxsoStatus, state: str, refused: tuple[tuple[int, str], ...]
) -> None:
    folder = _folder(tmp_path)
    error = ProtocolEntry("t", "error", "Belegsatz fehlerhaft", filename="AR_202601_0002.xml")
    protocol = (error,) if status in (DxsoStatus.PARTIALLY_PROCESSED, DxsoStatus.FAILED) else ()
    result = dxso_result(dxso_send.DxsoOutcome(status, protocol), folder)
    assert (result.status.state, result.code, result.refused) == (state, int(status), refused)
    assert f"status {int(status)}" in (result.status.detail or "")
    if status is DxsoStatus.FAILED:
        assert "Belegsatz fehlerhaft" in (result.status.detail or "")
