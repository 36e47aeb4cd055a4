"""Row mapping: each mapping kind, the sign rules, and every rejection reason."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from mapping_support import make_config, make_row

from ml_connector.config import LoadedConfig
from ml_connector.formats.extf.models import line_to_json
from ml_connector.mapping.mapper import (
    MappedRow,
    Rejection,
    RejectReason,
    RowMapper,
    content_digest,
)
from ml_connector.mapping.period import Period
from ml_connector.mapping.spec import FieldRule

OCTOBER = Period(2026, 10)


def mapper(config: LoadedConfig, period: Period | None = OCTOBER) -> RowMapper:
    return RowMapper(
        config.mapping("p"), config.lookups, config.customer_of("p").datev, period=period
    )


@pytest.fixture
def config(tmp_path: Path) -> LoadedConfig:
    return make_config(tmp_path)


def mapped(config: LoadedConfig, **values: object) -> MappedRow:
    outcome = mapper(config).map_row(make_row(**values))
    assert isinstance(outcome, MappedRow), outcome
    # the JSON form (traces, spills, posted records) and the digest are the lines'
    assert outcome.lines_json == tuple(line_to_json(line) for line in outcome.lines)
    assert outcome.content_digest == content_digest(outcome.lines)
    return outcome


def rejected(config: LoadedConfig, **values: object) -> Rejection:
    outcome = mapper(config).map_row(make_row(**values))
    assert isinstance(outcome, Rejection), outcome
    return outcome


def test_every_mapping_kind_fills_its_field(config: LoadedConfig) -> None:
    row = mapped(config, revenue_type="domestic_19", account="REV-100", amount=Decimal("-1190"))
    (line,) = row.lines
    assert line.konto == 1590  # constant
    assert line.gegenkonto == 8200  # lookup by GL account number
    assert line.bu_schluessel == "3"  # lookup by revenue type
    assert line.belegdatum == date(2026, 10, 31)  # column
    assert line.belegfeld_1 == "RE-1"  # template
    assert line.kost1 == "100"  # expression with a lookup
    assert line.umsatz == Decimal("1190.00")
    assert line.festschreibung is False  # the client's Festschreibung policy
    assert row.row_key == "r1"


def test_empty_lookup_value_means_no_field(config: LoadedConfig) -> None:
    (line,) = mapped(config, department=None).lines
    assert line.bu_schluessel is None
    assert line.kost1 is None


@pytest.mark.parametrize(
    ("sign", "side", "amount", "expected"),
    [
        ("debit_positive", "konto", "100", "S"),
        ("debit_positive", "konto", "-100", "H"),
        ("debit_positive", "gegenkonto", "100", "H"),
        ("debit_positive", "gegenkonto", "-100", "S"),
        ("credit_positive", "konto", "100", "H"),
        ("credit_positive", "gegenkonto", "100", "S"),
    ],
)
def test_sign_becomes_soll_haben_with_positive_umsatz(
    tmp_path: Path, sign: str, side: str, amount: str, expected: str
) -> None:
    config = make_config(tmp_path, sign=sign, amount_account=side)
    (line,) = mapped(config, amount=Decimal(amount)).lines
    assert line.soll_haben == expected
    assert line.umsatz == Decimal("100.00")


def test_buchungstext_is_nfc_and_truncated(config: LoadedConfig) -> None:
    (line,) = mapped(config, text="Bankgebu\u0308hren " + "x" * 80).lines
    assert line.buchungstext is not None
    assert line.buchungstext.startswith("Bankgebühren")
    assert len(line.buchungstext) == 60


def test_zero_amount_is_skipped_without_lines(config: LoadedConfig) -> None:
    row = mapped(config, amount=Decimal("0.00"))
    assert row.lines == ()


def test_amount_given_as_text_or_int_is_accepted(config: LoadedConfig) -> None:
    assert mapped(config, amount="12.5").lines[0].umsatz == Decimal("12.50")
    assert mapped(config, amount=7).lines[0].umsatz == Decimal("7.00")


def test_row_key_without_key_columns_is_a_digest_of_the_identifying_columns(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, row_key="[]")
    first = mapper(config).row_key(make_row())
    assert first.startswith("sha256:")
    assert mapper(config).row_key(make_row(amount=Decimal("5"))) == first  # amount excluded
    assert mapper(config).row_key(make_row(department="Other")) != first


@pytest.mark.parametrize(
    ("values", "reason", "field"),
    [
        ({"account": "OPS-399"}, RejectReason.UNMAPPED_ACCOUNT, "gegenkonto"),
        ({"department": "Unknown"}, RejectReason.UNMAPPED_COST_CENTER, "kost1"),
        ({"revenue_type": "intra_eu_goods"}, RejectReason.UNMAPPED_TAX_KEY, "bu_schluessel"),
        ({"date": None}, RejectReason.MISSING_DATE, "belegdatum"),
        ({"date": "31.10.2026"}, RejectReason.UNPARSABLE_DATE, "belegdatum"),
        ({"date": date(2026, 9, 30)}, RejectReason.DATE_OUTSIDE_PERIOD, "belegdatum"),
        ({"amount": None}, RejectReason.MISSING_AMOUNT, "amount"),
        ({"amount": "12,50"}, RejectReason.UNPARSABLE_AMOUNT, "amount"),
        ({"amount": Decimal("10.005")}, RejectReason.TOO_MANY_DECIMALS, "amount"),
        ({"amount": Decimal("12345678901")}, RejectReason.AMOUNT_TOO_LARGE, "amount"),
        ({"doc": "A" * 37}, RejectReason.TEXT_TOO_LONG, "belegfeld_1"),
        ({"account": "BIG-1"}, RejectReason.INVALID_ACCOUNT, "gegenkonto"),
        ({"id": None}, RejectReason.MISSING_KEY, "v.id"),
    ],
)
def test_each_rejection_reason(
    config: LoadedConfig, values: dict[str, object], reason: RejectReason, field: str
) -> None:
    rejection = rejected(config, **values)
    assert rejection.reason is reason
    assert rejection.field == field
    assert rejection.message


def test_zero_amount_rejected_when_configured(tmp_path: Path) -> None:
    config = make_config(tmp_path, zero_amounts="reject")
    assert rejected(config, amount=Decimal("0")).reason is RejectReason.ZERO_AMOUNT


def test_text_too_long_rejected_when_configured(tmp_path: Path) -> None:
    config = make_config(tmp_path, text_overflow="reject")
    assert rejected(config, text="x" * 61).reason is RejectReason.TEXT_TOO_LONG


def test_belegfeld_invalid_characters_rejected_when_configured(tmp_path: Path) -> None:
    config = make_config(tmp_path, belegfeld_charset="reject")
    assert rejected(config, doc="RE 1.2").reason is RejectReason.INVALID_CHARACTERS


def test_unmapped_value_and_invalid_value(tmp_path: Path) -> None:
    extra = 'beleginfo_art_1 = { lookup = "labels", key = "v.label" }\nstueck = "v.count / 0"'
    config = make_config(tmp_path, extra_fields=extra)
    assert rejected(config, label="b", count=1).reason is RejectReason.UNMAPPED_VALUE
    assert rejected(config, label="a", count=1).reason is RejectReason.INVALID_VALUE


def test_extf_rule_violations_are_rejections_not_lines(tmp_path: Path) -> None:
    # KOST1 allows letters, digits and spaces only; a raw Looker code with '-' breaks it
    config = make_config(tmp_path, extra_fields='kost2 = "v.cost_center"')
    rejection = rejected(config, cost_center="MUC-BER")
    assert rejection.reason is RejectReason.EXTF_RULE
    assert "KOST2" in rejection.message


def test_duplicate_keys_reject_the_later_rows(config: LoadedConfig) -> None:
    outcomes = mapper(config).map_rows([make_row(), make_row(amount=Decimal("5"))])
    assert isinstance(outcomes[0], MappedRow)
    assert isinstance(outcomes[1], Rejection)
    assert outcomes[1].reason is RejectReason.DUPLICATE_KEY


def test_without_a_period_any_date_is_accepted(config: LoadedConfig) -> None:
    outcome = mapper(config, period=None).map_row(make_row(date=date(2025, 1, 15)))
    assert isinstance(outcome, MappedRow)
    assert outcome.period == Period(2025, 1)


def with_constant_gegenkonto(config: LoadedConfig, value: object) -> RowMapper:
    mapping = config.mapping("p")
    rule = FieldRule(target="gegenkonto", kind="constant", constant=value)
    patched = dataclasses.replace(mapping, fields={**mapping.fields, "gegenkonto": rule})
    return RowMapper(patched, config.lookups, config.customer_of("p").datev)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("4210"), 4210), (Decimal("4.21E+3"), 4210), (4210, 4210), (" 4210 ", 4210)],
)
def test_accounts_from_numbers_or_text(config: LoadedConfig, value: object, expected: int) -> None:
    outcome = with_constant_gegenkonto(config, value).map_row(make_row())
    assert isinstance(outcome, MappedRow), outcome
    assert outcome.lines[0].gegenkonto == expected


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("42.5"), "12a"])
def test_non_account_values_are_rejected(config: LoadedConfig, value: object) -> None:
    outcome = with_constant_gegenkonto(config, value).map_row(make_row())
    assert isinstance(outcome, Rejection)
    assert outcome.reason is RejectReason.INVALID_ACCOUNT


def test_a_key_taken_by_a_rejected_row_is_not_reused(config: LoadedConfig) -> None:
    outcomes = mapper(config).map_rows([make_row(account="OPS-399"), make_row()])
    assert [o.reason for o in outcomes if isinstance(o, Rejection)] == [
        RejectReason.UNMAPPED_ACCOUNT,
        RejectReason.DUPLICATE_KEY,
    ]


def test_the_content_digest_keeps_its_stored_form(config: LoadedConfig) -> None:
    """Posted records store this digest: a new release must compute the same one for the
    same line, or re-running a posted period would book every row again."""
    row = mapped(config, revenue_type="domestic_19", account="REV-100", amount=Decimal("-1190"))
    (line,) = row.lines
    text = "\x1f".join(
        [
            "umsatz=1190.00",
            "soll_haben=H",
            "konto=1590",
            "gegenkonto=8200",
            "bu_schluessel=3",
            "belegdatum=2026-10-31",
            "belegfeld_1=RE-1",
            "buchungstext=Miete Oktober",
            "kost1=100",
            "festschreibung=False",
        ]
    )
    expected = "v2:" + hashlib.sha256(text.encode() + b"\n").hexdigest()[:32]
    assert row.content_digest == expected
    assert content_digest(row.lines) == expected
    reversal = dataclasses.replace(line, generalumkehr=True)  # GU is not content
    assert content_digest((reversal,)) == expected
    assert row.lines_json == (line_to_json(line),)
