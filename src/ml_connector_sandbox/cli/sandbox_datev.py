"""``ml-connector sandbox datev``: run the DATEV emulator (identity provider and APIs)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ml_connector_sandbox.emulators.datev.store import EmulatorStore

__all__ = ["DEFAULT_PORT", "sandbox_client_secret", "sandbox_datev"]

DEFAULT_PORT = 8766
DEFAULT_OAUTH_CLIENT_ID = "ml-connector-sandbox"


def sandbox_client_secret(store: EmulatorStore) -> str:
    """The sandbox OAuth client's secret: generated once per data dir, then kept there."""
    saved = dict(store.objects("sandbox")).get("oauth_client_secret")
    if isinstance(saved, str):
        return saved
    secret = secrets.token_urlsafe(24)
    store.put("sandbox", "oauth_client_secret", secret)
    return secret


@click.command(name="datev")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="TCP port.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON or TOML file with clients, services, document types and faults.",
)
@click.option(
    "--oauth-client-id",
    default=DEFAULT_OAUTH_CLIENT_ID,
    show_default=True,
    help="OAuth client id the identity provider accepts.",
)
@click.option(
    "--oauth-client-secret",
    envvar="ML_CONNECTOR_SANDBOX_DATEV_CLIENT_SECRET",
    default=None,
    help="The OAuth client's secret (env: ML_CONNECTOR_SANDBOX_DATEV_CLIENT_SECRET). "
    "Default: one generated for the data dir, kept there and printed at start.",
)
@click.option(
    "--public-client",
    is_flag=True,
    help="Register the OAuth client without a secret (DATEV's clients are confidential).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the emulator keeps ledger, jobs and grants across restarts "
    "[default: sandbox-datev under the ml-connector data dir].",
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    default=("http://127.0.0.1/callback", "http://localhost/callback"),
    show_default=True,
    help="Allowed redirect URI (loopback URIs match on any port). Repeatable.",
)
@click.option(
    "--auto-consent/--no-auto-consent",
    default=False,
    show_default=True,
    help="Complete the consent step without a person (demo and tests).",
)
@click.option("--job-pending-reads", type=int, default=None, help="Reads a job stays pending [1].")
@click.option("--retry-after", type=int, default=None, help="Retry-After seconds on jobs [1].")
@click.option("--error-rate", type=float, default=None, help="Share of API requests answered 503.")
@click.option("--rate-limit-rate", type=float, default=None, help="Share answered 429.")
@click.option("--latency", type=float, default=None, help="Seconds added to each API request.")
@click.option("--job-failure-rate", type=float, default=None, help="Share of jobs that fail.")
@click.option("--seed", type=int, default=None, help="Random seed for the faults.")
def sandbox_datev(
    host: str,
    port: int,
    config_file: Path | None,
    oauth_client_id: str,
    oauth_client_secret: str | None,
    public_client: bool,
    data_dir: Path | None,
    redirect_uris: tuple[str, ...],
    auto_consent: bool,
    job_pending_reads: int | None,
    retry_after: int | None,
    error_rate: float | None,
    rate_limit_rate: float | None,
    latency: float | None,
    job_failure_rate: float | None,
    seed: int | None,
) -> None:
    """Run the DATEV emulator (identity provider and APIs) in the foreground.

    APIs live under /accounting-clients/platform/v2, /accounting-extf-files/platform/v3,
    /accounting-dxso-jobs/platform/v2 and /accounting-documents/platform/v2; the OIDC
    issuer is /openid; /admin/ledger shows what was booked.
    """
    import uvicorn
    from pydantic import SecretStr

    from ml_connector.paths import default_data_dir
    from ml_connector_sandbox.emulators.datev.app import create_app
    from ml_connector_sandbox.emulators.datev.config import EmulatorConfig
    from ml_connector_sandbox.emulators.datev.idp import IdentityProvider, OAuthClientRegistration
    from ml_connector_sandbox.emulators.datev.store import EmulatorStore

    config = EmulatorConfig.from_file(config_file) if config_file else EmulatorConfig()
    updates: dict[str, object] = {}
    if job_pending_reads is not None:
        updates["job_pending_reads"] = job_pending_reads
    if retry_after is not None:
        updates["retry_after_seconds"] = retry_after
    faults = {
        key: value
        for key, value in (
            ("error_rate", error_rate),
            ("rate_limit_rate", rate_limit_rate),
            ("latency_seconds", latency),
            ("job_failure_rate", job_failure_rate),
            ("seed", seed),
        )
        if value is not None
    }
    if faults:
        updates["faults"] = config.faults.model_copy(update=faults)
    if updates:
        config = EmulatorConfig.model_validate(config.model_dump() | updates)
    base = f"http://{host}:{port}"
    store = EmulatorStore(data_dir or default_data_dir() / "sandbox-datev")
    secret = None if public_client else oauth_client_secret or sandbox_client_secret(store)
    idp = IdentityProvider(
        issuer=f"{base}/openid",
        oauth_clients=[
            OAuthClientRegistration(
                client_id=oauth_client_id,
                client_secret=SecretStr(secret) if secret else None,
                redirect_uris=redirect_uris,
            )
        ],
        auto_consent=auto_consent,
        store=store,
    )
    app = create_app(config, idp, store=store)
    click.echo(f"DATEV emulator on {base} (issuer {base}/openid, ledger {base}/admin/ledger)")
    click.echo(f"data dir: {store.data_dir}")
    kind = f"confidential, secret {secret}" if secret else "public"
    click.echo(f"OAuth client: {oauth_client_id} ({kind})")
    clients = ", ".join(
        f"{c.id} ({', '.join(c.services) or 'no services'})" for c in config.clients
    )
    click.echo(f"clients: {clients}")
    uvicorn.run(app, host=host, port=port, log_level="info")
