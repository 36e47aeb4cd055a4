"""Map Looker rows to EXTF booking lines: each row becomes lines or a rejection, never both.

The mapper is pure: it takes rows (``{"view.field": value}`` mappings with Decimal /
date / str / None values) and returns one :class:`RowOutcome` per row.  A
:class:`MappedRow` carries lines that passed the EXTF validator's line checks; a
:class:`Rejection` carries a :class:`RejectReason`, the field, the value and a message.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING

from ml_connector.formats.dxso.models import LedgerEntry
from ml_connector.formats.extf.automatic import automatic_account_hit
from ml_connector.formats.extf.columns import COLUMN_BY_ATTR
from ml_connector.formats.extf.models import (
    COLUMN_ATTRS,
    BatchHeader,
    BookingLine,
    columns_to_json,
    line_to_json,
)
from ml_connector.mapping.dxso import DxsoEntryMaker, DxsoHold, entry_digest
from ml_connector.mapping.expressions import ExpressionError, LookupMissError
from ml_connector.mapping.extf_checks import checked_text, line_problems
from ml_connector.mapping.lookups import LookupKind, LookupSet, normalise_key
from ml_connector.mapping.period import Period
from ml_connector.mapping.rowcode import field_function
from ml_connector.mapping.spec import HOME_CURRENCY, CompiledMapping, FieldRule
from ml_connector.mapping.text import (
    TEXT_CHANGE_KINDS,
    DataChange,
    DataChangeKind,
    TextRuleError,
    as_text,
    clean_text,
    fit_document_number,
    fit_free_text,
)

if TYPE_CHECKING:
    from ml_connector.config.models import DatevClient

__all__ = [
    "CURRENCY_COLUMNS",
    "DIGEST_VERSION",
    "FIELD_TYPES",
    "DataChange",
    "DataChangeKind",
    "DocumentHold",
    "LineChecker",
    "MappedRow",
    "RejectReason",
    "Rejection",
    "RowLinker",
    "RowMapper",
    "RowOutcome",
    "content_digest",
    "content_digest_v1",
    "duplicate_key",
    "json_digest",
    "period_header",
    "same_content",
]

_MAX_AMOUNT = Decimal("9999999999.99")
_CENT = Decimal("0.01")
_FX_FIELDS = ("kurs", "basis_umsatz", "wkz_basis_umsatz")
#: Looker field names (after the view) taken to hold a row's currency when
#: ``wkz_umsatz`` is not mapped: such a row in another currency is held, not booked as EUR
CURRENCY_COLUMNS = frozenset({"currency", "currency_code", "currency_iso", "waehrung", "wkz"})


class RejectReason(StrEnum):
    """Why a row was not mapped; each value is stable (it is stored and reported)."""

    UNMAPPED_ACCOUNT = "unmapped_account"
    UNMAPPED_COST_CENTER = "unmapped_cost_center"
    UNMAPPED_TAX_KEY = "unmapped_tax_key"
    UNMAPPED_VALUE = "unmapped_value"
    MISSING_DATE = "missing_date"
    UNPARSABLE_DATE = "unparsable_date"
    DATE_OUTSIDE_PERIOD = "date_outside_period"
    MISSING_AMOUNT = "missing_amount"
    UNPARSABLE_AMOUNT = "unparsable_amount"
    TOO_MANY_DECIMALS = "too_many_decimals"
    AMOUNT_TOO_LARGE = "amount_too_large"
    ZERO_AMOUNT = "zero_amount"
    TEXT_TOO_LONG = "text_too_long"
    INVALID_CHARACTERS = "invalid_characters"
    INVALID_ACCOUNT = "invalid_account"
    INVALID_VALUE = "invalid_value"
    MISSING_KEY = "missing_key"
    DUPLICATE_KEY = "duplicate_key"
    EXTF_RULE = "extf_rule"
    NO_PERIOD = "no_period"
    MISSING_EXCHANGE_RATE = "missing_exchange_rate"
    CURRENCY_MISMATCH = "currency_mismatch"
    TAX_KEY_ON_AUTOMATIC_ACCOUNT = "tax_key_on_automatic_account"
    MISSING_INVOICE_ID = "missing_invoice_id"
    DXSO_RULE = "dxso_rule"
    DOCUMENT_MISSING = "document_missing"
    DOCUMENT_REFUSED = "document_refused"
    DOCUMENT_TOO_LARGE = "document_too_large"
    DOCUMENT_INVALID = "document_invalid"


_HOLD_REASON = {DataChangeKind.TEXT_SHORTENED: RejectReason.TEXT_TOO_LONG}

_UNMAPPED = {
    LookupKind.ACCOUNT: RejectReason.UNMAPPED_ACCOUNT,
    LookupKind.COST_CENTER: RejectReason.UNMAPPED_COST_CENTER,
    LookupKind.TAX_KEY: RejectReason.UNMAPPED_TAX_KEY,
    LookupKind.VALUE: RejectReason.UNMAPPED_VALUE,
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that cannot be booked, and why."""

    index: int
    """Position of the row in the extract (0-based)."""
    row_key: str | None
    reason: RejectReason
    field: str | None
    message: str
    value: object
    row: Mapping[str, object]
    amount: Decimal | None = None
    """The row's mapped amount when the row got that far (for the held amount)."""

    def describe(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.reason.value}{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class MappedRow:
    """A row and the booking lines it becomes (empty only for a skipped zero amount)."""

    index: int
    row_key: str
    period: Period
    lines: tuple[BookingLine, ...]
    amount: Decimal
    """The mapped amount, signed as configured (what ``amount`` evaluated to)."""
    content_digest: str
    """Digest of the lines' content; changes when what would be booked changes."""
    row: Mapping[str, object]
    changes: tuple[DataChange, ...] = ()
    """What ml-connector changed in the row's data on the way (texts cut, ...)."""
    dxso: LedgerEntry | None = None
    """The DXSO booking suggestion of a ``channel = "dxso"`` pipeline's row."""
    texts: tuple[str, ...] | None = None
    """The EXTF text of each line, rendered by the checks that accepted it for the batch
    header of the mapper's period (:attr:`RowMapper.header`); ``None`` when not rendered."""
    lines_json: tuple[dict[str, object], ...] = ()
    """Each line as :func:`line_to_json` gives it (the content digest is computed from
    it, and traces, spills and posted records are made of it)."""


RowOutcome = MappedRow | Rejection
#: returns the problems of one line (empty = valid); the EXTF validator's line checks
LineChecker = Callable[[BookingLine], Sequence[str]]
#: a field's coercion: ``(raw value, changes) -> value`` (raises ``_Reject``)
Converter = Callable[[object, list[DataChange]], object]


class DocumentHold(Exception):  # noqa: N818 - a row's outcome, not an error class
    """A row's own supporting document cannot be linked: ``reason`` is one of the
    ``document_*`` reasons (missing, refused, too large, invalid)."""

    def __init__(self, reason: RejectReason, message: str, value: object = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.value = value


#: a row's EXTF ``Beleglink`` (its own document), or :class:`DocumentHold`
RowLinker = Callable[[Mapping[str, object]], str | None]


def duplicate_key(outcome: RowOutcome, first: int) -> RowOutcome:
    """``outcome`` of a row whose key row ``first`` (0-based) already used: a mapped row
    becomes a ``duplicate_key`` rejection, a rejection keeps its own reason."""
    if not isinstance(outcome, MappedRow):
        return outcome
    return Rejection(
        index=outcome.index,
        row_key=outcome.row_key,
        reason=RejectReason.DUPLICATE_KEY,
        field=None,
        message=f"row key {outcome.row_key!r} already used by row {first + 1}",
        value=outcome.row_key,
        row=outcome.row,
        amount=outcome.amount,
    )


class _Reject(Exception):  # noqa: N818 - internal control flow, not an error class
    def __init__(
        self, reason: RejectReason, field: str | None, message: str, value: object
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message
        self.value = value
        self.amount: Decimal | None = None


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type).replace(" | None", "") for f in fields(BookingLine)}


#: BookingLine attribute -> its type without ``None`` (``"int"``, ``"Decimal"``, ``"date"``, ...)
FIELD_TYPES = _field_types()


_DIGEST_ATTRS = tuple(a for a in COLUMN_ATTRS if a != "generalumkehr")
_DIGEST_VALUES = operator.attrgetter(*_DIGEST_ATTRS)

#: prefix of the current content digest; a stored digest without it is a version-1 digest
DIGEST_VERSION = "v2:"


def _digest_text(line: Mapping[str, object]) -> str:
    """Canonical text of a line's content (Generalumkehr excluded): its set columns as
    ``attribute=value`` in column order, separated by U+001F (empty columns left out),
    from the line as :func:`line_to_json` gives it."""
    return "\x1f".join(
        [f"{attr}={value}" for attr, value in line.items() if attr != "generalumkehr"]
    )


def json_digest(lines: Iterable[Mapping[str, object]]) -> str:
    """``v2:`` + SHA-256 (hex, 32 characters) over the content of lines given as
    :func:`line_to_json` gives them."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(_digest_text(line).encode())
        digest.update(b"\n")
    return DIGEST_VERSION + digest.hexdigest()[:32]


def content_digest(lines: Iterable[BookingLine]) -> str:
    """``v2:`` + SHA-256 (hex, 32 characters) over the lines' content."""
    return json_digest(line_to_json(line) for line in lines)


def content_digest_v1(lines: Iterable[BookingLine]) -> str:
    """The version-1 digest (a JSON list of every column's text), which postings made
    before version 2 carry; read only to compare a stored posting with a new row."""
    digest = hashlib.sha256()
    for line in lines:
        values = [None if value is None else str(value) for value in _DIGEST_VALUES(line)]
        digest.update(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:32]


def same_content(stored: str, row: MappedRow) -> bool:
    """Whether a stored posting's digest says it booked exactly ``row``'s lines; a
    version-1 digest is compared with the version-1 digest of the row's lines."""
    if stored.startswith(DIGEST_VERSION):
        return stored == row.content_digest
    return stored == content_digest_v1(row.lines)


def _key_text(value: object) -> str:
    return normalise_key(value)


def _as_decimal(value: object, field: str, missing: RejectReason, bad: RejectReason) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Reject(missing, field, "no amount", value)
    if isinstance(value, bool):
        raise _Reject(bad, field, f"{value!r} is not a number", value)
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise _Reject(bad, field, f"{value!r} is not a number", value) from None
    if not number.is_finite():
        raise _Reject(bad, field, f"{value!r} is not a finite number", value)
    return number


def _as_int(value: object, field: str) -> int:
    number = _as_decimal(value, field, RejectReason.INVALID_VALUE, RejectReason.INVALID_VALUE)
    if number != number.to_integral_value():
        raise _Reject(RejectReason.INVALID_VALUE, field, f"{value!r} is not a whole number", value)
    return int(number)


def _as_flag(value: object, field: str) -> bool:
    text = str(value).strip().lower()
    if value is True or text in ("1", "true", "yes", "g"):
        return True
    if value is False or text in ("0", "false", "no"):
        return False
    raise _Reject(RejectReason.INVALID_VALUE, field, f"{value!r} is not 0/1", value)


def _as_date(value: object, field: str) -> date:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Reject(RejectReason.MISSING_DATE, field, "no date", value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Reject(
        RejectReason.UNPARSABLE_DATE, field, f"{value!r} is not a date (YYYY-MM-DD)", value
    )


class RowMapper:
    """Applies one compiled mapping for one DATEV client (and optionally one period)."""

    def __init__(
        self,
        mapping: CompiledMapping,
        lookups: LookupSet,
        client: DatevClient,
        *,
        period: Period | None = None,
        line_checker: LineChecker | None = None,
        row_link: RowLinker | None = None,
    ) -> None:
        self.mapping = mapping
        #: the row's own document link (per-row documents), set as ``beleglink``
        self.row_link = row_link
        self.lookups = lookups
        self.client = client
        self.period = period
        #: the batch header lines are checked against (when the period is known)
        self.header = None if period is None else period_header(client, period)
        self.line_checker = line_checker or default_line_checker(client, period)
        self._custom_checker = line_checker is not None
        self._variables: dict[str, object] = {"period": str(period) if period else None}
        self._currency_column: dict[str, bool] = {}
        self._json_orders: dict[tuple[str, ...], list[str]] = {}
        self._automatic = client.automatic_account_set
        self._convert = self._converters()
        self._fields = field_function(
            mapping.fields, lookups, self._variables, self._convert, self._fail
        )
        dxso = mapping.dxso
        self._dxso = (
            None
            if dxso is None
            else DxsoEntryMaker(dxso, mapping.currency, mapping.text.buchungstext_overflow)
        )

    # -- public ---------------------------------------------------------------------------

    def map_rows(self, rows: Iterable[Mapping[str, object]]) -> list[RowOutcome]:
        """One outcome per row, in order; a repeated row key rejects the later rows."""
        outcomes: list[RowOutcome] = []
        seen: dict[str, int] = {}
        for index, row in enumerate(rows):
            outcome = self.map_row(row, index)
            if outcome.row_key is not None:
                first = seen.setdefault(outcome.row_key, index)
                if first != index:
                    outcome = duplicate_key(outcome, first)
            outcomes.append(outcome)
        return outcomes

    def map_row(self, row: Mapping[str, object], index: int = 0) -> RowOutcome:
        """Lines for ``row`` or the reason it cannot be booked."""
        row_key: str | None = None
        try:
            row_key = self.row_key(row)
            return self._map(row, index, row_key)
        except _Reject as exc:
            return Rejection(
                index=index,
                row_key=row_key,
                reason=exc.reason,
                field=exc.field,
                message=exc.message,
                value=exc.value,
                row=row,
                amount=exc.amount,
            )

    def row_key(self, row: Mapping[str, object]) -> str:
        """The stable key: the configured key columns, else a digest of the identifying columns."""
        columns = self.mapping.row_key
        if columns:
            values = []
            for column in columns:
                value = row.get(column)
                if value is None or (isinstance(value, str) and not value.strip()):
                    raise _Reject(RejectReason.MISSING_KEY, column, "key column is empty", value)
                values.append(_key_text(value))
            return values[0] if len(values) == 1 else json.dumps(values, ensure_ascii=False)
        identity = self.mapping.identity_columns or tuple(
            sorted(c for c in row if c not in self.mapping.amount.columns)
        )
        canonical = json.dumps(
            [[c, None if row.get(c) is None else _key_text(row.get(c))] for c in identity],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:24]

    # -- mapping --------------------------------------------------------------------------

    def _raw(self, rule: FieldRule, row: Mapping[str, object]) -> object:
        try:
            return rule.value(row, self.lookups, self._variables)
        except ExpressionError as exc:
            raise self._fail(exc, rule.target) from None

    def _fail(self, exc: Exception, target: str) -> _Reject:
        """The rejection of a field whose lookup missed or whose expression failed."""
        if isinstance(exc, LookupMissError):
            kind = self.lookups.kind_of(exc.table) if self.lookups.has_table(exc.table) else None
            reason = _UNMAPPED.get(kind or LookupKind.VALUE, RejectReason.UNMAPPED_VALUE)
            return _Reject(reason, target, str(exc), exc.key)
        return _Reject(RejectReason.INVALID_VALUE, target, str(exc), None)

    def _amount(self, row: Mapping[str, object]) -> Decimal:
        value = self._raw(self.mapping.amount, row)
        number = _as_decimal(
            value, "amount", RejectReason.MISSING_AMOUNT, RejectReason.UNPARSABLE_AMOUNT
        )
        if abs(number) > _MAX_AMOUNT:
            raise _Reject(
                RejectReason.AMOUNT_TOO_LARGE, "amount", f"{number} exceeds 10 digits", value
            )
        if number != number.quantize(_CENT):
            raise _Reject(
                RejectReason.TOO_MANY_DECIMALS,
                "amount",
                f"{number} has more than 2 decimals",
                value,
            )
        return number.quantize(_CENT)

    def _map(self, row: Mapping[str, object], index: int, row_key: str) -> MappedRow:
        amount = self._amount(row)
        try:
            return self._book(row, index, row_key, amount)
        except _Reject as exc:
            exc.amount = amount
            raise

    def _book(
        self, row: Mapping[str, object], index: int, row_key: str, amount: Decimal
    ) -> MappedRow:
        changes: list[DataChange] = []
        values = self._fields(row, changes)
        if changes:
            self._hold_text_changes(changes)
        belegdatum = values.get("belegdatum")
        if belegdatum is None:
            raise _Reject(RejectReason.MISSING_DATE, "belegdatum", "no date", None)
        assert isinstance(belegdatum, date)
        if self.period is not None and not self.period.contains(belegdatum):
            raise _Reject(
                RejectReason.DATE_OUTSIDE_PERIOD,
                "belegdatum",
                f"{belegdatum.isoformat()} is outside the batch period {self.period}",
                belegdatum,
            )
        row_period = Period.of(belegdatum)
        if amount == 0:
            if self.mapping.zero_amounts == "reject":
                raise _Reject(RejectReason.ZERO_AMOUNT, "amount", "amount is 0.00", amount)
            skipped = DataChange(
                DataChangeKind.ZERO_AMOUNT_SKIPPED, "amount", "0.00", None, "nothing to book"
            )
            return MappedRow(
                index, row_key, row_period, (), amount, content_digest(()), row, (skipped,)
            )
        for name in ("konto", "gegenkonto"):
            if values.get(name) is None:
                raise _Reject(RejectReason.UNMAPPED_ACCOUNT, name, "no account", None)
        if self.row_link is not None and (link := self._row_link(row)) is not None:
            values["beleglink"] = link
        self._currency(row, values, abs(amount), changes)
        self._tax_key_on_automatic(values, changes)
        if values.get("festschreibung") is None:
            values["festschreibung"] = self.client.festschreibung
        debit = amount > 0 if self.mapping.sign == "debit_positive" else amount < 0
        if self.mapping.amount_account == "gegenkonto":
            debit = not debit
        values["umsatz"] = abs(amount)
        values["soll_haben"] = "S" if debit else "H"
        line = BookingLine(**values)  # type: ignore[arg-type]
        text = None if self.header is None else checked_text(line, self.header)
        if text is None or self._custom_checker:
            problems = list(self.line_checker(line))
            if problems:
                raise _Reject(RejectReason.EXTF_RULE, None, "; ".join(problems), None)
        line_json = self._json_form(values)
        digest = json_digest((line_json,))
        entry = None
        if self._dxso is not None:
            try:
                entry = self._dxso.entry(line, row, self.lookups, self._variables, changes)
            except DxsoHold as hold:
                raise _Reject(
                    RejectReason(hold.reason), hold.field, hold.message, hold.value
                ) from None
            digest = DIGEST_VERSION + entry_digest(digest, entry)
            self._hold_text_changes(changes)
        texts = None if text is None else (text,)
        return MappedRow(
            index,
            row_key,
            row_period,
            (line,),
            amount,
            digest,
            row,
            tuple(changes),
            entry,
            texts,
            (line_json,),
        )

    def _json_form(self, values: Mapping[str, object]) -> dict[str, object]:
        """:func:`line_to_json` of the line built from ``values`` (every column of a
        :class:`BookingLine` not given is empty), with the column order of each set of
        fields worked out once."""
        order = self._json_orders.get(names := tuple(values))
        if order is None:
            order = self._json_orders[names] = sorted(names, key=COLUMN_ATTRS.index)
        return columns_to_json([(attr, values[attr]) for attr in order])

    def _row_link(self, row: Mapping[str, object]) -> str | None:
        assert self.row_link is not None
        try:
            return self.row_link(row)
        except DocumentHold as hold:
            raise _Reject(hold.reason, "beleglink", hold.message, hold.value) from None

    def _hold_text_changes(self, changes: Sequence[DataChange]) -> None:
        """Under ``text_changes = "hold"`` the first text change holds the row."""
        if self.mapping.text_changes != "hold":
            return
        for change in changes:
            if change.kind in TEXT_CHANGE_KINDS:
                raise _Reject(
                    _HOLD_REASON.get(change.kind, RejectReason.INVALID_CHARACTERS),
                    change.field,
                    f"held because text_changes = hold: {change.kind.value} ({change.note})",
                    change.before,
                )

    def _tax_key_on_automatic(self, values: dict[str, object], changes: list[DataChange]) -> None:
        """A tax key on one of the client's automatic accounts: hold the row, or strip the
        key (recorded) under ``automatic_accounts_tax_key = "strip"``."""
        key = values.get("bu_schluessel")
        hit = automatic_account_hit(
            values.get("konto"), values.get("gegenkonto"), key, self._automatic
        )
        if hit is None:
            return
        if self.client.automatic_accounts_tax_key == "hold":
            raise _Reject(
                RejectReason.TAX_KEY_ON_AUTOMATIC_ACCOUNT,
                "bu_schluessel",
                f"tax key {key} on automatic account {hit} ({self.client.chart_of_accounts}); "
                "DATEV books the tax from the account: leave the key empty for this account, "
                'or set automatic_accounts_tax_key = "strip"',
                key,
            )
        values["bu_schluessel"] = None
        changes.append(
            DataChange(
                DataChangeKind.TAX_KEY_STRIPPED,
                "bu_schluessel",
                str(key),
                None,
                f"automatic account {hit} books its own tax",
            )
        )

    def _row_currency(self, row: Mapping[str, object], values: Mapping[str, object]) -> str:
        """The row's currency: ``wkz_umsatz`` when mapped and set, else the pipeline's.

        Without a ``wkz_umsatz`` mapping a currency column of the row (see
        :data:`CURRENCY_COLUMNS`) that names another currency holds the row.
        """
        mapped = values.get("wkz_umsatz")
        if isinstance(mapped, str) and mapped:
            return mapped.strip().upper()
        expected = self.mapping.currency
        if "wkz_umsatz" in self.mapping.fields:
            return expected
        memo = self._currency_column
        for column, value in row.items():
            is_currency = memo.get(column)
            if is_currency is None:
                is_currency = memo[column] = column.rsplit(".", 1)[-1].lower() in CURRENCY_COLUMNS
            if not is_currency or value is None:
                continue
            found = as_text(value).strip().upper()
            if found and found != expected:
                raise _Reject(
                    RejectReason.CURRENCY_MISMATCH,
                    column,
                    f"the row is in {found} but the pipeline's currency is {expected} and "
                    "wkz_umsatz is not mapped; map wkz_umsatz and kurs to book it",
                    value,
                )
        return expected

    def _currency(
        self,
        row: Mapping[str, object],
        values: dict[str, object],
        umsatz: Decimal,
        changes: list[DataChange],
    ) -> None:
        """Fill WKZ Umsatz, Kurs, Basis-Umsatz and WKZ Basis-Umsatz for a foreign row.

        DATEV needs Kurs, Basis-Umsatz and WKZ Basis-Umsatz together for an amount in
        a foreign currency (Formatbeschreibung Buchungsstapel, fields 3-6); a missing
        rate holds the row, a missing Basis-Umsatz is Umsatz / Kurs.
        """
        currency = self._row_currency(row, values)
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            raise _Reject(
                RejectReason.INVALID_VALUE,
                "wkz_umsatz",
                f"{currency!r} is not an ISO currency code (3 letters such as EUR, USD)",
                currency,
            )
        if currency == HOME_CURRENCY:
            if values.get("wkz_umsatz") is not None:
                values["wkz_umsatz"] = currency
            for name in _FX_FIELDS:
                values[name] = None
            return
        values["wkz_umsatz"] = currency
        kurs = values.get("kurs")
        if not isinstance(kurs, Decimal) or kurs <= 0:
            raise _Reject(
                RejectReason.MISSING_EXCHANGE_RATE,
                "kurs",
                f"the row is in {currency}; DATEV needs Kurs and Basis-Umsatz for an amount in "
                "a foreign currency; map kurs (a column or a rate lookup keyed by the currency)",
                kurs,
            )
        basis = values.get("basis_umsatz")
        if isinstance(basis, Decimal):
            values["basis_umsatz"] = abs(basis)
        else:
            computed = (umsatz / kurs).quantize(_CENT, rounding=ROUND_HALF_UP)
            values["basis_umsatz"] = computed
            changes.append(
                DataChange(
                    DataChangeKind.EXCHANGE_AMOUNT_COMPUTED,
                    "basis_umsatz",
                    None,
                    str(computed),
                    f"{umsatz} {currency} / Kurs {kurs}",
                )
            )
        if values.get("wkz_basis_umsatz") is None:
            values["wkz_basis_umsatz"] = HOME_CURRENCY

    def _converters(self) -> dict[str, Converter]:
        """Each mapped field's coercion and text rules, chosen once per mapping."""
        return {name: self._converter(name) for name in self.mapping.fields}

    def _converter(self, name: str) -> Converter:
        kind = FIELD_TYPES[name]
        if name in ("konto", "gegenkonto") or (kind == "int" and "konto" in name):
            return lambda value, changes: self._account(name, value)
        if kind == "int":
            return lambda value, changes: _as_int(value, name)
        if kind == "Decimal":
            invalid = RejectReason.INVALID_VALUE
            return lambda value, changes: _as_decimal(value, name, invalid, invalid)
        if kind == "date":
            return lambda value, changes: _as_date(value, name)
        if kind == "bool":
            return lambda value, changes: _as_flag(value, name)
        return self._text_rule(name)

    def _text_rule(self, name: str) -> Converter:
        """The text rules of field ``name`` (document number, free text or plain text)."""
        rules = self.mapping.text
        max_length = COLUMN_BY_ATTR[name].max_length
        fit: Converter
        if name in ("belegfeld_1", "belegfeld_2"):
            charset, overflow = rules.belegfeld_charset, rules.belegfeld_overflow

            def fit(value: object, changes: list[DataChange]) -> str:
                return fit_document_number(
                    value,
                    max_length,
                    charset=charset,
                    overflow=overflow,
                    field=name,
                    changes=changes,
                )
        elif name == "buchungstext":
            free = rules.buchungstext_overflow

            def fit(value: object, changes: list[DataChange]) -> str:
                return fit_free_text(value, max_length, free, field=name, changes=changes)
        else:

            def fit(value: object, changes: list[DataChange]) -> str:
                text = clean_text(value, name, changes)
                if len(text) > max_length:
                    raise TextRuleError(
                        f"{len(text)} characters, at most {max_length} allowed", reason="too_long"
                    )
                return text

        def convert(value: object, changes: list[DataChange]) -> object:
            try:
                return fit(value, changes) or None
            except TextRuleError as exc:
                reason = (
                    RejectReason.TEXT_TOO_LONG
                    if exc.reason == "too_long"
                    else RejectReason.INVALID_CHARACTERS
                )
                raise _Reject(reason, name, str(exc), value) from None

        return convert

    def _account(self, name: str, value: object) -> int:
        text = clean_text(value)
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            number = Decimal(value)
            if number.is_finite() and number == number.to_integral_value():
                text = str(int(number))
        length = self.client.account_length
        if not text.isdigit() or not text.isascii():
            raise _Reject(
                RejectReason.INVALID_ACCOUNT, name, f"{value!r} is not an account number", value
            )
        if len(text) > length + 1 or int(text) == 0:
            raise _Reject(
                RejectReason.INVALID_ACCOUNT,
                name,
                f"{text} does not fit Sachkontenlänge {length} "
                f"(general ledger up to {length} digits, personal accounts {length + 1})",
                value,
            )
        return int(text)


def period_header(client: DatevClient, period: Period) -> BatchHeader:
    """The batch header of ``client`` for ``period`` as far as the line checks use it."""
    return BatchHeader(
        beraternummer=client.consultant_number,
        mandantennummer=client.client_number,
        wj_beginn=period.fiscal_year_start(client.fiscal_year_start_month),
        sachkontenlaenge=client.account_length,
        datum_vom=period.start,
        datum_bis=period.end,
        festschreibung=client.festschreibung,
        skr=client.skr,
        erzeugt_am=datetime(period.year, period.month, 1),
    )


def default_line_checker(client: DatevClient, period: Period | None = None) -> LineChecker:
    """The EXTF validator's line checks, against the batch header of ``period`` if given."""
    header = None if period is None else period_header(client, period)

    def check(line: BookingLine) -> Sequence[str]:
        return line_problems(line, header, client.account_length)

    return check
