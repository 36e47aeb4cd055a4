"""What the emulator reads from an uploaded EXTF file: header fields and booking lines.

Decoding follows DATEV: a BOM selects UTF-8 / UTF-16LE / UTF-16BE, no BOM means
code page 1252. Only what the emulator needs (its own checks, job fields, the
ledger) is read here; nothing of the product's EXTF code is used.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = ["ExtfContent", "ExtfReadError", "decode_extf", "read_extf"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class ExtfReadError(ValueError):
    """The file cannot be read as EXTF at all (DATEV code 1008833)."""


@dataclass(frozen=True, slots=True)
class ExtfRow:
    """One data line: its line number (1-based, in the file) and fields."""

    line: int
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExtfContent:
    """Header fields (1-based positions in ``header``); data rows are read on demand.

    Rows are parsed again from ``text`` on each :meth:`rows` call and never held
    all at once, so a 99,999-line file costs its text, not millions of strings.
    """

    header: tuple[str, ...]
    text: str
    #: data rows (lines 3 and later that are not empty)
    row_count: int
    #: characters of the raw header line (DATEV limits it to 1000)
    header_length: int = 0

    def rows(self) -> Iterator[ExtfRow]:
        """The data rows, in file order."""
        reader = _reader(self.text)
        for number, fields in enumerate(reader, start=1):
            if number > 2 and any(f.strip() for f in fields):
                yield ExtfRow(line=number, fields=tuple(fields))

    def field(self, position: int) -> str:
        """Header field ``position`` (1-based), unquoted, or ``""``."""
        return self.header[position - 1].strip() if len(self.header) >= position else ""

    @property
    def consultant_number(self) -> str:
        """Header field 11 (Beraternummer)."""
        return self.field(11)

    @property
    def client_number(self) -> str:
        """Header field 12 (Mandantennummer)."""
        return self.field(12)

    @property
    def data_category(self) -> str:
        """Header field 3 (Formatkategorie, 21 = Buchungsstapel)."""
        return self.field(3)


def decode_extf(content: bytes) -> str:
    """Text of the file, decoded the way DATEV does."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content.decode(encoding)
    return content.decode("cp1252", errors="replace")


#: one line with its ending (``\r\n``, ``\r`` or ``\n``), or a last line without one
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` as ``io.StringIO(text, newline="")`` splits them, lazily.

    A StringIO copies the text into 4 bytes per character (34 MB for an 8.5 MB
    file); slicing line by line holds one line at a time.
    """
    return (match.group() for match in _LINE.finditer(text))


def _reader(text: str) -> Iterator[list[str]]:
    return csv.reader(_lines(text), delimiter=";", quotechar='"')


def read_extf(content: bytes) -> ExtfContent:
    """Decode ``content``, read its header line and count its data rows."""
    if not content:
        raise ExtfReadError("file has no payload")
    try:
        text = decode_extf(content)
    except UnicodeDecodeError as exc:
        raise ExtfReadError(f"encoding not supported: {exc.reason}") from exc
    reader = _reader(text)
    header: list[str] = []
    count = 0
    number = 0
    try:
        for number, fields in enumerate(reader, start=1):
            if number == 1:
                header = fields
            elif number > 2 and any(f.strip() for f in fields):
                count += 1
    except csv.Error as exc:  # e.g. a field over the csv module's 131,072-character limit
        raise ExtfReadError(f"line {number + 1}: {exc}") from exc
    if not header:
        raise ExtfReadError("file has no header line")
    end = text.find("\n")
    header_length = len(text[: end if end >= 0 else len(text)].rstrip("\r"))
    return ExtfContent(
        header=tuple(header), text=text, row_count=count, header_length=header_length
    )


def amount(text: str) -> Decimal | None:
    """A DATEV decimal-comma amount, or None when unreadable."""
    try:
        return Decimal(text.strip().replace(".", "").replace(",", "."))
    except InvalidOperation:
        return None
