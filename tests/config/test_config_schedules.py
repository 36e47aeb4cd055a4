"""Schedules are checked when the configuration loads; the worker reads them from there."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_connector.config import ConfigFileError, load_config, parse_config
from ml_connector.examples import demo_config_path
from ml_connector.interfaces.cli import main
from ml_connector.runs.launch import scheduled_pipelines
from ml_connector.runs.steps import datev_client_id
from ml_connector.schedule import CronRule

DEMO = demo_config_path()
SCHEDULE = 'schedule = "0 6 3 * *"'


def test_the_demo_schedule_reaches_the_worker_with_its_datev_client() -> None:
    config = load_config(DEMO)
    datev = config.model.customers["meridian"].datev
    client = f"{datev.consultant_number}-{datev.client_number}"
    assert datev_client_id(config, "gl-monthly") == client
    [item] = scheduled_pipelines(config)
    assert (item.pipeline, item.customer, item.datev_client) == ("gl-monthly", "meridian", client)
    assert item.rule == CronRule("0 6 3 * *")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("workday 40 at 06:00", "workday must be between 1 and 15"),
        ("0 6 31 2 *", "never fires"),
        ("cron 0 6 * * * tz=Mars/Olympus", "unknown time zone"),
        ("workday 3 at 06:00 holidays=DE-XX", "unknown holiday region"),
        ("61 6 * * *", "unknown schedule rule"),
        ("cron 0 6 * * * period=next", "period must be previous or current"),
    ],
)
def test_a_bad_schedule_is_refused_at_load_naming_its_pipeline(
    schedule: str, message: str, tmp_path: Path
) -> None:
    text = DEMO.read_text(encoding="utf-8").replace(SCHEDULE, f'schedule = "{schedule}"')
    with pytest.raises(ConfigFileError) as caught:
        parse_config(text, path=DEMO)
    [problem] = caught.value.problems
    assert problem.key == "pipelines.gl-monthly.schedule"
    assert message in problem.message

    config = tmp_path / "ml-connector.toml"
    config.write_text(text, encoding="utf-8")
    for name in ("accounts.csv", "cost_centers.csv"):
        (tmp_path / name).write_bytes((DEMO.parent / name).read_bytes())
    result = CliRunner().invoke(main, ["mapping", "check", "--config", str(config)])
    assert result.exit_code == 1
    assert "pipelines.gl-monthly.schedule" in result.output
    assert "configuration valid" not in result.output
