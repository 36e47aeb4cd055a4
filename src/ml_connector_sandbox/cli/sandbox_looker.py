"""``ml-connector sandbox looker``: run the Looker API 4.0 emulator in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["sandbox_looker"]


@click.command(name="looker")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=19999, show_default=True, type=int, help="TCP port.")
@click.option(
    "--client-id", default="demo-client-id", show_default=True, help="API3 client id to accept."
)
@click.option(
    "--client-secret",
    default="demo-client-secret",
    show_default=True,
    envvar="ML_CONNECTOR_LOOKER_SANDBOX_SECRET",
    help="API3 client secret to accept (or ML_CONNECTOR_LOOKER_SANDBOX_SECRET).",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Dataset directory (models.json, looks.json, one CSV/JSON per view). "
    "Default: the bundled demo dataset.",
)
@click.option("--token-ttl", default=3599, show_default=True, help="Token lifetime (s).")
@click.option("--row-cap", default=5000, show_default=True, help="Most rows per call.")
@click.option(
    "--allow-unlimited/--no-allow-unlimited",
    default=False,
    show_default=True,
    help="Honour limit=-1 (else it is capped like any limit).",
)
@click.option("--max-queries", default=15, show_default=True, help="Concurrent queries per user.")
@click.option("--latency-ms", default=0.0, show_default=True, help="Latency added to every call.")
@click.option(
    "--bench-rows",
    default=0,
    show_default=True,
    help="Also serve the generated explore bench/rows with this many rows.",
)
def sandbox_looker(
    host: str,
    port: int,
    client_id: str,
    client_secret: str,
    data_dir: Path | None,
    token_ttl: int,
    row_cap: int,
    allow_unlimited: bool,
    max_queries: int,
    latency_ms: float,
    bench_rows: int,
) -> None:
    """Run the Looker API 4.0 emulator in the foreground (Ctrl-C stops it)."""
    import uvicorn

    from ml_connector_sandbox.emulators.looker import EndpointFaults, Faults, create_app
    from ml_connector_sandbox.emulators.looker.dataset import DatasetError

    faults = Faults(endpoints={"*": EndpointFaults(latency_ms=latency_ms)} if latency_ms else {})
    try:
        app = create_app(
            data_dir,
            client_id=client_id,
            client_secret=client_secret,
            token_ttl=token_ttl,
            row_cap=row_cap,
            allow_unlimited=allow_unlimited,
            max_queries_per_user=max_queries,
            bench_rows=bench_rows,
            faults=faults,
        )
    except DatasetError as exc:
        raise click.ClickException(f"dataset: {exc}") from None
    click.echo(f"Looker emulator on http://{host}:{port}  (client id {client_id})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
