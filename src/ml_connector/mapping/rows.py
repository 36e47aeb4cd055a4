"""Rows files: Looker rows saved as JSON Lines, one ``{"view.field": value}`` object a line.

Numbers are read as :class:`~decimal.Decimal` (never float) and ``YYYY-MM-DD`` strings as
dates, so a rows file maps exactly like the same rows fetched from Looker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

from ml_connector.errors import DataError

__all__ = ["read_rows", "rows_from_jsonl", "to_jsonable", "write_rows"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _typed(value: object) -> object:
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def rows_from_jsonl(lines: Iterable[str], *, source: str = "rows") -> Iterator[dict[str, object]]:
    """Parse JSON Lines text into rows; a bad line is a :class:`DataError` naming it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=Decimal, parse_int=Decimal)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"not valid JSON: {exc.msg}",
                location=f"{source}, line {number}",
                hint="write one JSON object per line",
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                "a row must be a JSON object", location=f"{source}, line {number}", value=record
            )
        yield {str(k): _typed(v) for k, v in record.items()}


def read_rows(path: Path) -> list[dict[str, object]]:
    """All rows of a ``.jsonl`` file."""
    with path.open(encoding="utf-8") as handle:
        return list(rows_from_jsonl(handle, source=str(path)))


def to_jsonable(value: object) -> object:
    """A JSON-friendly form for reports: Decimal as exact text (``"-1250.00"``), dates ISO."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def write_rows(rows: Iterable[Mapping[str, object]], handle: IO[str]) -> int:
    """Write rows as JSON Lines (exact decimals); returns the count."""
    count = 0
    for row in rows:
        parts = []
        for key, value in row.items():
            if isinstance(value, Decimal):
                text = str(value)
            else:
                text = json.dumps(to_jsonable(value), ensure_ascii=False)
            parts.append(f"{json.dumps(key, ensure_ascii=False)}: {text}")
        handle.write("{" + ", ".join(parts) + "}\n")
        count += 1
    return count
