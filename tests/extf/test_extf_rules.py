"""One test per checklist rule: a violating value is rejected, naming line and column.

Model cases validate a booking/header before writing (and show the writer refuses
it); file cases corrupt one field of a valid file and validate the bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from extf_helpers import header, line, valid_file, with_field

from ml_connector.formats.extf import validate as validate_module
from ml_connector.formats.extf.automatic import parse_accounts, standard_automatic_accounts
from ml_connector.formats.extf.samples import sample_header, sample_lines
from ml_connector.formats.extf.validate import (
    InvalidBatchError,
    Problem,
    validate_batch,
    validate_bytes,
    validate_header,
)
from ml_connector.formats.extf.writer import write_batch

H = sample_header()


def _assert_located(
    problems: list[Problem], rule: str, line_no: int | None, column: int | None
) -> None:
    matching = [p for p in problems if (p.rule, p.line, p.column) == (rule, line_no, column)]
    assert matching, f"no {rule} at line {line_no} column {column}: {[str(p) for p in problems]}"
    text = str(matching[0])
    if line_no is not None:
        assert f"line {line_no}" in text
    if column is not None:
        assert f"column {column} '" in text
    assert "fix:" in text


# (id, booking changes, expected rule, column); the bad booking is the 2nd line -> line 4
LINE_CASES: list[tuple[str, dict[str, object], str, int]] = [
    ("umsatz-3-decimals", {"umsatz": Decimal("1.234")}, "row.type", 1),
    ("umsatz-11-digits", {"umsatz": Decimal("12345678901.00")}, "row.value", 1),
    ("umsatz-zero", {"umsatz": Decimal("0.00")}, "row.value", 1),
    ("umsatz-negative", {"umsatz": Decimal("-5.00")}, "row.value", 1),
    ("umsatz-float", {"umsatz": 12.5}, "row.type", 1),
    ("soll-haben", {"soll_haben": "X"}, "row.value", 2),
    ("wkz", {"wkz_umsatz": "eur"}, "row.value", 3),
    ("konto-zero", {"konto": 0}, "row.value", 7),
    ("konto-too-long-for-skl", {"konto": 123456}, "row.account_length", 7),
    ("gegenkonto-too-long-for-skl", {"gegenkonto": 1234567}, "row.account_length", 8),
    ("bu-5-digits", {"bu_schluessel": "12345"}, "row.value", 9),
    ("bu-letters", {"bu_schluessel": "A9"}, "row.value", 9),
    ("belegdatum-outside-period", {"belegdatum": date(2024, 4, 1)}, "row.belegdatum_period", 10),
    ("belegfeld1-space", {"belegfeld_1": "RE 2024"}, "row.value", 11),
    ("belegfeld1-umlaut", {"belegfeld_1": "RÄ1"}, "row.value", 11),
    ("belegfeld1-underscore", {"belegfeld_1": "RE_1"}, "row.value", 11),
    ("belegfeld1-37-chars", {"belegfeld_1": "A" * 37}, "row.value", 11),
    ("belegfeld2-13-chars", {"belegfeld_2": "1" * 13}, "row.value", 12),
    ("buchungstext-61", {"buchungstext": "x" * 61}, "row.value", 14),
    ("buchungstext-newline", {"buchungstext": "Zeile 1\nZeile 2"}, "row.control_char", 14),
    ("buchungstext-tab", {"buchungstext": "a\tb"}, "row.control_char", 14),
    (
        "beleginfo-art-21",
        {"beleginfo_art_1": "x" * 21, "beleginfo_inhalt_1": "y"},
        "row.value",
        21,
    ),
    (
        "zusatzinfo-inhalt-211",
        {"zusatzinformation_art_3": "Info", "zusatzinformation_inhalt_3": "y" * 211},
        "row.value",
        53,
    ),
    ("beleginfo-pair", {"beleginfo_art_2": "Beleg"}, "row.pair", 24),
    ("zusatzinfo-pair", {"zusatzinformation_inhalt_20": "nur Inhalt"}, "row.pair", 86),
    ("kost1-37", {"kost1": "K" * 37}, "row.value", 37),
    ("kost2-charset", {"kost2": "A;B"}, "row.value", 38),
    ("eu-ustid-16", {"eu_land_ustid": "DE12345678901234"}, "row.value", 40),
    (
        "leistungsdatum-year-19xx",
        {"leistungsdatum": date(1999, 3, 1), "datum_zuord_steuerperiode": date(2024, 3, 1)},
        "row.value",
        115,
    ),
    (
        "leistungsdatum-without-zuord",
        {"leistungsdatum": date(2024, 2, 1)},
        "row.leistungsdatum",
        116,
    ),
    ("fx-incomplete", {"kurs": Decimal("0.96")}, "row.fx", 5),
    ("fx-foreign-without-rate", {"wkz_umsatz": "CHF"}, "row.fx_foreign", 4),
    (
        "fx-foreign-without-base-amount",
        {"wkz_umsatz": "USD", "kurs": Decimal("1.08"), "wkz_basis_umsatz": "EUR"},
        "row.fx_foreign",
        5,
    ),
    (
        "kurs-7-decimals",
        {"kurs": Decimal("1.1234567"), "basis_umsatz": Decimal("1.00"), "wkz_basis_umsatz": "EUR"},
        "row.type",
        4,
    ),
    ("festschreibung-not-flag", {"festschreibung": 2}, "row.type", 114),
    ("generalumkehr-not-flag", {"generalumkehr": "ja"}, "row.type", 118),
    ("required-missing", {"gegenkonto": None}, "row.required", 8),
    ("text-not-str", {"buchungstext": 42}, "row.type", 14),
]


@pytest.mark.parametrize(
    ("changes", "rule", "column"), [c[1:] for c in LINE_CASES], ids=[c[0] for c in LINE_CASES]
)
def test_booking_rule_rejects_violation_with_line_and_column(
    changes: dict[str, object], rule: str, column: int
) -> None:
    bad = line(**changes)
    lines = [sample_lines()[1], bad]
    report = validate_batch(H, lines)
    _assert_located(report.problems, rule, 4, column)
    with pytest.raises(InvalidBatchError) as info:
        write_batch(H, lines, io.BytesIO())
    _assert_located(info.value.problems, rule, 4, column)
    assert "line 4" in str(info.value)


def test_foreign_currency_with_rate_and_base_amount_is_valid() -> None:
    # DATEV's Musterdatei books 124,00 CHF at Kurs 1,240402 as 100,00 EUR
    fx = line(
        umsatz=Decimal("124.00"),
        wkz_umsatz="CHF",
        kurs=Decimal("1.240402"),
        basis_umsatz=Decimal("100.00"),
        wkz_basis_umsatz="EUR",
    )
    assert validate_batch(H, [fx]).problems == []
    # the batch currency itself needs no rate
    assert validate_batch(H, [line(wkz_umsatz="EUR")]).problems == []


def test_no_tax_key_on_automatic_accounts() -> None:
    bad = line(gegenkonto=8400, bu_schluessel="9")
    report = validate_batch(H, [bad], automatic_accounts={8400})
    _assert_located(report.problems, "row.bu_automatic", 3, 9)
    # 40 cancels the automatic and is allowed; without an AM list the rule is off
    assert validate_batch(
        H, [line(gegenkonto=8400, bu_schluessel="40")], automatic_accounts={8400}
    ).valid
    assert validate_batch(H, [bad]).valid


def test_write_batch_validates_cp1252_characters_before_writing() -> None:
    report = validate_batch(H, [line(buchungstext="Pfeil → rechts")], encoding="cp1252")
    _assert_located(report.problems, "row.encoding", 3, 14)
    assert "U+2192" in report.problems[0].message


# (id, header changes, rule, column)
HEADER_CASES: list[tuple[str, dict[str, object], str, int]] = [
    ("wj-beginn-other-fiscal-year", {"wj_beginn": date(2023, 1, 1)}, "header.fiscal_year", 13),
    ("period-crosses-fiscal-year", {"datum_bis": date(2025, 1, 31)}, "header.fiscal_year", 13),
    (
        "datum-vom-after-bis",
        {"datum_vom": date(2024, 3, 31), "datum_bis": date(2024, 3, 1)},
        "header.period",
        15,
    ),
    ("beraternummer-range", {"beraternummer": 999}, "header.value", 11),
    ("mandantennummer-range", {"mandantennummer": 100000}, "header.value", 12),
    ("sachkontenlaenge", {"sachkontenlaenge": 9}, "header.value", 14),
    ("bezeichnung-31", {"bezeichnung": "B" * 31}, "header.value", 17),
    ("bezeichnung-charset", {"bezeichnung": "März; April"}, "header.value", 17),
    ("diktatkuerzel", {"diktatkuerzel": "wd"}, "header.value", 18),
    ("buchungstyp", {"buchungstyp": 2}, "header.value", 19),
    ("rechnungslegungszweck", {"rechnungslegungszweck": 30}, "header.value", 20),
    ("wkz", {"wkz": "USD"}, "header.value", 22),
    ("skr-empty", {"skr": ""}, "header.value", 27),
    ("herkunft-3", {"herkunft": "ABC"}, "header.value", 8),
    ("exportiert-von-26", {"exportiert_von": "x" * 26}, "header.value", 9),
    ("anwendungsinformation-17", {"anwendungsinformation": "x" * 17}, "header.value", 31),
    ("branchenloesung-5-digits", {"branchenloesung_id": 12345}, "header.value", 28),
]


@pytest.mark.parametrize(
    ("changes", "rule", "column"), [c[1:] for c in HEADER_CASES], ids=[c[0] for c in HEADER_CASES]
)
def test_header_rule_rejects_violation_with_line_and_column(
    changes: dict[str, object], rule: str, column: int
) -> None:
    bad = header(**changes)
    _assert_located(validate_header(bad), rule, 1, column)
    with pytest.raises(InvalidBatchError):
        write_batch(bad, [], io.BytesIO())


def test_header_client_id_must_match_the_upload_target() -> None:
    _assert_located(validate_header(H, expected_client_id="29098-55004"), "header.client_id", 1, 12)
    _assert_located(validate_header(H, expected_client_id="12345-55003"), "header.client_id", 1, 11)
    assert validate_header(H, expected_client_id="29098-55003") == []
    report = validate_bytes(valid_file(), expected_client_id="29098-1")
    _assert_located(report.problems, "header.client_id", 1, 12)


# (id, line, column, raw field text, rule, reported column)
FILE_CASES: list[tuple[str, int, int, str, str, int | None]] = [
    ("kennzeichen", 1, 1, '"DTVF"', "header.value", 1),
    ("versionsnummer", 1, 2, "510", "header.value", 2),
    ("formatkategorie", 1, 3, "16", "header.value", 3),
    ("formatname", 1, 4, '"Debitoren/Kreditoren"', "header.value", 4),
    ("formatversion", 1, 5, "12", "header.value", 5),
    ("erzeugt-am-16-digits", 1, 6, "2024040209300000", "header.value", 6),
    ("importiert-not-empty", 1, 7, "1", "header.value", 7),
    ("importiert-von-not-empty", 1, 10, '"X"', "header.value", 10),
    ("wj-beginn-invalid", 1, 13, "20241301", "header.value", 13),
    ("festschreibung-empty", 1, 21, "", "header.value", 21),
    ("reserved-23", 1, 23, "x", "header.value", 23),
    ("derivatskennzeichen", 1, 24, '"D"', "header.value", 24),
    ("reserved-29", 1, 29, "1", "header.value", 29),
    ("reserved-30", 1, 30, '"x"', "header.value", 30),
    ("header-text-unquoted", 1, 22, "EUR", "header.quoting", 22),
    ("header-number-quoted", 1, 14, '"4"', "header.quoting", 14),
    ("heading-wrong", 2, 7, "Kontonummer", "headings.name", 7),
    ("umsatz-one-decimal", 3, 1, "1190,0", "row.value", 1),
    ("umsatz-thousands-dot", 3, 1, "1.190,00", "row.value", 1),
    ("umsatz-decimal-point", 3, 1, "1190.00", "row.value", 1),
    ("umsatz-quoted", 3, 1, '"1190,00"', "row.quoting", 1),
    ("soll-haben-unquoted", 3, 2, "S", "row.quoting", 2),
    ("konto-letters", 3, 7, "12a4", "row.value", 7),
    ("konto-too-long-for-skl", 3, 7, "100100", "row.account_length", 7),
    ("belegdatum-3-digits", 3, 10, "103", "row.value", 10),
    ("belegdatum-invalid-day", 3, 10, "3202", "row.value", 10),
    ("belegdatum-outside-period", 3, 10, "0104", "row.belegdatum_period", 10),
    ("belegfeld1-dot", 3, 11, '"AR.2024"', "row.value", 11),
    ("buchungstext-61", 3, 14, '"' + "x" * 61 + '"', "row.value", 14),
    ("buchungstext-tab", 3, 14, '"a\tb"', "row.control_char", 14),
    ("text-stray-quote", 3, 14, '"Müller "GmbH"', "row.quoting", 14),
    ("leistungsdatum-iso", 3, 115, "2024-03-01", "row.value", 115),
    ("festschreibung-2", 3, 114, "2", "row.value", 114),
    ("generalumkehr-2", 3, 118, "2", "row.value", 118),
    ("kost-menge-5-decimals", 3, 39, "1,12345", "row.value", 39),
]


@pytest.mark.parametrize(
    ("line_no", "column", "raw", "rule", "reported"),
    [c[1:] for c in FILE_CASES],
    ids=[c[0] for c in FILE_CASES],
)
def test_file_rule_rejects_violation_with_line_and_column(
    line_no: int, column: int, raw: str, rule: str, reported: int | None
) -> None:
    data = with_field(valid_file(), line_no, column, raw)
    report = validate_bytes(data)
    assert not report.valid
    _assert_located(report.problems, rule, line_no, reported)


def test_valid_file_has_no_problems() -> None:
    report = validate_bytes(
        valid_file(), filename="EXTF_sample.csv", expected_client_id="29098-55003"
    )
    assert report.valid, report.format_text()
    assert report.bookings == 21


def _replace_line(data: bytes, line_no: int, edit: Callable[[str], str]) -> bytes:
    lines = data[3:].decode("utf-8").split("\r\n")
    lines[line_no - 1] = edit(lines[line_no - 1])
    return data[:3] + "\r\n".join(lines).encode("utf-8")


def test_header_needs_31_fields() -> None:
    data = _replace_line(valid_file(), 1, lambda text: text.rsplit(";", 1)[0])
    _assert_located(validate_bytes(data).problems, "header.fields", 1, None)


def test_header_line_at_most_1000_characters() -> None:
    data = with_field(valid_file(), 1, 31, '"' + "x" * 1000 + '"')
    _assert_located(validate_bytes(data).problems, "header.line_length", 1, None)


def test_headings_need_125_columns() -> None:
    data = _replace_line(valid_file(), 2, lambda text: text.rsplit(";", 1)[0])
    _assert_located(validate_bytes(data).problems, "headings.count", 2, None)


def test_rows_need_125_fields() -> None:
    data = _replace_line(valid_file(), 5, lambda text: text + ";")
    _assert_located(validate_bytes(data).problems, "row.fields", 5, None)


def test_lines_must_end_with_crlf() -> None:
    data = valid_file().replace(b"\r\n", b"\n")
    _assert_located(validate_bytes(data).problems, "file.line_end", 1, None)
    data = valid_file().removesuffix(b"\r\n")
    _assert_located(validate_bytes(data).problems, "file.line_end", 23, None)


def test_utf8_without_bom_is_rejected_cp1252_and_bom_are_accepted() -> None:
    data = valid_file()
    assert data.startswith(b"\xef\xbb\xbf")
    problems = validate_bytes(data[3:]).problems
    assert [p.rule for p in problems] == ["file.encoding"]
    text = data[3:].decode("utf-8")
    assert validate_bytes(text.encode("cp1252")).valid


def test_file_size_and_booking_count_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    assert validate_module.MAX_BOOKINGS == 99_999
    assert validate_module.MAX_BYTES == 50 * 1024 * 1024
    monkeypatch.setattr(validate_module, "MAX_BOOKINGS", 20)
    monkeypatch.setattr(validate_module, "MAX_BYTES", 5000)
    rules = {p.rule for p in validate_bytes(valid_file()).problems}
    assert {"file.rows", "file.size"} <= rules


def test_write_batch_refuses_more_bookings_than_the_limit() -> None:
    with pytest.raises(InvalidBatchError) as info:
        write_batch(H, sample_lines(), io.BytesIO(), max_bookings=20)
    assert info.value.problems[0].rule == "file.rows"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("EXTF_x.csv", True),
        ("EXTF_" + "a" * 51 + ".csv", True),
        ("EXTF_" + "a" * 52 + ".csv", False),
        ("extf_x.csv", False),
        ("EXTF_x.txt", False),
    ],
)
def test_filename_pattern(name: str, ok: bool) -> None:
    problems = validate_bytes(valid_file(), filename=name).problems
    assert (not problems) == ok
    if not ok:
        assert problems[0].rule == "file.filename"


def test_standard_automatic_account_lists_ship_with_the_package() -> None:
    skr03 = standard_automatic_accounts("SKR03")
    skr04 = standard_automatic_accounts("SKR04")
    assert {8300, 8400, 8920, 8925, 3400} <= skr03
    assert {4300, 4400, 5400} <= skr04
    assert 8200 not in skr03  # an ordinary revenue account takes a tax key
    assert parse_accounts(["8920-8922", 8400]) == {8400, 8920, 8921, 8922}
    with pytest.raises(ValueError, match="not an account number"):
        parse_accounts(["8925-8920"])


def test_generalumkehr_keys_are_allowed_on_automatic_accounts() -> None:
    am = standard_automatic_accounts("SKR03")
    assert validate_batch(
        H, [line(gegenkonto=8400, bu_schluessel="20")], automatic_accounts=am
    ).valid
    bad = validate_batch(H, [line(konto=8400, bu_schluessel="3")], automatic_accounts=am)
    _assert_located(bad.problems, "row.bu_automatic", 3, 9)


@pytest.mark.parametrize("key", ["3", "9", "40", "20", "21", "2", None])
@pytest.mark.parametrize("accounts", [(8400, 1200), (1200, 8400), (1200, 1300)])
def test_the_validating_writer_applies_the_one_automatic_account_rule(
    key: str | None, accounts: tuple[int, int]
) -> None:
    booking = line(bu_schluessel=key, konto=accounts[0], gegenkonto=accounts[1])
    report = validate_batch(H, [booking], automatic_accounts={8400})
    assert [p.rule for p in report.problems] == (
        ["row.bu_automatic"] if 8400 in accounts and key in ("3", "9", "2") else []
    )
    if not report.problems:
        write_batch(H, [booking], io.BytesIO(), automatic_accounts={8400})
        return
    with pytest.raises(InvalidBatchError) as info:
        write_batch(H, [booking], io.BytesIO(), automatic_accounts={8400})
    assert info.value.problems == report.problems
