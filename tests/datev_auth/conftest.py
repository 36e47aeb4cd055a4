"""Fixtures for the DATEV login tests: the emulator's IdP in a thread, databases, stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from datev_auth_support import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, PUBLIC_CLIENT
from pydantic import SecretStr
from sqlalchemy import Engine

from ml_connector.credentials import CredentialStore, SecretCipher, generate_key
from ml_connector.datev.oauth import ConnectionStore
from ml_connector.store.db import make_engine, migrate, sqlite_url
from ml_connector_sandbox.emulators._server import ServerHandle, serve_in_thread
from ml_connector_sandbox.emulators.datev.idp import (
    IdentityProvider,
    OAuthClientRegistration,
    create_idp_app,
)


@pytest.fixture
def idp() -> IdentityProvider:
    """An identity provider with a public and a confidential client, consent automatic."""
    return IdentityProvider(
        oauth_clients=[
            OAuthClientRegistration(PUBLIC_CLIENT),
            OAuthClientRegistration(CONFIDENTIAL_CLIENT, SecretStr(CONFIDENTIAL_SECRET)),
        ],
        auto_consent=True,
    )


@pytest.fixture
def idp_server(idp: IdentityProvider) -> Iterator[ServerHandle]:
    """``idp`` served on a free loopback port, its issuer set to ``<url>/openid``."""
    with serve_in_thread(create_idp_app(idp)) as handle:
        idp.set_issuer(f"{handle.url}/openid")
        yield handle


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database URL: SQLite file, and PostgreSQL through ``postgres_url``."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the migrated test database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def secret_key() -> str:
    """One Fernet key for the test's cipher."""
    return generate_key()


@pytest.fixture
def credentials(engine: Engine, secret_key: str) -> CredentialStore:
    """A credential store on the test database."""
    return CredentialStore(engine, SecretCipher([secret_key]))


@pytest.fixture
def connections(engine: Engine, credentials: CredentialStore) -> ConnectionStore:
    """A DATEV connection store on the test database."""
    return ConnectionStore(engine, credentials)
