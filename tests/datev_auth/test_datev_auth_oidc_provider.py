"""The external check: login, code exchange and refresh against the npm ``oidc-provider``.

The server (tests/oidc_server/server.mjs) requires PKCE, rotates refresh tokens and
issues 900 s access tokens; nobody on this project wrote it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from datev_auth_support import REDIRECT_URI, SCOPE, browse_to_callback, log_in
from pydantic import SecretStr

from ml_connector.datev.oauth import (
    CallbackRejectedError,
    ConnectionStore,
    InvalidGrantError,
    OAuthClient,
    ProviderEndpoints,
    TokenEndpointClient,
    TokenManager,
    begin_authorization,
    complete_authorization,
    discover,
)
from ml_connector.datev.oauth.connection_store import REFRESH_TOKEN, credential_owner
from ml_connector.errors import ReconsentRequiredError

pytestmark = pytest.mark.node

SERVER_DIR = Path(__file__).resolve().parents[1] / "oidc_server"
PUBLIC = OAuthClient("mlc-public")
CONFIDENTIAL = OAuthClient("mlc-confidential", SecretStr("test-only-client-secret"))


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed (run `npm ci` in tests/oidc_server)"
    return None


@pytest.fixture(scope="module")
def oidc_issuer() -> Iterator[str]:
    """A running oidc-provider on a free loopback port; its issuer URL."""
    reason = _missing()
    if reason and os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the external OAuth server tests: {reason}")
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "OP_PORT": "0", "OP_REDIRECT_URI": REDIRECT_URI, "OP_AT_TTL": "900"}
    process = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=SERVER_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("READY "), f"oidc-provider did not start: {line!r}"
        yield line.split(" ", 1)[1]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def oidc_endpoints(oidc_issuer: str, http: httpx.AsyncClient) -> ProviderEndpoints:
    return await discover(oidc_issuer, http)


async def _tokens(endpoints: ProviderEndpoints, client: OAuthClient, http: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    url, pending = begin_authorization(
        endpoints, client_id=client.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
    )
    params = await asyncio.to_thread(browse_to_callback, url, REDIRECT_URI)
    token_client = TokenEndpointClient(endpoints, client, http)
    return await complete_authorization(params, pending, token_client), token_client


@pytest.mark.parametrize("client", [PUBLIC, CONFIDENTIAL], ids=["public", "confidential"])
async def test_login_exchange_and_rotating_refresh(
    oidc_endpoints: ProviderEndpoints, http: httpx.AsyncClient, client: OAuthClient
) -> None:
    assert oidc_endpoints.iss_parameter_supported
    tokens, token_client = await _tokens(oidc_endpoints, client, http)
    assert tokens.expires_at - time.time() == pytest.approx(900, abs=5)
    assert tokens.refresh_token is not None
    assert "offline_access" in tokens.scope
    rotated = await token_client.refresh(tokens.refresh_token)
    assert rotated.refresh_token is not None
    assert rotated.refresh_token != tokens.refresh_token
    assert rotated.expires_at - time.time() == pytest.approx(900, abs=5)
    with pytest.raises(InvalidGrantError):
        await token_client.refresh(tokens.refresh_token)
    with pytest.raises(InvalidGrantError):  # the replay revoked the whole grant
        await token_client.refresh(rotated.refresh_token)


async def test_wrong_verifier_is_refused(
    oidc_endpoints: ProviderEndpoints, http: httpx.AsyncClient
) -> None:
    url, _pending = begin_authorization(
        oidc_endpoints, client_id=PUBLIC.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
    )
    params = await asyncio.to_thread(browse_to_callback, url, REDIRECT_URI)
    _, other = begin_authorization(
        oidc_endpoints, client_id=PUBLIC.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
    )
    with pytest.raises(InvalidGrantError):
        await TokenEndpointClient(oidc_endpoints, PUBLIC, http).exchange_code(
            params["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=other.code_verifier.get_secret_value(),
        )


async def test_state_and_iss_are_checked_on_real_callbacks(
    oidc_endpoints: ProviderEndpoints, http: httpx.AsyncClient
) -> None:
    url, pending = begin_authorization(
        oidc_endpoints, client_id=PUBLIC.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
    )
    params = await asyncio.to_thread(browse_to_callback, url, REDIRECT_URI)
    assert params["iss"] == oidc_endpoints.issuer
    token_client = TokenEndpointClient(oidc_endpoints, PUBLIC, http)
    for forged in ({**params, "iss": "http://127.0.0.1:1"}, {**params, "state": "x" * 43}):
        with pytest.raises(CallbackRejectedError):
            await complete_authorization(forged, pending, token_client)
    without_iss = {k: v for k, v in params.items() if k != "iss"}
    with pytest.raises(CallbackRejectedError, match="iss"):
        await complete_authorization(without_iss, pending, token_client)


async def test_token_manager_refreshes_once_and_detects_a_dead_grant(
    oidc_endpoints: ProviderEndpoints, http: httpx.AsyncClient, connections: ConnectionStore
) -> None:
    await log_in(oidc_endpoints, CONFIDENTIAL, connections, http)
    ahead = lambda: time.time() + 890  # noqa: E731 - the stored token looks nearly expired
    managers = [TokenManager(connections, "acme", http=http, clock=ahead) for _ in range(2)]
    tokens = await asyncio.gather(*(m.get_access_token() for m in managers * 5))
    assert len({t.get_secret_value() for t in tokens}) == 1
    assert sum(m.refresh_count for m in managers) == 1
    # A second refresh still works: the grant was not killed by a double redemption.
    later = lambda: time.time() + 2 * 890  # noqa: E731
    assert await TokenManager(connections, "acme", http=http, clock=later).get_access_token()

    # Someone redeems the stored refresh token behind the manager's back: grant gone.
    stored = connections.credentials.get(credential_owner("acme"), REFRESH_TOKEN)
    token_client = TokenEndpointClient(oidc_endpoints, CONFIDENTIAL, http)
    await token_client.refresh(stored)
    with pytest.raises(InvalidGrantError):
        await token_client.refresh(stored)
    much_later = lambda: time.time() + 3 * 890  # noqa: E731
    with pytest.raises(ReconsentRequiredError, match="datev login"):
        await TokenManager(connections, "acme", http=http, clock=much_later).get_access_token()
    info = connections.info("acme")
    assert info is not None
    assert info.reconsent_required
