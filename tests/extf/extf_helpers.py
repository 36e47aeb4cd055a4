"""Shared builders for the EXTF tests (imported by module name via conftest)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ml_connector.formats.extf.models import BatchHeader, BookingLine
from ml_connector.formats.extf.samples import sample_header, sample_lines
from ml_connector.formats.extf.writer import render_bytes

DATA = Path(__file__).resolve().parents[1] / "data" / "extf"
MUSTER = DATA / "datev-musterdatei_EXTF_Buchungsstapel_fv13.csv"
HANDMADE = DATA / "handmade" / "minimal_fv13_cp1252_crlf.csv"
NONCONFORMING = DATA / "nonconforming"


def header(**changes: object) -> BatchHeader:
    return dataclasses.replace(sample_header(), **changes)  # type: ignore[arg-type]


def line(**changes: object) -> BookingLine:
    return dataclasses.replace(sample_lines()[0], **changes)  # type: ignore[arg-type]


def valid_file() -> bytes:
    return render_bytes(sample_header(), sample_lines())


def with_field(data: bytes, line_no: int, column: int, raw: str) -> bytes:
    """``data`` with field ``column`` of line ``line_no`` replaced by the raw text ``raw``.

    The sample bookings contain no ';' inside text, so splitting on ';' is exact.
    """
    bom = data[:3]
    lines = data[3:].decode("utf-8").split("\r\n")
    fields = lines[line_no - 1].split(";")
    fields[column - 1] = raw
    lines[line_no - 1] = ";".join(fields)
    return bom + "\r\n".join(lines).encode("utf-8")
