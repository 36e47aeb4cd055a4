"""Property tests: amount, date and text formatting; write -> read round trips."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector.formats.extf.columns import COLUMN_BY_ATTR
from ml_connector.formats.extf.lexer import split_fields
from ml_connector.formats.extf.models import BookingLine
from ml_connector.formats.extf.reader import read_bytes
from ml_connector.formats.extf.render import line_fields, line_renderer, quote
from ml_connector.formats.extf.samples import sample_header
from ml_connector.formats.extf.validate import validate_batch, validate_bytes
from ml_connector.formats.extf.writer import render_bytes

UMSATZ = COLUMN_BY_ATTR["umsatz"]
LEISTUNG = COLUMN_BY_ATTR["leistungsdatum"]
BELEGDATUM = COLUMN_BY_ATTR["belegdatum"]
H = sample_header()

amounts = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2, allow_nan=False
)
texts = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60)
    .map(lambda s: unicodedata.normalize("NFC", s))
    .filter(lambda s: len(s) <= 60)
)


@given(amounts)
def test_amount_text_is_decimal_comma_with_two_decimals_and_parses_back(value: Decimal) -> None:
    text = UMSATZ.to_text(value)
    assert UMSATZ.check(text) is None
    integer, decimals = text.split(",")
    assert len(decimals) == 2
    assert 1 <= len(integer) <= 10
    assert "." not in text
    assert UMSATZ.parse(text) == value


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=1))
def test_amount_with_fewer_decimals_is_padded_not_rounded(value: Decimal) -> None:
    assert UMSATZ.to_text(value) == f"{value:.2f}".replace(".", ",")


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999"), places=3))
def test_amount_with_three_decimals_is_refused_unless_exact(value: Decimal) -> None:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    problems = validate_batch(H, [_booking(umsatz=value)]).problems
    assert bool(problems) == (exponent < -2)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_row_dates_are_ttmmjjjj_and_belegdatum_ttmm(day: date) -> None:
    text = LEISTUNG.to_text(day)
    assert text == day.strftime("%d%m%Y")
    assert LEISTUNG.check(text) is None
    assert LEISTUNG.parse(text) == day
    short = BELEGDATUM.to_text(day)
    assert short == day.strftime("%d%m")
    assert BELEGDATUM.check(short) is None


@given(texts)
def test_text_quoting_roundtrips(text: str) -> None:
    fields, quoted = split_fields("1;" + quote(text) + ";x")
    assert fields == ["1", text, "x"]
    assert quoted == [False, True, False]


def _booking(**changes: object) -> BookingLine:
    base: dict[str, object] = {
        "umsatz": Decimal("1.00"),
        "soll_haben": "S",
        "konto": 1200,
        "gegenkonto": 8400,
        "belegdatum": date(2024, 3, 1),
    }
    base.update(changes)
    return BookingLine(**base)  # type: ignore[arg-type]


belegfeld = st.text(st.sampled_from("0123456789ABCXYZabcxyz$&%*+-/"), max_size=36)
kost = st.text(st.sampled_from("0123456789ABCDEFabcdef "), max_size=36)


@st.composite
def bookings(draw: st.DrawFn) -> BookingLine:
    fields: dict[str, object] = {
        "umsatz": draw(amounts),
        "soll_haben": draw(st.sampled_from(["S", "H"])),
        "konto": draw(st.integers(1, 99999)),
        "gegenkonto": draw(st.integers(1, 99999)),
        "belegdatum": draw(st.dates(min_value=date(2024, 3, 1), max_value=date(2024, 3, 31))),
        # an empty string is written like None (reads back as None), so draw non-empty text
        "buchungstext": draw(st.none() | texts.filter(bool)),
        "belegfeld_1": draw(st.none() | belegfeld.filter(bool)),
        "kost1": draw(st.none() | kost.filter(bool)),
        "bu_schluessel": draw(st.none() | st.from_regex(r"\A[0-9]{1,4}\Z")),
        "festschreibung": draw(st.none() | st.booleans()),
        "generalumkehr": draw(st.none() | st.booleans()),
        "kost_menge": draw(st.none() | st.decimals(min_value=0, max_value=10**9, places=4)),
    }
    if draw(st.booleans()):
        fields["leistungsdatum"] = draw(
            st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
        )
        fields["datum_zuord_steuerperiode"] = date(2024, 3, 1)
    if draw(st.booleans()):
        fields["wkz_umsatz"] = "CHF"
        fields["kurs"] = draw(
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999"), places=6)
        )
        fields["basis_umsatz"] = draw(amounts)
        fields["wkz_basis_umsatz"] = "EUR"
    if draw(st.booleans()):
        fields["zusatzinformation_art_7"] = draw(texts.filter(lambda s: 0 < len(s) <= 20))
        fields["zusatzinformation_inhalt_7"] = draw(texts.filter(bool))
    return BookingLine(**fields)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.lists(bookings(), min_size=1, max_size=5))
def test_write_read_roundtrip_utf8(lines: list[BookingLine]) -> None:
    data = render_bytes(H, lines)
    assert validate_bytes(data).valid
    assert read_bytes(data).lines == lines


@settings(max_examples=40, deadline=None)
@given(st.lists(bookings(), min_size=1, max_size=3))
def test_fast_renderer_equals_reference_rendering(lines: list[BookingLine]) -> None:
    render = line_renderer()
    for booking in lines:
        assert render(booking) == ";".join(line_fields(booking))


cp1252_texts = st.text(
    st.characters(codec="cp1252", blacklist_categories=("Cc", "Cs")), max_size=60
).map(lambda s: unicodedata.normalize("NFC", s))


@settings(max_examples=40, deadline=None)
@given(st.lists(bookings(), min_size=1, max_size=3), cp1252_texts)
def test_write_read_roundtrip_cp1252(lines: list[BookingLine], text: str) -> None:
    lines = [*lines, _booking(buchungstext=text or None)]
    for booking in lines:
        for attr in ("buchungstext", "zusatzinformation_art_7", "zusatzinformation_inhalt_7"):
            value = getattr(booking, attr)
            if value is not None:
                setattr(booking, attr, value.encode("cp1252", "replace").decode("cp1252"))
    lines = [b for b in lines if validate_batch(H, [b], encoding="cp1252").valid]
    data = render_bytes(H, lines, encoding="cp1252")
    assert read_bytes(data).lines == lines


BAD_VALUES: list[tuple[str, object]] = [
    ("umsatz", Decimal("0.00")),
    ("umsatz", Decimal("1.001")),
    ("umsatz", Decimal("-1.00")),
    ("umsatz", Decimal("12345678901.00")),
    ("soll_haben", "s"),
    ("konto", 123456),
    ("konto", 0),
    ("gegenkonto", None),
    ("bu_schluessel", "12345"),
    ("belegdatum", date(2024, 4, 1)),
    ("belegfeld_1", "A B"),
    ("belegfeld_2", "1234567890123"),
    ("buchungstext", "x" * 61),
    ("buchungstext", "a\u2028b"),
    ("kost1", "a-b"),
    ("kurs", Decimal("0")),
    ("wkz_basis_umsatz", "EUR"),
    ("beleginfo_art_3", "Art"),
    ("leistungsdatum", date(2024, 3, 5)),
    ("faelligkeit", date(1999, 1, 1)),
    ("festschreibung", 1),
    ("kost_menge", Decimal("1.12345")),
    ("beteiligtennummer", 12345),
    ("eu_land_ustid", "de123"),
]


@pytest.mark.parametrize("bad", [None, *BAD_VALUES], ids=lambda b: "valid" if b is None else b[0])
@settings(max_examples=15, deadline=None)
@given(booking=bookings())
def test_checked_renderer_agrees_with_the_validator(
    booking: BookingLine, bad: tuple[str, object] | None
) -> None:
    from ml_connector.formats.extf.render import checked_line_renderer
    from ml_connector.formats.extf.validate import validate_line

    if bad is not None:
        setattr(booking, bad[0], bad[1])
    problems = validate_line(booking, H)
    text = checked_line_renderer()(booking, H.sachkontenlaenge + 1, H.datum_vom, H.datum_bis, None)
    assert (text is None) == bool(problems), problems
    if text is not None:
        assert text == ";".join(line_fields(booking))
