"""DXSO booking suggestions from the same mapped booking line the EXTF path produces.

A dxso pipeline maps a row exactly like an EXTF pipeline (amount, accounts, BU key, date,
Belegfeld 1, text, cost centres, currency); :class:`DxsoEntryMaker` then turns that line into
one :class:`~ml_connector.formats.dxso.models.LedgerEntry` and adds the DXSO-only fields of
``[pipelines.<name>.dxso.fields]``.  An entry DATEV's XSD would refuse raises
:class:`DxsoHold`, which the mapper turns into a held row with the reason.

Sign (ledger XSD, ``amount``): positive is an invoice (AP/AR) or income (cash), negative a
credit note or expense.  ``partner_account`` names which account of the line is the business
partner (AP/AR: creditor/debtor, written as ``bpAccountNo``) or the cash account (cash); the
other one is ``accountNo``.  A debited debtor or cash account is positive; a credited creditor
is positive.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from ml_connector.formats.dxso.models import AP_AR_ONLY, Ledger, LedgerEntry
from ml_connector.formats.dxso.schemas import entry_problems
from ml_connector.formats.dxso.writer import entry_element
from ml_connector.formats.extf.models import BookingLine
from ml_connector.mapping.expressions import ExpressionError, LookupResolver
from ml_connector.mapping.spec import FieldRule, MappingSpecError, compile_rule
from ml_connector.mapping.text import DataChange, TextRuleError, clean_text, fit_free_text

if TYPE_CHECKING:
    from ml_connector.config.models import DxsoConfig
    from ml_connector.mapping.lookups import LookupKind

__all__ = [
    "DXSO_FIELDS",
    "CompiledDxso",
    "DxsoEntryMaker",
    "DxsoHold",
    "compile_dxso",
    "entry_digest",
]

_TYPES = {f.name: str(f.type).replace(" | None", "") for f in fields(LedgerEntry)}
#: fields the booking line already fills (``amount``, ``date``, accounts, ...); not mappable
_FROM_LINE = frozenset({"date", "amount", "account_no", "currency_code"})
#: DXSO field -> its type (``str``, ``int``, ``Decimal``, ``dt.date``, ``bool``) for the
#: ``[pipelines.<name>.dxso.fields]`` table
DXSO_FIELDS = {name: kind for name, kind in _TYPES.items() if name not in _FROM_LINE}
#: free texts cut to fit (recorded as a change) like the Buchungstext; lengths from the XSD
_FREE_TEXT = {"party_name": 50, "party_city": 30, "account_name": 40, "information": 120}


class DxsoHold(Exception):  # noqa: N818 - a row outcome, not a failure of the program
    """The row cannot become a valid DXSO entry; ``reason`` is a RejectReason value."""

    def __init__(self, reason: str, field: str | None, message: str, value: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message
        self.value = value


@dataclass(frozen=True, slots=True)
class CompiledDxso:
    """A pipeline's ``[dxso]`` table, ready to apply."""

    ledger: Ledger
    partner_account: str
    fields: Mapping[str, FieldRule]

    @property
    def columns(self) -> frozenset[str]:
        """Looker columns the DXSO fields read."""
        return frozenset(c for rule in self.fields.values() for c in rule.columns)

    @property
    def tables(self) -> frozenset[str]:
        """Lookup tables the DXSO fields use."""
        return frozenset(t for rule in self.fields.values() for t in rule.tables)


def compile_dxso(config: DxsoConfig, tables: Mapping[str, LookupKind]) -> CompiledDxso:
    """Compile ``config``; keys in :class:`MappingSpecError` are relative to ``dxso``."""
    ledger = Ledger(config.ledger)
    rules: dict[str, FieldRule] = {}
    for name, spec in config.fields.items():
        key = f"fields.{name}"
        if name not in DXSO_FIELDS:
            hint = "date, amount, account and currency come from the booking line; use one of: "
            raise MappingSpecError(
                key, f"{name!r} is not a DXSO field", hint + ", ".join(DXSO_FIELDS)
            )
        if ledger is Ledger.CASH and name in AP_AR_ONLY:
            raise MappingSpecError(
                key, f"{name!r} exists only for the AP/AR ledgers", "remove it for a cash ledger"
            )
        rules[name] = compile_rule(name, spec, key, tables)
    return CompiledDxso(ledger, config.partner_account, rules)


def entry_digest(digest: str, entry: LedgerEntry) -> str:
    """The row's content digest extended by what only the DXSO entry carries."""
    text = repr([getattr(entry, f.name) for f in fields(LedgerEntry)])
    return hashlib.sha256(f"{digest}\n{text}".encode()).hexdigest()[:32]


class DxsoEntryMaker:
    """Turns mapped booking lines into ledger entries for one pipeline."""

    def __init__(self, compiled: CompiledDxso, currency: str, overflow: str) -> None:
        self.compiled = compiled
        self.currency = currency
        self.overflow = overflow

    def entry(
        self,
        line: BookingLine,
        row: Mapping[str, object],
        lookups: LookupResolver,
        variables: Mapping[str, object],
        changes: list[DataChange],
    ) -> LedgerEntry:
        """The entry for ``line`` (raises :class:`DxsoHold`)."""
        ledger = self.compiled.ledger
        entry = self.from_line(line)
        for name, rule in self.compiled.fields.items():
            try:
                raw = rule.value(row, lookups, variables)
            except ExpressionError as exc:
                raise DxsoHold("invalid_value", name, str(exc), None) from None
            setattr(entry, name, self._coerce(name, raw, changes))
        if ledger is not Ledger.CASH and not entry.invoice_id:
            raise DxsoHold(
                "missing_invoice_id",
                "belegfeld_1",
                "DATEV needs an invoice number (Belegfeld 1) for every AP/AR booking suggestion",
                None,
            )
        if ledger is Ledger.CASH and not entry.booking_text:
            raise DxsoHold(
                "dxso_rule", "buchungstext", "the cash ledger needs a booking text", None
            )
        problems = entry_problems(ledger, entry_element(entry, ledger))
        if problems:
            field = problems[0].split(":", 1)[0]
            raise DxsoHold("dxso_rule", field, "; ".join(problems), None)
        return entry

    def from_line(self, line: BookingLine) -> LedgerEntry:
        """The entry the booking line alone gives (a Generalumkehr flips the sign)."""
        ledger = self.compiled.ledger
        on_konto = self.compiled.partner_account == "konto"
        partner, other = (
            (line.konto, line.gegenkonto) if on_konto else (line.gegenkonto, line.konto)
        )
        partner_debited = (line.soll_haben == "S") == on_konto
        positive = partner_debited if ledger is not Ledger.ACCOUNTS_PAYABLE else not partner_debited
        positive = positive != bool(line.generalumkehr)
        key = line.bu_schluessel
        return LedgerEntry(
            date=line.belegdatum,
            amount=line.umsatz if positive else -line.umsatz,
            discount_amount=line.skonto,
            account_no=other,
            bu_code=int(key) if key and key.isdigit() else None,
            cost_amount=line.kost_menge,
            cost_category_id=line.kost1,
            cost_category_id2=line.kost2,
            currency_code=line.wkz_umsatz or self.currency,
            invoice_id=line.belegfeld_1,
            booking_text=line.buchungstext or None,
            exchange_rate=line.kurs if ledger is not Ledger.CASH else None,
            vat_id=line.eu_land_ustid if ledger is not Ledger.CASH else None,
            delivery_date=line.leistungsdatum if ledger is not Ledger.CASH else None,
            order_id=line.auftragsnummer if ledger is not Ledger.CASH else None,
            bp_account_no=partner if ledger is not Ledger.CASH else None,
        )

    def _coerce(self, name: str, value: object, changes: list[DataChange]) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        kind = DXSO_FIELDS[name]
        try:
            if kind == "Decimal":
                return Decimal(str(value).strip())
            if kind == "int":
                number = Decimal(str(value).strip())
                if number != number.to_integral_value():
                    raise ValueError
                return int(number)
            if kind == "dt.date":
                if isinstance(value, datetime):
                    return value.date()
                return value if isinstance(value, date) else date.fromisoformat(str(value).strip())
            if kind == "bool":
                return _flag(value)
            if name in _FREE_TEXT:
                return fit_free_text(
                    value, _FREE_TEXT[name], self.overflow, field=name, changes=changes
                )
            return clean_text(value, name, changes)
        except (InvalidOperation, ValueError) as exc:
            raise DxsoHold(
                "invalid_value", name, f"{value!r} is not a valid {kind}", value
            ) from exc
        except TextRuleError as exc:
            raise DxsoHold("text_too_long", name, str(exc), value) from None


def _flag(value: object) -> bool:
    text = str(value).strip().lower()
    if value is True or text in ("1", "true", "yes"):
        return True
    if value is False or text in ("0", "false", "no"):
        return False
    raise ValueError(value)
