"""The emulator's own EXTF checks, on DATEV's sample files and on files other tools write."""

from __future__ import annotations

from pathlib import Path

import pytest
from datev_api_support import make_extf

from ml_connector_sandbox.emulators.datev import extf_check
from ml_connector_sandbox.emulators.datev.extf_check import check_extf
from ml_connector_sandbox.emulators.datev.extf_file import read_extf

DATA = Path(__file__).parents[1] / "data" / "extf"
MUSTERDATEI = DATA / "datev-musterdatei_EXTF_Buchungsstapel_fv13.csv"


def header(category: str, name: str, version: int, *, period: bool = True) -> str:
    """A header line per DATEV's header table (31 fields), Berater 29098 / Mandant 55003."""
    dates = "20240101;20240131" if period else ";"
    return (
        f'"EXTF";700;{category};"{name}";{version};20240130140440439;;"RE";"";"";29098;55003;'
        f'20240101;4;{dates};"Stammdaten";"WD";1;0;0;"EUR";;"";;;"03";;;"";""'
    )


def file_of(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def reasons(content: bytes, consultant: int = 29098, client: int = 55003) -> list[str]:
    verdict = check_extf(content, consultant_number=consultant, client_number=client)
    return [f"{name}: {reason}" for name, reason in verdict.affected_elements] + (
        [verdict.detail or ""] if verdict.code and not verdict.affected_elements else []
    )


def test_the_product_validator_is_not_used() -> None:
    source = Path(extf_check.__file__).read_text("utf-8")
    assert "ml_connector.formats.extf" not in source


@pytest.mark.parametrize(
    "path", [MUSTERDATEI, DATA / "handmade" / "minimal_fv13_cp1252_crlf.csv"], ids=lambda p: p.name
)
def test_datev_musterdatei_and_handmade_file_pass(path: Path) -> None:
    verdict = check_extf(path.read_bytes(), consultant_number=29098, client_number=55003)
    assert verdict.ok, verdict.affected_elements
    assert verdict.content is not None
    assert verdict.content.row_count > 0


def test_musterdatei_of_another_client_fails_on_the_numbers() -> None:
    found = reasons(MUSTERDATEI.read_bytes(), consultant=455148, client=1)
    assert any(r.startswith("(11)") for r in found)
    assert any(r.startswith("(12)") for r in found)


def test_format_version_12_is_accepted_and_11_is_not() -> None:
    lines = make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]).split(b"\r\n")
    lines[0] = lines[0].replace(b'"Buchungsstapel";13;', b'"Buchungsstapel";12;')
    lines[2] = lines[2][:-1]  # 124 fields: format version 12 has one column less
    v12 = b"\r\n".join(lines)
    v11 = v12.replace(b'"Buchungsstapel";12;', b'"Buchungsstapel";11;')
    assert check_extf(v12, consultant_number=455148, client_number=1).ok
    assert reasons(v11, 455148, 1) == ["(5) Format version: must be at least 12"]


def test_debitoren_kreditoren_and_kontenbeschriftungen_are_importable() -> None:
    persons = file_of(
        header("16", "Debitoren/Kreditoren", 5, period=False),
        "Konto;Name (Adressatentyp Unternehmen);Unternehmensgegenstand",
        '10000;"Müller GmbH";""',
    )
    labels = file_of(
        header("20", "Kontenbeschriftungen", 3, period=False),
        "Konto;Kontenbeschriftung;Sprach-ID",
        '8400;"Erlöse 19 % USt";"de-DE"',
    )
    assert reasons(persons) == []
    assert reasons(labels) == []


def test_foreign_tool_files_fail_with_datev_reasons() -> None:
    lint = (DATA / "nonconforming" / "datev-lint_valid_minimal_700.csv").read_bytes()
    oca = DATA / "nonconforming" / "oca-l10n-germany_datev_import_example_semicolon.csv"
    fv9 = (DATA / "ledermann-datev_EXTF_Buchungsstapel_fv9.csv").read_bytes()
    assert "(13) Fiscal year begin: must be a date YYYYMMDD" in reasons(lint)
    assert reasons(oca.read_bytes(), 12345, 1234) == [
        "(3) Data category: '22' is not importable here"
    ]
    assert reasons(fv9, 1001, 456) == ["(5) Format version: must be at least 12"]


def test_header_rules() -> None:
    good = header("21", "Buchungsstapel", 13)
    fields = good.split(";")
    swapped = ";".join([*fields[:14], "20240201", "20240101", *fields[16:]])
    reserved = ";".join([*fields[:22], "1", *fields[23:]])
    assert reasons(file_of("x" * 1001)) == [
        "EXTF header: exceeds maximum length of 1000 characters"
    ]
    assert reasons(file_of(swapped)) == ["(15) Date from: DateFrom must not be greater than DateTo"]
    assert reasons(file_of(reserved)) == ["(23) Reserved: must be empty"]
    assert reasons(file_of('"DTVF";700;21')) == [
        "EXTF header: Missing columns in EXTF-header",
        "(1) Label: must be 'EXTF'",
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (("0,00", "S", "1000", "8400", "A"), "line 3 Umsatz"),
        (("1.000,00", "S", "1000", "8400", "A"), "line 3 Umsatz"),
        (("1,00", "X", "1000", "8400", "A"), "line 3 Soll/Haben-Kennzeichen"),
        (("1,00", "S", "10a", "8400", "A"), "line 3 Konto"),
        (("1,00", "S", "1000", "", "A"), "line 3 Gegenkonto"),
        (("1,00", "S", "1000", "8400", "RE 1"), "line 3 Belegfeld 1"),
        (("1,00", "S", "1000", "8400", "A" * 37), "line 3 Belegfeld 1"),
    ],
)
def test_booking_line_rules(row: tuple[str, str, str, str, str], reason: str) -> None:
    found = reasons(make_extf(455148, 1, [row]), 455148, 1)
    assert [r.split(":")[0] for r in found] == [reason]


def test_over_99999_postings_is_an_invalid_file() -> None:
    rows = [("1,00", "S", "1000", "8400", "A")] * (extf_check.MAX_RECORDS + 1)
    verdict = check_extf(make_extf(455148, 1, rows), consultant_number=455148, client_number=1)
    assert (verdict.code, verdict.detail) == ("1008833", "More than 99999 postings")


def test_a_field_over_the_csv_limit_is_an_invalid_file_not_a_crash() -> None:
    content = make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")])
    content += b'1,00;"S";"' + b"x" * 140_000 + b'"\r\n'
    verdict = check_extf(content, consultant_number=455148, client_number=1)
    assert verdict.code == "1008833"
    assert "field larger than field limit" in (verdict.detail or "")


@pytest.mark.parametrize("ending", ["\r\n", "\n", "\r"])
def test_rows_split_at_every_line_ending_and_keep_quoted_line_breaks(ending: str) -> None:
    sample = make_extf(
        455148, 1, [("1,00", "S", "1000", "8400", "A"), ("2,00", "H", "1000", "8400", "B")]
    )
    text = sample.decode("cp1252").replace("\r\n", ending).replace('"Text A"', '"Text\r\nA"')
    content = read_extf(text.encode("cp1252"))
    rows = list(content.rows())
    assert content.row_count == 2
    assert [(r.line, r.fields[0], r.fields[13]) for r in rows] == [
        (3, "1,00", "Text\r\nA"),
        (4, "2,00", "Text B"),
    ]
