"""The run report shows money: debit and credit per account, held amounts by reason,
and each tie-out group with its amounts."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from mapping_support import make_config, make_row, v_totals

from ml_connector.formats.extf.samples import sample_lines
from ml_connector.mapping.money import MoneyTally, format_money
from ml_connector.mapping.period import Period
from ml_connector.mapping.restatement import reversal_of
from ml_connector.mapping.stream import RunStream

OCTOBER = Period(2026, 10)
NOW = datetime(2026, 11, 2, 8, 0)


def test_money_is_formatted_with_two_decimals_and_thousands_separators() -> None:
    assert format_money(Decimal("1234567.8")) == "1,234,567.80"
    assert format_money(Decimal("-0.5")) == "-0.50"


def test_report_has_debit_and_credit_per_account_and_held_by_reason(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rows = [
        make_row(id="r1", amount=Decimal("1234.50")),  # 1590 debit, 4210 credit
        make_row(id="r2", amount=Decimal("-30.00")),  # 1590 credit, 4210 debit
        make_row(id="r3", account="REV-840", revenue_type="domestic_19", amount=Decimal("50")),
        make_row(id="r4", account="NOPE", amount=Decimal("-20.00")),
        make_row(id="r5", account="NOPE", amount=Decimal("5.00")),
        make_row(id="r6", amount=None),
    ]
    with RunStream(config, "p", OCTOBER, tmp_path / "out", now=NOW) as run:
        run.add_many(rows)
        run.finish(v_totals(rows))
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    money = report["money"]
    accounts = {a["account"]: (a["debit"], a["credit"]) for a in money["accounts"]}
    assert accounts == {1590: ("1234.50", "30.00"), 4210: ("30.00", "1234.50")}
    assert money["totals"] == {"EUR": {"debit": "1264.50", "credit": "1264.50"}}
    held = {h["reason"]: (h["count"], h["amount"], h["without_amount"]) for h in money["held"]}
    assert held == {
        "tax_key_on_automatic_account": (1, "50.00", 0),
        "unmapped_account": (2, "25.00", 0),
        "missing_amount": (1, "0.00", 1),
    }
    assert money["held_amount"] == "75.00"
    text = (tmp_path / "out" / "report.txt").read_text(encoding="utf-8")
    assert "money (EUR): debit 1,264.50, credit 1,264.50" in text
    assert "1,234.50" in text
    assert "unmapped_account: 2 rows, 25.00" in text
    assert "missing_amount: 1 rows, 0.00 (1 without an amount)" in text
    # each tie-out group with its amounts
    assert "2026-10 / OPS-300: Looker 1,204.50 (3), booked 1,204.50 (2), held 0.00 (1)" in text


def test_a_generalumkehr_line_counts_negative_on_its_side() -> None:
    line = sample_lines()[0]
    tally = MoneyTally()
    tally.add_lines([line, reversal_of(line)])
    facts = tally.facts()
    assert {(a.debit, a.credit) for a in facts.accounts} == {(Decimal("0.00"), Decimal("0.00"))}
