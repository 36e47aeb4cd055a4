"""Authorization Code + PKCE against the emulator's identity provider, and callback checks."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from datev_auth_support import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    PUBLIC_CLIENT,
    REDIRECT_URI,
    SCOPE,
    browse_to_callback,
)
from pydantic import SecretStr

from ml_connector.datev.oauth import (
    CallbackRejectedError,
    InvalidGrantError,
    OAuthClient,
    PendingAuthorization,
    ProviderEndpoints,
    TokenEndpointClient,
    begin_authorization,
    complete_authorization,
    discover,
    scope_for,
)
from ml_connector.datev.oauth.flow import check_callback, s256_challenge
from ml_connector.errors import ConfigurationError, MlConnectorError
from ml_connector_sandbox.emulators._server import ServerHandle
from ml_connector_sandbox.emulators.datev.idp import (
    IdentityProvider,
    OAuthClientRegistration,
    create_idp_app,
)

ENDPOINTS = ProviderEndpoints(
    issuer="https://idp.example/openid",
    authorization_endpoint="https://idp.example/openid/authorize",
    token_endpoint="https://idp.example/token",
)


def _begin() -> tuple[dict[str, list[str]], PendingAuthorization]:
    url, pending = begin_authorization(
        ENDPOINTS, client_id="c", redirect_uri=REDIRECT_URI, scope=SCOPE
    )
    return parse_qs(urlsplit(url).query), pending


def test_state_and_nonce_are_long_and_fresh_per_request() -> None:
    seen: set[str] = set()
    for _ in range(50):
        query, pending = _begin()
        assert query["state"] == [pending.state]
        assert query["nonce"] == [pending.nonce]
        assert len(pending.state) >= 20
        assert len(pending.nonce) >= 20
        seen.update((pending.state, pending.nonce))
    assert len(seen) == 100


def test_authorization_url_carries_an_s256_challenge_of_the_verifier() -> None:
    query, pending = _begin()
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [s256_challenge(pending.code_verifier.get_secret_value())]
    assert pending.code_verifier.get_secret_value() not in str(query)
    assert query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) >= {"openid", "offline_access"}


def test_s256_matches_the_rfc7636_appendix_b_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_scope_for_adds_openid_and_offline_access_without_duplicates() -> None:
    assert scope_for(["extf-files", "clients"]) == (
        "openid profile offline_access datev:accounting:clients datev:accounting:extf-files-import"
    )
    with pytest.raises(ConfigurationError):
        scope_for(["payroll"])


def test_pending_authorization_survives_a_round_trip_through_plain_data() -> None:
    _, pending = _begin()
    assert PendingAuthorization.from_dict(pending.to_dict()) == pending
    assert pending.code_verifier.get_secret_value() not in repr(pending)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"code": "c", "state": "another-state-of-enough-length"}, "state"),
        ({"code": "c"}, "state"),
        ({"code": "c", "iss": "https://evil.example/openid"}, "issuer"),
        ({"error": "access_denied"}, "refused"),
        ({}, "no authorization code"),
    ],
)
def test_callback_checks_refuse_bad_responses(params: dict[str, str], message: str) -> None:
    _, pending = _begin()
    if "state" not in params and message != "state":
        params = {**params, "state": pending.state}
    with pytest.raises(CallbackRejectedError, match=message):
        check_callback(params, pending)


def test_callback_without_iss_is_refused_when_the_provider_promises_it() -> None:
    _, pending = _begin()
    with pytest.raises(CallbackRejectedError, match="iss"):
        check_callback({"code": "c", "state": pending.state}, pending, iss_required=True)
    assert check_callback({"code": "c", "state": pending.state}, pending) == "c"


def test_stale_login_is_refused() -> None:
    _, pending = _begin()
    later = time.time() + 3600
    with pytest.raises(CallbackRejectedError, match="expired"):
        check_callback({"code": "c", "state": pending.state}, pending, clock=lambda: later)


@pytest.mark.parametrize("confidential", [False, True], ids=["public", "confidential"])
async def test_full_flow_and_refresh_rotation(
    idp: IdentityProvider, idp_server: ServerHandle, confidential: bool
) -> None:
    client = (
        OAuthClient(CONFIDENTIAL_CLIENT, SecretStr(CONFIDENTIAL_SECRET))
        if confidential
        else OAuthClient(PUBLIC_CLIENT)
    )
    async with httpx.AsyncClient() as http:
        endpoints = await discover(f"{idp_server.url}/openid", http)
        assert endpoints.iss_parameter_supported
        url, pending = begin_authorization(
            endpoints, client_id=client.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
        )
        params = browse_to_callback(url, REDIRECT_URI)
        assert params["iss"] == endpoints.issuer
        token_client = TokenEndpointClient(endpoints, client, http)
        tokens = await complete_authorization(params, pending, token_client)
        assert tokens.refresh_token is not None
        assert tokens.expires_at - time.time() == pytest.approx(900, abs=5)
        grant = idp.check_access_token(tokens.access_token.get_secret_value())
        assert grant is not None
        assert grant.client_id == client.client_id
        assert "datev:accounting:extf-files-import" in grant.scopes

        rotated = await token_client.refresh(tokens.refresh_token)
        assert rotated.refresh_token is not None
        assert rotated.refresh_token != tokens.refresh_token
        with pytest.raises(InvalidGrantError):
            await token_client.refresh(tokens.refresh_token)  # single use
        with pytest.raises(InvalidGrantError):
            await token_client.refresh(rotated.refresh_token)  # reuse revoked the grant


async def test_wrong_pkce_verifier_is_refused(idp_server: ServerHandle) -> None:
    client = OAuthClient(PUBLIC_CLIENT)
    async with httpx.AsyncClient() as http:
        endpoints = await discover(f"{idp_server.url}/openid", http)
        url, pending = begin_authorization(
            endpoints, client_id=client.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
        )
        params = browse_to_callback(url, REDIRECT_URI)
        _, other = begin_authorization(
            endpoints, client_id=client.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
        )
        token_client = TokenEndpointClient(endpoints, client, http)
        with pytest.raises(InvalidGrantError, match="PKCE"):
            await token_client.exchange_code(
                params["code"],
                redirect_uri=REDIRECT_URI,
                code_verifier=other.code_verifier.get_secret_value(),
            )
        tokens = await complete_authorization(params, pending, token_client)
        assert tokens.access_token.get_secret_value()


async def test_callback_replayed_into_another_login_is_refused(idp_server: ServerHandle) -> None:
    client = OAuthClient(PUBLIC_CLIENT)
    async with httpx.AsyncClient() as http:
        endpoints = await discover(f"{idp_server.url}/openid", http)
        url, _first = begin_authorization(
            endpoints, client_id=client.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
        )
        params = browse_to_callback(url, REDIRECT_URI)
        _, second = begin_authorization(
            endpoints, client_id=client.client_id, redirect_uri=REDIRECT_URI, scope=SCOPE
        )
        with pytest.raises(CallbackRejectedError, match="state"):
            await complete_authorization(
                params, second, TokenEndpointClient(endpoints, client, http)
            )


async def test_discovery_with_a_foreign_issuer_is_refused(idp_server: ServerHandle) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigurationError, match="issuer"):
            await discover(idp_server.url.replace("127.0.0.1", "localhost") + "/openid", http)


def _token_client(handler: httpx.MockTransport, client: OAuthClient) -> TokenEndpointClient:
    return TokenEndpointClient(ENDPOINTS, client, httpx.AsyncClient(transport=handler))


async def test_refusals_name_the_reason_but_never_the_secrets() -> None:
    secret = "client-secret-value-1234"
    refresh = "refresh-token-value-5678"
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(400, json={"error": "invalid_grant", "error_description": "gone"})

    client = OAuthClient("app", SecretStr(secret))
    with pytest.raises(InvalidGrantError) as info:
        await _token_client(httpx.MockTransport(answer), client).refresh(SecretStr(refresh))
    text = f"{info.value!s} {info.value!r} {client!r}"
    assert "gone" in text
    assert secret not in text
    assert refresh not in text
    # Confidential: HTTP Basic, no secret and no client_id in the form.
    body = sent[0].content.decode()
    assert sent[0].headers["Authorization"].startswith("Basic ")
    assert "client_id" not in body
    assert secret not in body


async def test_public_client_sends_its_id_in_the_form() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"access_token": "a", "expires_in": 900})

    tokens = await _token_client(httpx.MockTransport(answer), OAuthClient("app")).refresh(
        SecretStr("r")
    )
    assert "Authorization" not in sent[0].headers
    assert parse_qs(sent[0].content.decode())["client_id"] == ["app"]
    assert tokens.refresh_token is None
    assert "SecretStr('**********')" in repr(tokens)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(503, "RetriableError"), (429, "RateLimitedError"), (401, "ConfigurationError")],
)
async def test_token_endpoint_failures_map_to_the_error_tree(status: int, error_type: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        error = "invalid_client" if status == 401 else "temporarily_unavailable"
        return httpx.Response(status, json={"error": error})

    with pytest.raises(MlConnectorError) as info:
        await _token_client(httpx.MockTransport(answer), OAuthClient("app")).refresh(SecretStr("r"))
    assert type(info.value).__name__ == error_type


async def test_secret_with_reserved_characters_authenticates(idp: IdentityProvider) -> None:
    secret = "a:b+c%d é"
    idp.clients["odd"] = OAuthClientRegistration("odd", SecretStr(secret))
    minted = idp.mint_tokens("odd", ["openid"])
    transport = httpx.ASGITransport(app=create_idp_app(idp))
    async with httpx.AsyncClient(transport=transport, base_url="http://idp") as http:
        endpoints = ProviderEndpoints(
            issuer="http://idp/openid",
            authorization_endpoint="http://idp/openid/authorize",
            token_endpoint="http://idp/token",
        )
        client = TokenEndpointClient(endpoints, OAuthClient("odd", SecretStr(secret)), http)
        tokens = await client.refresh(SecretStr(minted.refresh_token))
    assert idp.check_access_token(tokens.access_token.get_secret_value()) is not None


def test_a_login_asks_for_the_apis_its_pipelines_send_through() -> None:
    from ml_connector.datev.oauth.scopes import apis_for

    assert apis_for([]) == ("extf-files",)
    assert apis_for(["extf", "documents", "extf"]) == ("extf-files", "documents")
    assert apis_for(["dxso"]) == ("dxso-jobs",)
