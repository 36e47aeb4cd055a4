"""``ml-connector schedule``: Show the schedules and the next runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

__all__ = ["schedule"]


@click.group(name="schedule")
def schedule() -> None:
    """Show the schedules and the next runs."""


def _rules_from_options(rules: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for item in rules:
        name, sep, rule = item.partition("=")
        if not sep or not name.strip() or not rule.strip():
            raise click.BadParameter(f"expected PIPELINE=RULE, got {item!r}", param_hint="--rule")
        pairs.append((name.strip(), rule.strip()))
    return pairs


def _rules_from_config(path: Path | None) -> list[tuple[str, str]]:
    from ml_connector.interfaces.cli.mapping import load_cli_config

    config = load_cli_config(path)
    return [
        (name, pipeline.schedule)
        for name, pipeline in sorted(config.model.pipelines.items())
        if pipeline.schedule
    ]


@schedule.command(name="list")
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="PIPELINE=RULE",
    help="a schedule to show instead of the configuration's, e.g. "
    "'gl=workday 3 after month-end at 06:00 holidays=DE-BY' (repeatable)",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="configuration file (default: $ML_CONNECTOR_CONFIG, ./ml-connector.toml, data dir)",
)
@click.option("-n", "--count", default=3, show_default=True, help="next runs per pipeline")
@click.option("--after", help="ISO date-time to start from (default: now)")
@click.option("--json", "as_json", is_flag=True, help="print the runs as JSON")
def list_(
    rules: tuple[str, ...], config_path: Path | None, count: int, after: str | None, as_json: bool
) -> None:
    """Show the next runs of every scheduled pipeline and the period each processes."""
    from rich.table import Table

    from ml_connector.errors import ConfigurationError
    from ml_connector.interfaces.cli._console import console as _console
    from ml_connector.schedule import parse_rule
    from ml_connector.schedule.fire import next_runs, period_for

    start = datetime.now(UTC)
    if after:
        try:
            start = datetime.fromisoformat(after)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--after") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    pairs = _rules_from_options(rules) if rules else _rules_from_config(config_path)
    rows = []
    for name, text in pairs:
        try:
            rule = parse_rule(text)
        except ConfigurationError as exc:
            raise click.ClickException(f"pipeline {name}: {exc}") from None
        for fire in next_runs(rule, start, count):
            rows.append(
                {
                    "pipeline": name,
                    "rule": str(rule),
                    "fire": fire.isoformat(),
                    "period": period_for(rule, fire),
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    console = _console()
    if not rows:
        console.print("No scheduled pipelines.")
        return
    table = Table()
    for column in ("pipeline", "next run", "period", "rule"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["pipeline"], row["fire"], row["period"], row["rule"])
    console.print(table)
