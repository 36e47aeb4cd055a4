"""``mapping check`` and ``mapping suggest`` against the Looker emulator's field metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ml_connector.config import load_config
from ml_connector.interfaces.cli import main
from ml_connector.looker.fields import closest, explore_fields
from ml_connector_sandbox.demo.setup import write_demo_config
from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.looker import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    create_app,
)

_PERIOD = 'period_field = "gl_monthly.period_month"\n'
_INLINE = """period_field = "gl_monthly.period_month"

[pipelines.gl-monthly.source.query]
model = "finance"
view = "gl_monthly"
fields = ["gl_monthly.line_id", "gl_monthly.period_mnth", "gl_monthly.booking_date",
          "gl_monthly.gl_account_number", "gl_monthly.revenue_type", "gl_monthly.description",
          "gl_monthly.department", "gl_monthly.service_line", "gl_monthly.amount_eur"]
"""


@pytest.fixture
def looker_url() -> Iterator[str]:
    handle = serve_in_thread(create_app())
    try:
        yield handle.url
    finally:
        handle.stop()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "ML_CONNECTOR_LOOKER_CLIENT_ID": DEFAULT_CLIENT_ID,
        "ML_CONNECTOR_LOOKER_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "ML_CONNECTOR_HOME": str(tmp_path / "home"),
        "COLUMNS": "250",
    }


def _config(tmp_path: Path, url: str, *edits: tuple[str, str]) -> Path:
    path = write_demo_config(tmp_path / "cfg", url, credential="env:ML_CONNECTOR_LOOKER")
    text = path.read_text("utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, "utf-8")
    return path


def _check(path: Path, env: dict[str, str], *extra: str) -> Result:
    return CliRunner(env=env).invoke(main, ["mapping", "check", "--config", str(path), *extra])


def _problems(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("field problem")]


def test_every_field_of_the_demo_is_found(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    result = _check(_config(tmp_path, looker_url), env)
    assert result.exit_code == 0, result.output
    assert "field names found in Looker" in result.output
    assert not _problems(result)


def test_a_misspelled_period_field_names_the_look_and_the_closest_field(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    path = _config(tmp_path, looker_url, (_PERIOD, 'period_field = "gl_monthly.period_mnth"\n'))
    result = _check(path, env)
    assert result.exit_code == 1
    (problem,) = _problems(result)
    assert "pipelines.gl-monthly.source.period_field" in problem
    assert "'gl_monthly.period_mnth' is not among the fields of Look 1" in problem
    assert "did you mean 'gl_monthly.period_month'?" in problem


def test_a_misspelled_column_and_a_wrong_look_are_named(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    path = _config(
        tmp_path,
        looker_url,
        ('belegdatum = "gl_monthly.booking_date"', 'belegdatum = "gl_monthly.bookingdate"'),
        ("look_id = 2", "look_id = 22"),
    )
    result = _check(path, env)
    assert result.exit_code == 1
    problems = "\n".join(_problems(result))
    assert "mapping.fields.belegdatum: field 'gl_monthly.bookingdate'" in problems
    assert "did you mean 'gl_monthly.booking_date'?" in problems
    assert "tie_out.totals.look_id: Look 22 cannot be read" in problems
    assert "check the look_id" in problems


def test_types_a_period_and_an_amount_must_have(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    path = _config(
        tmp_path,
        looker_url,
        (_PERIOD, 'period_field = "gl_monthly.amount_eur"\n'),
        ('detail_amount = "gl_monthly.amount_eur"', 'detail_amount = "gl_monthly.description"'),
    )
    problems = "\n".join(_problems(_check(path, env)))
    assert "'gl_monthly.amount_eur' of Look 1 has type number; a period field must be" in problems
    assert "'gl_monthly.description' of Look 1 has type string, not a number" in problems


def test_an_inline_query_is_resolved_against_the_explore(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    path = _config(
        tmp_path,
        looker_url,
        ("look_id = 1\n" + _PERIOD, _INLINE.replace("period_month", "period_mnth", 1)),
        ("look_id = 2\n" + _PERIOD, "look_id = 2\n" + 'period_field = "gl_monthly.period_mnth"\n'),
    )
    problems = "\n".join(_problems(_check(path, env)))
    assert (
        "source.query.fields: field 'gl_monthly.period_mnth' is not in explore finance/gl_monthly"
        in problems
    )
    assert "did you mean 'gl_monthly.period_month'?" in problems
    assert "tie_out.totals.period_field: field 'gl_monthly.period_mnth'" in problems


def test_without_looker_the_check_says_what_it_could_not_do(tmp_path: Path) -> None:
    path = _config(tmp_path, "http://127.0.0.1:9", (_PERIOD, 'period_field = "x.typo"\n'))
    env = {"ML_CONNECTOR_HOME": str(tmp_path / "home"), "COLUMNS": "250"}
    env |= {"ML_CONNECTOR_LOOKER_CLIENT_ID": "id", "ML_CONNECTOR_LOOKER_CLIENT_SECRET": "secret"}
    result = _check(path, env)
    assert result.exit_code == 0, result.output
    assert "not checked Looker fields of gl-monthly (customer meridian)" in result.output
    assert "--offline" in result.output
    offline = _check(path, env, "--offline")
    assert offline.exit_code == 0, offline.output
    assert "not checked" not in offline.output
    assert "every lookup target is plausible" in offline.output


def test_suggest_writes_a_configuration_that_loads_and_checks(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    config = _config(tmp_path, looker_url)
    out = tmp_path / "suggested.toml"
    args = ["mapping", "suggest", "1", "--config", str(config), "--out", str(out)]
    result = CliRunner(env=env).invoke(main, args)
    assert result.exit_code == 0, result.output
    text = out.read_text("utf-8")
    loaded = load_config(out)
    pipeline = loaded.pipeline("look-1")
    assert pipeline.source.look_id == "1"
    assert pipeline.source.period_field == "gl_monthly.period_month"
    mapping = pipeline.mapping
    assert mapping.amount.column == "gl_monthly.amount_eur"
    assert mapping.row_key == ["gl_monthly.line_id"]
    assert mapping.fields["belegdatum"].column == "gl_monthly.booking_date"
    assert mapping.fields["konto"].column == "gl_monthly.gl_account_number"
    assert mapping.fields["kost1"].column == "gl_monthly.cost_center"
    assert mapping.fields["buchungstext"].column == "gl_monthly.description"
    lines = text.splitlines()
    for key in ("period_field", "row_key", "amount", "konto", "gegenkonto", "belegdatum", "kost1"):
        (at,) = [n for n, line in enumerate(lines) if line.startswith(f"{key} = ")]
        assert lines[at - 1].startswith("# REVIEW:"), key
    assert _check(out, env).exit_code == 0


def test_suggest_never_overwrites_without_force(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    config = _config(tmp_path, looker_url)
    out = tmp_path / "mine.toml"
    out.write_text("# my own work\n", "utf-8")
    args = ["mapping", "suggest", "2", "--config", str(config), "--out", str(out)]
    refused = CliRunner(env=env).invoke(main, args)
    assert refused.exit_code == 1
    assert "pass --force" in refused.output
    assert out.read_text("utf-8") == "# my own work\n"
    forced = CliRunner(env=env).invoke(main, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert load_config(out).pipeline("look-2").mapping.amount.column == (
        "gl_monthly.total_amount_eur"
    )


def test_suggest_names_a_look_that_does_not_exist(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    config = _config(tmp_path, looker_url)
    out = tmp_path / "s.toml"
    args = ["mapping", "suggest", "99", "--config", str(config), "--out", str(out)]
    result = CliRunner(env=env).invoke(main, args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: Look 99 does not exist")
    assert "Traceback" not in result.output
    assert not out.exists()


def test_looker_timeframes_are_dates_and_measures_are_no_periods() -> None:
    body = {
        "fields": {
            "dimensions": [
                {"name": "gl.posted_month", "type": "date_month", "is_timeframe": True},
                {"name": "gl.amount", "type": "number", "is_numeric": True},
            ],
            "measures": [{"name": "gl.count", "category": "measure", "type": "count"}],
        }
    }
    fields = explore_fields(body)
    assert fields["gl.posted_month"].period_problem is None
    assert fields["gl.amount"].period_problem is not None
    assert fields["gl.count"].period_problem == "is a measure (count), not a dimension"
    assert fields["gl.count"].is_number
    assert closest("gl.postd_month", fields) == ["gl.posted_month"]


def test_partition_fields_and_the_count_measure_are_checked(
    tmp_path: Path, looker_url: str, env: dict[str, str]
) -> None:
    partitioned = (
        _PERIOD + 'partition_by = ["gl_monthly.cost_centre"]\n'
        'count_measure = "gl_monthly.amount_eur"\n'
    )
    path = _config(tmp_path, looker_url, (_PERIOD, partitioned))
    result = _check(path, env)
    assert result.exit_code == 1
    problems = "\n".join(_problems(result))
    assert "source.partition_by: field 'gl_monthly.cost_centre' is not in explore" in problems
    assert "did you mean 'gl_monthly.cost_center'?" in problems
    assert "source.count_measure: field 'gl_monthly.amount_eur' is a dimension" in problems
