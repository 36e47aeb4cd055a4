"""``ml-connector schedule list``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ml_connector.interfaces.cli import main


def test_schedule_list_from_rules() -> None:
    result = CliRunner().invoke(
        main,
        [
            "schedule",
            "list",
            "--json",
            "-n",
            "2",
            "--after",
            "2026-12-31T12:00:00+00:00",
            "--rule",
            "gl=workday 3 after month-end at 06:00 holidays=DE-BY",
            "--rule",
            "fs=cron 0 6 1 * * tz=Europe/Berlin",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["pipeline"], r["fire"], r["period"]) for r in rows] == [
        ("gl", "2027-01-07T06:00:00+01:00", "2026-12"),
        ("gl", "2027-02-03T06:00:00+01:00", "2027-01"),
        ("fs", "2027-01-01T06:00:00+01:00", "2026-12"),
        ("fs", "2027-02-01T06:00:00+01:00", "2027-01"),
    ]


def test_schedule_list_rejects_a_bad_rule() -> None:
    result = CliRunner().invoke(main, ["schedule", "list", "--rule", "gl=workday 0 at 06:00"])
    assert result.exit_code != 0
    assert "pipeline gl" in result.output
    assert "between 1 and 15" in result.output


def test_schedule_list_reads_the_configuration() -> None:
    import ml_connector

    demo = Path(ml_connector.__file__).parent / "examples" / "demo" / "ml-connector.toml"
    result = CliRunner().invoke(
        main,
        [
            "schedule",
            "list",
            "--config",
            str(demo),
            "-n",
            "1",
            "--after",
            "2026-11-27T10:00:00Z",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {
            "pipeline": "gl-monthly",
            "rule": "cron 0 6 3 * * tz=Europe/Berlin",
            "fire": "2026-12-03T06:00:00+01:00",
            "period": "2026-11",
        }
    ]
