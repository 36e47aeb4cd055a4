"""Hostile rows files and expressions end as one clear error or one rejected row."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_connector.errors import DataError
from ml_connector.examples import demo_config_path
from ml_connector.interfaces.cli import main
from ml_connector.mapping.expressions import (
    ExpressionError,
    ExpressionSyntaxError,
    compile_expression,
)
from ml_connector.mapping.rows import read_rows


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n{"a": "\xff"}\n', "line 2: not UTF-8 (byte 0xff"),
        (b'{"a": NaN}\n', "line 1: NaN is not a number"),
        (b'{"a": -Infinity}\n', "line 1: -Infinity is not a number"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "nested too deeply"),
        (b'{"a": {"b": 1}}\n', "column 'a' holds a JSON object"),
        (b'{"a": "\\ud800"}\n', "column 'a' holds an unpaired UTF-16 surrogate"),
        (b'{"\\udfff": 1}\n', "unpaired UTF-16 surrogate"),
        (b"[1]\n", "a row must be a JSON object"),
    ],
)
def test_a_bad_rows_file_is_a_data_error_naming_the_line(
    content: bytes, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_rows(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_the_cli_shows_a_bad_rows_file_as_one_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": "\xfe"}\n')
    for args in (
        ["mapping", "preview", "gl-monthly", "--period", "2026-10"],
        ["run", "gl-monthly", "--period", "2026-10", "--dry-run", "--out", str(tmp_path / "o")],
    ):
        result = CliRunner().invoke(
            main, [*args, "--config", str(demo_config_path()), "--rows", str(path)]
        )
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        [line] = [x for x in result.output.splitlines() if x.startswith("Error: ")]
        assert "line 1: not UTF-8" in line
        assert "fix: save the rows file as UTF-8" in line


@pytest.mark.parametrize("text", ["sNaN", "NaN", "Infinity", "-inf"])
def test_a_non_finite_amount_text_rejects_the_row(text: str) -> None:
    expression = compile_expression("round(t.amount * 2, 2)")
    with pytest.raises(ExpressionError, match="not a finite number"):
        expression.evaluate({"t.amount": text})
    with pytest.raises(ExpressionError, match="not a finite number"):
        expression.evaluate({"t.amount": Decimal(text)})


def test_an_overflowing_amount_rejects_the_row() -> None:
    expression = compile_expression("round(t.amount * 2, 2)")
    with pytest.raises(ExpressionError, match="not a finite number or is too large"):
        expression.evaluate({"t.amount": Decimal("1e999999")})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (" + ".join(["t.a"] * 100_000), "at most 4000 are allowed"),
        (" + ".join(["1"] * 500), "nested 501 levels deep"),
        ("-" * 3000 + "1", "nested too deeply"),
    ],
)
def test_an_oversized_expression_is_refused_when_compiled(source: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match=message):
        compile_expression(source)
