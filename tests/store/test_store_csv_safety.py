"""The audit export's CSV never holds a cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ml_connector.csvsafe import FORMULA_STARTS, safe_cell
from ml_connector.errors import ConfigurationError
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


def _excel_rows(path: Path) -> list[dict[str, str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads umlauts
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def test_excel_export_flattens_json_with_decimal_comma(
    store_engine: Engine, tmp_path: Path
) -> None:
    booked = {
        "source": {"v.amount": "-84006.38", "v.text": "Miete März", "v.formula": "=1+1"},
        "booking": {
            "content_digest": "abc",
            "lines": [{"umsatz": "84006.38", "soll_haben": "H", "konto": 1590, "gegenkonto": 8200}],
            "reversal": [],
            "changes": [
                {"kind": "tax_key_stripped", "field": "bu_schluessel", "before": "3", "after": None}
            ],
        },
        "line": 1,
    }
    held = {"source": {"v.amount": "12.50", "v.text": "x"}, "rejection": "zero_amount"}
    append_events(
        store_engine,
        "1-2",
        [
            AuditEvent("row", "r1", booked, row_key="k1"),
            AuditEvent("row", "r1", held, row_key="k2"),
        ],
    )
    out = tmp_path / "trail.csv"
    assert export_trail(store_engine, out, fmt="csv", excel=True) == 2
    first, second = _excel_rows(out)
    assert first["source.v.amount"] == "-84006,38"
    assert first["source.v.text"] == "Miete März"
    assert first["source.v.formula"] == "'=1+1"
    assert first["booking.umsatz"] == "84006,38"
    assert (first["booking.konto"], first["booking.gegenkonto"]) == ("1590", "8200")
    assert first["changes"] == "tax_key_stripped bu_schluessel: 3 -> None"
    assert second["rejection"] == "zero_amount"
    assert second["booking.umsatz"] == ""
    assert second["source.v.amount"] == "12,50"
    cells = [cell for row in (first, second) for cell in row.values()]
    assert not [c for c in cells if c.startswith(("{", "["))]  # no JSON in a cell


def test_excel_layout_is_only_for_csv(store_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CSV layout"):
        export_trail(store_engine, tmp_path / "t.json", fmt="json", excel=True)
