"""Golden tests against DATEV's own sample file and the other bundled samples."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from extf_helpers import HANDMADE, MUSTER, NONCONFORMING

from ml_connector.formats.extf.lexer import decode, split_fields, split_lines
from ml_connector.formats.extf.reader import read_bytes, read_file
from ml_connector.formats.extf.render import header_line, line_renderer
from ml_connector.formats.extf.validate import InvalidBatchError, validate_bytes, validate_file
from ml_connector.formats.extf.writer import render_bytes


def _data_lines(raw: bytes) -> list[list[str]]:
    lines, _, _ = split_lines(decode(raw).text)
    return [split_fields(text)[0] for text in lines[2:]]


def test_musterdatei_parses_into_models() -> None:
    parsed = read_file(MUSTER)
    assert len(parsed.lines) == 54
    h = parsed.header
    assert (h.beraternummer, h.mandantennummer, h.sachkontenlaenge, h.skr) == (
        29098,
        55003,
        4,
        "03",
    )
    assert (h.wj_beginn, h.datum_vom, h.datum_bis) == (
        date(2024, 1, 1),
        date(2024, 1, 1),
        date(2024, 8, 31),
    )
    assert h.erzeugt_am == datetime(2024, 1, 30, 14, 4, 40, 439000)
    first = parsed.lines[0]
    assert first.umsatz == Decimal("100.18")
    assert first.belegdatum == date(2024, 1, 31)
    assert first.auftragsnummer == "Projekt 4711"
    fx = next(line for line in parsed.lines if line.wkz_umsatz == "CHF")
    assert (fx.kurs, fx.basis_umsatz, fx.wkz_basis_umsatz) == (
        Decimal("1.240402"),
        Decimal("100.00"),
        "EUR",
    )
    assert {line.bu_schluessel for line in parsed.lines} >= {"9", "40", "501", "6501"}
    assert any(line.generalumkehr for line in parsed.lines)


def test_musterdatei_header_line_is_reproduced_byte_for_byte() -> None:
    original = decode(MUSTER.read_bytes()).text.split("\n", 1)[0]
    assert header_line(read_file(MUSTER).header) == original


def test_writing_the_musterdatei_again_reproduces_every_booking_field() -> None:
    """Field for field; the only difference is DATEV's own amount without decimals."""
    raw = MUSTER.read_bytes()
    parsed = read_bytes(raw)
    rewritten = render_bytes(parsed.header, parsed.lines, validate=False)
    before, after = _data_lines(raw), _data_lines(rewritten)
    assert len(before) == len(after) == 54
    differences = [
        (number, column, old, new)
        for number, (old_fields, new_fields) in enumerate(zip(before, after, strict=True), 3)
        for column, (old, new) in enumerate(zip(old_fields, new_fields, strict=True), 1)
        if old != new
    ]
    assert differences == [(5, 1, "64083", "64083,00")]
    assert read_bytes(rewritten).lines == parsed.lines


def test_validator_reports_exactly_the_known_deviations_of_the_musterdatei() -> None:
    report = validate_bytes(MUSTER.read_bytes())
    found = {(p.rule, p.line, p.column) for p in report.problems}
    assert found == {
        ("file.encoding", None, None),  # mirrored copy: UTF-8 without BOM
        ("file.line_end", 1, None),  # mirrored copy: LF line ends
        ("row.value", 5, 1),  # Umsatz 64083 without decimals
        ("row.leistungsdatum", 46, 116),  # Leistungsdatum without Datum Zuord. Steuerperiode
    }
    assert report.bookings == 54


def test_handmade_cp1252_crlf_file_is_valid_and_readable() -> None:
    report = validate_file(HANDMADE, check_filename=False)
    assert report.valid, report.format_text()
    assert report.encoding == "cp1252"
    parsed = read_file(HANDMADE)
    assert len(parsed.lines) == 2
    rewritten = render_bytes(parsed.header, parsed.lines, encoding="cp1252")
    assert _data_lines(rewritten) == _data_lines(HANDMADE.read_bytes())
    assert rewritten.split(b"\r\n")[:2] == HANDMADE.read_bytes().split(b"\r\n")[:2]


def test_renderer_output_equals_readable_field_list_for_every_musterdatei_line() -> None:
    render = line_renderer()
    for booking in read_file(MUSTER).lines:
        assert len(split_fields(render(booking))[0]) == 125


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "oca-l10n-germany_datev_import_example_semicolon.csv",
            {
                ("header.fields", 1, None),
                ("header.value", 1, 3),
                ("header.value", 1, 5),
                ("header.quoting", 1, 1),
                ("headings.count", 2, None),
                ("file.encoding", None, None),
                ("file.line_end", 1, None),
                ("row.fields", 3, None),
                ("row.quoting", 3, 1),
                ("row.quoting", 3, 2),
                ("row.value", 3, 122),
                ("row.required", 93, 1),  # a booking without Umsatz
            },
        ),
        (
            "datev-lint_valid_minimal_700.csv",
            {
                ("header.value", 1, 11),
                ("header.quoting", 1, 12),
                ("headings.name", 2, 2),
                ("file.line_end", 1, None),
                ("row.quoting", 3, None),
            },
        ),
    ],
)
def test_nonconforming_samples_are_rejected_with_located_problems(
    name: str, expected: set[tuple[str, int | None, int | None]]
) -> None:
    report = validate_bytes((NONCONFORMING / name).read_bytes(), max_problems=5000)
    assert not report.valid
    found = {(p.rule, p.line, p.column) for p in report.problems}
    missing = {e for e in expected if e[0] == "row.quoting" and e[2] is None}
    assert expected - missing <= found
    for rule, line_no, _ in missing:
        assert any(p.rule == rule and p.line == line_no for p in report.problems)
    # Belegdatum TTMM without a usable header is not mistaken for a missing value
    assert not any(p.rule == "row.required" and p.column == 10 for p in report.problems)


@pytest.mark.parametrize("name", ["datev-lint_valid_minimal_700.csv"])
def test_reader_refuses_nonconforming_header(name: str) -> None:
    with pytest.raises(InvalidBatchError) as info:
        read_file(NONCONFORMING / name)
    assert info.value.problems[0].line == 1


def test_older_formatversions_are_not_accepted_as_fv13() -> None:
    for name in (
        "ledermann-datev_EXTF_Buchungsstapel_fv9.csv",
        "hrb-tools_EXTF_Buchungsstapel_v510_fv7.csv",
    ):
        report = validate_bytes((MUSTER.parent / name).read_bytes())
        assert ("header.value", 1, 5) in {(p.rule, p.line, p.column) for p in report.problems}
        with pytest.raises(InvalidBatchError):
            read_file(MUSTER.parent / name)
