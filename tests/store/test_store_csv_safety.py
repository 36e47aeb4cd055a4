"""The audit export's CSV never holds a cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ml_connector.csvsafe import FORMULA_STARTS, safe_cell
from ml_connector.store.audit import AuditEvent, append_events
from ml_connector.store.export import export_trail

ATTACKS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("value", ATTACKS)
def test_formula_starts_are_neutralised(value: str) -> None:
    assert safe_cell(value) == "'" + value


def test_plain_values_and_numbers_stay() -> None:
    assert safe_cell("Miete März") == "Miete März"
    assert safe_cell(-12) == -12
    assert safe_cell(None) is None


def test_export_csv_neutralises_looker_values(store_engine: Engine, tmp_path: Path) -> None:
    events = [
        AuditEvent("row", "r1", {"source": {"text": v}, "rejection": v}, row_key=v) for v in ATTACKS
    ]
    append_events(store_engine, "1-2", events)
    out = tmp_path / "trail.csv"
    export_trail(store_engine, out, fmt="csv")
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
    assert {row[4] for row in rows[1:]} == {"'" + v for v in ATTACKS}
