"""Rows files: Looker rows saved as JSON Lines, one ``{"view.field": value}`` object a line.

Numbers are read as :class:`~decimal.Decimal` (never float) and ``YYYY-MM-DD`` strings as
dates, so a rows file maps exactly like the same rows fetched from Looker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO

from ml_connector.canonical import to_jsonable
from ml_connector.errors import DataError

__all__ = ["iter_rows", "read_rows", "rows_from_jsonl", "write_rows"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _typed(value: object) -> object:
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


_SCALARS = (str, Decimal, int, bool, type(None))


def _no_constant(name: str) -> object:
    raise DataError(
        f"{name} is not a number a booking can carry",
        hint="write amounts as finite decimal numbers, e.g. 1250.00",
    )


def _parse_line(
    line: str, where: str, parse_int: Callable[[str], object] = Decimal
) -> dict[str, object]:
    """One JSON Lines row: an object of scalars (text, finite number, true/false, null)."""
    try:
        record = json.loads(
            line, parse_float=Decimal, parse_int=parse_int, parse_constant=_no_constant
        )
    except json.JSONDecodeError as exc:
        raise DataError(
            f"not valid JSON: {exc.msg}", location=where, hint="write one JSON object per line"
        ) from None
    except RecursionError:
        raise DataError(
            "the JSON is nested too deeply for a row",
            location=where,
            hint="a row is one flat JSON object of text, numbers, true/false or null",
        ) from None
    except DataError as exc:
        exc.location = where
        raise
    if not isinstance(record, dict):
        raise DataError("a row must be a JSON object", location=where, value=str(record)[:80])
    for key, value in record.items():
        if not isinstance(value, _SCALARS):
            raise DataError(
                f"column {key!r} holds a JSON {'array' if isinstance(value, list) else 'object'}",
                location=where,
                hint="a row's values are text, numbers, true/false or null",
            )
        for text in (key, value) if isinstance(value, str) else (key,):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise DataError(
                    f"column {key!r} holds an unpaired UTF-16 surrogate escape",
                    location=where,
                    hint="write the text as valid Unicode",
                ) from None
    return record


def rows_from_jsonl(
    lines: Iterable[str], *, source: str = "rows", raw: bool = False
) -> Iterator[dict[str, object]]:
    """Parse JSON Lines text into rows; a bad line is a :class:`DataError` naming it.

    Numbers become ``Decimal`` and ``YYYY-MM-DD`` text a date; with ``raw`` the values
    stay as written (integers as ``int``, dates as text).
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        if raw:
            yield _parse_line(line, where, parse_int=int)
        else:
            yield {k: _typed(v) for k, v in _parse_line(line, where).items()}


def _decoded(raw: Iterable[bytes], source: str) -> Iterator[str]:
    for number, line in enumerate(raw, start=1):
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"not UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})",
                location=f"{source}, line {number}",
                hint="save the rows file as UTF-8",
            ) from None


def iter_rows(path: Path, *, raw: bool = False) -> Generator[dict[str, object], None, None]:
    """The rows of a ``.jsonl`` file (UTF-8) one at a time; any fault is a
    :class:`DataError` naming the line. ``raw`` as in :func:`rows_from_jsonl`."""
    with path.open("rb") as handle:
        yield from rows_from_jsonl(_decoded(handle, str(path)), source=str(path), raw=raw)


def read_rows(path: Path) -> list[dict[str, object]]:
    """All rows of a ``.jsonl`` file, checked as by :func:`iter_rows`."""
    return list(iter_rows(path))


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
