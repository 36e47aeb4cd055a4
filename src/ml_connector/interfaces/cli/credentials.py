"""``ml-connector credentials``: store, list and re-encrypt secrets at rest."""

from __future__ import annotations

import click

from ml_connector.credentials.kinds import SETTABLE_KINDS
from ml_connector.interfaces.cli._store import store_url_option

__all__ = ["credentials"]


@click.group(name="credentials")
def credentials() -> None:
    """Manage the encrypted credentials (Looker API3 secrets, DATEV tokens and secrets)."""


_SET_HELP = (
    "Store a secret for OWNER/KIND (asked for without echo, or read from stdin).\n\n"
    "OWNER is NAME of the configuration's store:NAME reference. KIND is one of:\n\n\b\n"
    + "\n".join(f"{kind}: {what}" for kind, what in SETTABLE_KINDS.items())
)


@credentials.command(name="set", help=_SET_HELP)
@click.argument("owner")
@click.argument("kind")
@store_url_option
def set_secret(owner: str, kind: str, store_url: str | None) -> None:
    """Store a secret for OWNER/KIND (the help text is ``_SET_HELP``)."""
    from pydantic import SecretStr

    from ml_connector.interfaces.cli._store import open_cli_credential_store

    if kind not in SETTABLE_KINDS:
        raise click.ClickException(
            f"unknown kind of secret {kind!r}; use one of: {', '.join(SETTABLE_KINDS)}"
        )

    value = click.prompt(f"Secret for {owner}/{kind}", hide_input=True).strip()
    if not value:
        raise click.UsageError("an empty secret was given; nothing stored")
    open_cli_credential_store(store_url).put(owner, kind, SecretStr(value))
    click.echo(f"Stored {owner}/{kind} (encrypted).")


@credentials.command(name="list")
@click.argument("owner")
@store_url_option
def list_kinds(owner: str, store_url: str | None) -> None:
    """List which kinds of secret are stored for OWNER (never the values)."""
    from ml_connector.interfaces.cli._store import open_cli_credential_store

    kinds = open_cli_credential_store(store_url).kinds(owner)
    if not kinds:
        click.echo(f"No secrets stored for {owner}.")
    for kind in kinds:
        click.echo(f"{owner}/{kind}")


@credentials.command(name="rotate")
@store_url_option
def rotate(store_url: str | None) -> None:
    """Re-encrypt every stored secret with the newest key of ML_CONNECTOR_SECRET_KEYS.

    Rotation: put a new key first in ML_CONNECTOR_SECRET_KEYS (keep the old ones after
    it), run this command, check the services, then drop the old keys.
    """
    from ml_connector.interfaces.cli._store import open_cli_credential_store

    count = open_cli_credential_store(store_url).rotate_all()
    click.echo(f"Re-encrypted {count} secret(s) with the newest key.")
