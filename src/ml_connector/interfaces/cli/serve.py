"""``ml-connector serve``: the operator web app and REST API."""

from __future__ import annotations

from pathlib import Path

import click

from ml_connector.interfaces.cli._store import STORE_HELP, datev_url_option, system_db_url_option

__all__ = ["serve"]


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--public-url",
    envvar="ML_CONNECTOR_PUBLIC_URL",
    help="the address users type, e.g. https://connector.example.com (https: Secure "
    "cookies and HSTS)",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ML_CONNECTOR_CONFIG",
    help="the configuration file (default: the one in the data directory)",
)
@click.option(
    "--store", "--store-url", "store_url", envvar="ML_CONNECTOR_STORE_URL", help=STORE_HELP
)
@click.option(
    "--trusted-proxies",
    default="127.0.0.1",
    show_default=True,
    envvar="ML_CONNECTOR_TRUSTED_PROXIES",
    help="comma-separated addresses whose X-Forwarded-For/-Proto headers are believed",
)
@system_db_url_option
@click.option("--looker-url", default=None, help="Override every customer's Looker URL.")
@datev_url_option
@click.option(
    "--worker/--no-worker",
    default=False,
    show_default=True,
    help="also execute queued runs and schedules in this process (else run "
    "'ml-connector worker' beside it)",
)
def serve(
    host: str,
    port: int,
    public_url: str | None,
    config_path: Path | None,
    store_url: str | None,
    trusted_proxies: str,
    system_db_url: str | None,
    looker_url: str | None,
    datev_url: str | None,
    worker: bool,
) -> None:
    """Serve the web app and /api/v1 until stopped (Ctrl-C).

    Runs started in the app are queued; 'ml-connector worker' (or --worker) runs them.
    """
    from ml_connector.interfaces.web import WebSettings
    from ml_connector.interfaces.web.server import serve_app
    from ml_connector.paths import default_data_dir
    from ml_connector.runs.launch import EngineOptions

    if public_url and not public_url.lower().startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--public-url")
    settings = WebSettings(
        data_dir=default_data_dir(),
        store_url=store_url,
        config_path=config_path,
        public_url=public_url.rstrip("/") if public_url else None,
        system_db_url=system_db_url,
        looker_url=looker_url,
        datev_url=datev_url,
    )
    click.echo(f"serving on http://{host}:{port} (public URL: {public_url or 'not set'})", err=True)
    options = EngineOptions(system_database_url=system_db_url) if worker else None
    serve_app(settings, host=host, port=port, trusted_proxies=trusted_proxies, worker=options)
