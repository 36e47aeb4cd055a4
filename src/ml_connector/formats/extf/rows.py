"""Rows keyed by column name (JSON Lines, CSV, dicts) -> :class:`BookingLine`.

Keys are the headings of the spec table (``"Umsatz (ohne Soll/Haben-Kz)"``), the
spellings of DATEV's Formatbeschreibung, or the attribute names (``"umsatz"``).
Values may be typed (``Decimal``, ``int``, ``date``, ``bool``) or strings:
amounts ``1234,56`` or ``1234.56`` (no thousands separators, never ``float``),
dates ``YYYY-MM-DD``, ``DD.MM.YYYY`` or ``TTMMJJJJ`` (Belegdatum also ``TTMM`` when a
header gives the year), flags ``0``/``1``/``true``/``false``.  Empty values mean
"not set".  Anything else is a :class:`~ml_connector.errors.DataError` naming the row
and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ml_connector.errors import DataError
from ml_connector.formats.extf.columns import COLUMNS, Column, Kind
from ml_connector.formats.extf.models import BatchHeader, BookingLine
from ml_connector.formats.extf.validate import REQUIRED_ATTRS, resolve_ttmm

__all__ = ["KEY_TO_ATTR", "line_from_row"]

#: every accepted key (heading, alternative heading, attribute name) -> attribute
KEY_TO_ATTR: dict[str, str] = {}
for _col in COLUMNS:
    for _key in (*_col.headings, _col.attr):
        KEY_TO_ATTR[_key] = _col.attr
_BY_ATTR = {c.attr: c for c in COLUMNS}
_NUMBER = re.compile(r"-?\d+([.,]\d+)?")


class _BadValueError(ValueError):
    pass


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            return Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            pass
    if isinstance(value, float):
        raise _BadValueError(
            "floats are not accepted for money (precision); pass a string or Decimal"
        )
    raise _BadValueError("not a number like 1234,56 (no thousands separators)")


def _to_date(value: object, col: Column, header: BatchHeader | None) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d%m%Y"):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        if col.kind is Kind.TTMM and re.fullmatch(r"\d{4}", text) and header is not None:
            resolved = resolve_ttmm(text, header)
            if resolved is not None:
                return resolved
    raise _BadValueError("not a date (YYYY-MM-DD, DD.MM.YYYY or TTMMJJJJ)")


def _to_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        return int(value.strip())
    raise _BadValueError("not a whole number")


def _to_flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "g"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise _BadValueError("not a flag (0/1)")


def _convert(col: Column, value: object, header: BatchHeader | None) -> object:
    kind = col.kind
    if kind is Kind.TEXT:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise _BadValueError("not text")
    if kind is Kind.AMOUNT or kind is Kind.DECIMAL:
        return _to_decimal(value)
    if kind is Kind.INT:
        return _to_int(value)
    if kind is Kind.FLAG:
        return _to_flag(value)
    return _to_date(value, col, header)


def line_from_row(
    row: Mapping[str, object], *, row_number: int | None = None, header: BatchHeader | None = None
) -> BookingLine:
    """The booking for one row; ``row_number`` is used in error locations."""
    where = f"row {row_number}" if row_number is not None else "row"
    values: dict[str, object] = {}
    for key, raw in row.items():
        attr = KEY_TO_ATTR.get(key.strip())
        if attr is None:
            raise DataError(
                f"unknown column {key!r}",
                location=where,
                value=key,
                hint="use the column headings of the EXTF spec table (or attribute names)",
            )
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            continue
        col = _BY_ATTR[attr]
        try:
            values[attr] = _convert(col, raw, header)
        except _BadValueError as exc:
            raise DataError(
                str(exc),
                location=f"{where}, column {col.pos} '{col.heading}'",
                value=raw,
                hint=f"write {col.rule}",
            ) from None
    missing = [a for a in REQUIRED_ATTRS if a not in values]
    if missing:
        raise DataError(
            "required column(s) empty: " + ", ".join(_BY_ATTR[a].heading for a in missing),
            location=where,
            hint="every booking needs Umsatz, Soll/Haben, Konto, Gegenkonto and Belegdatum",
        )
    return BookingLine(**values)  # type: ignore[arg-type]
