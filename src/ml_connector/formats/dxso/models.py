"""Typed models of DXSO v6.0 booking suggestions (ledger import XSD v6.0).

One :class:`LedgerEntry` is one ``accountsPayableLedger`` / ``accountsReceivableLedger`` /
``cashLedger`` element.  :data:`ENTRY_ELEMENTS` lists the attributes in the order of the XSD's
``xsd:sequence`` (``base``, then ``base1`` for AP/AR or the cash fields, then the party name
and city), which is the order the writer emits them in.  Money is :class:`~decimal.Decimal`,
dates :class:`~datetime.date`.  The models do not validate; :mod:`.schemas` does, with
DATEV's XSDs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "AP_AR_ONLY",
    "ENTRY_ELEMENTS",
    "LEDGER_LIMIT",
    "DxsoFile",
    "Ledger",
    "LedgerEntry",
    "Receipt",
    "entry_from_json",
    "entry_to_json",
]

#: at most 5,000 entries in one ``consolidate`` (XSD maxOccurs) and, by our choice, one job
LEDGER_LIMIT = 5000


class Ledger(StrEnum):
    """The three ledgers DXSO imports into (one per job: dxso-jobs spec, import_type)."""

    ACCOUNTS_PAYABLE = "accounts_payable"
    ACCOUNTS_RECEIVABLE = "accounts_receivable"
    CASH = "cash"

    @property
    def element(self) -> str:
        """Entry element and ``document.xml`` extension type."""
        return _ELEMENT[self]

    @property
    def import_type(self) -> str:
        """``import_type`` of ``POST /clients/{id}/dxso-jobs``."""
        return f"{self.element}Import"

    @property
    def document_type(self) -> int | None:
        """``document/@type``: 1 incoming-invoice circle, 2 outgoing (Document_v060.xsd)."""
        return {Ledger.ACCOUNTS_PAYABLE: 1, Ledger.ACCOUNTS_RECEIVABLE: 2}.get(self)

    @property
    def short(self) -> str:
        """Short tag used in file names."""
        return {Ledger.ACCOUNTS_PAYABLE: "AP", Ledger.ACCOUNTS_RECEIVABLE: "AR"}.get(self, "CASH")


_ELEMENT = {
    Ledger.ACCOUNTS_PAYABLE: "accountsPayableLedger",
    Ledger.ACCOUNTS_RECEIVABLE: "accountsReceivableLedger",
    Ledger.CASH: "cashLedger",
}


@dataclass(slots=True, kw_only=True)
class LedgerEntry:
    """One booking suggestion; ``party_name``/``party_city`` become supplier* (AP) or
    customer* (AR) and are not written for the cash ledger."""

    date: dt.date
    amount: Decimal
    discount_amount: Decimal | None = None
    account_no: int | None = None
    bu_code: int | None = None
    cost_amount: Decimal | None = None
    cost_category_id: str | None = None
    cost_category_id2: str | None = None
    tax: Decimal | None = None
    information: str | None = None
    currency_code: str = "EUR"
    invoice_id: str | None = None
    booking_text: str | None = None
    type_of_receivable: str | None = None
    own_vat_id: str | None = None
    ship_from_country: str | None = None
    party_id: str | None = None
    paid_at: dt.date | None = None
    internal_invoice_id: str | None = None
    vat_id: str | None = None
    ship_to_country: str | None = None
    exchange_rate: Decimal | None = None
    bank_code: str | None = None
    bank_account: str | None = None
    bank_country: str | None = None
    iban: str | None = None
    swift_code: str | None = None
    account_name: str | None = None
    payment_conditions_id: int | None = None
    payment_order: bool | None = None
    discount_percentage: Decimal | None = None
    discount_payment_date: dt.date | None = None
    discount_amount2: Decimal | None = None
    discount_percentage2: Decimal | None = None
    discount_payment_date2: dt.date | None = None
    due_date: dt.date | None = None
    bp_account_no: int | None = None
    delivery_date: dt.date | None = None
    order_id: str | None = None
    party_name: str | None = None
    party_city: str | None = None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_BASE = (
    "date",
    "amount",
    "discount_amount",
    "account_no",
    "bu_code",
    "cost_amount",
    "cost_category_id",
    "cost_category_id2",
    "tax",
    "information",
    "currency_code",
    "invoice_id",
    "booking_text",
)
_BASE1 = (
    "type_of_receivable",
    "own_vat_id",
    "ship_from_country",
    "party_id",
    "paid_at",
    "internal_invoice_id",
    "vat_id",
    "ship_to_country",
    "exchange_rate",
    "bank_code",
    "bank_account",
    "bank_country",
    "iban",
    "swift_code",
    "account_name",
    "payment_conditions_id",
    "payment_order",
    "discount_percentage",
    "discount_payment_date",
    "discount_amount2",
    "discount_percentage2",
    "discount_payment_date2",
    "due_date",
    "bp_account_no",
    "delivery_date",
    "order_id",
)
#: attributes only the AP/AR ledgers know (the cash ledger stops after ``booking_text``)
AP_AR_ONLY = frozenset(_BASE1) | {"party_name", "party_city"}


def _elements(ledger: Ledger) -> tuple[tuple[str, str], ...]:
    names = [(attr, _camel(attr)) for attr in _BASE]
    if ledger is Ledger.CASH:
        return tuple(names)
    names += [(attr, _camel(attr)) for attr in _BASE1]
    who = "supplier" if ledger is Ledger.ACCOUNTS_PAYABLE else "customer"
    names += [("party_name", f"{who}Name"), ("party_city", f"{who}City")]
    return tuple(names)


#: per ledger: (attribute, XML element) in the XSD's sequence order
ENTRY_ELEMENTS = {ledger: _elements(ledger) for ledger in Ledger}


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt (PDF or image) that travels in the job and is stapled to a document."""

    filename: str
    content: bytes
    invoice_id: str | None = None
    """The invoice it belongs to; ``None`` staples it to the first document."""


@dataclass(frozen=True, slots=True)
class DxsoFile:
    """One file of a dxso job, in upload order (``document.xml`` last)."""

    name: str
    content: bytes
    media_type: str = "application/xml"
    entries: tuple[int, ...] = field(default=())
    """Positions (in the package's entry list) of the entries the file carries."""


_TYPES = {f.name: str(f.type).replace(" | None", "") for f in fields(LedgerEntry)}


def entry_to_json(entry: LedgerEntry) -> dict[str, object]:
    """The entry's filled fields as JSON values (Decimal and dates as text)."""
    out: dict[str, object] = {}
    for name in _TYPES:
        value = getattr(entry, name)
        if value is None:
            continue
        out[name] = value if isinstance(value, bool | int) else str(value)
    return out


def entry_from_json(data: dict[str, object]) -> LedgerEntry:
    """Inverse of :func:`entry_to_json`."""
    values: dict[str, object] = {}
    for name, value in data.items():
        kind = _TYPES[name]
        if kind == "Decimal":
            values[name] = Decimal(str(value))
        elif kind == "dt.date":
            values[name] = dt.date.fromisoformat(str(value))
        else:
            values[name] = value
    return LedgerEntry(**values)  # type: ignore[arg-type]
