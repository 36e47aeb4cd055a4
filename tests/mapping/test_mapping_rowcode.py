"""The generated per-mapping field function gives what the rules give one by one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from mapping_support import make_config, make_row

from ml_connector.mapping.mapper import RowMapper, _Reject
from ml_connector.mapping.period import Period
from ml_connector.mapping.text import DataChange

ROWS = [
    {},
    {"text": "Cafe\u0301  Mu\u0308nchen\t"},  # NFC, spaces and a tab to clean
    {"text": "x" * 80},  # Buchungstext longer than 60
    {"doc": "RE 1/ä?"},  # Belegfeld 1 characters outside its set
    {"department": None, "revenue_type": "domestic_19"},
    {"account": "NOPE"},  # unmapped account
    {"revenue_type": "unknown"},  # a lookup miss
    {"date": "2026-10-05"},
    {"date": "not a date"},
    {"doc": 12.5},  # a float column (read as its Decimal)
    {"text": "   "},
]


def _outcome(function: object, row: dict[str, object]) -> object:
    changes: list[DataChange] = []
    try:
        values = function(row, changes)  # type: ignore[operator]
    except _Reject as exc:
        return ("held", exc.reason, exc.field, exc.message, exc.value)
    return values, changes


def _rule_by_rule(mapper: RowMapper, row: dict[str, object], changes: list[DataChange]) -> object:
    values: dict[str, object] = {}
    for name, rule in mapper.mapping.fields.items():
        value = mapper._raw(rule, row)
        blank = isinstance(value, str) and name != "buchungstext" and not value.strip()
        values[name] = None if value is None or blank else mapper._convert[name](value, changes)
    return values


@pytest.mark.parametrize(
    "settings", [{}, {"text_overflow": "reject", "belegfeld_charset": "reject"}]
)
@pytest.mark.parametrize("values", ROWS)
def test_generated_fields_equal_the_rules_one_by_one(
    tmp_path: Path, settings: dict[str, str], values: dict[str, object]
) -> None:
    config = make_config(tmp_path, **settings)
    mapper = RowMapper(
        config.mapping("p"), config.lookups, config.customer_of("p").datev, period=Period(2026, 10)
    )
    row = make_row(**values)
    generated = _outcome(mapper._fields, row)
    assert generated == _outcome(lambda r, c: _rule_by_rule(mapper, r, c), row)


def test_a_missing_column_is_an_invalid_value(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    mapper = RowMapper(config.mapping("p"), config.lookups, config.customer_of("p").datev)
    row = make_row()
    del row["v.date"]
    with pytest.raises(_Reject) as held:
        mapper._fields(row, [])
    assert held.value.field == "belegdatum"
    assert held.value.message == "column 'v.date' is not in the row"
    assert mapper._fields(make_row(), [])["belegdatum"] == date(2026, 10, 31)
