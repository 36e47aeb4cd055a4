"""``ml-connector mapping``: Check a configuration's mappings and preview them on real rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ml_connector.interfaces.cli._store import store_url_option

if TYPE_CHECKING:
    from ml_connector.config import LoadedConfig
    from ml_connector.engine.ports import RowRecord
    from ml_connector.mapping.period import Period
    from ml_connector.runs.connect import SyncSettings

__all__ = ["check_period", "config_option", "load_cli_config", "mapping", "parse_period"]

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


@click.group(name="mapping")
def mapping() -> None:
    """Check a configuration's mappings and preview them on real rows."""


@mapping.command(name="check")
@click.option("--offline", is_flag=True, default=False,
              help="Skip the checks that ask Looker (field names and types).")  # fmt: skip
@click.option("--looker-url", default=None, help="Override the customer's Looker URL.")
@config_option
@store_url_option
def check(
    offline: bool, looker_url: str | None, config_path: Path | None, store_url: str | None
) -> None:
    """Check the configuration, its lookup files, every mapping target and, unless
    --offline, every field it names against Looker's own field metadata.

    Exits 0 when everything checked is plausible, 1 otherwise; checks Looker could
    not answer are listed as not done.
    """
    from rich.table import Table

    from ml_connector.interfaces.cli._console import console as _console
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
    for finding in findings:
        console.print(f"[red]implausible[/red] {finding}", markup=True, highlight=False)
    if not findings:
        console.print("[green]every lookup target is plausible for its DATEV client[/green]")
    fields_ok = offline or _check_looker_fields(config, config_path, store_url, looker_url)
    if findings or not fields_ok:
        raise SystemExit(1)


def _check_looker_fields(
    config: LoadedConfig, config_path: Path | None, store_url: str | None, looker_url: str | None
) -> bool:
    """Print what the Looker field check found; ``False`` when a field is wrong."""
    import asyncio

    from ml_connector.interfaces.cli._console import console as _console
    from ml_connector.interfaces.cli._engine import cli_settings
    from ml_connector.runs.fields import check_config_fields

    console = _console()
    settings = cli_settings(config_path=config_path, store_url=store_url, looker_url=looker_url)
    report = asyncio.run(check_config_fields(config, settings))
    for problem in report.problems:
        console.print(f"[red]field problem[/red] {problem}", highlight=False, soft_wrap=True)
    for reason in report.unchecked:
        console.print(f"[yellow]not checked[/yellow] {reason}", highlight=False, soft_wrap=True)
    if report.unchecked:
        console.print(
            "[yellow]Looker could not be asked: run again when it is reachable, "
            "or pass --offline to skip these checks[/yellow]"
        )
    elif not report.problems and report.checked:
        console.print(f"[green]all {report.checked} field names found in Looker[/green]")
    return not report.problems


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


def _looker_cell(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    return "\n".join(f"{c.split('.')[-1]}={_cell(row.get(c))}" for c in columns)


_XML_SHOWN = 10


def _dxso_files(folders: list[Path]) -> list[tuple[str, str]]:
    """(name, XML text) of the DXSO files a preview wrote: ledger files, then document.xml."""
    shown: list[tuple[str, str]] = []
    for folder in folders:
        names = sorted(p.name for p in folder.glob("*.xml") if p.name != "document.xml")
        for name in [*names[:_XML_SHOWN], "document.xml"]:
            shown.append((f"{folder.name}/{name}", (folder / name).read_text("utf-8")))
    return shown


def _preview_records(
    pipeline: str, period: str, count: int, rows_file: Path | None, settings: SyncSettings
) -> tuple[list[RowRecord], int, list[tuple[str, str]], list[str]]:
    """The row records of the first ``count`` rows of the period, through the run's
    own steps (stopped before sending, written to a scratch directory), the DXSO
    files of a dxso pipeline, and a line per document that would be uploaded."""
    import tempfile

    from ml_connector.engine.ports import iter_records
    from ml_connector.interfaces.cli._engine import dry_run, would_upload
    from ml_connector.runs.steps import RECORDS_FILE

    with tempfile.TemporaryDirectory(prefix="ml-connector-preview-") as scratch:
        out = Path(scratch)
        done = dry_run(settings, pipeline, period, out, rows_file=rows_file, limit=count)
        rows = done.facts.rows_mapped + done.facts.rows_rejected
        records = list(iter_records(out / RECORDS_FILE))[:rows]
        xml = _dxso_files([f.path for f in done.files if f.path.is_dir()])
        documents = would_upload(out, done.facts)
    return records, done.facts.rows_rejected, xml, documents


@mapping.command(name="preview")
@click.argument("pipeline")
@click.option("-n", "count", type=click.IntRange(1, 5000), default=20, show_default=True,
              help="How many rows to show.")  # fmt: skip
@click.option("--period", required=True, callback=check_period,
              help="The period's rows (YYYY-MM).")  # fmt: skip
@click.option("--rows", "rows_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Read rows from a JSON Lines file instead of Looker.")  # fmt: skip
@click.option("--looker-url", default=None, help="Override the customer's Looker URL.")
@config_option
@store_url_option
def preview(
    pipeline: str,
    count: int,
    period: str,
    rows_file: Path | None,
    looker_url: str | None,
    config_path: Path | None,
    store_url: str | None,
) -> None:
    """Show the first N rows of PIPELINE for a period beside the booking fields they become.

    The rows go through the run's own steps (the dry run on the first N rows): what is
    shown is what a run would map, and a rejected row shows the reason it would be held.
    """
    from rich.table import Table

    from ml_connector.interfaces.cli._console import console as _console
    from ml_connector.interfaces.cli._engine import cli_settings

    the_period = str(parse_period(period))
    settings = cli_settings(config_path=config_path, store_url=store_url, looker_url=looker_url)
    config = load_cli_config(config_path)
    if pipeline not in config.model.pipelines:
        raise click.ClickException(
            f"no pipeline {pipeline!r}; known: {', '.join(sorted(config.model.pipelines))}"
        )
    records, rejected, xml, documents = _preview_records(
        pipeline, the_period, count, rows_file, settings
    )
    columns = sorted(config.mapping(pipeline).columns)
    table = Table(title=f"{pipeline} {the_period}: first {len(records)} rows", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("Looker row", overflow="fold")
    for _, heading in _PREVIEW_FIELDS:
        table.add_column(heading, overflow="fold")
    for number, record in enumerate(records, start=1):
        looker = _looker_cell(record.source, columns)
        if record.rejection is not None:
            table.add_row(str(number), looker, f"REJECTED: {record.rejection}", style="bold red")
            continue
        lines = (record.booking or {}).get("lines") or []
        if not lines:
            table.add_row(str(number), looker, "0.00 (skipped)")
            continue
        table.add_row(
            str(number), looker, *(_cell(lines[0].get(attr)) for attr, _ in _PREVIEW_FIELDS)
        )
    console = _console()
    console.print(table)
    for number, record in enumerate(records, start=1):
        if record.rejection is not None:
            console.print(
                f"[bold red]rejected[/bold red] row {number} [{record.row_key}]: "
                f"{record.rejection}",
                highlight=False,
                soft_wrap=True,
            )
    console.print(f"{len(records) - rejected} mapped, {rejected} rejected")
    for line in documents:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for name, text in xml:
        console.print(f"[bold]{name}[/bold]", highlight=False)
        console.print(text, markup=False, highlight=False, soft_wrap=True)


@mapping.command(name="suggest")
@click.argument("look_id")
@click.option("--customer", default=None,
              help="Whose Looker holds the Look (default: the only customer).")  # fmt: skip
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the configuration (default: ./look-LOOK_ID.toml).")  # fmt: skip
@click.option("--force", is_flag=True, default=False, help="Overwrite an existing file.")
@click.option("--looker-url", default=None, help="Override the customer's Looker URL.")
@config_option
@store_url_option
def suggest(
    look_id: str,
    customer: str | None,
    out: Path | None,
    force: bool,
    looker_url: str | None,
    config_path: Path | None,
    store_url: str | None,
) -> None:
    """Write a starting pipeline configuration for the Look LOOK_ID from its fields.

    Dates, amounts, accounts, cost centers and texts are recognised by their Looker
    type and name; every guess is marked "# REVIEW:" in the file. The file holds the
    customer's table too, so `mapping check --config FILE` reads it as it stands.
    """
    import asyncio

    from ml_connector.interfaces.cli._console import console as _console
    from ml_connector.interfaces.cli._engine import cli_settings
    from ml_connector.runs.suggest import fetch_look, suggest_config

    if not look_id.isascii() or not look_id.isalnum():
        raise click.ClickException(f"LOOK_ID {look_id[:40]!r}: give the Look's number")
    config = load_cli_config(config_path)
    customers = sorted(config.model.customers)
    if customer is None and len(customers) != 1:
        raise click.ClickException(
            f"name the customer with --customer: one of {', '.join(customers)}"
        )
    customer = customer or customers[0]
    if customer not in config.model.customers:
        raise click.ClickException(
            f"no customer {customer!r} in {config.path}; known: {', '.join(customers)}"
        )
    target = out or Path(f"look-{look_id}.toml")
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to overwrite it")
    settings = cli_settings(config_path=config_path, store_url=store_url, looker_url=looker_url)
    look = asyncio.run(fetch_look(config, customer, look_id, settings))
    text = suggest_config(look, customer, config.model.customers[customer])
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror or exc}") from None
    reviews = text.count("# REVIEW:")
    _console().print(
        f"wrote {target}: pipeline look-{look_id} with {reviews} guesses marked REVIEW; "
        f"check them, then run ml-connector mapping check --config {target}",
        highlight=False,
        soft_wrap=True,
    )
