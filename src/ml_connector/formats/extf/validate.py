"""Validator: every rule of the format checklist, on models and on existing files.

Each finding is a :class:`Problem` naming the line (1 = header, 2 = headings,
3.. = bookings), the column (number and heading), the offending value, what is wrong
and how to fix it.  :func:`validate_bytes` checks an existing file (what the DATEV
emulator runs on every upload); :func:`validate_header`, :func:`validate_line` and
:func:`validate_batch` check models before they are written.  A report with any
problem is invalid; :meth:`ValidationReport.raise_if_invalid` and
:func:`problems_to_error` turn problems into an :class:`InvalidBatchError`
(a :class:`~ml_connector.errors.DataError`: hold the batch, fix the data).
"""

from __future__ import annotations

import operator
import os
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from ml_connector.errors import DataError
from ml_connector.formats.extf.automatic import automatic_account_hit
from ml_connector.formats.extf.columns import COLUMNS, CONTROL_CHARS, Column, FieldError, Kind
from ml_connector.formats.extf.lexer import SplitError, decode, split_fields, split_lines
from ml_connector.formats.extf.models import COLUMN_ATTRS, BatchHeader, BookingLine
from ml_connector.formats.extf.render import GROUPS, header_fields
from ml_connector.formats.extf.spec import (
    HEADER_FIELD_COUNT,
    HEADER_FIELD_NAMES,
    HEADER_FIELD_QUOTED,
)

__all__ = [
    "FILENAME_PATTERN",
    "MAX_BOOKINGS",
    "MAX_BYTES",
    "MAX_HEADER_CHARS",
    "REQUIRED_ATTRS",
    "Encoding",
    "InvalidBatchError",
    "Problem",
    "ValidationReport",
    "fiscal_year_end",
    "problems_to_error",
    "validate_batch",
    "validate_bytes",
    "validate_file",
    "validate_header",
    "validate_line",
]

#: encodings the writer produces: UTF-8 with byte-order mark (default) or Windows-1252
Encoding = Literal["utf-8-sig", "cp1252"]

MAX_BOOKINGS = 99_999
MAX_BYTES = 50 * 1024 * 1024
MAX_HEADER_CHARS = 1000
FILENAME_PATTERN = re.compile(r"EXTF_.{0,51}\.csv")
REQUIRED_ATTRS = ("umsatz", "soll_haben", "konto", "gegenkonto", "belegdatum")
_CLIENT_ID = re.compile(r"(\d{4,7})-(\d{1,5})")


@dataclass(frozen=True, slots=True)
class Problem:
    """One violated rule: where, which value, what is wrong, how to fix it."""

    rule: str
    message: str
    hint: str
    line: int | None = None
    column: int | None = None
    heading: str | None = None
    value: str | None = None

    @property
    def location(self) -> str:
        """``line 7, column 10 'Belegdatum'`` (or ``file`` for file-wide problems)."""
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column} '{self.heading}'")
        return ", ".join(parts) or "file"

    def __str__(self) -> str:
        value = "" if self.value is None else f" (value {self.value!r})"
        return f"{self.location}: {self.message}{value}; fix: {self.hint}"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        out = asdict(self)
        out["location"] = self.location
        return out


class InvalidBatchError(DataError):
    """An EXTF batch (or file) breaks the format rules; ``problems`` lists every finding."""

    def __init__(self, problems: Sequence[Problem], *, source: str | None = None) -> None:
        first = problems[0]
        more = f" and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
        where = f" in {source}" if source else ""
        super().__init__(
            f"invalid EXTF batch{where}: {first.message}{more}",
            hint=first.hint,
            location=first.location,
            value=first.value,
        )
        self.problems = list(problems)


def problems_to_error(
    problems: Sequence[Problem], *, source: str | None = None
) -> InvalidBatchError:
    """The :class:`InvalidBatchError` for a non-empty list of problems."""
    if not problems:
        raise ValueError("no problems to report")
    return InvalidBatchError(problems, source=source)


@dataclass(slots=True)
class ValidationReport:
    """Result of validating one batch or file."""

    problems: list[Problem] = field(default_factory=list)
    bookings: int = 0
    source: str | None = None
    encoding: str | None = None
    #: more problems were found than ``max_problems``; only the first are listed
    truncated: bool = False
    max_problems: int = 1000

    @property
    def valid(self) -> bool:
        """True when no rule is violated."""
        return not self.problems

    def add(self, problem: Problem) -> None:
        """Record ``problem`` (up to ``max_problems``)."""
        if len(self.problems) >= self.max_problems:
            self.truncated = True
        else:
            self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        """Record several problems."""
        for problem in problems:
            self.add(problem)

    def raise_if_invalid(self) -> None:
        """Raise :class:`InvalidBatchError` unless the report is valid."""
        if self.problems:
            raise InvalidBatchError(self.problems, source=self.source)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "source": self.source,
            "valid": self.valid,
            "bookings": self.bookings,
            "encoding": self.encoding,
            "truncated": self.truncated,
            "problems": [p.to_dict() for p in self.problems],
        }

    def format_text(self) -> str:
        """Human-readable report."""
        name = self.source or "batch"
        if self.valid:
            return f"{name}: valid ({self.bookings} bookings)"
        lines = [f"{name}: INVALID, {len(self.problems)} problem(s), {self.bookings} bookings"]
        lines += [f"  {p}" for p in self.problems]
        if self.truncated:
            lines.append(f"  ... stopped after {self.max_problems} problems")
        return "\n".join(lines)


# ---- header ----------------------------------------------------------------------


def fiscal_year_end(start: date) -> date:
    """Last day of the fiscal year beginning on ``start``."""
    try:
        following = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        following = date(start.year + 1, 3, 1)
    return following - timedelta(days=1)


def _ymd(text: str) -> date | None:
    if not re.fullmatch(r"20\d{6}", text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def _stamp_ok(text: str) -> bool:
    if not re.fullmatch(r"20\d{15}", text):
        return False
    try:
        datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


# field number -> (check on unquoted text, rule, hint)
_HeaderRule = tuple[Callable[[str], bool], str, str]


def _const(value: str) -> Callable[[str], bool]:
    return lambda text: text == value


def _regex(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda text: compiled.fullmatch(text) is not None


def _empty(text: str) -> bool:
    return text == ""


_EMPTY_RULE: _HeaderRule = (_empty, "empty", "leave the field empty")
_DATE_RULE: _HeaderRule = (
    lambda t: _ymd(t) is not None,
    "a date YYYYMMDD",
    "write the date as YYYYMMDD",
)
_HEADER_RULES: dict[int, _HeaderRule] = {
    1: (_const("EXTF"), '"EXTF"', 'write "EXTF" (third-party export)'),
    2: (_const("700"), "header version 700", "write 700"),
    3: (_const("21"), "format category 21 (Buchungsstapel)", "write 21"),
    4: (_const("Buchungsstapel"), '"Buchungsstapel"', 'write "Buchungsstapel"'),
    5: (_const("13"), "Formatversion 13", "write Formatversion 13 (125 columns)"),
    6: (
        _stamp_ok,
        "a 17-digit timestamp YYYYMMDDHHMMSSFFF",
        "write the creation time with milliseconds",
    ),
    7: _EMPTY_RULE,
    8: (_regex(r"\w{0,2}"), "at most 2 letters or digits", "use a 2-character origin code"),
    9: (_regex(r"\w{0,25}"), "at most 25 letters or digits", "shorten the user name"),
    10: _EMPTY_RULE,
    11: (
        lambda t: re.fullmatch(r"\d{4,7}", t) is not None and 1001 <= int(t) <= 9999999,
        "a Beraternummer 1001-9999999",
        "use the consultant number of the DATEV client id",
    ),
    12: (
        lambda t: re.fullmatch(r"\d{1,5}", t) is not None and 1 <= int(t) <= 99999,
        "a Mandantennummer 1-99999",
        "use the client number of the DATEV client id",
    ),
    13: _DATE_RULE,
    14: (_regex("[4-8]"), "a Sachkontenlänge 4-8", "use the client's account length in DATEV"),
    15: _DATE_RULE,
    16: _DATE_RULE,
    17: (
        _regex(r"[\w.\-/ ]{0,30}"),
        "at most 30 of letters, digits, . - / space",
        "shorten the label",
    ),
    18: (_regex(r"([A-Z]{2}){0,2}"), "2 or 4 upper-case letters, or empty", "use initials like WD"),
    19: (_const("1"), "1 (Finanzbuchführung)", "write Buchungstyp 1"),
    20: (_const("0"), "0 (independent of the accounting purpose)", "write 0"),
    21: (
        _regex("0|1"),
        "0 or 1, set deliberately",
        "decide with the tax advisor: 0 open, 1 locked",
    ),
    22: (_const("EUR"), '"EUR"', "write the batch currency EUR"),
    23: _EMPTY_RULE,
    24: _EMPTY_RULE,
    25: _EMPTY_RULE,
    26: _EMPTY_RULE,
    27: (_regex(r"\d{2}"), "the chart of accounts, e.g. 03 or 04", "write the client's SKR"),
    28: (_regex(r"\d{0,4}"), "at most 4 digits", "leave empty unless DATEV assigned an id"),
    29: _EMPTY_RULE,
    30: _EMPTY_RULE,
    31: (_regex(".{0,16}"), "at most 16 characters", "shorten the application info"),
}


def _header_problem(
    pos: int, value: str | None, message: str, hint: str, rule: str = "header.value"
) -> Problem:
    return Problem(rule, message, hint, 1, pos, HEADER_FIELD_NAMES[pos - 1], value)


def _check_header_fields(
    fields: Sequence[str],
    quoted: Sequence[bool],
    report: ValidationReport,
    *,
    expected_client_id: str | None,
) -> None:
    if len(fields) != HEADER_FIELD_COUNT:
        report.add(
            Problem(
                "header.fields",
                f"the header has {len(fields)} fields, {HEADER_FIELD_COUNT} required",
                "write all 31 fields of header version 700 (empty ones as ;;)",
                1,
            )
        )
    for pos, (text, was_quoted) in enumerate(zip(fields, quoted, strict=False), 1):
        if pos > HEADER_FIELD_COUNT:
            break
        must_quote = HEADER_FIELD_QUOTED[pos - 1]
        if text and was_quoted != must_quote:
            report.add(
                _header_problem(
                    pos,
                    text,
                    "must be in double quotes" if must_quote else "must not be in quotes",
                    "quote text fields, write numbers bare",
                    "header.quoting",
                )
            )
        check, rule, hint = _HEADER_RULES[pos]
        if not check(text):
            report.add(_header_problem(pos, text, f"must be {rule}", hint))
    if len(fields) < 16:
        return
    wj, vom, bis = _ymd(fields[12]), _ymd(fields[14]), _ymd(fields[15])
    if vom and bis and vom > bis:
        report.add(
            _header_problem(
                15,
                fields[14],
                "Datum vom is after Datum bis",
                "swap or correct the period",
                "header.period",
            )
        )
    if wj and vom and bis and not (wj <= vom and bis <= fiscal_year_end(wj)):
        report.add(
            _header_problem(
                13,
                fields[12],
                f"period {fields[14]}-{fields[15]} is not inside the fiscal year "
                f"{wj:%Y%m%d}-{fiscal_year_end(wj):%Y%m%d}",
                "split the batch so each file lies in one fiscal year; set WJ-Beginn to its start",
                "header.fiscal_year",
            )
        )
    if expected_client_id is not None:
        m = _CLIENT_ID.fullmatch(expected_client_id)
        expected = (m.group(1), m.group(2)) if m else (None, None)
        for pos, want in ((11, expected[0]), (12, expected[1])):
            if want is None or fields[pos - 1].lstrip("0") != want.lstrip("0"):
                report.add(
                    _header_problem(
                        pos,
                        fields[pos - 1],
                        f"does not match the client id {expected_client_id!r}",
                        "write the batch for the DATEV client it is uploaded to",
                        "header.client_id",
                    )
                )


def validate_header(header: BatchHeader, *, expected_client_id: str | None = None) -> list[Problem]:
    """Problems of a header model (rendered, then checked like a file's header)."""
    report = ValidationReport()
    try:
        texts = header_fields(header)
    except (AttributeError, TypeError, ValueError) as exc:
        return [
            Problem("header.value", f"header cannot be written: {exc}", "fix the header types", 1)
        ]
    fields = [t[1:-1].replace('""', '"') if t.startswith('"') else t for t in texts]
    quoted = [t.startswith('"') for t in texts]
    _check_header_fields(fields, quoted, report, expected_client_id=expected_client_id)
    for pos in (9, 17, 31):
        bad = CONTROL_CHARS.search(fields[pos - 1])
        if bad:
            report.add(
                _header_problem(pos, fields[pos - 1], "control character in text", "remove it")
            )
    return report.problems


# ---- booking lines ----------------------------------------------------------------


def _col_problem(col: Column, line: int, value: str | None, err: FieldError, rule: str) -> Problem:
    return Problem(rule, err.message, err.hint, line, col.pos, col.heading, value)


def _problem(rule: str, col: Column, line: int, value: object, message: str, hint: str) -> Problem:
    return Problem(
        rule, message, hint, line, col.pos, col.heading, None if value is None else str(value)
    )


#: stands for a field that is present but could not be read (already reported)
INVALID = object()
_I = {attr: index for index, attr in enumerate(COLUMN_ATTRS)}
_PAIRS = [(_I[f"beleginfo_art_{i}"], _I[f"beleginfo_inhalt_{i}"]) for i in range(1, 9)] + [
    (_I[f"zusatzinformation_art_{i}"], _I[f"zusatzinformation_inhalt_{i}"]) for i in range(1, 21)
]
_PAIR_SPANS = ((20, 36, (None,) * 16), (47, 87, (None,) * 40))
_REQUIRED = tuple(_I[a] for a in REQUIRED_ATTRS)
_FX = (_I["kurs"], _I["basis_umsatz"], _I["wkz_basis_umsatz"])
_WKZ = _I["wkz_umsatz"]
_KONTO, _GEGENKONTO, _BU, _BELEGDATUM = (
    _I["konto"],
    _I["gegenkonto"],
    _I["bu_schluessel"],
    _I["belegdatum"],
)
_LEISTUNG, _ZUORD = _I["leistungsdatum"], _I["datum_zuord_steuerperiode"]


def _cross_checks(
    v: Sequence[object],
    line: int,
    header: BatchHeader | None,
    automatic_accounts: Collection[int] | None,
    out: list[Problem],
) -> None:
    """Rules that involve more than one field (or the header); ``v`` holds the 125 values."""
    for index in _REQUIRED:
        if v[index] is None:
            col = COLUMNS[index]
            out.append(
                _problem(
                    "row.required", col, line, None, "is required but empty", f"fill {col.heading}"
                )
            )
    if header is not None:
        _account_length(v, line, header, out)
        booked = v[_BELEGDATUM]
        if isinstance(booked, date) and not header.datum_vom <= booked <= header.datum_bis:
            out.append(
                _problem(
                    "row.belegdatum_period",
                    COLUMNS[_BELEGDATUM],
                    line,
                    f"{booked:%d%m}",
                    f"Belegdatum {booked:%d.%m.%Y} is outside the batch period "
                    f"{header.datum_vom:%d.%m.%Y}-{header.datum_bis:%d.%m.%Y}",
                    "put the booking into the batch of its period",
                )
            )
    hit = automatic_account_hit(v[_KONTO], v[_GEGENKONTO], v[_BU], automatic_accounts or ())
    if hit is not None:
        where = _KONTO if v[_KONTO] == hit else _GEGENKONTO
        out.append(
            _problem(
                "row.bu_automatic",
                COLUMNS[_BU],
                line,
                v[_BU],
                f"tax key on automatic account {hit} ({COLUMNS[where].heading})",
                "leave BU-Schlüssel empty on automatic accounts (40 cancels the automatic)",
            )
        )
    if any(tuple(v[start:end]) != nones for start, end, nones in _PAIR_SPANS):
        for art, inhalt in _PAIRS:
            a, b = v[art], v[inhalt]
            if (a is None or a == "") != (b is None or b == ""):
                empty = COLUMNS[inhalt if a else art]
                out.append(
                    _problem(
                        "row.pair",
                        empty,
                        line,
                        None,
                        f"{COLUMNS[art].heading} and {COLUMNS[inhalt].heading} "
                        "must be filled together",
                        f"fill {empty.heading} or clear its partner",
                    )
                )
    if v[_LEISTUNG] is not None and v[_ZUORD] is None:
        out.append(
            _problem(
                "row.leistungsdatum",
                COLUMNS[_ZUORD],
                line,
                None,
                "Leistungsdatum is set but Datum Zuord. Steuerperiode is empty",
                "set Datum Zuord. Steuerperiode whenever Leistungsdatum is set",
            )
        )
    _foreign_currency(v, line, header, out)


def _foreign_currency(
    v: Sequence[object], line: int, header: BatchHeader | None, out: list[Problem]
) -> None:
    """DATEV's rule for fields 3-6 (Formatbeschreibung Buchungsstapel, WKZ Umsatz to WKZ
    Basis-Umsatz; see docs/extf.md): Kurs, Basis-Umsatz and WKZ Basis-Umsatz are filled
    together, and always when WKZ Umsatz is a currency other than the batch's (header 22)."""
    fx = [v[i] not in (None, "") for i in _FX]
    currency = v[_WKZ]
    home = header.wkz if header is not None else "EUR"
    if isinstance(currency, str) and currency not in ("", home) and not all(fx):
        empty_col = COLUMNS[_FX[fx.index(False)]]
        out.append(
            _problem(
                "row.fx_foreign",
                empty_col,
                line,
                None,
                f"WKZ Umsatz {currency} is a foreign currency (batch currency {home}) but "
                f"{empty_col.heading} is empty",
                "fill Kurs, Basis-Umsatz and WKZ Basis-Umsatz for a foreign-currency booking",
            )
        )
        return
    if any(fx) and not all(fx):
        empty_col = COLUMNS[_FX[fx.index(False)]]
        out.append(
            _problem(
                "row.fx",
                empty_col,
                line,
                None,
                "Kurs, Basis-Umsatz and WKZ Basis-Umsatz must be filled together",
                f"fill {empty_col.heading} (foreign-currency booking) or clear all three",
            )
        )


_ALL = operator.attrgetter(*COLUMN_ATTRS)
_SPANS = [(start, end, (None,) * (end - start)) for start, end in GROUPS]


def _fast_ok(col: Column) -> Callable[[object], bool]:
    """A cheap test that passes only values ``to_text`` + ``check`` would accept."""
    pattern, kind, max_length = col.pattern, col.kind, col.max_length
    generic_text = pattern.pattern == f".{{0,{max_length}}}"

    if kind is Kind.TEXT:
        control = CONTROL_CHARS.search
        nfc = unicodedata.normalize

        def text_ok(value: object) -> bool:
            if type(value) is not str:
                return False
            if not value.isprintable() and control(value):
                return False
            if not value.isascii():
                value = nfc("NFC", value)
            if len(value) > max_length:
                return False
            return generic_text or pattern.fullmatch(value) is not None

        return text_ok
    if kind is Kind.AMOUNT and col.min_dec == 2:
        positive = col.positive

        def amount_ok(value: object) -> bool:
            if type(value) is not Decimal:
                return False
            text = str(value)
            if text[-3:-2] != ".":
                return False
            text = text.replace(".", ",")
            return pattern.fullmatch(text) is not None and (not positive or text != "0,00")

        return amount_ok
    if kind is Kind.INT and not col.pad:

        def int_ok(value: object) -> bool:
            return type(value) is int and pattern.fullmatch(str(value)) is not None

        return int_ok
    if kind is Kind.FLAG:
        return lambda value: value is True or value is False
    if kind is Kind.TTMM:
        return lambda value: type(value) is date
    if kind is Kind.DATE8:
        return lambda value: type(value) is date and 2000 <= value.year <= 2099

    def slow_ok(value: object) -> bool:
        try:
            return col.check(col.to_text(value)) is None
        except FieldError:
            return False

    return slow_ok


_FAST_OK = tuple(_fast_ok(col) for col in COLUMNS)


def validate_line(
    line: BookingLine,
    header: BatchHeader | None = None,
    *,
    line_number: int = 3,
    encoding: Encoding = "utf-8-sig",
    automatic_accounts: Collection[int] | None = None,
) -> list[Problem]:
    """Problems of one booking model; ``line_number`` is its line in the file (first = 3).

    ``automatic_accounts`` (the client's AM accounts, when known) enables the rule
    "no BU-Schlüssel on automatic accounts".
    """
    out: list[Problem] = []
    cp1252 = encoding == "cp1252"
    values = _ALL(line)
    for start, end, nones in _SPANS:
        if values[start:end] == nones:
            continue
        for index in range(start, end):
            value = values[index]
            if value is None:
                continue
            if _FAST_OK[index](value):
                if cp1252 and type(value) is str and not value.isascii():
                    _check_cp1252(COLUMNS[index], line_number, value, out)
                continue
            _field_problem(COLUMNS[index], value, line_number, out)
    _cross_checks(values, line_number, header, automatic_accounts, out)
    return out


def _field_problem(col: Column, value: object, line: int, out: list[Problem]) -> None:
    """The detailed problem of a value the fast test refused."""
    try:
        text = col.to_text(value)
    except FieldError as err:
        out.append(_col_problem(col, line, repr(value), err, "row.type"))
        return
    err2 = col.check(text)
    if err2 is not None:
        rule = "row.control_char" if "control character" in err2.message else "row.value"
        out.append(_col_problem(col, line, text, err2, rule))


def _check_cp1252(col: Column, line: int, text: str, out: list[Problem]) -> None:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        out.append(
            Problem(
                "row.encoding",
                f"character {char!r} (U+{ord(char):04X}) cannot be written in Windows-1252",
                "write UTF-8 with BOM (the default) or replace the character",
                line,
                col.pos,
                col.heading,
                text,
            )
        )


def validate_batch(
    header: BatchHeader,
    lines: Iterable[BookingLine],
    *,
    encoding: Encoding = "utf-8-sig",
    automatic_accounts: Collection[int] | None = None,
    expected_client_id: str | None = None,
    max_problems: int = 1000,
) -> ValidationReport:
    """Validate a header and its booking models as one file (before writing)."""
    report = ValidationReport(encoding=encoding, max_problems=max_problems)
    report.extend(validate_header(header, expected_client_id=expected_client_id))
    count = 0
    for count, line in enumerate(lines, 1):
        problems = validate_line(
            line,
            header,
            line_number=count + 2,
            encoding=encoding,
            automatic_accounts=automatic_accounts,
        )
        if problems:
            report.extend(problems)
    report.bookings = count
    if count > MAX_BOOKINGS:
        report.add(
            Problem(
                "file.rows",
                f"{count} bookings, DATEV accepts at most {MAX_BOOKINGS} per file",
                "split the batch (ml_connector.formats.extf.split.write_split does)",
            )
        )
    return report


# ---- files ---------------------------------------------------------------------------


def _header_model(fields: Sequence[str]) -> BatchHeader | None:
    """The header model behind valid header fields, or None."""
    if len(fields) != HEADER_FIELD_COUNT:
        return None
    wj, vom, bis = _ymd(fields[12]), _ymd(fields[14]), _ymd(fields[15])
    if not (wj and vom and bis and _stamp_ok(fields[5])):
        return None
    try:
        return BatchHeader(
            beraternummer=int(fields[10]),
            mandantennummer=int(fields[11]),
            wj_beginn=wj,
            sachkontenlaenge=int(fields[13]),
            datum_vom=vom,
            datum_bis=bis,
            festschreibung=fields[20] == "1",
            skr=fields[26],
            erzeugt_am=datetime.strptime(fields[5][:14], "%Y%m%d%H%M%S").replace(
                microsecond=int(fields[5][14:]) * 1000
            ),
            bezeichnung=fields[16],
            diktatkuerzel=fields[17],
            wkz=fields[21],
            herkunft=fields[7],
            exportiert_von=fields[8],
            buchungstyp=int(fields[18]),
            rechnungslegungszweck=int(fields[19]),
            branchenloesung_id=int(fields[27]) if fields[27] else None,
            anwendungsinformation=fields[30],
        )
    except ValueError:
        return None


def resolve_ttmm(text: str, header: BatchHeader) -> date | None:
    """The date a ``TTMM`` Belegdatum means in the period of ``header`` (None if outside)."""
    day, month = int(text[:2]), int(text[2:4])
    for year in sorted({header.datum_vom.year, header.datum_bis.year}):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if header.datum_vom <= candidate <= header.datum_bis:
            return candidate
    return None


def check_row_fields(
    fields: Sequence[str],
    quoted: Sequence[bool],
    line: int,
    header: BatchHeader | None,
    out: list[Problem],
) -> dict[str, object]:
    """Check the fields of one data line; return the values that could be read."""
    values: dict[str, object] = {}
    if len(fields) != len(COLUMNS):
        out.append(
            Problem(
                "row.fields",
                f"{len(fields)} fields, Formatversion 13 has {len(COLUMNS)}",
                "write all 125 fields on every line (124 semicolons)",
                line,
            )
        )
    for col, text, was_quoted in zip(COLUMNS, fields, quoted, strict=False):
        if text and was_quoted and not col.quoted and col.attr != "generalumkehr":
            out.append(
                _problem(
                    "row.quoting",
                    col,
                    line,
                    text,
                    "numeric field in quotes",
                    "write numbers without quotes",
                )
            )
        elif text and not was_quoted and col.quoted:
            out.append(
                _problem(
                    "row.quoting", col, line, text, "text field without quotes", 'write text as "…"'
                )
            )
        if not text:
            continue
        err = col.check(text)
        if err is not None:
            rule = "row.control_char" if "control character" in err.message else "row.value"
            out.append(_col_problem(col, line, text, err, rule))
            values[col.attr] = INVALID
            continue
        if col.kind is Kind.TTMM:
            if header is None:  # no year to resolve against; the header is reported
                values[col.attr] = INVALID
                continue
            resolved = resolve_ttmm(text, header)
            if resolved is None:
                out.append(
                    _problem(
                        "row.belegdatum_period",
                        col,
                        line,
                        text,
                        f"Belegdatum {text[:2]}.{text[2:]} is not a day of the batch period "
                        f"{header.datum_vom:%d.%m.%Y}-{header.datum_bis:%d.%m.%Y}",
                        "put the booking into the batch of its period",
                    )
                )
                values[col.attr] = INVALID
                continue
            values[col.attr] = resolved
            continue
        try:
            values[col.attr] = col.parse(text)
        except FieldError as exc:
            out.append(_col_problem(col, line, text, exc, "row.value"))
            values[col.attr] = INVALID
    return values


def validate_bytes(
    data: bytes,
    *,
    expected_client_id: str | None = None,
    filename: str | None = None,
    automatic_accounts: Collection[int] | None = None,
    max_problems: int = 1000,
) -> ValidationReport:
    """Validate an existing EXTF file given as bytes.

    ``expected_client_id`` (``"BBBBB-MMMMM"``) must then equal header fields 11/12;
    ``filename`` (basename) is checked against DATEV's upload pattern.
    """
    report = ValidationReport(source=filename, max_problems=max_problems)
    if filename is not None and not FILENAME_PATTERN.fullmatch(filename):
        report.add(
            Problem(
                "file.filename",
                f"file name {filename!r} does not match EXTF_ + at most 51 characters + .csv",
                "name the file EXTF_<at most 51 characters>.csv",
                value=filename,
            )
        )
    if len(data) > MAX_BYTES:
        report.add(
            Problem(
                "file.size",
                f"{len(data)} bytes, DATEV accepts at most {MAX_BYTES}",
                "split the batch into several files",
            )
        )
    decoded = decode(data)
    report.encoding = decoded.encoding
    if decoded.utf8_without_bom:
        report.add(
            Problem(
                "file.encoding",
                "UTF-8 without byte-order mark: DATEV reads it as Windows-1252 (umlauts break)",
                "write UTF-8 with BOM or Windows-1252",
            )
        )
    if decoded.undecodable_at is not None:
        report.add(
            Problem(
                "file.encoding",
                f"byte {decoded.undecodable_at} is not valid Windows-1252",
                "write UTF-8 with BOM or valid Windows-1252",
            )
        )
    lines, first_bad_end, _ = split_lines(decoded.text)
    if first_bad_end is not None:
        report.add(
            Problem(
                "file.line_end",
                "line does not end with CR LF",
                "end every line, including the last, with CR LF",
                first_bad_end,
            )
        )
    if len(lines) < 2:
        report.add(
            Problem(
                "file.structure",
                "a Buchungsstapel needs a header line and a headings line",
                "write header, headings and bookings",
            )
        )
        return report
    header = _validate_header_line(lines[0], report, expected_client_id)
    _validate_headings_line(lines[1], report)
    out: list[Problem] = []
    for number, text in enumerate(lines[2:], 3):
        if report.truncated:
            break
        try:
            fields, quoted = split_fields(text)
        except SplitError as exc:
            report.add(
                Problem(
                    "row.quoting",
                    str(exc),
                    'enclose text in "…" and double quotes inside text',
                    number,
                    exc.field,
                    COLUMNS[exc.field - 1].heading if exc.field <= len(COLUMNS) else None,
                )
            )
            continue
        out.clear()
        values = check_row_fields(fields, quoted, number, header, out)
        row = [values.get(attr) for attr in COLUMN_ATTRS]
        _cross_checks(row, number, None, automatic_accounts, out)
        if header is not None:
            _account_length(row, number, header, out)
        report.extend(out)
    report.bookings = max(len(lines) - 2, 0)
    if report.bookings > MAX_BOOKINGS:
        report.add(
            Problem(
                "file.rows",
                f"{report.bookings} bookings, DATEV accepts at most {MAX_BOOKINGS} per file",
                "split the batch into several files",
            )
        )
    return report


def _account_length(
    v: Sequence[object], line: int, header: BatchHeader, out: list[Problem]
) -> None:
    """Sachkonto at most Sachkontenlänge digits, Personenkonto exactly one more."""
    skl = header.sachkontenlaenge
    for index in (_KONTO, _GEGENKONTO):
        account = v[index]
        if isinstance(account, int) and len(str(account)) > skl + 1:
            out.append(
                _problem(
                    "row.account_length",
                    COLUMNS[index],
                    line,
                    account,
                    f"{len(str(account))} digits; with Sachkontenlänge {skl} a Sachkonto has "
                    f"at most {skl} digits and a Personenkonto exactly {skl + 1}",
                    "use the account number as configured in DATEV (no padding)",
                )
            )


def _validate_header_line(
    text: str, report: ValidationReport, expected_client_id: str | None
) -> BatchHeader | None:
    if len(text) > MAX_HEADER_CHARS:
        report.add(
            Problem(
                "header.line_length",
                f"header line has {len(text)} characters, at most {MAX_HEADER_CHARS} allowed",
                "shorten the header texts",
                1,
            )
        )
    try:
        fields, quoted = split_fields(text)
    except SplitError as exc:
        report.add(
            Problem("header.quoting", str(exc), "quote header text fields correctly", 1, exc.field)
        )
        return None
    _check_header_fields(fields, quoted, report, expected_client_id=expected_client_id)
    return _header_model(fields)


def _validate_headings_line(text: str, report: ValidationReport) -> None:
    names = text.split(";")
    if len(names) != len(COLUMNS):
        report.add(
            Problem(
                "headings.count",
                f"{len(names)} column headings, Formatversion 13 has {len(COLUMNS)}",
                "write the 125 headings of Formatversion 13",
                2,
            )
        )
    wrong = 0
    for col, name in zip(COLUMNS, names, strict=False):
        if name.strip('"') not in col.headings:
            wrong += 1
            if wrong <= 5:
                report.add(
                    Problem(
                        "headings.name",
                        f"heading {name!r} where {col.heading!r} belongs",
                        "write the headings of Formatversion 13 in order",
                        2,
                        col.pos,
                        col.heading,
                        name,
                    )
                )
    if wrong > 5:
        report.add(
            Problem(
                "headings.name",
                f"{wrong - 5} more headings differ",
                "write the headings of Formatversion 13 in order",
                2,
            )
        )


def validate_file(
    path: str | os.PathLike[str],
    *,
    expected_client_id: str | None = None,
    automatic_accounts: Collection[int] | None = None,
    max_problems: int = 1000,
    check_filename: bool = True,
) -> ValidationReport:
    """Validate the EXTF file at ``path`` (its name too, unless ``check_filename`` is off)."""
    p = Path(path)
    report = validate_bytes(
        p.read_bytes(),
        expected_client_id=expected_client_id,
        filename=p.name if check_filename else None,
        automatic_accounts=automatic_accounts,
        max_problems=max_problems,
    )
    report.source = str(p)
    return report
