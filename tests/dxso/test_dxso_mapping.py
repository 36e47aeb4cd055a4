"""A dxso pipeline maps rows like EXTF and derives one valid DXSO entry per row, or holds it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from dxso_support import BASE, JANUARY, dxso_config, make_row

from ml_connector.config import ConfigFileError, LoadedConfig
from ml_connector.formats.dxso.models import Ledger
from ml_connector.formats.dxso.schemas import entry_problems
from ml_connector.formats.dxso.writer import entry_element
from ml_connector.mapping.mapper import MappedRow, Rejection, RejectReason, RowMapper
from ml_connector.mapping.text import DataChangeKind


def _map(config: LoadedConfig, **values: object) -> MappedRow | Rejection:
    mapper = RowMapper(
        config.mapping("p"), config.lookups, config.customer_of("p").datev, period=JANUARY
    )
    return mapper.map_row(make_row(**values))


def test_receivable_entry_derives_from_the_booking_line(tmp_path: Path) -> None:
    outcome = _map(dxso_config(tmp_path))
    assert isinstance(outcome, MappedRow)
    entry = outcome.dxso
    assert entry is not None
    assert (entry.date, entry.amount, entry.account_no, entry.bp_account_no) == (
        date(2026, 1, 5),
        Decimal("119.00"),
        4000,
        10001,
    )
    assert (entry.bu_code, entry.invoice_id, entry.booking_text) == (
        3,
        "RE-1001",
        "Rechnung RE-1001",
    )
    assert (entry.party_name, entry.due_date) == ("Muster GmbH", date(2026, 2, 4))
    assert (
        entry_problems(Ledger.ACCOUNTS_RECEIVABLE, entry_element(entry, Ledger.ACCOUNTS_RECEIVABLE))
        == []
    )


@pytest.mark.parametrize(
    ("ledger", "amount", "expected"),
    [
        ("accounts_receivable", "119.00", "119.00"),  # debtor debited: invoice
        ("accounts_receivable", "-50.00", "-50.00"),  # debtor credited: credit note
        ("accounts_payable", "-119.00", "119.00"),  # creditor credited: invoice
        ("accounts_payable", "30.00", "-30.00"),  # creditor debited: credit note
    ],
)
def test_sign_follows_the_ledger(tmp_path: Path, ledger: str, amount: str, expected: str) -> None:
    account = 70001 if ledger == "accounts_payable" else 10001
    outcome = _map(dxso_config(tmp_path, ledger), amount=Decimal(amount), debtor=account)
    assert isinstance(outcome, MappedRow)
    assert outcome.dxso is not None
    assert outcome.dxso.amount == Decimal(expected)


def test_missing_invoice_number_is_held_with_the_reason(tmp_path: Path) -> None:
    text = BASE.replace('belegfeld_1 = "inv.id"\n', "")
    outcome = _map(dxso_config(tmp_path, text=text))
    assert isinstance(outcome, Rejection)
    assert outcome.reason is RejectReason.MISSING_INVOICE_ID
    assert outcome.amount == Decimal("119.00")


def test_value_the_xsd_refuses_holds_themake_row(tmp_path: Path) -> None:
    outcome = _map(dxso_config(tmp_path), debtor=4000)  # bpAccountNo must be a personal account
    assert isinstance(outcome, Rejection)
    assert outcome.reason is RejectReason.DXSO_RULE
    assert outcome.field == "bpAccountNo"


def test_unparsable_dxso_field_is_held(tmp_path: Path) -> None:
    outcome = _map(dxso_config(tmp_path), due="next week")
    assert isinstance(outcome, Rejection)
    assert (outcome.reason, outcome.field) == (RejectReason.INVALID_VALUE, "due_date")


def test_long_party_name_is_cut_and_the_change_recorded(tmp_path: Path) -> None:
    outcome = _map(dxso_config(tmp_path), customer="Muster " * 10)
    assert isinstance(outcome, MappedRow)
    assert outcome.dxso is not None
    assert outcome.dxso.party_name is not None
    assert len(outcome.dxso.party_name) <= 50
    assert [c.kind for c in outcome.changes] == [DataChangeKind.TEXT_SHORTENED]


def test_dxso_field_changes_the_content_digest(tmp_path: Path) -> None:
    config = dxso_config(tmp_path)
    first, second = _map(config), _map(config, customer="Other AG")
    assert isinstance(first, MappedRow)
    assert isinstance(second, MappedRow)
    assert first.content_digest != second.content_digest


def test_cash_ledger_refuses_party_fields(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as info:
        dxso_config(tmp_path, "cash")
    assert "exists only for the AP/AR ledgers" in str(info.value)


def test_unknown_dxso_field_is_a_configuration_problem(tmp_path: Path) -> None:
    text = BASE.replace("party_name =", "party_nam =")
    with pytest.raises(ConfigFileError) as info:
        dxso_config(tmp_path, text=text)
    assert "dxso.fields.party_nam" in str(info.value)
