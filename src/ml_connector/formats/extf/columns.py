"""The rule of every Buchungsstapel column: kind, quoting, length, pattern, conversions.

One :class:`Column` per column of Formatversion 13.  ``to_text`` turns a model value
into the field text (unquoted, before doubling inner quotes) and raises
:class:`FieldError` when the value cannot be written faithfully (a float, an amount
with more decimals than the column has, a wrong type); ``check`` applies the column's
pattern and length to field text; ``parse`` turns field text back into a model value.

Where DATEV's published regular expression contradicts DATEV's own sample file the
rule follows the sample and says so (``Kurs`` below 1, ``Kost-Menge`` without
decimals, one- to four-digit BU-Schlüssel, one- to three-digit Geschäftspartnerbank).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from ml_connector.formats.extf.models import COLUMN_ATTRS
from ml_connector.formats.extf.spec import COLUMN_ALT_HEADINGS, COLUMN_HEADINGS

__all__ = [
    "BELEGFELD_CHARSET",
    "COLUMNS",
    "COLUMN_BY_ATTR",
    "CONTROL_CHARS",
    "Column",
    "FieldError",
    "Kind",
]


class FieldError(ValueError):
    """A value does not fit its column; ``message`` says why, ``hint`` how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Kind(enum.Enum):
    """How a column is written."""

    AMOUNT = "amount"  # Decimal, fixed number of decimals (money, percentages)
    DECIMAL = "decimal"  # Decimal, scale kept within a range (Kurs, Kost-Menge)
    INT = "int"  # accounts, codes
    FLAG = "flag"  # bool written 0/1
    TTMM = "ttmm"  # Belegdatum
    DATE8 = "date8"  # TTMMJJJJ
    TEXT = "text"  # quoted text


#: C0/C1 control characters, DEL and the Unicode line/paragraph separators
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: the characters DATEV allows in Belegfeld 1 and 2
BELEGFELD_CHARSET = "0-9 A-Z a-z $ & % * + - /"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the booking table and the rule it follows."""

    pos: int
    heading: str
    attr: str
    kind: Kind
    max_length: int
    pattern: re.Pattern[str]
    rule: str
    positive: bool = False
    min_dec: int = 0
    max_dec: int = 0
    pad: int = 0

    @property
    def quoted(self) -> bool:
        """Whether the field is written in double quotes."""
        return self.kind is Kind.TEXT

    @property
    def headings(self) -> tuple[str, ...]:
        """The accepted spellings of the heading (sample first)."""
        alt = COLUMN_ALT_HEADINGS.get(self.pos)
        return (self.heading, alt) if alt else (self.heading,)

    def to_text(self, value: object) -> str:
        """Field text for ``value`` (unquoted); :class:`FieldError` if it cannot be written."""
        kind = self.kind
        if kind is Kind.TEXT:
            if not isinstance(value, str):
                raise FieldError(f"text expected, got {type(value).__name__}", "pass a str")
            return unicodedata.normalize("NFC", value)
        if kind is Kind.AMOUNT or kind is Kind.DECIMAL:
            return self._decimal_text(value)
        if kind is Kind.INT:
            if not isinstance(value, int) or isinstance(value, bool):
                raise FieldError(f"integer expected, got {type(value).__name__}", "pass an int")
            return str(value).zfill(self.pad) if self.pad and value >= 0 else str(value)
        if kind is Kind.FLAG:
            if value is True or value is False:
                return "1" if value else "0"
            raise FieldError(f"0/1 flag expected, got {value!r}", "pass True or False")
        if not isinstance(value, date):
            raise FieldError(f"date expected, got {type(value).__name__}", "pass a datetime.date")
        if kind is Kind.TTMM:
            return f"{value.day:02d}{value.month:02d}"
        return f"{value.day:02d}{value.month:02d}{value.year:04d}"

    def _decimal_text(self, value: object) -> str:
        if not isinstance(value, Decimal):
            raise FieldError(
                f"Decimal expected, got {type(value).__name__}",
                "pass money and rates as decimal.Decimal (never float)",
            )
        if not value.is_finite():
            raise FieldError("not a finite number", "pass a finite Decimal")
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > self.max_dec:
            raise FieldError(
                f"{value} has more than {self.max_dec} decimal places",
                f"round to {self.max_dec} decimal places before writing",
            )
        scale = max(self.min_dec, -exponent)
        return format(value, f".{scale}f").replace(".", ",")

    def check(self, text: str) -> FieldError | None:
        """The problem with non-empty field ``text`` (unquoted), or ``None``."""
        if self.kind is Kind.TEXT:
            bad = CONTROL_CHARS.search(text)
            if bad:
                return FieldError(
                    f"control character U+{ord(bad.group()):04X} in text",
                    "remove line breaks, tabs and other control characters",
                )
            if len(text) > self.max_length:
                return FieldError(
                    f"{len(text)} characters, at most {self.max_length} allowed",
                    f"shorten to {self.max_length} characters",
                )
        if not self.pattern.fullmatch(text):
            return FieldError(f"does not match the rule: {self.rule}", f"write {self.rule}")
        if self.positive and not text.strip("0,"):
            return FieldError(
                "must be greater than zero",
                "book a positive amount and express the direction with Soll/Haben",
            )
        return None

    def parse(self, text: str) -> object:
        """Model value for non-empty field ``text``; :class:`FieldError` if impossible."""
        kind = self.kind
        try:
            if kind is Kind.TEXT:
                return text
            if kind is Kind.AMOUNT or kind is Kind.DECIMAL:
                if not re.fullmatch(r"-?\d+(,\d+)?", text):
                    raise ValueError(text)
                return Decimal(text.replace(",", "."))
            if kind is Kind.INT:
                return int(text)
            if kind is Kind.FLAG:
                if text in ("0", "1", "G"):
                    return text != "0"
                raise ValueError(text)
            if kind is Kind.TTMM:
                # the year is resolved from the header by the reader; 2000 is a leap year
                return date(2000, int(text[2:4]), int(text[0:2]))
            return date(int(text[4:8]), int(text[2:4]), int(text[0:2]))
        except (ValueError, InvalidOperation):
            raise FieldError(f"cannot read as {self.rule}", f"write {self.rule}") from None


_D8 = r"(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])20\d\d"
_TEXT_RULES: dict[str, tuple[str, str]] = {
    "soll_haben": ("S|H", '"S" (Soll) or "H" (Haben)'),
    "wkz_umsatz": ("[A-Z]{3}", "a 3-letter ISO currency code"),
    "wkz_basis_umsatz": ("[A-Z]{3}", "a 3-letter ISO currency code"),
    "bu_schluessel": (r"\d{1,4}", "a tax key of 1 to 4 digits"),
    "belegfeld_1": (r"[0-9A-Za-z$&%*+\-/]{0,36}", f"at most 36 of {BELEGFELD_CHARSET}"),
    "belegfeld_2": (r"[0-9A-Za-z$&%*+\-/]{0,12}", f"at most 12 of {BELEGFELD_CHARSET}"),
    "diverse_adressnummer": (r"\w{0,9}", "at most 9 letters or digits"),
    "kost1": (r"[\w ]{0,36}", "at most 36 letters, digits, spaces"),
    "kost2": (r"[\w ]{0,36}", "at most 36 letters, digits, spaces"),
    "eu_land_ustid": (r"[A-Z]{2}[0-9A-Za-z+*]{1,13}", "country code + VAT id, at most 15"),
    "eu_land_ustid_ursprung": (r"[A-Z]{2}[0-9A-Za-z+*]{1,13}", "country code + VAT id, at most 15"),
    "abw_versteuerungsart": ("I|K|P|S", "one of I, K, P, S"),
    "forderungsart": (r"\w{0,10}", "at most 10 letters or digits"),
    "buchungstyp": ("AA|AG|AV|SR|SU|SG|SO", "one of AA, AG, AV, SR, SU, SG, SO"),
    "eu_land_anzahlungen": ("[A-Z]{2}", "a 2-letter country code"),
    "herkunft_kz": ("[A-Z]{2}", "2 upper-case letters"),
    "land": ("[A-Z]{2}", "a 2-letter country code"),
}
_TEXT_LENGTHS: dict[str, int] = {
    "soll_haben": 1,
    "wkz_umsatz": 3,
    "wkz_basis_umsatz": 3,
    "bu_schluessel": 4,
    "belegfeld_1": 36,
    "belegfeld_2": 12,
    "buchungstext": 60,
    "diverse_adressnummer": 9,
    "beleglink": 210,
    "kost1": 36,
    "kost2": 36,
    "eu_land_ustid": 15,
    "abw_versteuerungsart": 1,
    "forderungsart": 10,
    "auftragsnummer": 30,
    "buchungstyp": 2,
    "eu_land_anzahlungen": 2,
    "herkunft_kz": 2,
    "buchungs_guid": 36,
    "sepa_mandatsreferenz": 35,
    "gesellschaftername": 76,
    "identifikationsnummer": 11,
    "zeichnernummer": 20,
    "bezeichnung_sobil_sachverhalt": 30,
    "land": 2,
    "abrechnungsreferenz": 50,
    "eu_land_ustid_ursprung": 15,
}

# name: (kind, max_length, pattern, rule, extra)
_Rule = tuple[Kind, int, str, str, dict[str, int | bool]]


def _amount(int_digits: int, *, positive: bool) -> _Rule:
    rule = f"up to {int_digits} digits, decimal comma, 2 decimals (e.g. 1234,56)"
    pattern = rf"\d{{1,{int_digits}}},\d{{2}}"
    return (
        Kind.AMOUNT,
        int_digits + 3,
        pattern,
        rule,
        {"positive": positive, "min_dec": 2, "max_dec": 2},
    )


def _int(lo: int, hi: int, rule: str, *, nonzero: bool = False, pad: int = 0) -> _Rule:
    pattern = rf"\d{{{lo},{hi}}}"
    if nonzero:
        pattern = rf"(?!0+$){pattern}"
    return (Kind.INT, hi, pattern, rule, {"pad": pad})


_PERCENT = _amount(2, positive=False)
_FLAG: _Rule = (Kind.FLAG, 1, "0|1", "0 or 1", {})
_DATE8: _Rule = (Kind.DATE8, 8, _D8, "a date TTMMJJJJ (year 20xx)", {})
_ACCOUNT = _int(1, 9, "an account number of 1 to 9 digits, not 0", nonzero=True)

_RULES: dict[str, _Rule] = {
    "umsatz": _amount(10, positive=True),
    "kurs": (
        Kind.DECIMAL,
        11,
        r"(?!0+,0+$)\d{1,4},\d{2,6}",
        "a rate > 0 with up to 4 digits and 2 to 6 decimals (e.g. 1,240402)",
        {"positive": True, "min_dec": 2, "max_dec": 6},
    ),
    "basis_umsatz": _amount(10, positive=True),
    "konto": _ACCOUNT,
    "gegenkonto": _ACCOUNT,
    "belegdatum": (Kind.TTMM, 4, r"(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])", "a date TTMM", {}),
    "skonto": _amount(8, positive=True),
    "postensperre": _FLAG,
    "geschaeftspartnerbank": _int(1, 3, "1 to 3 digits"),
    "sachverhalt": _int(1, 2, "1 or 2 digits"),
    "zinssperre": _FLAG,
    "kost_menge": (
        Kind.DECIMAL,
        17,
        r"\d{1,12}(,\d{1,4})?",
        "a quantity with up to 12 digits and up to 4 decimals",
        {"min_dec": 0, "max_dec": 4},
    ),
    "eu_steuersatz": _PERCENT,
    "sachverhalt_ll": _int(1, 3, "1 to 3 digits, not 0", nonzero=True),
    "funktionsergaenzung_ll": _int(1, 3, "1 to 3 digits, not 0", nonzero=True),
    "bu_49_hauptfunktionstyp": _int(1, 1, "1 digit"),
    "bu_49_hauptfunktionsnummer": _int(1, 2, "1 or 2 digits"),
    "bu_49_funktionsergaenzung": _int(1, 3, "1 to 3 digits"),
    "stueck": _int(1, 8, "up to 8 digits"),
    "gewicht": _amount(8, positive=False),
    "zahlweise": _int(1, 2, "1 or 2 digits"),
    "veranlagungsjahr": (Kind.INT, 4, r"20\d\d", "a year 20xx", {}),
    "zugeordnete_faelligkeit": _DATE8,
    "skontotyp": _int(1, 1, "1 digit"),
    "ust_schluessel_anzahlungen": _int(1, 4, "1 to 4 digits"),
    "sachverhalt_ll_anzahlungen": _int(1, 3, "1 to 3 digits, not 0", nonzero=True),
    "eu_steuersatz_anzahlungen": _PERCENT,
    # DATEV's sample writes 0 here for "none"
    "erloeskonto_anzahlungen": (
        Kind.INT,
        8,
        r"0|\d{4,8}",
        "an account of 4 to 8 digits (or 0)",
        {},
    ),
    "kost_datum": _DATE8,
    "skontosperre": _FLAG,
    "beteiligtennummer": _int(4, 4, "4 digits", pad=4),
    "postensperre_bis": _DATE8,
    "kennzeichen_sobil_buchung": _int(1, 2, "1 or 2 digits"),
    "festschreibung": _FLAG,
    "leistungsdatum": _DATE8,
    "datum_zuord_steuerperiode": _DATE8,
    "faelligkeit": _DATE8,
    "generalumkehr": _FLAG,
    "steuersatz": _PERCENT,
    "bvv_position": (Kind.INT, 1, "[1-5]", "one of 1, 2, 3, 4, 5", {}),
    "eu_steuersatz_ursprung": _PERCENT,
    "abw_skontokonto": _ACCOUNT,
}


def _text_rule(attr: str) -> _Rule:
    if attr.startswith(("beleginfo_art_", "zusatzinformation_art_")):
        length = 20
    elif attr.startswith(("beleginfo_inhalt_", "zusatzinformation_inhalt_")):
        length = 210
    else:
        length = _TEXT_LENGTHS[attr]
    pattern, rule = _TEXT_RULES.get(
        attr, (f".{{0,{length}}}", f"text of at most {length} characters")
    )
    return (Kind.TEXT, length, pattern, rule, {})


def _build() -> tuple[Column, ...]:
    columns = []
    for pos, (heading, attr) in enumerate(zip(COLUMN_HEADINGS, COLUMN_ATTRS, strict=True), 1):
        kind, length, pattern, rule, extra = _RULES.get(attr) or _text_rule(attr)
        columns.append(
            Column(
                pos=pos,
                heading=heading,
                attr=attr,
                kind=kind,
                max_length=length,
                pattern=re.compile(pattern),
                rule=rule,
                positive=bool(extra.get("positive", False)),
                min_dec=int(extra.get("min_dec", 0)),
                max_dec=int(extra.get("max_dec", 0)),
                pad=int(extra.get("pad", 0)),
            )
        )
    return tuple(columns)


#: the 125 columns in order (index 0 = column 1)
COLUMNS: tuple[Column, ...] = _build()
#: column by BookingLine attribute name
COLUMN_BY_ATTR: dict[str, Column] = {c.attr: c for c in COLUMNS}
