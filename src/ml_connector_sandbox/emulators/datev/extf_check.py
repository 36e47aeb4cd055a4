"""The emulator's own checks of an uploaded EXTF file, per DATEV's documented rules.

Independent of the product's EXTF writer and validator: the emulator is meant to
check them, so it must not judge uploads with the same code. Sources (table in
``docs/emulators.md``): SPEC = DATEV's accounting:extf-files 3.0.1 OpenAPI (error
tables 1008833/1008834 of the job's ``validation_details``); FB = DATEV's
Formatbeschreibung (developer.datev.de/datev/platform/de/dtvf/formate/header and
.../buchungsstapel); REQ = DATEV's Schnittstellenvorgaben Buchungsdatenservice
(developer.datev.de/datev/platform/schnittstellenvorgaben/dtvf: format floors);
MUSTER = DATEV's own sample file (tests/data/extf), which must pass.

DATEV's upload service checks the header only; a row problem would surface when the
batch is imported into the DATEV app. The emulator reports the few row rules below
in the job's ``validation_details`` as well (stricter than the upload service,
documented), never as an HTTP error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ml_connector_sandbox.emulators.datev.extf_file import (
    ExtfContent,
    ExtfReadError,
    ExtfRow,
    read_extf,
)

__all__ = ["FORMATS", "ExtfVerdict", "check_extf"]

#: SPEC 1008833: "More than 99999 postings"
MAX_RECORDS = 99999
#: SPEC 1008834: "Header exceeds maximum length of 1000 characters"
MAX_HEADER_LENGTH = 1000
#: SPEC 1008834: "Missing columns in EXTF-header" (the header has 31 fields, FB)
HEADER_FIELDS = 31
#: at most this many findings are listed in ``affected_elements``
MAX_FINDINGS = 50


@dataclass(frozen=True, slots=True)
class ExtfFormat:
    """One importable data category: its format name and lowest accepted format version."""

    name: str
    min_version: int


#: SPEC 1008834 checks the combination of fields 3/4/5; REQ: Buchungsstapel at least
#: format version 12, Debitoren/Kreditoren at least 5. Kontenbeschriftungen: FB lists
#: version 2 and later as current [inference: no floor is documented, 2 is accepted].
FORMATS: dict[str, ExtfFormat] = {
    "21": ExtfFormat("Buchungsstapel", 12),
    "16": ExtfFormat("Debitoren/Kreditoren", 5),
    "20": ExtfFormat("Kontenbeschriftungen", 2),
}

#: FB: Buchungsstapel columns per format version (13: 125, as DATEV's Musterdatei)
BOOKING_COLUMNS = {12: 124, 13: 125}

_DIGITS = re.compile(r"\d+")
_TIMESTAMP = re.compile(r"\d{17}")  # FB field 6: YYYYMMDDHHMMSSFFF
_AMOUNT = re.compile(r"\d{1,10}(,\d{1,2})?")  # FB col 1; MUSTER writes "64083"
_ACCOUNT = re.compile(r"\d{1,9}")  # FB cols 7/8
_TAX_KEY = re.compile(r"\d{0,4}")  # FB col 9 (MUSTER uses 1 to 4 digits)
_DOC_DATE = re.compile(r"(\d\d)(\d\d)")  # FB col 10: TTMM with leading zero
_DOC_FIELD = re.compile(r"[0-9A-Za-z$&%*+\-/]{0,36}")  # FB col 11 (Belegfeld 1)
_MAX_TEXT = 60  # FB col 14 (Buchungstext)
_MUST_BE_EMPTY = (7, 23, 24, 25, 26, 29, 30)  # SPEC "(7)", "(23)…(26), (29), (30)"


@dataclass(frozen=True, slots=True)
class ExtfVerdict:
    """Outcome of the checks: ``code`` is None when the file passed."""

    content: ExtfContent | None
    code: str | None = None
    title: str | None = None
    detail: str | None = None
    affected_elements: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        """The file passed every check."""
        return self.code is None


def _valid_date(text: str) -> bool:
    if len(text) != 8 or not text.isdigit():
        return False
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def _format_problems(parsed: ExtfContent) -> list[tuple[str, str]]:
    category, name, version = parsed.field(3), parsed.field(4), parsed.field(5)
    wanted = FORMATS.get(category)
    if wanted is None:
        return [("(3) Data category", f"{category!r} is not importable here")]
    if name != wanted.name:
        return [("(4) Format name", f"must be {wanted.name!r} for data category {category}")]
    if not version.isdigit() or int(version) < wanted.min_version:
        return [("(5) Format version", f"must be at least {wanted.min_version}")]
    return []


def header_problems(
    parsed: ExtfContent, *, consultant_number: int, client_number: int
) -> list[tuple[str, str]]:
    """SPEC 1008834 header findings as (element, reason) pairs."""
    if parsed.header_length > MAX_HEADER_LENGTH:
        return [("EXTF header", "exceeds maximum length of 1000 characters")]
    problems = _field_problems(parsed, consultant_number, client_number)
    if len(parsed.header) >= HEADER_FIELDS:
        return problems
    present = [p for p in problems if int(p[0][1:].split(")")[0]) <= len(parsed.header)]
    return [("EXTF header", "Missing columns in EXTF-header"), *present]


def _field_problems(
    parsed: ExtfContent, consultant_number: int, client_number: int
) -> list[tuple[str, str]]:
    """Findings per header field, each named ``(n) ...`` after its position."""
    problems: list[tuple[str, str]] = []
    if parsed.field(1) != "EXTF":
        problems.append(("(1) Label", "must be 'EXTF'"))
    if parsed.field(2) != "700":
        problems.append(("(2) Version number", "must be 700"))
    problems += _format_problems(parsed)
    if not _TIMESTAMP.fullmatch(parsed.field(6)):
        problems.append(("(6) Created on", "must be YYYYMMDDHHMMSSFFF"))
    if parsed.consultant_number != str(consultant_number):
        problems.append(("(11) Consultant number", "does not match the client-id of the request"))
    if parsed.client_number != str(client_number):
        problems.append(("(12) Client number", "does not match the client-id of the request"))
    if not _valid_date(parsed.field(13)):
        problems.append(("(13) Fiscal year begin", "must be a date YYYYMMDD"))
    length = parsed.field(14)
    if not (length.isdigit() and 4 <= int(length) <= 8):
        problems.append(("(14) Account length", "must be 4 to 8"))
    problems += _period_problems(parsed)
    problems += [(f"({n}) Reserved", "must be empty") for n in _MUST_BE_EMPTY if parsed.field(n)]
    return problems


def _period_problems(parsed: ExtfContent) -> list[tuple[str, str]]:
    """Fields 15/16 (only booking batches carry a period, FB)."""
    if parsed.data_category != "21":
        return []
    date_from, date_to = parsed.field(15), parsed.field(16)
    problems = [
        (f"({n}) {label}", "must be a date YYYYMMDD")
        for n, label, value in ((15, "Date from", date_from), (16, "Date to", date_to))
        if not _valid_date(value)
    ]
    if not problems and date_from > date_to:
        problems.append(("(15) Date from", "DateFrom must not be greater than DateTo"))
    return problems


def row_problems(row: ExtfRow, width: int) -> list[tuple[str, str]]:
    """FB booking-line rules the emulator checks, for one Buchungsstapel line."""
    where = f"line {row.line}"
    if len(row.fields) > width:
        return [(where, f"{len(row.fields)} fields, format allows {width}")]
    f = row.fields + ("",) * max(0, 14 - len(row.fields))
    problems = []
    amount = f[0].strip()
    if not _AMOUNT.fullmatch(amount) or not amount.strip("0,"):
        problems.append((f"{where} Umsatz", f"{amount!r} is not a positive amount like 1234,56"))
    if f[1] not in ("S", "H"):
        problems.append((f"{where} Soll/Haben-Kennzeichen", "must be 'S' or 'H'"))
    for index, label in ((6, "Konto"), (7, "Gegenkonto")):
        if not _ACCOUNT.fullmatch(f[index].strip()):
            problems.append((f"{where} {label}", "must be 1 to 9 digits"))
    if not _TAX_KEY.fullmatch(f[8]):
        problems.append((f"{where} BU-Schlüssel", "must be up to 4 digits"))
    match = _DOC_DATE.fullmatch(f[9].strip())
    if not match or not (1 <= int(match[1]) <= 31 and 1 <= int(match[2]) <= 12):
        problems.append((f"{where} Belegdatum", "must be TTMM"))
    if not _DOC_FIELD.fullmatch(f[10]):
        problems.append((f"{where} Belegfeld 1", "up to 36 of 0-9 A-Z a-z $ & % * + - /"))
    if len(f[13]) > _MAX_TEXT:
        problems.append((f"{where} Buchungstext", "longer than 60 characters"))
    return problems


def _rows_problems(parsed: ExtfContent) -> list[tuple[str, str]]:
    if parsed.data_category != "21":
        return []  # the other categories' columns are not checked (docs/emulators.md)
    width = BOOKING_COLUMNS.get(int(parsed.field(5)), max(BOOKING_COLUMNS.values()))
    problems: list[tuple[str, str]] = []
    for row in parsed.rows():
        problems += row_problems(row, width)
        if len(problems) >= MAX_FINDINGS:
            break
    return problems[:MAX_FINDINGS]


def check_extf(content: bytes, *, consultant_number: int, client_number: int) -> ExtfVerdict:
    """Run the checks on ``content`` for the client in the request URL."""
    try:
        parsed = read_extf(content)
    except ExtfReadError as exc:
        return ExtfVerdict(None, "1008833", "Invalid file", str(exc))
    if parsed.row_count > MAX_RECORDS:
        return ExtfVerdict(parsed, "1008833", "Invalid file", "More than 99999 postings")
    problems = header_problems(
        parsed, consultant_number=consultant_number, client_number=client_number
    )
    if problems:
        return ExtfVerdict(
            parsed, "1008834", "Invalid EXTF-header", "Fields with error", tuple(problems)
        )
    findings = _rows_problems(parsed)
    if findings:
        return ExtfVerdict(
            parsed, "1008834", "Invalid booking lines", "Fields with error", tuple(findings)
        )
    return ExtfVerdict(parsed)
