"""Writer: layout, quoting, encodings, streaming, all-or-nothing files."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from extf_helpers import line

from ml_connector.formats.extf.lexer import split_fields
from ml_connector.formats.extf.models import BookingLine
from ml_connector.formats.extf.reader import read_bytes
from ml_connector.formats.extf.render import line_fields, line_renderer
from ml_connector.formats.extf.samples import sample_header, sample_lines
from ml_connector.formats.extf.spec import COLUMN_HEADINGS
from ml_connector.formats.extf.validate import InvalidBatchError, validate_bytes
from ml_connector.formats.extf.writer import render_bytes, write_file

H = sample_header()


def test_layout_bom_crlf_semicolons_and_headings() -> None:
    data = render_bytes(H, sample_lines())
    assert data.startswith(b'\xef\xbb\xbf"EXTF";700;21;"Buchungsstapel";13;20240402093000000;')
    text = data[3:].decode("utf-8")
    assert text.endswith("\r\n")
    lines = text.split("\r\n")[:-1]
    assert "\n" not in text.replace("\r\n", "")
    assert lines[1] == ";".join(COLUMN_HEADINGS)
    assert len(lines) == 2 + 21
    assert all(row.count(";") == 124 for row in lines[2:])


def test_field_formatting_per_kind() -> None:
    booking = line(
        umsatz=Decimal("1234.5"),
        kurs=Decimal("0.83"),
        basis_umsatz=Decimal("1487.35"),
        wkz_basis_umsatz="EUR",
        wkz_umsatz="GBP",
        buchungstext='Müller "Top" GmbH',
        leistungsdatum=date(2024, 2, 9),
        datum_zuord_steuerperiode=date(2024, 3, 1),
        festschreibung=True,
        generalumkehr=False,
        kost_menge=Decimal("30"),
    )
    fields = render_bytes(H, [booking])[3:].decode("utf-8").split("\r\n")[2].split(";")
    assert fields[0] == "1234,50"  # decimal comma, two decimals
    assert fields[1] == '"S"'  # text quoted
    assert fields[3] == "0,83"
    assert fields[6] == "10010"  # numbers bare
    assert fields[9] == "0103"  # Belegdatum TTMM with leading zero
    assert fields[13] == '"Müller ""Top"" GmbH"'  # inner quotes doubled
    assert fields[14] == ""  # empty number: nothing
    assert fields[15] == '""'  # empty text: quotes
    assert fields[38] == "30"  # Kost-Menge keeps its scale (DATEV writes 30)
    assert fields[113] == "1"
    assert fields[114] == "09022024"  # other row dates TTMMJJJJ
    assert fields[117] == "0"  # Generalumkehr unquoted like DATEV's sample


def test_text_is_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "Bürobedarf Köln")
    assert decomposed != "Bürobedarf Köln"
    data = render_bytes(H, [line(buchungstext=decomposed)])
    assert '"Bürobedarf Köln"'.encode() in data
    assert unicodedata.normalize("NFD", "ü").encode() not in data


def test_cp1252_encoding_writes_windows_1252_without_bom() -> None:
    data = render_bytes(H, [line(buchungstext="Bürobedarf „Spezial“ 5 €")], encoding="cp1252")
    assert not data.startswith(b"\xef\xbb\xbf")
    assert '"Bürobedarf „Spezial“ 5 €"'.encode("cp1252") in data
    assert read_bytes(data).lines[0].buchungstext == "Bürobedarf „Spezial“ 5 €"
    assert validate_bytes(data).valid


def test_cp1252_unencodable_character_is_an_error_naming_line_column_char() -> None:
    lines = [*sample_lines()[:3], line(buchungstext="Pfeil → rechts")]
    for validate in (True, False):
        with pytest.raises(InvalidBatchError) as info:
            render_bytes(H, lines, encoding="cp1252", validate=validate)
        problem = info.value.problems[0]
        assert (problem.line, problem.column, problem.heading) == (6, 14, "Buchungstext")
        assert "'→'" in str(info.value)
        assert "U+2192" in str(info.value)


def test_cp1252_unencodable_character_in_header_is_located() -> None:
    bad = sample_header()
    bad.bezeichnung = "Ledger ✓"
    with pytest.raises(InvalidBatchError) as info:
        render_bytes(bad, [], encoding="cp1252", validate=False)
    assert (info.value.problems[0].line, info.value.problems[0].column) == (1, 17)


def test_unvalidated_fast_path_produces_the_same_bytes() -> None:
    assert render_bytes(H, sample_lines(), validate=False) == render_bytes(H, sample_lines())


def test_fast_renderer_matches_the_readable_field_list() -> None:
    render = line_renderer()
    for booking in sample_lines():
        assert render(booking).split(";") == line_fields(booking)


def test_unvalidated_path_still_reports_wrong_types_with_location() -> None:
    bad = line(umsatz=12.5)  # a float slipped through
    with pytest.raises(InvalidBatchError) as info:
        render_bytes(H, [bad], validate=False)
    assert (info.value.problems[0].line, info.value.problems[0].column) == (3, 1)


def test_writer_streams_from_an_iterator() -> None:
    consumed = 0

    def lines() -> Iterator[BookingLine]:
        nonlocal consumed
        for booking in sample_lines() * 100:
            consumed += 1
            yield booking

    out = io.BytesIO()
    from ml_connector.formats.extf.writer import write_batch

    assert write_batch(H, lines(), out) == 2100
    assert consumed == 2100
    assert out.getvalue().count(b"\r\n") == 2102


def test_write_file_is_all_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "EXTF_test.csv"
    lines = [*sample_lines(), line(konto=0)]
    with pytest.raises(InvalidBatchError):
        write_file(H, lines, target)
    assert list(tmp_path.iterdir()) == []
    assert write_file(H, sample_lines(), target) == 21
    assert [p.name for p in tmp_path.iterdir()] == ["EXTF_test.csv"]
    assert validate_bytes(target.read_bytes()).valid


def test_reader_roundtrip_of_sample_lines_in_both_encodings() -> None:
    for encoding in ("utf-8-sig", "cp1252"):
        data = render_bytes(H, sample_lines(), encoding=encoding)  # type: ignore[arg-type]
        parsed = read_bytes(data)
        assert parsed.header == H
        assert parsed.lines == sample_lines()


def test_reader_belegdatum_year_across_calendar_years() -> None:
    h = sample_header()
    h.wj_beginn, h.datum_vom, h.datum_bis = date(2024, 7, 1), date(2024, 12, 1), date(2025, 1, 31)
    lines = [line(belegdatum=date(2024, 12, 31)), line(belegdatum=date(2025, 1, 2))]
    parsed = read_bytes(render_bytes(h, lines))
    assert [b.belegdatum for b in parsed.lines] == [date(2024, 12, 31), date(2025, 1, 2)]


def test_split_fields_roundtrip_of_quoted_text() -> None:
    text = 'a;"b ""c"" ; d";;""'
    assert split_fields(text) == (["a", 'b "c" ; d', "", ""], [False, True, False, True])


@pytest.mark.parametrize("validate", [True, False])
def test_bad_line_in_the_middle_of_a_chunk_is_located(validate: bool) -> None:
    lines = [*sample_lines(), *sample_lines(), line(buchungstext=42), *sample_lines()]
    with pytest.raises(InvalidBatchError) as info:
        render_bytes(H, lines, validate=validate)
    assert (info.value.problems[0].line, info.value.problems[0].column) == (45, 14)


@pytest.mark.parametrize("validate", [True, False])
def test_booking_limit_applies_on_both_paths(validate: bool) -> None:
    from ml_connector.formats.extf.writer import write_batch

    with pytest.raises(InvalidBatchError) as info:
        write_batch(H, sample_lines(), io.BytesIO(), validate=validate, max_bookings=20)
    assert info.value.problems[0].rule == "file.rows"
    assert write_batch(H, sample_lines(), io.BytesIO(), validate=validate, max_bookings=21) == 21
