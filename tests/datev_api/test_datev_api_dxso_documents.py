"""dxso-jobs and documents: client methods against the emulator."""

from __future__ import annotations

import unicodedata
import uuid
from decimal import Decimal

import pytest
from datev_api_support import Setup
from fpdf import FPDF

from ml_connector.datev.api.models import DxsoStatus
from ml_connector.datev.api.problems import DatevConfigurationError, DatevRejectedError
from ml_connector.errors import DataError

DOCUMENT_XML = """<?xml version="1.0" encoding="utf-8"?>
<archive xmlns="http://xml.datev.de/bedi/tps/document/v06.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    version="6.0" generatingSystem="ml-connector">
  <header>
    <date>2026-01-31T10:00:00</date>
  </header>
  <content>
    <document>
      <extension xsi:type="accountsReceivableLedger" datafile="AR_2026_01.xml">
        <property key="1" value="2026-01"/>
        <property key="3" value="Ausgangsrechnungen"/>
      </extension>
    </document>
  </content>
</archive>"""

LEDGER_XML = """<?xml version="1.0" encoding="utf-8"?>
<LedgerImport xmlns="http://xml.datev.de/bedi/tps/ledger/v060" version="6.0"
    generator_info="ml-connector"
    xml_data="Kopie nur zur Verbuchung berechtigt nicht zum Vorsteuerabzug">
  <consolidate consolidatedAmount="150.00" consolidatedDate="2026-01-15"
      consolidatedCurrencyCode="EUR">
    <accountsReceivableLedger>
      <date>2026-01-15</date>
      <amount>100.00</amount>
      <accountNo>8400</accountNo>
      <currencyCode>EUR</currencyCode>
      <invoiceId>RE-1</invoiceId>
      <bookingText>Rechnung 1</bookingText>
      <customerName>Kunde</customerName>
    </accountsReceivableLedger>
    <accountsReceivableLedger>
      <date>2026-01-15</date>
      <amount>50.00</amount>
      <accountNo>8400</accountNo>
      <currencyCode>EUR</currencyCode>
      <invoiceId>RE-2</invoiceId>
      <bookingText>Rechnung 2</bookingText>
    </accountsReceivableLedger>
  </consolidate>
</LedgerImport>"""


def _pdf(text: str = "Rechnung") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


PDF = _pdf()


async def _job_with(setup: Setup, files: dict[str, bytes]) -> str:
    client = setup.client
    job = await client.create_dxso_job(
        "455148-1", import_type="accountsReceivableLedgerImport", accounting_month="2026-01"
    )
    assert job.account_length == 4
    assert job.ledger_folder_names == ("Ausgangsrechnungen",)
    for name, content in files.items():
        await client.upload_dxso_file("455148-1", job.id, name, content)
    await client.finalize_dxso_job("455148-1", job.id)
    return job.id


async def test_dxso_flow_books_ledger_entries(setup: Setup) -> None:
    job_id = await _job_with(
        setup,
        {"AR_2026_01.xml": LEDGER_XML.encode(), "document.xml": DOCUMENT_XML.encode()},
    )
    status = await setup.client.wait_for_dxso_job("455148-1", job_id)
    assert status.status is DxsoStatus.SUCCEEDED
    assert status.reads == 2
    protocol = await setup.client.dxso_protocol("455148-1", job_id)
    assert {e.filename for e in protocol if e.filename} == {"AR_2026_01.xml", "document.xml"}
    assert all(e.type != "error" for e in protocol)
    amounts = [b.amount for b in setup.state.ledger.bookings("455148-1")]
    assert amounts == [Decimal("100.00"), Decimal("50.00")]


async def test_dxso_without_document_xml_fails_with_protocol(setup: Setup) -> None:
    job_id = await _job_with(setup, {"AR_2026_01.xml": LEDGER_XML.encode()})
    status = await setup.client.wait_for_dxso_job("455148-1", job_id)
    assert status.status is DxsoStatus.FAILED
    errors = [e for e in await setup.client.dxso_protocol("455148-1", job_id) if e.type == "error"]
    assert errors
    assert setup.state.ledger.bookings() == []


async def test_dxso_invalid_xml_fails(setup: Setup) -> None:
    broken = LEDGER_XML.replace("<amount>100.00</amount>", "<amount>lots</amount>")
    job_id = await _job_with(
        setup, {"AR_2026_01.xml": broken.encode(), "document.xml": DOCUMENT_XML.encode()}
    )
    status = await setup.client.wait_for_dxso_job("455148-1", job_id)
    assert status.status is DxsoStatus.FAILED


async def test_dxso_finalized_job_takes_no_files_and_cannot_be_cancelled(setup: Setup) -> None:
    job_id = await _job_with(setup, {"document.xml": DOCUMENT_XML.encode()})
    with pytest.raises(DatevRejectedError, match="DCO01007"):
        await setup.client.upload_dxso_file("455148-1", job_id, "late.xml", b"<a/>")
    with pytest.raises(DatevRejectedError, match="DCO01007"):
        await setup.client.cancel_dxso_job("455148-1", job_id)


async def test_dxso_open_job_can_be_cancelled(setup: Setup) -> None:
    job = await setup.client.create_dxso_job(
        "455148-1", import_type="cashLedgerImport", accounting_month="2026-02"
    )
    assert job.cash_ledger_names
    await setup.client.cancel_dxso_job("455148-1", job.id)
    with pytest.raises(DatevRejectedError):
        await setup.client.get_dxso_job_status("455148-1", job.id)


async def test_dxso_needs_the_service(setup: Setup) -> None:
    with pytest.raises(DatevConfigurationError, match="DCO01002"):
        await setup.client.create_dxso_job(
            "455148-2", import_type="cashLedgerImport", accounting_month="2026-01"
        )


async def test_document_put_is_idempotent(setup: Setup) -> None:
    guid = uuid.uuid4()
    first = await setup.client.upload_document(
        "455148-1",
        PDF,
        "Rechnung 1.pdf",
        document_type="Rechnungseingang",
        document_id=guid,
        note="RE-1",
    )
    assert first.created
    assert first.id == str(guid)
    assert first.file_names == ("Rechnung 1.pdf",)
    again = await setup.client.upload_document(
        "455148-1", PDF, "Rechnung 1.pdf", document_type="Rechnungseingang", document_id=guid
    )
    assert not again.created
    assert len(setup.state.ledger.documents("455148-1")) == 1


async def test_document_post_and_duplicate_file_rule(setup: Setup) -> None:
    created = await setup.client.upload_document(
        "455148-1", PDF, "a.pdf", document_type="Rechnungsausgang"
    )
    assert created.created
    with pytest.raises(DataError, match="DCO01253"):
        await setup.client.upload_document(
            "455148-1", PDF, "a.pdf", document_type="Rechnungsausgang", document_id=uuid.uuid4()
        )


async def test_document_type_checked_before_sending(setup: Setup) -> None:
    with pytest.raises(DataError, match="Rechnungseingang"):
        await setup.client.upload_document(
            "455148-1", PDF, "a.pdf", document_type="Unbekannt", document_id=uuid.uuid4()
        )
    assert setup.transport.count("PUT", "/documents/") == 0


async def test_document_filename_is_sent_nfc(setup: Setup) -> None:
    decomposed = unicodedata.normalize("NFD", "Übersicht Müller.pdf")
    doc = await setup.client.upload_document(
        "455148-1", PDF, decomposed, document_type="Sonstige", document_id=uuid.uuid4()
    )
    assert doc.file_names == ("Übersicht Müller.pdf",)


async def test_document_size_limit(setup: Setup) -> None:
    with pytest.raises(DataError, match="20 MB"):
        await setup.client.upload_document(
            "455148-1", b"0" * (20 * 1024 * 1024 + 1), "big.pdf", document_type="Sonstige"
        )
    assert setup.transport.requests == []


async def test_stapled_upload_keeps_order(setup: Setup) -> None:
    doc = await setup.client.upload_stapled_document(
        "455148-1",
        [("p1.pdf", PDF, "application/pdf"), ("p2.pdf", _pdf("page 2"), "application/pdf")],
        document_type="Rechnungseingang",
    )
    assert doc.file_names == ("p1.pdf", "p2.pdf")


async def test_a_pdf_that_does_not_parse_is_dco01245(setup: Setup) -> None:
    with pytest.raises(DataError, match="DCO01245"):
        await setup.client.upload_document(
            "455148-1",
            b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
            "broken.pdf",
            document_type="Sonstige",
            document_id=uuid.uuid4(),
        )
    assert setup.state.ledger.documents("455148-1") == []


async def test_the_content_type_must_match_the_extension(setup: Setup) -> None:
    with pytest.raises(DataError, match="DCO01215"):
        await setup.client.upload_document(
            "455148-1",
            PDF,
            "a.pdf",
            document_type="Sonstige",
            document_id=uuid.uuid4(),
            media_type="image/png",
        )


async def test_documents_need_belege_online(setup: Setup) -> None:
    with pytest.raises(DatevRejectedError, match="DCO01019"):
        await setup.client.upload_document(
            "455148-2", PDF, "a.pdf", document_type="Sonstige", document_id=uuid.uuid4()
        )
    assert setup.state.ledger.documents("455148-2") == []
