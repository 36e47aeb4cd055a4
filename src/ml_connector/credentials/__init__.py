"""Encrypted credentials at rest: keys from outside the database, ciphertexts bound to owners.

Typical use::

    keys = load_keys(default_data_dir())
    store = CredentialStore(engine, SecretCipher(keys))
    store.put("acme", "looker_client_secret", SecretStr("..."))
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ml_connector.credentials.cipher import (
    CredentialBindingError,
    CredentialDecryptError,
    SecretCipher,
)
from ml_connector.credentials.keys import (
    ENV_SECRET_KEYS,
    KeyMaterial,
    generate_key,
    load_keys,
)
from ml_connector.credentials.store import CredentialNotFoundError, CredentialStore

__all__ = [
    "ENV_SECRET_KEYS",
    "CredentialBindingError",
    "CredentialDecryptError",
    "CredentialNotFoundError",
    "CredentialStore",
    "KeyMaterial",
    "SecretCipher",
    "generate_key",
    "load_keys",
    "open_credential_store",
]


def open_credential_store(engine: Engine, data_dir: Path | None = None) -> CredentialStore:
    """A store on ``engine`` with the configured keys (see :func:`load_keys`)."""
    from ml_connector.paths import default_data_dir

    return CredentialStore(engine, SecretCipher(load_keys(data_dir or default_data_dir())))
