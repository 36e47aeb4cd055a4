"""The DATEV login through a web callback: begin and complete around a stored login."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from datev_auth_support import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, SCOPE, browse_to_callback
from pydantic import SecretStr

from ml_connector.datev.oauth import ConnectionStore, OAuthClient, discover
from ml_connector.datev.oauth.connection_store import needs_person
from ml_connector.datev.oauth.flow import CallbackRejectedError
from ml_connector.datev.oauth.idtoken import IdTokenRejectedError
from ml_connector.datev.oauth.login import LoginRequest, begin_login, complete_login
from ml_connector.datev.oauth.pending import PendingLogins
from ml_connector.datev.oauth.web import web_redirect_uri
from ml_connector.errors import ConfigurationError, ReconsentRequiredError
from ml_connector.store.tables import OAUTH_PENDING_LOGINS
from ml_connector_sandbox.emulators._server import ServerHandle, serve_in_thread
from ml_connector_sandbox.emulators.datev.idp import (
    IdentityProvider,
    OAuthClientRegistration,
    create_idp_app,
)

PUBLIC_URL = "https://connector.example.com"
CALLBACK = f"{PUBLIC_URL}/oauth/datev/callback"


@pytest.fixture
def web_idp() -> Iterator[ServerHandle]:
    """The emulator's IdP with a confidential client registered for the HTTPS callback."""
    registration = OAuthClientRegistration(
        CONFIDENTIAL_CLIENT,
        SecretStr(CONFIDENTIAL_SECRET),
        redirect_uris=(CALLBACK,),
        loopback_any_port=False,
    )
    idp = IdentityProvider(oauth_clients=[registration], auto_consent=True)
    with serve_in_thread(create_idp_app(idp)) as handle:
        idp.set_issuer(f"{handle.url}/openid")
        yield handle


async def _request(idp: ServerHandle, http: httpx.AsyncClient, name: str) -> LoginRequest:
    endpoints = await discover(f"{idp.url}/openid", http)
    client = OAuthClient(CONFIDENTIAL_CLIENT, SecretStr(CONFIDENTIAL_SECRET))
    return LoginRequest(connection=name, endpoints=endpoints, client=client, scope=SCOPE)


async def _begin(
    idp: ServerHandle, http: httpx.AsyncClient, logins: PendingLogins, name: str = "acme"
) -> tuple[LoginRequest, dict[str, str]]:
    request = await _request(idp, http, name)
    url = begin_login(request, logins, redirect_uri=CALLBACK, started_by="alice")
    return request, browse_to_callback(url, CALLBACK)


async def test_web_login_stores_tokens_and_the_login_is_single_use(
    web_idp: ServerHandle, connections: ConnectionStore
) -> None:
    logins = PendingLogins(connections.credentials)
    async with httpx.AsyncClient() as http:
        request, params = await _begin(web_idp, http, logins)
        assert logins.waiting("acme") == 1

        async def request_for(name: str) -> LoginRequest:
            assert name == "acme"
            return request

        info = await complete_login(params, logins, connections, http, request_for, user="alice")
        assert info.name == "acme"
        assert info.status == "connected"
        assert connections.access_token("acme") is not None
        assert needs_person(connections, "acme") is None
        assert logins.waiting("acme") == 0
        with pytest.raises(CallbackRejectedError, match="already completed"):
            await complete_login(params, logins, connections, http, request_for, user="alice")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"state": "forged-state-0123456789abcdef"}, "unknown"),
        ({"state": ""}, "no state"),
        ({"iss": "https://evil.example/openid"}, "mix-up"),
        ({"error": "access_denied", "code": ""}, "consent was refused"),
    ],
    ids=["state", "no-state", "iss", "denied"],
)
async def test_tampered_callbacks_are_refused_and_store_nothing(
    web_idp: ServerHandle, connections: ConnectionStore, tamper: dict[str, str], message: str
) -> None:
    logins = PendingLogins(connections.credentials)
    async with httpx.AsyncClient() as http:
        request, params = await _begin(web_idp, http, logins)

        async def request_for(_name: str) -> LoginRequest:
            return request

        with pytest.raises(CallbackRejectedError, match=message):
            await complete_login(
                {**params, **tamper}, logins, connections, http, request_for, user="alice"
            )
    assert connections.info("acme") is None


async def test_nonce_of_another_login_is_refused(
    web_idp: ServerHandle, connections: ConnectionStore
) -> None:
    logins = PendingLogins(connections.credentials)
    async with httpx.AsyncClient() as http:
        request, params = await _begin(web_idp, http, logins)
        with connections.engine.begin() as conn:
            conn.execute(sa.update(OAUTH_PENDING_LOGINS).values(nonce="x" * 43))

        async def request_for(_name: str) -> LoginRequest:
            return request

        with pytest.raises(IdTokenRejectedError, match="nonce"):
            await complete_login(params, logins, connections, http, request_for, user="alice")
    assert connections.info("acme") is None


async def test_login_completes_only_for_the_user_who_began_it(
    web_idp: ServerHandle, connections: ConnectionStore
) -> None:
    logins = PendingLogins(connections.credentials)
    async with httpx.AsyncClient() as http:
        request, params = await _begin(web_idp, http, logins)

        async def request_for(_name: str) -> LoginRequest:
            return request

        with pytest.raises(CallbackRejectedError, match="another user"):
            await complete_login(params, logins, connections, http, request_for, user="mallory")


async def test_expired_login_is_refused_and_purged(
    web_idp: ServerHandle, connections: ConnectionStore
) -> None:
    logins = PendingLogins(connections.credentials)
    async with httpx.AsyncClient() as http:
        request, params = await _begin(web_idp, http, logins)

        async def request_for(_name: str) -> LoginRequest:
            return request

        later = time.time() + 3600
        with pytest.raises(CallbackRejectedError, match="expired"):
            await complete_login(
                params, logins, connections, http, request_for, user="alice", clock=lambda: later
            )
        begin_login(request, logins, redirect_uri=CALLBACK, clock=lambda: later)
        begin_login(request, logins, redirect_uri=CALLBACK)
        begin_login(request, logins, redirect_uri=CALLBACK, clock=lambda: later + 3600)
    assert logins.waiting("acme") == 1  # the two older ones were purged with their verifiers
    with connections.engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM credentials")).scalar_one()
    assert left == 1


async def test_reconsent_state_is_visible_before_any_call(
    web_idp: ServerHandle, connections: ConnectionStore
) -> None:
    assert needs_person(connections, "acme") == "DATEV is not connected yet (no consent given)"
    logins = PendingLogins(connections.credentials)
    async with httpx.AsyncClient() as http:
        request, params = await _begin(web_idp, http, logins)

        async def request_for(_name: str) -> LoginRequest:
            return request

        await complete_login(params, logins, connections, http, request_for, user="alice")
    locked = connections.lock("acme")
    locked.mark_reconsent("the refresh token was revoked")
    locked.commit()
    assert needs_person(connections, "acme") == "the refresh token was revoked"
    info = connections.info("acme")
    assert info is not None
    with pytest.raises(ReconsentRequiredError):
        raise info.reconsent_error()


def test_redirect_uri_must_be_https_for_datev_production() -> None:
    production = "https://login.datev.de/openid"
    assert web_redirect_uri(PUBLIC_URL + "/", production) == CALLBACK
    for bad in ("http://connector.example.com", "https://localhost:8443", "https://10.0.0.4"):
        with pytest.raises(ConfigurationError, match="HTTPS redirect URIs on a host name"):
            web_redirect_uri(bad, production)
    sandbox = "https://login.datev.de/openidsandbox"
    assert web_redirect_uri("http://127.0.0.1:8000", sandbox) == (
        "http://127.0.0.1:8000/oauth/datev/callback"
    )
    with pytest.raises(ConfigurationError, match="not an http"):
        web_redirect_uri("connector.example.com", sandbox)
