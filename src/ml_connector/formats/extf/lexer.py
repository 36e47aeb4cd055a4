"""Bytes to lines to fields: decoding an EXTF file and splitting its lines.

Shared by the reader and the validator.  DATEV decodes an upload as Windows-1252
unless a byte-order mark says otherwise; :func:`decode` does the same but also
recognises UTF-8 without a BOM (so such files can be read and reported instead of
turning into mojibake).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["Decoded", "SplitError", "decode", "split_fields", "split_lines"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text of a file and how it was decoded."""

    text: str
    encoding: str
    bom: bool
    #: the bytes were UTF-8 with non-ASCII characters but had no BOM
    utf8_without_bom: bool = False
    #: position of the first byte Windows-1252 cannot decode, if any
    undecodable_at: int | None = None


def decode(data: bytes) -> Decoded:
    """Decode ``data`` the way DATEV would, recognising BOM-less UTF-8 as well."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return Decoded(data[len(bom) :].decode(encoding, errors="replace"), encoding, True)
    if data.isascii():
        return Decoded(data.decode("ascii"), "cp1252", False)
    try:
        return Decoded(data.decode("utf-8"), "utf-8", False, utf8_without_bom=True)
    except UnicodeDecodeError:
        pass
    try:
        return Decoded(data.decode("cp1252"), "cp1252", False)
    except UnicodeDecodeError as exc:
        return Decoded(
            data.decode("cp1252", errors="replace"), "cp1252", False, undecodable_at=exc.start
        )


def split_lines(text: str) -> tuple[list[str], int | None, bool]:
    """Lines of ``text`` (without line ends), the first line (1-based) not ended by
    CRLF, and whether the text ends with a line end at all."""
    lines = re.split(r"\r\n|\r|\n", text)
    ends_with_newline = lines[-1] == ""
    if ends_with_newline:
        lines.pop()
    first_bad: int | None = None
    if "\n" in text.replace("\r\n", "") or "\r" in text.replace("\r\n", ""):
        pos = 0
        for number, line in enumerate(lines, 1):
            end = pos + len(line)
            if text[end : end + 2] != "\r\n":
                first_bad = number
                break
            pos = end + 2
    elif not ends_with_newline and lines:
        first_bad = len(lines)
    return lines, first_bad, ends_with_newline


class SplitError(ValueError):
    """A line cannot be split into fields (stray or unbalanced quote)."""

    def __init__(self, field: int, position: int) -> None:
        super().__init__(f"stray or unbalanced double quote in field {field}")
        self.field = field
        self.position = position


_TOKEN = re.compile(r'"((?:[^"]|"")*)"|([^;"]*)')


def split_fields(line: str) -> tuple[list[str], list[bool]]:
    """Fields of one line (quotes removed, doubled quotes undone) and whether each was quoted."""
    fields: list[str] = []
    quoted: list[bool] = []
    pos = 0
    end = len(line)
    match = _TOKEN.match
    while True:
        m = match(line, pos)
        assert m is not None  # the second alternative matches the empty string
        inner = m.group(1)
        if inner is not None:
            fields.append(inner.replace('""', '"'))
            quoted.append(True)
        else:
            fields.append(m.group(2))
            quoted.append(False)
        pos = m.end()
        if pos == end:
            return fields, quoted
        if line[pos] != ";":
            raise SplitError(len(fields), pos)
        pos += 1
