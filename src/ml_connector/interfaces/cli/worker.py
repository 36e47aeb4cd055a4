"""``ml-connector worker``: Execute schedules and queued runs."""

from __future__ import annotations

from pathlib import Path

import click

from ml_connector.interfaces.cli._store import (
    datev_url_option,
    store_url_option,
    system_db_url_option,
)
from ml_connector.interfaces.cli.mapping import config_option

__all__ = ["worker"]


@click.command(name="worker")
@config_option
@store_url_option
@system_db_url_option
@click.option("--executor-id", envvar="ML_CONNECTOR_EXECUTOR_ID", default=None,
              help="Stable id of this worker (default: 'local' on SQLite, host name plus a "
                   "random suffix on PostgreSQL).")  # fmt: skip
@click.option("--tick", type=float, default=30.0, show_default=True,
              help="Seconds between schedule checks.")  # fmt: skip
@click.option("--looker-url", default=None, help="Override every customer's Looker URL.")
@datev_url_option
def worker(
    config_path: Path | None,
    store_url: str | None,
    system_db_url: str | None,
    executor_id: str | None,
    tick: float,
    looker_url: str | None,
    datev_url: str | None,
) -> None:
    """Execute schedules and queued runs until stopped (Ctrl-C or SIGTERM).

    Several workers may share one PostgreSQL store and system database; each DATEV
    client still gets at most one run at a time.
    """
    import logging
    import signal
    import threading

    from ml_connector.engine.runtime import new_executor_id
    from ml_connector.interfaces.cli._engine import cli_settings
    from ml_connector.runs.launch import EngineOptions, work

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = cli_settings(
        config_path=config_path, store_url=store_url, looker_url=looker_url, datev_url=datev_url
    )
    if executor_id is None and system_db_url and system_db_url.startswith("postgresql"):
        executor_id = new_executor_id()
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        click.echo(f"stopping (signal {signum}); running runs resume at the next start", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"worker {executor_id or 'local'} started; data in {settings.data_dir}", err=True)
    work(
        settings,
        options=EngineOptions(system_database_url=system_db_url, executor_id=executor_id),
        stop=stop,
        tick=tick,
    )
