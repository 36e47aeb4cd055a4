"""The safe expression language and text templates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ml_connector.mapping.expressions import (
    ExpressionError,
    ExpressionSyntaxError,
    LookupMissError,
    compile_expression,
)
from ml_connector.mapping.lookups import LookupKind, LookupSet, LookupTable, normalise_key
from ml_connector.mapping.text import compile_template

LOOKUPS = LookupSet(
    tables={
        "factors": LookupTable("factors", LookupKind.VALUE, {"domestic_19": "1.19"}),
        "accounts": LookupTable(
            "accounts", LookupKind.ACCOUNT, {"Gehälter": "4120"}, casefold=True
        ),
    }
)


def ev(source: str, row: dict[str, object] | None = None) -> object:
    return compile_expression(source, variables=frozenset({"period"})).evaluate(
        row or {}, LOOKUPS, {"period": "2026-10"}
    )


def test_decimal_literals_are_exact() -> None:
    assert ev("0.1 + 0.2") == Decimal("0.3")


def test_dotted_names_are_columns() -> None:
    expr = compile_expression("v.amount * 2")
    assert expr.columns == frozenset({"v.amount"})
    assert expr.evaluate({"v.amount": Decimal("1.25")}) == Decimal("2.50")


def test_col_reads_odd_column_names() -> None:
    assert ev('col("odd name") + 1', {"odd name": 1}) == Decimal(2)


def test_lookup_default_and_miss() -> None:
    row = {"t": "domestic_19", "n": None}
    assert ev("lookup('factors', t)", row) == "1.19"
    assert ev("lookup('factors', n, 1)", row) == 1
    with pytest.raises(LookupMissError) as info:
        ev("lookup('factors', 'other')")
    assert info.value.table == "factors"
    assert info.value.key == "other"


def test_lookup_keys_are_nfc_and_casefolded_when_configured() -> None:
    assert ev("lookup('accounts', k)", {"k": "GEHA\u0308LTER "}) == "4120"


def test_round_is_half_up() -> None:
    assert ev("round(2.675, 2)") == Decimal("2.68")
    assert ev("round(-2.675, 2)") == Decimal("-2.68")


def test_functions_and_conditionals() -> None:
    row = {"d": date(2026, 10, 31), "s": "2026-10|IT|OPS", "x": None}
    assert ev("format_date(d, '%m/%Y')", row) == "10/2026"
    assert ev("split_part(s, '|', 1)", row) == "IT"
    assert ev("'none' if is_null(x) else x", row) == "none"
    assert ev("coalesce(x, 'b')", row) == "b"
    assert ev("1 < 2 <= 2 and 'a' in ('a', 'b')") is True
    assert ev("period") == "2026-10"


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "open('x')",
        "a.b()",
        "x[0]",
        "lambda: 1",
        "(1).real",
        "[c for c in x]",
        "round(x, n=2)",
        "a ** 2",
        "f'{x}'",
        "round(*x)",
    ],
)
def test_everything_outside_the_whitelist_is_refused(source: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        compile_expression(source)


def test_syntax_error_names_the_position() -> None:
    with pytest.raises(ExpressionSyntaxError, match="cannot parse"):
        compile_expression("1 +")


@pytest.mark.parametrize(
    ("source", "row"),
    [("a / 0", {"a": 1}), ("missing + 1", {}), ("a + 1", {"a": None}), ("a * 2", {"a": "x"})],
)
def test_evaluation_errors_are_expression_errors(source: str, row: dict[str, object]) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source).evaluate(row)


def test_template_renders_placeholders_braces_and_nfc() -> None:
    template = compile_template("{{GL}} {v.text} {format_date(v.d, '%Y%m')}")
    text = template.render({"v.text": "Pru\u0308fung", "v.d": date(2026, 3, 31)})
    assert text == "{GL} Prüfung 202603"
    assert template.columns == frozenset({"v.text", "v.d"})


@pytest.mark.parametrize("source", ["{unclosed", "close}", "{1 +}"])
def test_bad_templates_are_refused(source: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        compile_template(source)


def test_one_compiled_expression_serves_every_row_on_its_own() -> None:
    expr = compile_expression("round(a * lookup('factors', t, 1), 2) if a > 0 else -a")
    rows = [{"a": Decimal("100"), "t": "domestic_19"}, {"a": Decimal("-5"), "t": None}]
    assert [expr.evaluate(row, LOOKUPS) for row in rows * 2] == [Decimal("119.00"), 5] * 2


def test_only_the_branch_taken_is_evaluated() -> None:
    row = {"x": None, "k": "missing"}
    # the branches not taken would raise a lookup miss or arithmetic on an empty value
    assert ev("'' if is_null(x) else lookup('factors', k)", row) == ""
    assert ev("is_null(x) or x + 1", row) is True
    assert ev("not is_null(x) and x + 1", row) is False
    assert ev("lookup('factors', 'domestic_19', x + 1)", row) == "1.19"
    with pytest.raises(ExpressionError):
        ev("lookup('factors', k, x + 1)", row)


def test_unary_operators_and_chained_comparisons() -> None:
    assert ev("-a", {"a": 2}) == Decimal(-2)
    assert ev("+a", {"a": 2.5}) == Decimal("2.5")
    assert ev("not a", {"a": ""}) is True
    assert ev("1 < a < 3", {"a": 5}) is False
    assert ev("a not in (1, 2)", {"a": 3}) is True


@pytest.mark.parametrize("source", ["v.amount", "col('v.amount')", "period"])
def test_a_bare_column_or_variable_reads_like_any_expression(source: str) -> None:
    row: dict[str, object] = {"v.amount": 1.1, "period": "from the row"}
    value = ev(source, row)
    assert value == ("2026-10" if source == "period" else Decimal("1.1"))
    assert ev(f"({source})", row) == ev(f"{source} if True else None", row) == value
    with pytest.raises(ExpressionError, match="not in the row"):
        ev("v.missing", row)


@pytest.mark.parametrize(
    ("value", "casefold", "expected"),
    [
        ("  Miete\t", False, "Miete"),
        (" MIETE ", True, "miete"),
        (" Gehälter ", True, "gehälter"),
        ("Geha\u0308lter", False, "Gehälter"),
        (Decimal("4120.00"), False, "4120"),
        (Decimal("0.50"), False, "0.50"),
        (date(2026, 1, 2), False, "2026-01-02"),
    ],
)
def test_lookup_keys_are_trimmed_nfc_text(value: object, casefold: bool, expected: str) -> None:
    assert normalise_key(value, casefold=casefold) == expected
