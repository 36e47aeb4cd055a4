"""Every change the mapping makes to a row's data is recorded, counted and can hold the row;
foreign-currency rows carry what DATEV needs or are held."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from mapping_support import make_config, make_row

from ml_connector.config import LoadedConfig
from ml_connector.config.loader import ConfigFileError
from ml_connector.formats.extf.models import line_to_json
from ml_connector.mapping.mapper import MappedRow, Rejection, RejectReason, RowMapper
from ml_connector.mapping.period import Period
from ml_connector.mapping.stream import RunStream
from ml_connector.mapping.text import DataChangeKind

OCTOBER = Period(2026, 10)
NOW = datetime(2026, 11, 2, 8, 0)


def _map(config: LoadedConfig, **values: object) -> MappedRow | Rejection:
    mapper = RowMapper(
        config.mapping("p"), config.lookups, config.customer_of("p").datev, period=OCTOBER
    )
    return mapper.map_row(make_row(**values))


def _mapped(config: LoadedConfig, **values: object) -> MappedRow:
    outcome = _map(config, **values)
    assert isinstance(outcome, MappedRow), outcome
    # the JSON form (traces, spills, posted records) is the lines', currency columns too
    assert outcome.lines_json == tuple(line_to_json(line) for line in outcome.lines)
    return outcome


def _rejected(config: LoadedConfig, **values: object) -> Rejection:
    outcome = _map(config, **values)
    assert isinstance(outcome, Rejection), outcome
    return outcome


def _kinds(row: MappedRow) -> list[tuple[DataChangeKind, str]]:
    return [(c.kind, c.field) for c in row.changes]


def test_a_clean_row_has_no_changes(tmp_path: Path) -> None:
    row = _mapped(make_config(tmp_path), text="Miete  Oktober ", doc="RE-1")
    assert row.changes == ()


def test_each_change_is_recorded_with_field_before_and_after(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    long_text = "Rechnung Łódź " + "x" * 70
    row = _mapped(config, text=long_text, doc="RE 2026/ä.1")
    assert _kinds(row) == [
        (DataChangeKind.DOCUMENT_NUMBER_CLEANED, "belegfeld_1"),
        (DataChangeKind.CHARACTERS_REPLACED, "buchungstext"),
        (DataChangeKind.TEXT_SHORTENED, "buchungstext"),
    ]
    document, characters, shortened = row.changes
    assert (document.before, document.after) == ("RE 2026/ä.1", "RE-2026/ae-1")
    assert characters.before == long_text
    assert characters.after is not None
    assert characters.after.startswith("Rechnung Lodz ")
    assert shortened.after == row.lines[0].buchungstext
    assert shortened.after is not None
    assert len(shortened.after) == 60
    assert f"{len(long_text)} -> 60" in shortened.note


def test_zero_amount_skip_is_recorded(tmp_path: Path) -> None:
    row = _mapped(make_config(tmp_path), amount=Decimal("0.00"))
    assert row.lines == ()
    assert _kinds(row) == [(DataChangeKind.ZERO_AMOUNT_SKIPPED, "amount")]


@pytest.mark.parametrize(
    ("values", "reason", "field"),
    [
        ({"text": "x" * 61}, RejectReason.TEXT_TOO_LONG, "buchungstext"),
        ({"text": "Emoji \U0001f600"}, RejectReason.INVALID_CHARACTERS, "buchungstext"),
        ({"doc": "RE 1"}, RejectReason.INVALID_CHARACTERS, "belegfeld_1"),
    ],
    ids=["shortened", "replaced", "document-number"],
)
def test_hold_policy_holds_a_row_whose_text_would_change(
    tmp_path: Path, values: dict[str, object], reason: RejectReason, field: str
) -> None:
    config = make_config(tmp_path, mapping_extra='text_changes = "hold"')
    held = _rejected(config, **values)
    assert held.reason is reason
    assert held.field == field
    assert "text_changes = hold" in held.message
    # an unchanged row is booked as usual
    assert _mapped(config).changes == ()


def test_hold_policy_does_not_hold_a_skipped_zero_amount(tmp_path: Path) -> None:
    config = make_config(tmp_path, mapping_extra='text_changes = "hold"')
    assert _mapped(config, amount=Decimal("0")).lines == ()


FX_FIELDS = """
wkz_umsatz = "v.currency"
kurs = { lookup = "eur_rates", key = "v.currency", default = "" }
"""


def test_foreign_currency_row_gets_rate_and_base_amount_from_a_lookup(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra_fields=FX_FIELDS)
    row = _mapped(config, currency="USD", amount=Decimal("108.00"))
    (line,) = row.lines
    assert (line.umsatz, line.wkz_umsatz, line.kurs) == (Decimal("108.00"), "USD", Decimal("1.08"))
    assert (line.basis_umsatz, line.wkz_basis_umsatz) == (Decimal("100.00"), "EUR")
    assert _kinds(row) == [(DataChangeKind.EXCHANGE_AMOUNT_COMPUTED, "basis_umsatz")]


def test_base_amount_from_a_column_is_used_as_given(tmp_path: Path) -> None:
    fields = FX_FIELDS + 'basis_umsatz = "v.amount_eur"\n'
    config = make_config(tmp_path, extra_fields=fields)
    row = _mapped(config, currency="CHF", amount=Decimal("-95.00"), amount_eur=Decimal("-99.99"))
    (line,) = row.lines
    assert (line.basis_umsatz, line.kurs) == (Decimal("99.99"), Decimal("0.95"))
    assert row.changes == ()


def test_euro_row_of_a_currency_mapping_has_no_rate(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra_fields=FX_FIELDS)
    (line,) = _mapped(config, currency="EUR").lines
    assert (line.wkz_umsatz, line.kurs, line.basis_umsatz) == ("EUR", None, None)


def test_foreign_row_without_a_rate_is_held(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra_fields=FX_FIELDS)
    held = _rejected(config, currency="GBP")
    assert held.reason is RejectReason.MISSING_EXCHANGE_RATE
    assert held.field == "kurs"
    assert "GBP" in held.message


def test_row_in_another_currency_without_currency_mapping_is_held(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    held = _rejected(config, currency="USD")
    assert held.reason is RejectReason.CURRENCY_MISMATCH
    assert held.field == "v.currency"
    (line,) = _mapped(config, currency="EUR").lines
    assert line.wkz_umsatz is None


def test_pipeline_in_a_foreign_currency_needs_a_rate(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="need an exchange rate"):
        make_config(tmp_path, mapping_extra='currency = "USD"')
    rate = 'kurs = { constant = "1.08" }\n'
    config = make_config(tmp_path, mapping_extra='currency = "USD"', extra_fields=rate)
    (line,) = _mapped(config, amount=Decimal("10.80")).lines
    assert (line.wkz_umsatz, line.basis_umsatz) == ("USD", Decimal("10.00"))


def test_run_report_counts_changes_and_document_number_collisions(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rows = [
        make_row(id="r1", doc="RE 1", text="x" * 70),
        make_row(id="r2", doc="RE-1"),  # a different source value, same Belegfeld 1
        make_row(id="r3", doc="RE 1"),  # the same source value again: no collision
        make_row(id="r4", doc="RE-4", text="Zahlung \u201equoted\u201c \u2010 Łódź"),
        make_row(id="r5", amount=Decimal("0.00")),
        make_row(id="r6", doc="RE_2", text="y" * 61),
    ]
    with RunStream(config, "p", OCTOBER, tmp_path / "out", now=NOW, trace_rows=True) as run:
        run.add_many(rows)
        done = run.finish()
        traces = {t.row_key: t for t in run.traces()}
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    changes = report["data_changes"]
    assert changes["counts"] == {
        "text_shortened": 2,
        "document_number_cleaned": 3,
        "characters_replaced": 1,
        "zero_amount_skipped": 1,
        "exchange_amount_computed": 0,
        "tax_key_stripped": 0,
    }
    assert changes["rows_changed"] == 5
    assert changes["document_number_collisions"] == 1
    (collision,) = changes["collisions"]
    assert collision["row_key"] == "r2"
    assert (collision["source"], collision["first_source"]) == ("RE-1", "RE 1")
    assert collision["first_row"] == 1
    text = (tmp_path / "out" / "report.txt").read_text(encoding="utf-8")
    assert "2 texts shortened, 3 document numbers cleaned" in text
    assert "1 zero amounts skipped" in text
    assert "1 rows share a cleaned Belegfeld 1" in text
    assert done.facts.data_changes.collisions == 1
    # the row's own record carries its changes (the audit event's booking payload)
    booking = traces["r4"].booking
    assert booking is not None
    (change,) = booking["changes"]
    assert change["kind"] == "characters_replaced"
    assert change["after"] == "Zahlung \u201equoted\u201c - Lodz"
    assert traces["r2"].booking is not None
    assert "changes" not in traces["r2"].booking


def test_tax_key_on_an_automatic_account_holds_the_row(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    held = _rejected(config, account="REV-840", revenue_type="domestic_19")
    assert held.reason is RejectReason.TAX_KEY_ON_AUTOMATIC_ACCOUNT
    assert held.field == "bu_schluessel"
    assert "automatic account 8400" in held.message
    # without a tax key the automatic account books as usual
    assert _mapped(config, account="REV-840").lines[0].gegenkonto == 8400


def test_client_settings_extend_and_shrink_the_standard_list(tmp_path: Path) -> None:
    extra = 'automatic_accounts = ["4200-4210"]\nnot_automatic_accounts = [8400]'
    config = make_config(tmp_path, datev_extra=extra)
    assert _mapped(config, account="REV-840", revenue_type="domestic_19").lines[0].bu_schluessel
    held = _rejected(config, account="OPS-300", revenue_type="domestic_19")
    assert "automatic account 4210" in held.message


def test_bad_automatic_account_setting_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="8920-8925"):
        make_config(tmp_path, datev_extra='automatic_accounts = ["84xx"]')


def test_strip_policy_removes_the_key_and_records_and_counts_it(tmp_path: Path) -> None:
    config = make_config(tmp_path, datev_extra='automatic_accounts_tax_key = "strip"')
    row = _mapped(config, account="REV-840", revenue_type="domestic_19")
    assert row.lines[0].bu_schluessel is None
    (change,) = row.changes
    assert (change.kind, change.field, change.before, change.after) == (
        DataChangeKind.TAX_KEY_STRIPPED,
        "bu_schluessel",
        "3",
        None,
    )
    rows = [
        make_row(id="r1", account="REV-840", revenue_type="domestic_19"),
        make_row(id="r2", account="REV-840", revenue_type="domestic_19"),
        make_row(id="r3"),
    ]
    with RunStream(config, "p", OCTOBER, tmp_path / "out", now=NOW) as run:
        run.add_many(rows)
        done = run.finish()
    assert done.facts.rows_rejected == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["data_changes"]["counts"]["tax_key_stripped"] == 2
    text = (tmp_path / "out" / "report.txt").read_text(encoding="utf-8")
    assert "2 tax keys stripped from automatic accounts" in text


def test_standard_automatic_accounts_follow_a_longer_account_length(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    client = config.customer_of("p").datev.model_copy(update={"account_length": 6})
    assert 840000 in client.automatic_account_set
    assert 8400 not in client.automatic_account_set
