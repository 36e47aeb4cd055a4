"""Typed rows: ``view.field`` keys, money as ``Decimal``, dates as ``date``, NULL kept.

Types come from the explore's field metadata (``LookmlModelExploreField.type``).
JSON is parsed with ``parse_float=Decimal`` so no value ever passes through a float.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ml_connector.errors import DataError

__all__ = ["JsonArrayStream", "Row", "RowTyper", "filter_literal", "parse_rows"]

Row = dict[str, Any]

_NUMBER_TYPES = frozenset(
    {"number", "sum", "average", "min", "max", "median", "percentile", "sum_distinct",
     "average_distinct", "running_total", "percent_of_total", "int", "float"}
)  # fmt: skip
_INT_TYPES = frozenset({"count", "count_distinct"})
_DATE_TYPES = frozenset({"date", "date_date", "date_day", "date_week", "date_raw"})
_TIME_TYPES = frozenset({"date_time", "date_raw_time", "time", "datetime"})


def _to_decimal(v: Any) -> Any:
    if v is None or v.__class__ is Decimal:
        return v
    if isinstance(v, int | str) and not isinstance(v, bool):
        text = str(v).replace(",", "").strip()
        return Decimal(text) if text else None
    raise ValueError(v)


def _to_int(v: Any) -> Any:
    if v is None or v.__class__ is int:
        return v
    return int(Decimal(str(v)))


def _to_date(v: Any) -> Any:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def _to_datetime(v: Any) -> Any:
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(str(v))


def _to_bool(v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return v
    return str(v).strip().lower() in {"yes", "true", "1"}


def converter_for(ftype: str) -> Callable[[Any], Any] | None:
    """Converter from a JSON value to the Python type of a LookML ``ftype``."""
    if ftype in _NUMBER_TYPES:
        return _to_decimal
    if ftype in _INT_TYPES:
        return _to_int
    if ftype in _DATE_TYPES:
        return _to_date
    if ftype in _TIME_TYPES:
        return _to_datetime
    if ftype == "yesno":
        return _to_bool
    return None


def loads(body: bytes | str) -> Any:
    """JSON with every number as ``Decimal`` (never a float)."""
    return json.loads(body, parse_float=Decimal, parse_int=Decimal)


class RowTyper:
    """Converts raw JSON rows in place; checks every requested field is present."""

    def __init__(self, fields: list[str], types: Mapping[str, str]) -> None:
        self.fields = fields
        self.converters = [
            (name, conv) for name in fields if (conv := converter_for(types.get(name, "")))
        ]

    def check_fields(self, row: Any) -> None:
        if not isinstance(row, dict):
            raise DataError("Looker returned a row that is not an object", value=str(row)[:80])
        if "looker_error" in row:
            raise DataError("Looker reported a query error", value=str(row["looker_error"])[:200])
        missing = [f for f in self.fields if f not in row]
        if missing:
            raise DataError(
                f"Looker did not return field(s) {', '.join(missing)}",
                hint="check the fields exist in the explore; Looker drops unknown fields",
            )

    def __call__(self, row: Any) -> Row:
        return self.batch([row])[0]

    def batch(self, rows: list[Any]) -> list[Row]:
        """Type ``rows`` column by column (in place) and return them."""
        if not rows:
            return rows
        self.check_fields(rows[0])
        try:
            for name, conv in self.converters:
                if conv is _to_decimal:
                    for r in rows:
                        v = r[name]
                        if v is not None and v.__class__ is not Decimal:
                            r[name] = _to_decimal(v)
                else:
                    for r in rows:
                        r[name] = conv(r[name])
        except KeyError as exc:
            raise DataError(f"Looker did not return field {exc.args[0]} in every row") from None
        except (ValueError, ArithmeticError, TypeError, AttributeError) as exc:
            raise DataError("Looker returned a value of the wrong type", value=str(exc)) from None
        return rows


def parse_rows(body: bytes, typer: RowTyper) -> list[Row]:
    """All rows of a ``json`` result body (a JSON array of objects)."""
    data = loads(body)
    if not isinstance(data, list):
        raise DataError("Looker returned JSON that is not an array of rows", value=str(data)[:80])
    return typer.batch(data)


class JsonArrayStream:
    """Incremental parser of a JSON array of objects fed in byte chunks."""

    def __init__(self) -> None:
        self._decoder = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._started = False
        self.done = False

    def feed(self, chunk: bytes) -> list[Any]:
        buf = self._buf + self._utf8.decode(chunk)
        out: list[Any] = []
        pos, end = 0, len(buf)
        raw_decode = self._decoder.raw_decode
        while pos < end and not self.done:
            ch = buf[pos]
            if ch in " \t\r\n,":
                pos += 1
            elif not self._started:
                if ch != "[":
                    raise DataError("Looker result is not a JSON array", value=buf[:80])
                self._started = True
                pos += 1
            elif ch == "]":
                self.done = True
                pos += 1
            else:
                try:
                    obj, pos = raw_decode(buf, pos)
                except json.JSONDecodeError:
                    break
                out.append(obj)
        self._buf = buf[pos:]
        return out

    def close(self) -> None:
        if not self.done or self._buf.strip():
            raise DataError("Looker result ended early (incomplete JSON array)")


def filter_literal(value: Any) -> str:
    """A Looker filter expression that matches exactly ``value``."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | Decimal):
        return str(value)
    text = str(value)
    if text == "":
        return "EMPTY"
    escaped = "".join("^" + ch if ch in ",%_^" else ch for ch in text)
    if escaped.startswith("-") or text.strip().upper() in {"NULL", "EMPTY"}:
        return "^" + escaped  # a literal, not a negation or keyword
    return escaped
