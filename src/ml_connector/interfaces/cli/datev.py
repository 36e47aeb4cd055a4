"""``ml-connector datev``: Log in to DATEV and manage the OAuth connection."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from ml_connector.interfaces.cli._store import store_url_option

if TYPE_CHECKING:
    import httpx
    from pydantic import SecretStr

    from ml_connector.datev.oauth.connection_store import ConnectionStore
    from ml_connector.datev.oauth.login import LoginRequest

__all__ = ["datev"]

_API_CHOICES = ("clients", "extf-files", "dxso-jobs", "documents")


@click.group(name="datev")
def datev() -> None:
    """Log in to DATEV and manage the OAuth connection."""


def _open_store(store_url: str | None) -> ConnectionStore:
    from ml_connector.interfaces.cli._store import open_cli_connection_store

    return open_cli_connection_store(store_url)


def _is_datev(environment: str) -> bool:
    """Whether ``environment`` names DATEV's own identity provider."""
    from ml_connector.config.access import DATEV_ISSUERS

    known = set(DATEV_ISSUERS) | set(DATEV_ISSUERS.values())
    return environment.lower() in known or environment.rstrip("/") in known


async def _login_request(
    store: ConnectionStore,
    *,
    customer: str | None,
    connection: str | None,
    environment: str | None,
    client_id: str | None,
    client_secret_env: str | None,
    apis: tuple[str, ...],
    port: int | None,
    config_path: str | None,
    http: httpx.AsyncClient,
) -> LoginRequest:
    """The :class:`LoginRequest` from the configuration file and the options."""
    from urllib.parse import urlsplit

    from pydantic import SecretStr

    from ml_connector.config.access import emulator_override
    from ml_connector.credentials.kinds import DATEV_CLIENT_SECRET
    from ml_connector.credentials.resolve import resolve_secret
    from ml_connector.datev.oauth.client import OAuthClient
    from ml_connector.datev.oauth.endpoints import resolve_endpoints
    from ml_connector.datev.oauth.login import datev_login_request
    from ml_connector.errors import ConfigurationError

    secret: SecretStr | None = None
    redirect_path, redirect_host, config_port = "/callback", "127.0.0.1", 8765
    if customer is not None:
        from ml_connector.config import find_config, load_config

        loaded = load_config(find_config(config_path))
        if customer not in loaded.model.customers:
            known = ", ".join(sorted(loaded.model.customers)) or "(none)"
            raise ConfigurationError(
                f"no customer {customer!r} in {loaded.path}", hint=f"use one of: {known}"
            )
        the_customer = loaded.model.customers[customer]
        side = the_customer.datev
        if environment and not _is_datev(environment):
            # an identity provider other than DATEV's: emulator customers only
            emulator_override(customer, the_customer, what="the identity provider", url=environment)
        environment = environment or side.emulator_issuer or side.environment
        if side.oauth is not None:
            client_id = client_id or side.oauth.client_id
            if side.oauth.client_secret and not client_secret_env:
                secret = resolve_secret(
                    side.oauth.client_secret,
                    kind=DATEV_CLIENT_SECRET,
                    store=store.credentials,
                )
            parts = urlsplit(side.oauth.redirect_uri)
            redirect_path = parts.path or "/callback"
            redirect_host = parts.hostname or "127.0.0.1"
            config_port = parts.port or 8765
    if client_secret_env:
        value = os.environ.get(client_secret_env)
        if not value:
            raise ConfigurationError(
                f"environment variable {client_secret_env} is empty or not set",
                hint="export the DATEV client secret in it, or drop --client-secret-env "
                "for a public client",
            )
        secret = SecretStr(value)
    if not client_id:
        raise ConfigurationError(
            "no DATEV OAuth client id",
            hint="pass --client-id, or configure [customers.<id>.datev.oauth] and --customer",
        )

    endpoints = await resolve_endpoints(environment or "production", http)
    return datev_login_request(
        connection or customer or "default",
        endpoints,
        OAuthClient(client_id, secret),
        apis,
        port=config_port if port is None else port,
        callback_path=redirect_path,
        redirect_host=redirect_host,
    )


def _show_url(url: str, *, browser: bool) -> None:
    if browser:
        import webbrowser

        opened = False
        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
        if opened:
            click.echo("Opened the DATEV consent page in your browser. If it did not appear, open:")
        else:
            click.echo("No browser available. Open this URL on this machine to log in:")
    else:
        click.echo("Open this URL in a browser on this machine to log in:")
    click.echo(url)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "unknown"
    from datetime import datetime

    return datetime.fromtimestamp(timestamp).astimezone().strftime("%d.%m.%Y %H:%M %Z")


@datev.command(name="login")
@click.option("--customer", help="customer id from the configuration file (its [datev] section)")
@click.option("--connection", help="name to store the login under (default: the customer id)")
@click.option(
    "--environment",
    help="production, sandbox, or the issuer URL of an OpenID Connect provider "
    "(e.g. the emulator's http://127.0.0.1:PORT/openid); default: the customer's "
    "datev.environment (an emulator customer's issuer)",
)
@click.option("--client-id", help="OAuth client id of the DATEV app registration")
@click.option(
    "--client-secret-env",
    metavar="VAR",
    help="environment variable holding the client secret (confidential client); "
    "omit for a public client",
)
@click.option(
    "--api",
    "apis",
    multiple=True,
    type=click.Choice(_API_CHOICES),
    help="DATEV API to request access for (repeatable; default: extf-files)",
)
@click.option("--port", type=int, help="loopback port for the redirect (0: any free port)")
@click.option("--no-browser", is_flag=True, help="print the consent URL instead of opening it")
@click.option("--timeout", default=300, show_default=True, help="seconds to wait for the login")
@click.option("--config", "config_path", help="configuration file (for --customer)")
@store_url_option
def login(
    customer: str | None,
    connection: str | None,
    environment: str | None,
    client_id: str | None,
    client_secret_env: str | None,
    apis: tuple[str, ...],
    port: int | None,
    no_browser: bool,
    timeout: int,
    config_path: str | None,
    store_url: str | None,
) -> None:
    """Log in to DATEV in the browser and store the tokens encrypted.

    Opens DATEV's consent page, receives the answer on http://127.0.0.1:PORT/callback,
    exchanges the code (PKCE) and stores the tokens for scheduled runs.
    """
    import asyncio

    import httpx

    from ml_connector.datev.oauth.login import login_with_loopback

    async def run() -> None:
        store = _open_store(store_url)
        async with httpx.AsyncClient(timeout=30) as http:
            request = await _login_request(
                store,
                customer=customer,
                connection=connection,
                environment=environment,
                client_id=client_id,
                client_secret_env=client_secret_env,
                apis=apis,
                port=port,
                config_path=config_path,
                http=http,
            )
            info = await login_with_loopback(
                request,
                store,
                http,
                open_url=lambda url: _show_url(url, browser=not no_browser),
                wait_seconds=timeout,
            )
        click.echo(
            f"Connected {info.name!r} to {info.endpoints.issuer} "
            f"(client {info.client_id}, {'confidential' if info.confidential else 'public'})."
        )
        click.echo(f"Granted scope: {info.scope}")
        click.echo(f"Access token valid until {_when(info.access_expires_at)}.")

    asyncio.run(run())


@datev.command(name="status")
@click.argument("connection", required=False)
@store_url_option
def status(connection: str | None, store_url: str | None) -> None:
    """Show the stored DATEV connections: status, scope, token expiry (never a token)."""

    store = _open_store(store_url)
    names = [connection] if connection else store.names()
    if not names:
        click.echo("No DATEV connection stored. Run `ml-connector datev login`.")
        return
    failed = False
    for name in names:
        info = store.info(name)
        if info is None:
            click.echo(f"{name}: not connected (run `ml-connector datev login`)")
            failed = True
            continue
        state = "re-consent needed" if info.reconsent_required else "connected"
        click.echo(f"{name}: {state}")
        if info.status_detail:
            click.echo(f"  reason:        {info.status_detail}")
        click.echo(f"  issuer:        {info.endpoints.issuer}")
        kind = "confidential" if info.confidential else "public"
        click.echo(f"  client:        {info.client_id} ({kind})")
        click.echo(f"  user:          {info.subject or 'unknown'}")
        click.echo(f"  scope:         {info.scope}")
        click.echo(f"  logged in:     {_when(info.connected_at)}")
        click.echo(f"  last refresh:  {_when(info.refreshed_at) if info.refreshed_at else 'never'}")
        click.echo(f"  access token:  valid until {_when(info.access_expires_at)}")
        click.echo(f"  refresh token: valid until {_when(info.refresh_expires_at)}")
        click.echo("  manage grants: https://apps.datev.de/tokrevui")
        failed = failed or info.reconsent_required
    if failed:
        raise SystemExit(1)


@datev.command(name="logout")
@click.argument("connection")
@store_url_option
def logout(connection: str, store_url: str | None) -> None:
    """Revoke the connection's tokens at DATEV and delete them here."""
    import asyncio

    import httpx

    from ml_connector.datev.oauth.login import logout as disconnect

    async def run() -> list[str]:
        store = _open_store(store_url)
        if store.info(connection) is None:
            raise click.ClickException(f"no DATEV connection named {connection!r}")
        async with httpx.AsyncClient(timeout=30) as http:
            return await disconnect(store, connection, http)

    problems = asyncio.run(run())
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(f"Disconnected {connection!r}; its tokens are deleted here.")
