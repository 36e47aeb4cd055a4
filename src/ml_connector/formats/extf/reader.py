"""Reader: an EXTF Buchungsstapel (UTF-8 with or without BOM, Windows-1252) -> models.

The reader is lenient about the rules (use :mod:`ml_connector.formats.extf.validate` for
those) but strict about meaning: a value that cannot be read as its column's type,
a missing required field or a malformed header raises :class:`InvalidBatchError`.
``Belegdatum`` (``TTMM``) gets its year from the header period, or, outside it, from
the fiscal year starting at WJ-Beginn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ml_connector.formats.extf.columns import COLUMNS, FieldError, Kind
from ml_connector.formats.extf.lexer import SplitError, decode, split_fields, split_lines
from ml_connector.formats.extf.models import BatchHeader, BookingLine
from ml_connector.formats.extf.validate import (
    InvalidBatchError,
    Problem,
    ValidationReport,
    _header_model,
    _validate_header_line,
    fiscal_year_end,
    resolve_ttmm,
)

__all__ = ["ExtfFile", "read_bytes", "read_file"]


@dataclass(slots=True)
class ExtfFile:
    """A parsed EXTF file."""

    header: BatchHeader
    lines: list[BookingLine]
    encoding: str
    bom: bool


def _fail(
    message: str,
    hint: str,
    line: int | None = None,
    column: int | None = None,
    value: str | None = None,
) -> InvalidBatchError:
    heading = COLUMNS[column - 1].heading if column and line and line > 2 else None
    return InvalidBatchError([Problem("read", message, hint, line, column, heading, value)])


def _belegdatum(text: str, header: BatchHeader, line: int) -> date:
    resolved = resolve_ttmm(text, header)
    if resolved is not None:
        return resolved
    start, end = header.wj_beginn, fiscal_year_end(header.wj_beginn)
    for year in sorted({start.year, end.year}):
        try:
            candidate = date(year, int(text[2:4]), int(text[:2]))
        except ValueError:
            continue
        if start <= candidate <= end:
            return candidate
    raise _fail(
        "Belegdatum is not a day of the batch's fiscal year",
        "write TTMM of a day in the period",
        line,
        10,
        text,
    )


def read_bytes(data: bytes) -> ExtfFile:
    """Parse an EXTF Buchungsstapel into a header and booking models."""
    decoded = decode(data)
    lines, _, _ = split_lines(decoded.text)
    if len(lines) < 2:
        raise _fail(
            "not an EXTF file: header and headings line missing", "pass an EXTF Buchungsstapel"
        )
    probe = ValidationReport()
    _validate_header_line(lines[0], probe, None)
    try:
        header_fields, _ = split_fields(lines[0])
    except SplitError as exc:
        raise _fail(str(exc), "fix the header line", 1) from None
    header = _header_model(header_fields)
    if header is None:
        raise InvalidBatchError(
            probe.problems or [Problem("read", "unreadable header", "fix the header line", 1)]
        )
    if len(header_fields) >= 5 and (header_fields[2], header_fields[4]) != ("21", "13"):
        raise _fail(
            f"not a Buchungsstapel of Formatversion 13 "
            f"(category {header_fields[2]}, version {header_fields[4]})",
            "convert the file to Formatversion 13",
            1,
        )
    bookings: list[BookingLine] = []
    for number, text in enumerate(lines[2:], 3):
        try:
            fields, _ = split_fields(text)
        except SplitError as exc:
            raise _fail(str(exc), 'enclose text in "…"', number, exc.field) from None
        if len(fields) != len(COLUMNS):
            raise _fail(
                f"{len(fields)} fields, expected {len(COLUMNS)}",
                "write 125 fields per line",
                number,
            )
        values: dict[str, object] = {}
        for col, value in zip(COLUMNS, fields, strict=True):
            if not value:
                continue
            if col.kind is Kind.TTMM:
                if len(value) != 4 or not value.isdigit():
                    raise _fail("Belegdatum must be TTMM", "write TTMM", number, col.pos, value)
                values[col.attr] = _belegdatum(value, header, number)
                continue
            try:
                values[col.attr] = col.parse(value)
            except FieldError as exc:
                raise _fail(exc.message, exc.hint, number, col.pos, value) from None
        try:
            bookings.append(BookingLine(**values))  # type: ignore[arg-type]
        except TypeError:
            missing = [
                c
                for c in ("umsatz", "soll_haben", "konto", "gegenkonto", "belegdatum")
                if c not in values
            ]
            raise _fail(
                f"required field(s) empty: {', '.join(missing)}", "fill the required fields", number
            ) from None
    return ExtfFile(header=header, lines=bookings, encoding=decoded.encoding, bom=decoded.bom)


def read_file(path: str | Path) -> ExtfFile:
    """Parse the EXTF file at ``path``."""
    return read_bytes(Path(path).read_bytes())
