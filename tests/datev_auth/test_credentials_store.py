"""The credential store on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy import Engine

from ml_connector.credentials import (
    CredentialBindingError,
    CredentialNotFoundError,
    CredentialStore,
    SecretCipher,
    generate_key,
)
from ml_connector.credentials.store import credentials_table


def test_put_get_replace_delete(credentials: CredentialStore) -> None:
    credentials.put("acme", "looker_client_secret", SecretStr("first"))
    credentials.put("acme", "looker_client_secret", SecretStr("second"))
    credentials.put("acme", "datev_client_secret", SecretStr("other"))
    assert credentials.get("acme", "looker_client_secret").get_secret_value() == "second"
    assert credentials.kinds("acme") == ["datev_client_secret", "looker_client_secret"]
    assert credentials.delete("acme", "looker_client_secret") == 1
    assert credentials.find("acme", "looker_client_secret") is None
    with pytest.raises(CredentialNotFoundError):
        credentials.get("acme", "looker_client_secret")
    assert credentials.delete("acme") == 1
    assert credentials.kinds("acme") == []


def test_database_holds_neither_secret_nor_key(
    credentials: CredentialStore, engine: Engine, secret_key: str
) -> None:
    credentials.put("acme", "token", SecretStr("very-secret-token-value"))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(credentials_table)).all()
    dump = repr(rows).encode()
    assert b"very-secret-token-value" not in dump
    assert secret_key.encode() not in dump


def test_swapping_two_owners_ciphertexts_in_the_database_is_detected(
    credentials: CredentialStore, engine: Engine
) -> None:
    credentials.put("acme", "refresh_token", SecretStr("acme-token"))
    credentials.put("globex", "refresh_token", SecretStr("globex-token"))
    table = credentials_table
    with engine.begin() as conn:
        acme, globex = (
            conn.execute(sa.select(table.c.ciphertext).where(table.c.owner == owner)).scalar_one()
            for owner in ("acme", "globex")
        )
        conn.execute(sa.update(table).where(table.c.owner == "acme").values(ciphertext=globex))
        conn.execute(sa.update(table).where(table.c.owner == "globex").values(ciphertext=acme))
    for owner in ("acme", "globex"):
        with pytest.raises(CredentialBindingError) as info:
            credentials.get(owner, "refresh_token")
        assert "acme-token" not in str(info.value)
        assert "globex-token" not in str(info.value)


def test_rotate_all_re_encrypts_every_secret(engine: Engine, secret_key: str) -> None:
    old = CredentialStore(engine, SecretCipher([secret_key]))
    for owner in ("acme", "globex"):
        for kind in ("refresh_token", "client_secret"):
            old.put(owner, kind, SecretStr(f"{owner}/{kind}"))
    new_key = generate_key()
    assert CredentialStore(engine, SecretCipher([new_key, secret_key])).rotate_all() == 4
    new_only = CredentialStore(engine, SecretCipher([new_key]))
    for owner in ("acme", "globex"):
        for kind in ("refresh_token", "client_secret"):
            assert new_only.get(owner, kind).get_secret_value() == f"{owner}/{kind}"


def test_repr_shows_no_key(engine: Engine, secret_key: str) -> None:
    assert secret_key not in repr(CredentialStore(engine, SecretCipher([secret_key])))
