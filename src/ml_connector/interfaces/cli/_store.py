"""Opening the store and the credential store the way every command does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ml_connector.credentials import CredentialStore
    from ml_connector.datev.oauth.connection_store import ConnectionStore

__all__ = [
    "STORE_HELP",
    "datev_url_option",
    "open_cli_connection_store",
    "open_cli_credential_store",
    "store_url_option",
    "system_db_url_option",
]

STORE_HELP = "database URL of the ml-connector store (default: SQLite in the data directory)"

#: the ``--store-url`` option every command that opens the store takes
store_url_option = click.option("--store-url", envvar="ML_CONNECTOR_STORE_URL", help=STORE_HELP)
#: the durable engine's database, for the commands that run the engine
system_db_url_option = click.option(
    "--system-db-url",
    envvar="ML_CONNECTOR_SYSTEM_DB_URL",
    help="database URL of the durable engine's system database; workers sharing it share "
    "the queue (default: SQLite in the data directory)",
)
#: points DATEV calls at an emulator (dry runs, demos)
datev_url_option = click.option(
    "--datev-url",
    envvar="ML_CONNECTOR_DATEV_API_URL",
    help="use a DATEV emulator at this URL instead of DATEV",
)


def open_cli_credential_store(store_url: str | None) -> CredentialStore:
    """The migrated store's credential store; says so on stderr when a key file is created."""
    from ml_connector.credentials import CredentialStore, SecretCipher, load_keys
    from ml_connector.credentials.keys import KEY_FILE_NAME
    from ml_connector.paths import default_data_dir
    from ml_connector.store.open import open_store

    data_dir = default_data_dir()
    had_key_file = (data_dir / KEY_FILE_NAME).exists()
    keys = load_keys(data_dir)
    if keys.source.startswith("key file") and not had_key_file:
        click.echo(
            f"No encryption key configured: created {data_dir / KEY_FILE_NAME} (mode 0600). "
            "Set ML_CONNECTOR_SECRET_KEYS for production use.",
            err=True,
        )
    return CredentialStore(open_store(store_url), SecretCipher(keys))


def open_cli_connection_store(store_url: str | None) -> ConnectionStore:
    """The DATEV OAuth connection store on top of :func:`open_cli_credential_store`."""
    from ml_connector.datev.oauth.connection_store import ConnectionStore

    credentials = open_cli_credential_store(store_url)
    return ConnectionStore(credentials.engine, credentials)
