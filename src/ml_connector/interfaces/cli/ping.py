"""``ml-connector ping``: Check both sides (Looker and DATEV) of a configured customer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ml_connector.interfaces.cli._store import store_url_option
from ml_connector.interfaces.cli.mapping import config_option, load_cli_config

if TYPE_CHECKING:
    from rich.table import Table

    from ml_connector.datev.health import CheckResult

__all__ = ["ping"]


@click.command(name="ping")
@click.argument("customer", required=False)
@config_option
@store_url_option
@click.option("--looker-url", default=None, help="Override the customer's Looker URL.")
@click.option(
    "--datev-url",
    envvar="ML_CONNECTOR_DATEV_API_URL",
    default=None,
    help="Use a DATEV emulator at this URL instead of DATEV (env ML_CONNECTOR_DATEV_API_URL).",
)
def ping(
    customer: str | None,
    config_path: Path | None,
    store_url: str | None,
    looker_url: str | None,
    datev_url: str | None,
) -> None:
    """Check both sides (Looker and DATEV) of a configured customer.

    Without CUSTOMER every customer of the configuration is checked. Prints what
    works and what does not, with the fix for each failure; exits 0 only when every
    check passes.
    """
    import asyncio

    from ml_connector.interfaces.cli._console import console as _console
    from ml_connector.paths import default_data_dir
    from ml_connector.runs.connect import SyncSettings, open_connections, open_sync_store
    from ml_connector.runs.ping import ping_customer

    config = load_cli_config(config_path)
    customers = sorted(config.model.customers)
    if customer is not None:
        if customer not in config.model.customers:
            raise click.ClickException(
                f"no customer {customer!r} in {config.path}; known: {', '.join(customers)}"
            )
        customers = [customer]
    settings = SyncSettings(
        data_dir=default_data_dir(),
        store_url=store_url,
        config_path=config.path,
        looker_url=looker_url,
        datev_api_url=datev_url,
    )
    engine = open_sync_store(settings)
    connections = open_connections(settings, engine)

    async def check_all() -> dict[str, list[CheckResult]]:
        return {
            name: await ping_customer(config, name, connections, looker_url=looker_url)
            for name in customers
        }

    try:
        results = asyncio.run(check_all())
    finally:
        engine.dispose()
    console = _console()
    all_ok = True
    for name, checks in results.items():
        title = f"{name} ({config.model.customers[name].name})"
        console.print(render_checks(checks, title=title))
        all_ok = all_ok and all(c.ok for c in checks)
    console.print("[green]all checks passed[/green]" if all_ok else "[red]some checks failed[/red]")
    if not all_ok:
        raise SystemExit(1)


def render_checks(results: Iterable[CheckResult], *, title: str | None = None) -> Table:
    """A table with one row per check: status, name, detail, fix."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result")
    table.add_column("fix")
    for result in results:
        mark = Text("OK", style="green") if result.ok else Text("FAIL", style="bold red")
        table.add_row(mark, result.name, result.detail, result.fix or "")
    return table
