"""DXSO v6.0 files: XSD order, consolidated totals, document.xml, receipts, job splitting."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ml_connector.errors import DataError
from ml_connector.formats.dxso.jobs import read_manifest, write_jobs
from ml_connector.formats.dxso.models import ENTRY_ELEMENTS, Ledger, LedgerEntry, Receipt
from ml_connector.formats.dxso.schemas import (
    LEDGER_NS,
    LEDGER_XSD,
    entry_problems,
    schema,
    validate_document,
    validate_ledger,
)
from ml_connector.formats.dxso.writer import (
    DOCUMENT_FILE,
    build_package,
    entry_element,
    ledger_xml,
    split_jobs,
)

#: the smallest well-formed PDF a viewer opens (one empty page)
SMALL_PDF = (
    b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
CREATED = datetime(2026, 2, 1, 8, 30)


def _entry(**overrides: object) -> LedgerEntry:
    values: dict[str, object] = {
        "date": date(2026, 1, 5),
        "amount": Decimal("119.00"),
        "account_no": 8400,
        "bu_code": 3,
        "invoice_id": "RE-1001",
        "booking_text": "Rechnung 1001",
        "bp_account_no": 10001,
        "party_name": "Muster GmbH",
    }
    values.update(overrides)
    return LedgerEntry(**values)  # type: ignore[arg-type]


def _xsd_order(ledger: Ledger) -> list[str]:
    decl = schema(LEDGER_XSD).types[ledger.element]
    return [e.local_name for e in decl.content.iter_elements()]


@pytest.mark.parametrize("ledger", list(Ledger))
def test_element_order_is_the_xsd_sequence(ledger: Ledger) -> None:
    assert [tag for _, tag in ENTRY_ELEMENTS[ledger]] == _xsd_order(ledger)


def test_every_field_written_in_xsd_order_validates() -> None:
    entry = _entry(
        discount_amount=Decimal("2.38"),
        cost_category_id="KST1",
        cost_category_id2="KST2",
        cost_amount=Decimal("1.5"),
        exchange_rate=Decimal("1.1"),
        currency_code="USD",
        due_date=date(2026, 2, 5),
        delivery_date=date(2026, 1, 3),
        order_id="A-77",
        party_city="Nürnberg",
        iban="DE02120300000000202051",
        payment_order=False,
    )
    element = entry_element(entry, Ledger.ACCOUNTS_RECEIVABLE)
    tags = [child.tag.removeprefix(f"{{{LEDGER_NS}}}") for child in element]
    order = _xsd_order(Ledger.ACCOUNTS_RECEIVABLE)
    assert tags == sorted(tags, key=order.index)
    assert element.find(f"{{{LEDGER_NS}}}exchangeRate").text == "1.100000"  # type: ignore[union-attr]
    assert element.find(f"{{{LEDGER_NS}}}costAmount").text == "1.5000"  # type: ignore[union-attr]
    assert entry_problems(Ledger.ACCOUNTS_RECEIVABLE, element) == []


def test_consolidated_totals_are_computed_from_the_entries() -> None:
    entries = [_entry(), _entry(amount=Decimal("-19.00"), account_no=8300)]
    content = ledger_xml(entries, Ledger.ACCOUNTS_RECEIVABLE, generator_info="Acme GmbH")
    validate_ledger(content)
    consolidate = ET.fromstring(content).find(f"{{{LEDGER_NS}}}consolidate")  # noqa: S314
    assert consolidate is not None
    assert consolidate.get("consolidatedAmount") == "100.00"
    assert consolidate.get("consolidatedDate") == "2026-01-05"
    assert consolidate.get("consolidatedInvoiceId") == "RE-1001"
    assert consolidate.get("consolidatedCurrencyCode") == "EUR"


def test_entries_of_different_invoices_never_share_a_file() -> None:
    with pytest.raises(ValueError, match="share invoice id"):
        ledger_xml(
            [_entry(), _entry(invoice_id="RE-2")],
            Ledger.ACCOUNTS_RECEIVABLE,
            generator_info="x",
        )


@pytest.mark.parametrize(
    ("overrides", "element"),
    [
        ({"amount": Decimal("0.00")}, "amount"),
        ({"invoice_id": None}, "invoiceId"),
        ({"invoice_id": "RE 1.5"}, "invoiceId"),
        ({"booking_text": "x" * 61}, "bookingText"),
        ({"bp_account_no": 4000}, "bpAccountNo"),
    ],
)
def test_invalid_entries_are_named_by_the_xsd(overrides: dict[str, object], element: str) -> None:
    problems = entry_problems(
        Ledger.ACCOUNTS_RECEIVABLE, entry_element(_entry(**overrides), Ledger.ACCOUNTS_RECEIVABLE)
    )
    assert problems
    assert element in problems[0]


def test_cash_ledger_is_eur_only_and_needs_booking_text() -> None:
    cash = _entry(bp_account_no=None, party_name=None, currency_code="USD")
    problems = entry_problems(Ledger.CASH, entry_element(cash, Ledger.CASH))
    assert any(p.startswith("currencyCode") for p in problems)
    without_text = _entry(booking_text=None)
    assert entry_problems(Ledger.CASH, entry_element(without_text, Ledger.CASH))


def test_package_puts_data_files_and_receipts_before_document_xml() -> None:
    entries = [_entry(), _entry(invoice_id="RE-1002", amount=Decimal("-10.00"))]
    files = build_package(
        entries,
        Ledger.ACCOUNTS_RECEIVABLE,
        period="2026-01",
        folder_name="Ausgangsrechnungen",
        created=CREATED,
        generator_info="Acme GmbH",
        receipts=[Receipt("RE-1002.pdf", SMALL_PDF, "RE-1002")],
    )
    assert [f.name for f in files] == [
        "AR_202601_0001.xml",
        "AR_202601_0002.xml",
        "RE-1002.pdf",
        DOCUMENT_FILE,
    ]
    assert files[2].media_type == "application/pdf"
    for file in files[:2]:
        validate_ledger(file.content)
    validate_document(files[-1].content)
    index = files[-1].content.decode()
    assert 'datafile="AR_202601_0002.xml"><property key="1" value="2026-01" />' in index
    assert '<property key="3" value="Ausgangsrechnungen" />' in index
    second = index.split("<document ")[2]
    assert 'xsi:type="File" name="RE-1002.pdf"' in second


def test_receipt_for_an_unknown_invoice_is_refused() -> None:
    with pytest.raises(DataError, match="not in this job"):
        build_package(
            [_entry()],
            Ledger.ACCOUNTS_PAYABLE,
            period="2026-01",
            folder_name="Eingangsrechnungen",
            created=CREATED,
            generator_info="Acme",
            receipts=[Receipt("x.pdf", SMALL_PDF, "OTHER")],
        )


def test_an_invalid_file_never_leaves_the_writer() -> None:
    with pytest.raises(DataError, match="amount"):
        ledger_xml([_entry(amount=Decimal("0.00"))], Ledger.ACCOUNTS_PAYABLE, generator_info="x")


def test_jobs_split_at_5000_entries_in_order() -> None:
    entries = [_entry(invoice_id=f"R{i // 2}") for i in range(10_002)]
    jobs = split_jobs(entries)
    assert [len(job) for job in jobs] == [5000, 5000, 2]
    assert [i for job in jobs for i in job] == list(range(10_002))


def test_jobs_split_at_4999_documents() -> None:
    entries = [_entry(invoice_id=f"R{i}") for i in range(5000)]
    assert [len(job) for job in split_jobs(entries)] == [4999, 1]


def test_job_folders_carry_their_receipts_and_a_manifest(tmp_path: Path) -> None:
    entries = [_entry(invoice_id=f"R{i}") for i in range(4999)] + [_entry(invoice_id="LAST")]
    receipts = [Receipt("last.pdf", SMALL_PDF, "LAST"), Receipt("r1.pdf", SMALL_PDF, "R1")]
    jobs = write_jobs(
        entries,
        Ledger.ACCOUNTS_RECEIVABLE,
        tmp_path,
        period="2026-01",
        created=CREATED,
        generator_info="Acme",
        receipts=receipts,
    )
    assert [job.entries for job in jobs] == [4999, 1]
    first, second = (read_manifest(job.path) for job in jobs)
    assert "r1.pdf" in [f["name"] for f in first["files"]]  # type: ignore[union-attr,index]
    names = [f["name"] for f in second["files"]]  # type: ignore[union-attr,index]
    assert names == ["AR_202601_0001.xml", "last.pdf", "document.xml"]
    assert (jobs[1].path / "last.pdf").read_bytes() == SMALL_PDF
    validate_document((jobs[1].path / "document.xml").read_bytes())
    assert jobs[1].amount == "119.00"
