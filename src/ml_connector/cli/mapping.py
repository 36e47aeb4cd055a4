"""``ml-connector mapping``: Check a configuration's mappings and preview them on real rows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ml_connector.config import LoadedConfig
    from ml_connector.config.models import Source
    from ml_connector.mapping.period import Period

__all__ = [
    "check_period",
    "config_option",
    "load_cli_config",
    "mapping",
    "obtain_rows",
    "parse_period",
]

#: the columns of a booking line the preview shows, with their headings
_PREVIEW_FIELDS = (
    ("umsatz", "Umsatz"),
    ("soll_haben", "S/H"),
    ("konto", "Konto"),
    ("gegenkonto", "Gegenkonto"),
    ("bu_schluessel", "BU"),
    ("belegdatum", "Belegdatum"),
    ("belegfeld_1", "Belegfeld 1"),
    ("buchungstext", "Buchungstext"),
    ("kost1", "KOST1"),
    ("kost2", "KOST2"),
)


def config_option(func: click.decorators.FC) -> click.decorators.FC:
    """``--config FILE`` (default: $ML_CONNECTOR_CONFIG, ./ml-connector.toml, data dir)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Configuration file (default: $ML_CONNECTOR_CONFIG, ./ml-connector.toml, "
        "or ml-connector.toml in the data directory).",
    )(func)


def load_cli_config(path: Path | None) -> LoadedConfig:
    """Load the configuration (its problems list file, key and fix)."""
    from ml_connector.config import find_config, load_config

    return load_config(find_config(path))


def parse_period(text: str | None) -> Period | None:
    """``--period`` as a :class:`Period`; a malformed one is one line and exit 1."""
    from ml_connector.mapping.period import Period

    if text is None:
        return None
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise click.ClickException(f"--period: {exc}") from None


def check_period(_ctx: click.Context, _param: click.Parameter, text: str | None) -> str | None:
    """Click callback: refuse a malformed ``--period`` before the command does anything."""
    period = parse_period(text)
    return None if period is None else str(period)


def obtain_rows(
    config: LoadedConfig,
    pipeline: str,
    source: Source,
    period: Period | None,
    *,
    rows_file: Path | None,
    looker_url: str | None,
    limit: int | None = None,
) -> list[dict[str, object]]:
    """Rows from ``rows_file`` (JSON Lines) or, without one, from the customer's Looker."""
    from ml_connector.mapping.fetch import fetch_source
    from ml_connector.mapping.rows import read_rows

    try:
        if rows_file is not None:
            return read_rows(rows_file)
        connection = config.customer_of(pipeline).looker
        return asyncio.run(
            fetch_source(connection, source, period, base_url=looker_url, limit=limit)
        )
    except OSError as exc:
        raise click.ClickException(f"cannot read rows: {exc}") from None


@click.group(name="mapping")
def mapping() -> None:
    """Check a configuration's mappings and preview them on real rows."""


@mapping.command(name="check")
@config_option
def check(config_path: Path | None) -> None:
    """Check the configuration, its lookup files and every mapping target.

    Exits 0 when everything is plausible, 1 otherwise.
    """
    from rich.table import Table

    from ml_connector.cli._console import console as _console
    from ml_connector.mapping.check import check_targets

    config = load_cli_config(config_path)
    console = _console()
    findings = check_targets(config)
    console.print(f"[bold]{config.path}[/bold]: configuration valid")
    table = Table(title="Pipelines", show_lines=False)
    for heading in ("pipeline", "customer", "DATEV client", "SKR", "SKL", "source", "fields"):
        table.add_column(heading)
    for name, pipeline in sorted(config.model.pipelines.items()):
        datev = config.model.customers[pipeline.customer].datev
        query = pipeline.source.query
        source = f"query {query.model}/{query.view}" if query else f"Look {pipeline.source.look_id}"
        table.add_row(
            name,
            pipeline.customer,
            datev.client_id,
            datev.chart_of_accounts,
            str(datev.account_length),
            source,
            ", ".join(sorted(config.mappings[name].fields)),
        )
    console.print(table)
    lookups = Table(title="Lookup tables")
    for heading in ("table", "kind", "entries", "source"):
        lookups.add_column(heading)
    for name, lookup in sorted(config.lookups.tables.items()):
        lookups.add_row(name, lookup.kind.value, str(len(lookup)), lookup.source)
    console.print(lookups)
    if findings:
        for finding in findings:
            console.print(f"[red]implausible[/red] {finding}", markup=True, highlight=False)
        raise SystemExit(1)
    console.print("[green]every lookup target is plausible for its DATEV client[/green]")


def _cell(value: object) -> str:
    from datetime import date
    from decimal import Decimal

    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _looker_cell(row: dict[str, object], columns: Sequence[str]) -> str:
    return "\n".join(f"{c.split('.')[-1]}={_cell(row.get(c))}" for c in columns)


@mapping.command(name="preview")
@click.argument("pipeline")
@click.option("-n", "count", type=click.IntRange(1, 5000), default=20, show_default=True,
              help="How many rows to show.")  # fmt: skip
@click.option("--period", default=None, callback=check_period,
              help="Only rows of this period (YYYY-MM).")  # fmt: skip
@click.option("--rows", "rows_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Read rows from a JSON Lines file instead of Looker.")  # fmt: skip
@click.option("--looker-url", default=None, help="Override the customer's Looker URL.")
@config_option
def preview(
    pipeline: str,
    count: int,
    period: str | None,
    rows_file: Path | None,
    looker_url: str | None,
    config_path: Path | None,
) -> None:
    """Show the first N rows of PIPELINE beside the booking fields they become."""
    from rich.table import Table

    from ml_connector.cli._console import console as _console
    from ml_connector.mapping.mapper import MappedRow, RowMapper
    from ml_connector.mapping.pipeline import rows_in_period

    config = load_cli_config(config_path)
    spec = config.pipeline(pipeline) if pipeline in config.model.pipelines else None
    if spec is None:
        raise click.ClickException(
            f"no pipeline {pipeline!r}; known: {', '.join(sorted(config.model.pipelines))}"
        )
    the_period = parse_period(period)
    rows = obtain_rows(
        config,
        pipeline,
        spec.source,
        the_period,
        rows_file=rows_file,
        looker_url=looker_url,
        limit=None if the_period else count,
    )
    selected = rows_in_period(rows, spec.source, the_period)[0] if the_period else rows
    rows = [dict(row) for row in selected[:count]]
    mapping_rules = config.mapping(pipeline)
    mapper = RowMapper(
        mapping_rules,
        config.lookups,
        config.model.customers[spec.customer].datev,
        period=the_period,
    )
    outcomes = mapper.map_rows(rows)
    columns = sorted(mapping_rules.columns)
    table = Table(title=f"{pipeline}: first {len(rows)} rows", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("Looker row", overflow="fold")
    for _, heading in _PREVIEW_FIELDS:
        table.add_column(heading, overflow="fold")
    rejected = 0
    for outcome in outcomes:
        looker = _looker_cell(dict(outcome.row), columns)
        if isinstance(outcome, MappedRow):
            if not outcome.lines:
                table.add_row(str(outcome.index + 1), looker, "0.00 (skipped)")
                continue
            line = outcome.lines[0]
            table.add_row(
                str(outcome.index + 1),
                looker,
                *(_cell(getattr(line, attr)) for attr, _ in _PREVIEW_FIELDS),
            )
        else:
            rejected += 1
            table.add_row(
                str(outcome.index + 1),
                looker,
                f"REJECTED: {outcome.describe()}",
                style="bold red",
            )
    console = _console()
    console.print(table)
    for outcome in outcomes:
        if not isinstance(outcome, MappedRow):
            console.print(
                f"[bold red]rejected[/bold red] row {outcome.index + 1} [{outcome.row_key}]: "
                f"{outcome.describe()}",
                highlight=False,
            )
    console.print(f"{len(outcomes) - rejected} mapped, {rejected} rejected")
