"""``ml-connector replay``: Re-run a failed run, or only its failed records."""

from __future__ import annotations

from pathlib import Path

import click

from ml_connector.interfaces.cli._store import (
    datev_url_option,
    store_url_option,
    system_db_url_option,
)
from ml_connector.interfaces.cli.mapping import config_option

__all__ = ["replay"]


@click.command(name="replay")
@click.argument("run_id", metavar="RUN")
@click.option("--only-failed", is_flag=True,
              help="Resend only the files DATEV did not accept in RUN.")  # fmt: skip
@click.option("--allow-empty", is_flag=True,
              help="The month is really empty: if Looker returns no rows for a period "
                   "with posted bookings, reverse them all instead of blocking.")  # fmt: skip
@config_option
@store_url_option
@system_db_url_option
@click.option("--looker-url", default=None, help="Override the customer's Looker URL.")
@datev_url_option
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def replay(
    run_id: str,
    only_failed: bool,
    allow_empty: bool,
    config_path: Path | None,
    store_url: str | None,
    system_db_url: str | None,
    looker_url: str | None,
    datev_url: str | None,
    as_json: bool,
) -> None:
    """Re-run RUN (see 'ml-connector status') after a fix, and print the new run's outcome.

    The replay reads the period again and posts only what is not recorded as posted:
    rows of files DATEV accepted are not sent again, and rows changed in Looker since
    are posted as reversal plus correction (restatement = "corrections").

    \b
    What a replay guarantees:
    - No booking is posted twice. Before it reads Looker, the replay waits for every
      DATEV job of the period's earlier runs whose outcome was never recorded (DATEV
      went down mid-run, a crash) and records what DATEV posted; files sent without
      a stored job id are looked up at DATEV by name first. Rows changed in Looker
      since are then posted as corrections, not again. A DATEV job still pending
      after the polling budget stops the replay (nothing sent): replay again later.
    - No month is reversed by accident. If Looker returns no rows for a period with
      posted bookings, the replay is blocked; --allow-empty reverses them all.
    - Before sending a file the replay asks DATEV for its name (a digest of client,
      period, part, pipeline and its booking lines) and resends nothing DATEV
      already has.
    """
    from ml_connector.interfaces.cli import imports_without_gc

    with imports_without_gc():
        from ml_connector.interfaces.cli._engine import cli_settings, freeze_imports, print_outcome
        from ml_connector.runs.launch import EngineOptions, replay_run

    freeze_imports()
    settings = cli_settings(
        config_path=config_path, store_url=store_url, looker_url=looker_url, datev_url=datev_url
    )
    outcome = replay_run(
        settings,
        run_id,
        only_failed=only_failed,
        allow_empty=allow_empty,
        options=EngineOptions(system_database_url=system_db_url),
    )
    print_outcome(outcome, as_json=as_json)
