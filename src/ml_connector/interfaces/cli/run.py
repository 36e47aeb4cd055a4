"""``ml-connector run``: Run one pipeline for one period now."""

from __future__ import annotations

from pathlib import Path

import click

from ml_connector.interfaces.cli._store import (
    datev_url_option,
    store_url_option,
    system_db_url_option,
)
from ml_connector.interfaces.cli.mapping import check_period, config_option

__all__ = ["run"]


@click.command(name="run")
@click.argument("pipeline")
@click.option("--period", required=True, callback=check_period, help="Booking period, YYYY-MM.")
@click.option(
    "--dry-run", "dry_run_flag", is_flag=True, help="Write the files and the report; send nothing."
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for files and report "
                   "(default: <data dir>/dry-run/PIPELINE/PERIOD).")  # fmt: skip
@click.option("--rows", "rows_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None,
              help="Read the detail rows from a JSON Lines file instead of Looker.")  # fmt: skip
@click.option("--totals", "totals_file",
              type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Read the tie-out totals from a JSON Lines file instead of Looker.")  # fmt: skip
@click.option("--looker-url", default=None, help="Override the customer's Looker URL.")
@config_option
@store_url_option
@system_db_url_option
@datev_url_option
@click.option("--queue", "queue_only", is_flag=True,
              help="Only queue the run; a running 'ml-connector worker' executes it.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def run(
    pipeline: str,
    period: str,
    dry_run_flag: bool,
    out_dir: Path | None,
    rows_file: Path | None,
    totals_file: Path | None,
    looker_url: str | None,
    config_path: Path | None,
    store_url: str | None,
    system_db_url: str | None,
    datev_url: str | None,
    queue_only: bool,
    as_json: bool,
) -> None:
    """Run PIPELINE for one period: extract, map, validate, tie out, write, submit.

    Without --dry-run the run goes through the durable engine: files are submitted to
    DATEV and polled, and every row lands in the audit trail. Exits 0 when the run
    succeeded, 1 otherwise. A period that ran before is run again with 'ml-connector
    replay RUN'.

    With --dry-run the run stops before sending: the same extract (with the posted
    state of earlier runs), mapping, tie-out and files, written to --out; nothing is
    sent to DATEV. Exits 0 when the batch is ready to send, 1 when rejections or the
    tie-out block it (see report.txt / report.json).
    """
    from ml_connector.interfaces.cli import imports_without_gc

    with imports_without_gc():
        from ml_connector.interfaces.cli._engine import (
            cli_settings,
            dry_run,
            would_send,
            would_upload,
        )

    if not dry_run_flag:
        if rows_file is not None or totals_file is not None or out_dir is not None:
            raise click.UsageError("--rows, --totals and --out go with --dry-run only")
        from ml_connector.interfaces.cli._engine import run_through_engine

        run_through_engine(
            pipeline,
            period,
            config_path=config_path,
            store_url=store_url,
            system_db_url=system_db_url,
            looker_url=looker_url,
            datev_url=datev_url,
            queue_only=queue_only,
            as_json=as_json,
        )
        return
    if queue_only:
        raise click.UsageError("--queue and --dry-run exclude each other: a dry run runs now")
    the_period = period  # normalised by check_period
    settings = cli_settings(
        config_path=config_path, store_url=store_url, looker_url=looker_url, datev_url=datev_url
    )
    target = out_dir or settings.data_dir / "dry-run" / pipeline / the_period
    done = dry_run(
        settings, pipeline, the_period, target, rows_file=rows_file, totals_file=totals_file
    )
    click.echo(done.facts.summary())
    click.echo(f"  written to {target}: " + ", ".join(p.name for p in done.written))
    if not done.ready:
        raise click.ClickException(
            f"{pipeline} {the_period} is blocked: {'; '.join(done.facts.blockers)} "
            f"(see {target / 'report.txt'})"
        )
    click.echo(would_send(done.facts, len(done.files)))
    for line in would_upload(target, done.facts):
        click.echo(line)
