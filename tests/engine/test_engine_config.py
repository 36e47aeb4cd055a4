"""Run specs and schedules from the configuration file (the bundled demo configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest

import ml_connector
from ml_connector.config import load_config, parse_config
from ml_connector.engine.config import run_spec, scheduled_pipelines
from ml_connector.errors import ConfigurationError
from ml_connector.schedule import CronRule

DEMO = Path(ml_connector.__file__).parent / "examples" / "demo" / "ml-connector.toml"


def test_demo_configuration_gives_specs_and_schedules() -> None:
    config = load_config(DEMO)
    datev = config.model.customers["meridian"].datev
    client = f"{datev.consultant_number}-{datev.client_number}"
    assert run_spec(config, "gl-monthly", "2026-10").datev_client == client
    [item] = scheduled_pipelines(config)
    assert (item.pipeline, item.customer, item.datev_client) == ("gl-monthly", "meridian", client)
    assert item.rule == CronRule("0 6 3 * *")


def test_a_bad_schedule_names_its_pipeline() -> None:
    text = DEMO.read_text(encoding="utf-8").replace(
        'schedule = "0 6 3 * *"', 'schedule = "workday 40 at 06:00"'
    )
    config = parse_config(text, path=DEMO)
    with pytest.raises(ConfigurationError, match=r"pipelines\.gl-monthly\.schedule"):
        scheduled_pipelines(config)
