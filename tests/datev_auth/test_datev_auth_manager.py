"""Token manager: refresh before expiry, exactly once, persisted; re-consent on invalid_grant."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
import time
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from datev_auth_support import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    PUBLIC_CLIENT,
    log_in,
)
from pydantic import SecretStr

from ml_connector.credentials import CredentialStore
from ml_connector.datev.oauth import (
    ConnectionStore,
    OAuthClient,
    ProviderEndpoints,
    TokenManager,
    TokenSet,
    discover,
)
from ml_connector.datev.oauth.connection_store import credential_owner
from ml_connector.datev.tokens import AccessTokenSource
from ml_connector.errors import ReconsentRequiredError, RetriableError
from ml_connector_sandbox.emulators._server import ServerHandle
from ml_connector_sandbox.emulators.datev.idp import IdentityProvider

#: a manager whose clock runs this far ahead sees a fresh 900 s token as about to expire
NEAR_EXPIRY = 890.0


def _ahead(offset: float = NEAR_EXPIRY) -> float:
    return time.time() + offset


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def endpoints(idp_server: ServerHandle, http: httpx.AsyncClient) -> ProviderEndpoints:
    return await discover(f"{idp_server.url}/openid", http)


@pytest.fixture(params=["public", "confidential"])
def oauth_client(request: pytest.FixtureRequest) -> OAuthClient:
    if request.param == "public":
        return OAuthClient(PUBLIC_CLIENT)
    return OAuthClient(CONFIDENTIAL_CLIENT, SecretStr(CONFIDENTIAL_SECRET))


def _stored(connections: ConnectionStore, kind: str) -> str:
    secret = connections.credentials.get(credential_owner("acme"), kind)
    return secret.get_secret_value()


async def test_manager_is_an_access_token_source(
    connections: ConnectionStore, http: httpx.AsyncClient
) -> None:
    manager: AccessTokenSource = TokenManager(connections, "acme", http=http)
    assert "acme" in repr(manager)


async def test_valid_token_is_served_without_refreshing(
    idp: IdentityProvider,
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    http: httpx.AsyncClient,
    oauth_client: OAuthClient,
) -> None:
    await log_in(endpoints, oauth_client, connections, http)
    manager = TokenManager(connections, "acme", http=http)
    token = await manager.get_access_token()
    assert token.get_secret_value() == _stored(connections, "access_token")
    assert await manager.get_access_token() == token
    assert idp.counts["refresh_token"] == 0


async def test_token_near_expiry_is_refreshed_and_persisted_first(
    idp: IdentityProvider,
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    http: httpx.AsyncClient,
    oauth_client: OAuthClient,
) -> None:
    await log_in(endpoints, oauth_client, connections, http)
    old_refresh = _stored(connections, "refresh_token")
    manager = TokenManager(connections, "acme", http=http, clock=_ahead)
    token = await manager.get_access_token()
    assert idp.counts["refresh_token"] == 1
    # The rotated refresh token and the new access token are in the store already.
    assert _stored(connections, "refresh_token") != old_refresh
    assert _stored(connections, "access_token") == token.get_secret_value()
    info = connections.info("acme")
    assert info is not None
    assert info.generation == 1
    assert idp.check_access_token(token.get_secret_value()) is not None


async def test_concurrent_coroutines_refresh_exactly_once(
    idp: IdentityProvider,
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    http: httpx.AsyncClient,
) -> None:
    await log_in(endpoints, OAuthClient(PUBLIC_CLIENT), connections, http)
    idp.set_token_latency(0.2)
    manager = TokenManager(connections, "acme", http=http, clock=_ahead)
    other = TokenManager(connections, "acme", http=http, clock=_ahead)  # e.g. another worker
    tokens = await asyncio.gather(*(m.get_access_token() for m in [manager] * 6 + [other] * 6))
    assert idp.counts["refresh_token"] == 1
    assert manager.refresh_count + other.refresh_count == 1
    assert len({t.get_secret_value() for t in tokens}) == 1


async def test_two_processes_refresh_exactly_once(
    idp: IdentityProvider,
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    http: httpx.AsyncClient,
    db_url: str,
    secret_key: str,
) -> None:
    await log_in(endpoints, OAuthClient(PUBLIC_CLIENT), connections, http)
    idp.set_token_latency(0.3)
    script = Path(__file__).with_name("datev_auth_refresh_worker.py")
    args = [str(script), db_url, secret_key, "acme", str(NEAR_EXPIRY)]
    workers = [
        await asyncio.create_subprocess_exec(sys.executable, *args, stdin=PIPE, stdout=PIPE)
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), 60)
            assert line.strip() == b"READY"
        outputs = await asyncio.wait_for(
            asyncio.gather(*(worker.communicate(b"go\n") for worker in workers)), 60
        )
        results = [out.decode().split() for out, _ in outputs]
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    assert idp.counts["refresh_token"] == 1
    assert sorted(int(count) for _, count in results) == [0, 1]
    assert results[0][0] == results[1][0]
    stored = hashlib.sha256(_stored(connections, "access_token").encode()).hexdigest()
    assert results[0][0] == stored


async def test_invalidate_forces_a_refresh(
    idp: IdentityProvider,
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    http: httpx.AsyncClient,
) -> None:
    await log_in(endpoints, OAuthClient(PUBLIC_CLIENT), connections, http)
    manager = TokenManager(connections, "acme", http=http)
    first = await manager.get_access_token()
    await manager.invalidate(first)
    second = await manager.get_access_token()
    assert second != first
    assert idp.counts["refresh_token"] == 1


@pytest.mark.parametrize("fault", ["revoke_all_tokens", "expire_refresh_tokens"])
async def test_invalid_grant_marks_reconsent_and_never_retries(
    idp: IdentityProvider,
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    http: httpx.AsyncClient,
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await log_in(endpoints, OAuthClient(PUBLIC_CLIENT), connections, http)
    refresh_token = _stored(connections, "refresh_token")
    getattr(idp, fault)()
    manager = TokenManager(connections, "acme", http=http, clock=_ahead)
    with caplog.at_level(logging.DEBUG), pytest.raises(ReconsentRequiredError) as info:
        await manager.get_access_token()
    assert "datev login" in str(info.value)
    assert idp.counts["refused_refresh_token"] == 1
    stored = connections.info("acme")
    assert stored is not None
    assert stored.reconsent_required
    # A new manager (e.g. the next scheduled run) fails at once, without calling DATEV.
    again = TokenManager(connections, "acme", http=http, clock=_ahead)
    with pytest.raises(ReconsentRequiredError):
        await again.get_access_token()
    assert idp.counts["refused_refresh_token"] == 1
    assert refresh_token not in caplog.text
    assert refresh_token not in str(info.value)


async def test_new_login_clears_reconsent(
    idp: IdentityProvider,
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    http: httpx.AsyncClient,
) -> None:
    await log_in(endpoints, OAuthClient(PUBLIC_CLIENT), connections, http)
    idp.revoke_all_tokens()
    with pytest.raises(ReconsentRequiredError):
        await TokenManager(connections, "acme", http=http, clock=_ahead).get_access_token()
    await log_in(endpoints, OAuthClient(PUBLIC_CLIENT), connections, http)
    token = await TokenManager(connections, "acme", http=http, clock=_ahead).get_access_token()
    assert idp.check_access_token(token.get_secret_value()) is not None


async def test_transient_failure_keeps_the_refresh_token(
    idp: IdentityProvider,
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    http: httpx.AsyncClient,
) -> None:
    await log_in(endpoints, OAuthClient(PUBLIC_CLIENT), connections, http)
    refresh_token = _stored(connections, "refresh_token")
    idp.fail_token_requests(1, status=503)
    manager = TokenManager(connections, "acme", http=http, clock=_ahead)
    with pytest.raises(RetriableError):
        await manager.get_access_token()
    assert _stored(connections, "refresh_token") == refresh_token
    assert not connections.info("acme").reconsent_required  # type: ignore[union-attr]
    assert await manager.get_access_token()


async def test_unknown_connection_asks_for_a_login(
    connections: ConnectionStore, http: httpx.AsyncClient
) -> None:
    with pytest.raises(ReconsentRequiredError, match="datev login"):
        await TokenManager(connections, "nobody", http=http).get_access_token()


async def test_tokens_and_client_secret_are_encrypted_at_rest(
    endpoints: ProviderEndpoints,
    connections: ConnectionStore,
    credentials: CredentialStore,
    http: httpx.AsyncClient,
) -> None:
    client = OAuthClient(CONFIDENTIAL_CLIENT, SecretStr(CONFIDENTIAL_SECRET))
    info = await log_in(endpoints, client, connections, http)
    secrets = [_stored(connections, k) for k in ("access_token", "refresh_token", "client_secret")]
    assert secrets[2] == CONFIDENTIAL_SECRET
    with connections.engine.connect() as conn:
        dump = "".join(
            repr(conn.execute(sa.select(table)).all()) for table in sa.MetaData().tables.values()
        )
        dump += repr(conn.execute(sa.text("SELECT * FROM credentials")).all())
        dump += repr(conn.execute(sa.text("SELECT * FROM oauth_connections")).all())
    for secret in secrets:
        assert secret not in dump
        assert secret not in repr(info)


def test_open_connection_store_uses_the_configured_keys(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml_connector.credentials import generate_key
    from ml_connector.datev.oauth import open_connection_store

    key = generate_key()
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", key)
    store = open_connection_store(engine, tmp_path)
    store.credentials.put("o", "k", SecretStr("v"))
    assert not (tmp_path / "secret.key").exists()
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", generate_key() + "," + key)
    assert (
        open_connection_store(engine, tmp_path).credentials.get("o", "k").get_secret_value() == "v"
    )


async def test_login_records_who_gave_consent(
    endpoints: ProviderEndpoints, connections: ConnectionStore, http: httpx.AsyncClient
) -> None:
    from ml_connector.datev.oauth.login import consenting_user

    info = await log_in(endpoints, OAuthClient(PUBLIC_CLIENT), connections, http)
    token = connections.credentials.get(credential_owner("acme"), "access_token")
    tokens = TokenSet(access_token=token, expires_at=info.access_expires_at or 0)
    assert await consenting_user(tokens, endpoints, http) == "Demo Berater (emulator-user-demo)"
