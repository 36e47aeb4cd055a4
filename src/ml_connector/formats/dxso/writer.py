"""Write DXSO v6.0 files: ledger XMLs (``LedgerImport``) and the index ``document.xml``.

DATEV rejects a ``LedgerImport`` whose ``consolidate`` attributes differ from its entries
(amount = sum, the same date, invoice id and currency: ledger XSD, ``consolidate``), so
entries are grouped into one data file per (invoice id, date, currency) and the totals are
computed here, never mapped.  Every file is validated against DATEV's XSDs before it is
returned.  :func:`build_package` returns the files in upload order: data files, receipts,
``document.xml`` last (dxso-jobs spec, protocol example).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ml_connector.errors import DataError
from ml_connector.formats.dxso.models import (
    ENTRY_ELEMENTS,
    LEDGER_LIMIT,
    DxsoFile,
    Ledger,
    LedgerEntry,
    Receipt,
)
from ml_connector.formats.dxso.schemas import (
    DOCUMENT_NS,
    LEDGER_NS,
    validate_document,
    validate_ledger,
)

__all__ = [
    "DOCUMENT_FILE",
    "DOCUMENT_LIMIT",
    "build_package",
    "entry_element",
    "group_entries",
    "ledger_xml",
    "split_jobs",
    "with_folder_name",
]

DOCUMENT_FILE = "document.xml"
#: ``content/document`` maxOccurs in Document_v060.xsd
DOCUMENT_LIMIT = 4999
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XML_DATA = "Kopie nur zur Verbuchung berechtigt nicht zum Vorsteuerabzug"
#: decimal places per attribute (ledger types p7/p34 2, p31 6, p33 2, p37 4)
_PLACES = {"exchange_rate": 6, "cost_amount": 4}
_MEDIA = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tif": "image/tiff",
    "tiff": "image/tiff",
}


def _text(attr: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        places = _PLACES.get(attr, 2)
        return f"{value:.{places}f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def entry_element(entry: LedgerEntry, ledger: Ledger) -> ET.Element:
    """The entry as an XML element, children in the XSD's sequence order."""
    element = ET.Element(f"{{{LEDGER_NS}}}{ledger.element}")
    for attr, tag in ENTRY_ELEMENTS[ledger]:
        value = getattr(entry, attr)
        if value is not None:
            ET.SubElement(element, f"{{{LEDGER_NS}}}{tag}").text = _text(attr, value)
    return element


def group_entries(entries: Sequence[LedgerEntry]) -> list[list[int]]:
    """Positions of the entries, grouped per data file (invoice id, date, currency), in
    order of first appearance, at most 5,000 per group."""
    groups: dict[tuple[str | None, date, str], list[list[int]]] = {}
    for position, entry in enumerate(entries):
        parts = groups.setdefault((entry.invoice_id, entry.date, entry.currency_code), [[]])
        if len(parts[-1]) == LEDGER_LIMIT:
            parts.append([])
        parts[-1].append(position)
    return [part for parts in groups.values() for part in parts]


def split_jobs(entries: Sequence[LedgerEntry]) -> list[list[int]]:
    """Positions of the entries per job, in order (contiguous, so a row's job follows from
    its position): at most 5,000 entries and 4,999 data files (documents) per job."""
    jobs: list[list[int]] = []
    keys: set[tuple[str | None, date, str]] = set()
    for position, entry in enumerate(entries):
        key = (entry.invoice_id, entry.date, entry.currency_code)
        full = jobs and (
            len(jobs[-1]) == LEDGER_LIMIT or (key not in keys and len(keys) == DOCUMENT_LIMIT)
        )
        if not jobs or full:
            jobs.append([])
            keys = set()
        jobs[-1].append(position)
        keys.add(key)
    return jobs


def _same(values: Iterable[object]) -> object:
    found = set(values)
    return found.pop() if len(found) == 1 else None


def ledger_xml(
    entries: Sequence[LedgerEntry],
    ledger: Ledger,
    *,
    generator_info: str,
    generating_system: str = "ml-connector",
) -> bytes:
    """One ``LedgerImport`` file; the entries must share invoice id, date and currency."""
    if not entries or len(entries) > LEDGER_LIMIT:
        raise ValueError(f"a ledger file holds 1 to {LEDGER_LIMIT} entries, not {len(entries)}")
    first = entries[0]
    if any(
        (e.invoice_id, e.date, e.currency_code)
        != (first.invoice_id, first.date, first.currency_code)
        for e in entries
    ):
        raise ValueError("the entries of one ledger file must share invoice id, date and currency")
    ET.register_namespace("", LEDGER_NS)
    root = ET.Element(
        f"{{{LEDGER_NS}}}LedgerImport",
        {
            "version": "6.0",
            "generator_info": generator_info[:40],
            "generating_system": generating_system[:40],
            "xml_data": _XML_DATA,
        },
    )
    consolidate: dict[str, str] = {
        "consolidatedAmount": _text("amount", sum((e.amount for e in entries), Decimal("0.00"))),
        "consolidatedDate": first.date.isoformat(),
        "consolidatedCurrencyCode": first.currency_code,
    }
    if first.invoice_id:
        consolidate["consolidatedInvoiceId"] = first.invoice_id
    for attr, name in (
        ("delivery_date", "consolidatedDeliveryDate"),
        ("order_id", "consolidatedOrderId"),
    ):
        common = _same(getattr(e, attr) for e in entries)
        if common is not None and ledger is not Ledger.CASH:
            consolidate[name] = _text(attr, common)
    node = ET.SubElement(root, f"{{{LEDGER_NS}}}consolidate", consolidate)
    node.extend(entry_element(entry, ledger) for entry in entries)
    content: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    validate_ledger(content)
    return content


@dataclass(frozen=True, slots=True)
class _Document:
    datafile: str
    receipts: tuple[str, ...]


def _document_xml(
    documents: Sequence[_Document],
    ledger: Ledger,
    *,
    period: str,
    folder_name: str,
    created: datetime,
    description: str | None,
) -> bytes:
    ET.register_namespace("", DOCUMENT_NS)
    ET.register_namespace("xsi", _XSI)
    root = ET.Element(
        f"{{{DOCUMENT_NS}}}archive", {"version": "6.0", "generatingSystem": "ml-connector"}
    )
    header = ET.SubElement(root, f"{{{DOCUMENT_NS}}}header")
    ET.SubElement(header, f"{{{DOCUMENT_NS}}}date").text = created.strftime("%Y-%m-%dT%H:%M:%S")
    if description:
        ET.SubElement(header, f"{{{DOCUMENT_NS}}}description").text = description[:255]
    content = ET.SubElement(root, f"{{{DOCUMENT_NS}}}content")
    for document in documents:
        attrs = {} if ledger.document_type is None else {"type": str(ledger.document_type)}
        node = ET.SubElement(content, f"{{{DOCUMENT_NS}}}document", attrs)
        extension = ET.SubElement(
            node,
            f"{{{DOCUMENT_NS}}}extension",
            {f"{{{_XSI}}}type": ledger.element, "datafile": document.datafile},
        )
        # key 1 = period (YYYY-MM), key 3 = ledger folder / cash book name (Document_v060.xsd)
        for key, value in (("1", period), ("3", folder_name)):
            ET.SubElement(extension, f"{{{DOCUMENT_NS}}}property", {"key": key, "value": value})
        for name in document.receipts:
            ET.SubElement(
                node, f"{{{DOCUMENT_NS}}}extension", {f"{{{_XSI}}}type": "File", "name": name}
            )
    data: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    validate_document(data)
    return data


def _receipt_file(receipt: Receipt) -> DxsoFile:
    name = receipt.filename
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in _MEDIA:
        raise DataError(
            f"receipt {name!r}: DATEV takes PDF or image files (pdf, jpg, png, tif)",
            location=name,
        )
    try:
        name.encode("latin-1")
    except UnicodeEncodeError:
        raise DataError(
            f"receipt {name!r}: the name must be ISO-8859-1 (Document_v060.xsd, File/@name)",
            location=name,
        ) from None
    return DxsoFile(name, receipt.content, _MEDIA[extension])


def build_package(
    entries: Sequence[LedgerEntry],
    ledger: Ledger,
    *,
    period: str,
    folder_name: str,
    created: datetime,
    generator_info: str,
    receipts: Sequence[Receipt] = (),
    description: str | None = None,
) -> list[DxsoFile]:
    """Every file of one job in upload order; ``document.xml`` is last.

    ``period`` is the job's accounting month (``YYYY-MM``), ``folder_name`` the ledger
    folder (or cash book) the job creation answered with.
    """
    files: list[DxsoFile] = []
    documents: list[_Document] = []
    by_invoice: dict[str | None, int] = {}
    for number, group in enumerate(group_entries(entries), start=1):
        name = f"{ledger.short}_{period.replace('-', '')}_{number:04d}.xml"
        chunk = [entries[i] for i in group]
        files.append(
            DxsoFile(
                name, ledger_xml(chunk, ledger, generator_info=generator_info), entries=tuple(group)
            )
        )
        documents.append(_Document(name, ()))
        by_invoice.setdefault(chunk[0].invoice_id, len(documents) - 1)
    for receipt in receipts:
        index = 0 if receipt.invoice_id is None else by_invoice.get(receipt.invoice_id)
        if index is None or not documents:
            raise DataError(
                f"receipt {receipt.filename!r} names invoice {receipt.invoice_id!r}, "
                "which is not in this job",
                location=receipt.filename,
            )
        files.append(_receipt_file(receipt))
        document = documents[index]
        documents[index] = _Document(document.datafile, (*document.receipts, receipt.filename))
    index_file = _document_xml(
        documents,
        ledger,
        period=period,
        folder_name=folder_name,
        created=created,
        description=description,
    )
    files.append(DxsoFile(DOCUMENT_FILE, index_file))
    return files


def with_folder_name(document: bytes, folder_name: str) -> bytes:
    """``document.xml`` with the ledger folder (property key 3) set to ``folder_name``,
    the name the job creation answered with; validated again."""
    ET.register_namespace("", DOCUMENT_NS)
    ET.register_namespace("xsi", _XSI)
    root = ET.fromstring(document)  # noqa: S314 - our own file
    for prop in root.iter(f"{{{DOCUMENT_NS}}}property"):
        if prop.get("key") == "3":
            prop.set("value", folder_name)
    data: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    validate_document(data)
    return data
