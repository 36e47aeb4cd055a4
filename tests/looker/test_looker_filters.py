"""Filter expressions: literals the client writes match exactly the value they came from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ml_connector.looker import filter_literal
from ml_connector_sandbox.emulators.looker.filters import FilterError, compile_filter

TODAY = date(2026, 11, 27)


@given(value=st.text(max_size=20), other=st.text(max_size=20))
def test_string_literal_matches_only_its_value(value: str, other: str) -> None:
    assume(value != "")
    pred = compile_filter(filter_literal(value), "string")
    assert pred(value)
    assert pred(other) == (other == value)
    assert not pred(None)


@given(value=st.decimals(min_value=-(10**15), max_value=10**15, places=2))
def test_number_literal_round_trips(value: Decimal) -> None:
    pred = compile_filter(filter_literal(value), "number")
    assert pred(value)
    assert not pred(value + Decimal("0.01"))


@given(value=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)))
def test_date_literal_round_trips(value: date) -> None:
    pred = compile_filter(filter_literal(value), "date")
    assert pred(value)
    assert not pred(date.fromordinal(value.toordinal() + 1))


@pytest.mark.parametrize("word", ["NULL", "empty", " Null "])
def test_keywords_as_values_stay_literal(word: str) -> None:
    pred = compile_filter(filter_literal(word), "string")
    assert pred(word)
    assert not pred(None)


def test_null_literal() -> None:
    pred = compile_filter(filter_literal(None), "string")
    assert pred(None)
    assert not pred("")


@pytest.mark.parametrize(
    ("expr", "yes", "no"),
    [
        ("last 3 months", [date(2026, 8, 1), date(2026, 10, 31)], [date(2026, 11, 1)]),
        ("3 months", [date(2026, 9, 1), date(2026, 11, 30)], [date(2026, 8, 31)]),
        ("this month", [date(2026, 11, 1)], [date(2026, 10, 31)]),
        ("last month", [date(2026, 10, 15)], [date(2026, 11, 1)]),
        ("2026-10, 2024-11", [date(2024, 11, 30), date(2026, 10, 1)], [date(2025, 11, 1)]),
        ("NOT NULL", [date(2026, 1, 1)], [None]),
    ],
)
def test_date_expressions(expr: str, yes: list[date | None], no: list[date | None]) -> None:
    pred = compile_filter(expr, "date", today=TODAY)
    assert all(pred(v) for v in yes)
    assert not any(pred(v) for v in no)


@pytest.mark.parametrize(
    ("expr", "yes", "no"),
    [
        ("1,2,3", [1, 3], [4]),
        (">100", [101], [100, None]),
        ("[1,10)", [1, 9], [10, 0]),
        ("(1,10]", [10], [1]),
        ("1 to 10", [1, 10], [11]),
        ("NOT 5", [4], [5, None]),
        ("!=5", [6], [5]),
        (">=1 AND <3", [1, 2], [3]),
        ("[1,2], 7", [1, 7], [5]),
    ],
)
def test_number_expressions(expr: str, yes: list[int], no: list[int | None]) -> None:
    pred = compile_filter(expr, "number")
    assert all(pred(Decimal(v)) for v in yes)
    assert not any(pred(None if v is None else Decimal(v)) for v in no)


@pytest.mark.parametrize(
    ("expr", "yes", "no"),
    [
        ("foo%", ["foobar", "foo"], ["afoo"]),
        ("%bar", ["foobar"], ["bara"]),
        ("-foo", ["bar", None], ["foo"]),
        ("foo,-foo", [], ["foo", "x"]),
        ("EMPTY", ["", None], ["x"]),
        ("-EMPTY", ["x"], ["", None]),
        ("a^,b", ["a,b"], ["a", "b"]),
        ("50^%", ["50%"], ["500"]),
        ("^-x", ["-x"], ["x"]),
    ],
)
def test_string_expressions(expr: str, yes: list[str | None], no: list[str | None]) -> None:
    pred = compile_filter(expr, "string")
    assert all(pred(v) for v in yes)
    assert not any(pred(v) for v in no)


def test_bad_expressions_are_refused() -> None:
    with pytest.raises(FilterError):
        compile_filter("lots", "number")
    with pytest.raises(FilterError):
        compile_filter("someday", "date")
