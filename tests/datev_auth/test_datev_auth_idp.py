"""The emulator's identity provider: discovery, authorize checks, consent form, tokens, faults."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

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

from ml_connector.datev.oauth.flow import random_token, s256_challenge
from ml_connector_sandbox.emulators._server import ServerHandle, serve_in_thread
from ml_connector_sandbox.emulators.datev.idp import (
    EmulatorUser,
    IdentityProvider,
    OAuthClientRegistration,
    create_idp_app,
)

Web = httpx.Client


def _provider(**kwargs: object) -> IdentityProvider:
    return IdentityProvider(
        oauth_clients=[
            OAuthClientRegistration(PUBLIC_CLIENT),
            OAuthClientRegistration(CONFIDENTIAL_CLIENT, SecretStr(CONFIDENTIAL_SECRET)),
        ],
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def serve() -> Iterator[Callable[[IdentityProvider], Web]]:
    """Serve providers on loopback; returns an HTTP client whose base URL is the server."""
    handles: list[tuple[ServerHandle, Web]] = []

    def start(idp: IdentityProvider) -> Web:
        handle = serve_in_thread(create_idp_app(idp))
        web = httpx.Client(base_url=handle.url, timeout=10)
        handles.append((handle, web))
        return web

    yield start
    for handle, web in handles:
        web.close()
        handle.stop()


def _issuer(web: Web) -> str:
    return f"{web.base_url}".rstrip("/") + "/openid"


def _authorize_query(verifier: str, **overrides: str) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": random_token(),
        "nonce": random_token(),
        "code_challenge": s256_challenge(verifier),
        "code_challenge_method": "S256",
    }
    query.update(overrides)
    return {k: v for k, v in query.items() if v != ""}


def _redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("http://127.0.0.1:")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _login(web: Web, client_id: str = PUBLIC_CLIENT) -> dict[str, object]:
    verifier = random_token(48)
    query = _authorize_query(verifier, client_id=client_id)
    params = _redirect_params(web.get("/openid/authorize", params=query, follow_redirects=False))
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    auth = None
    if client_id == PUBLIC_CLIENT:
        form["client_id"] = client_id
    else:
        auth = (client_id, CONFIDENTIAL_SECRET)
    response = web.post("/token", data=form, auth=auth)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _refresh(web: Web, refresh_token: object) -> httpx.Response:
    return web.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": str(refresh_token),
            "client_id": PUBLIC_CLIENT,
        },
    )


def test_discovery_document_lists_datev_like_endpoints(
    serve: Callable[[IdentityProvider], Web],
) -> None:
    web = serve(_provider())
    doc = web.get("/openid/.well-known/openid-configuration").json()
    assert doc["issuer"] == _issuer(web)
    assert doc["authorization_endpoint"] == f"{_issuer(web)}/authorize"
    assert doc["token_endpoint"] == f"{web.base_url}".rstrip("/") + "/token"
    assert doc["revocation_endpoint"] == f"{web.base_url}".rstrip("/") + "/revoke"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "offline_access" in doc["scopes_supported"]
    jwks = web.get("/certs").json()
    assert jwks["keys"][0]["alg"] == "RS256"


def test_configured_issuer_wins_over_the_request(serve: Callable[[IdentityProvider], Web]) -> None:
    idp = _provider()
    idp.set_issuer("https://login.example/openid")
    web = serve(idp)
    assert web.get("/openid/.well-known/openid-configuration").json()["issuer"] == (
        "https://login.example/openid"
    )


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"code_challenge": ""}, "code_challenge missing"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"state": "short-state"}, "state too short"),
        ({"nonce": "short-nonce"}, "nonce too short"),
        ({"nonce": ""}, "nonce missing"),
        ({"scope": "openid payroll:everything"}, "unsupported scope"),
        ({"response_type": "token"}, "response_type"),
    ],
)
def test_authorize_refuses_requests_datev_refuses(
    serve: Callable[[IdentityProvider], Web], override: dict[str, str], error: str
) -> None:
    web = serve(_provider(auto_consent=True))
    response = web.get(
        "/openid/authorize",
        params=_authorize_query(random_token(48), **override),
        follow_redirects=False,
    )
    params = _redirect_params(response)
    assert error in params["error_description"]
    assert params["iss"] == _issuer(web)
    assert "code" not in params


@pytest.mark.parametrize(
    "override",
    [{"client_id": "unknown"}, {"redirect_uri": "https://evil.example/callback"}],
)
def test_unknown_client_or_redirect_uri_gets_an_error_page_not_a_redirect(
    serve: Callable[[IdentityProvider], Web], override: dict[str, str]
) -> None:
    web = serve(_provider(auto_consent=True))
    query = _authorize_query(random_token(48), **override)
    response = web.get("/openid/authorize", params=query, follow_redirects=False)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_loopback_redirect_on_any_port_is_accepted(
    serve: Callable[[IdentityProvider], Web],
) -> None:
    web = serve(_provider(auto_consent=True))
    query = _authorize_query(random_token(48), redirect_uri="http://127.0.0.1:54321/callback")
    response = web.get("/openid/authorize", params=query, follow_redirects=False)
    assert response.headers["location"].startswith("http://127.0.0.1:54321/callback?code=")


def test_consent_form_needs_the_right_password_and_can_be_denied(
    serve: Callable[[IdentityProvider], Web],
) -> None:
    web = serve(_provider())
    query = _authorize_query(random_token(48))
    page = web.get("/openid/authorize", params=query)
    assert page.status_code == 200
    assert "datev:accounting:extf-files-import" in page.text
    interaction = page.text.split("name='interaction' value='")[1].split("'")[0]
    form = {"interaction": interaction, "username": "demo", "decision": "allow"}
    wrong = web.post("/openid/authorize", data={**form, "password": "nope"})
    assert wrong.status_code == 401
    denied = web.post(
        "/openid/authorize", data={**form, "decision": "deny"}, follow_redirects=False
    )
    assert _redirect_params(denied)["error"] == "access_denied"
    page = web.get("/openid/authorize", params=query)
    interaction = page.text.split("name='interaction' value='")[1].split("'")[0]
    allowed = web.post(
        "/openid/authorize",
        data={**form, "interaction": interaction, "password": "demo"},
        follow_redirects=False,
    )
    params = _redirect_params(allowed)
    assert params["state"] == query["state"]
    assert params["code"]


def test_the_consent_page_names_the_demo_login_and_no_other_password(
    serve: Callable[[IdentityProvider], Web],
) -> None:
    page = serve(_provider()).get("/openid/authorize", params=_authorize_query(random_token(48)))
    assert "user <code>demo</code>, password <code>demo</code>" in page.text
    own = EmulatorUser("ops", SecretStr("s3cret-pw"), "Ops", "ops@example.invalid", "ops-sub")
    page = serve(_provider(users=[own])).get(
        "/openid/authorize", params=_authorize_query(random_token(48))
    )
    assert page.status_code == 200
    assert "s3cret-pw" not in page.text
    assert "demo login" not in page.text


def test_token_response_and_id_token_claims(serve: Callable[[IdentityProvider], Web]) -> None:
    idp = _provider(auto_consent=True)
    web = serve(idp)
    body = _login(web)
    assert body["expires_in"] == 900
    assert body["token_type"] == "Bearer"
    payload = str(body["id_token"]).split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == _issuer(web)
    assert claims["aud"] == PUBLIC_CLIENT
    assert len(claims["nonce"]) >= 20
    grant = idp.check_access_token(str(body["access_token"]))
    assert grant is not None
    assert grant.expires_at - time.time() == pytest.approx(900, abs=5)
    userinfo = web.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.json()["name"] == "Demo Berater"


def test_confidential_client_must_use_http_basic(serve: Callable[[IdentityProvider], Web]) -> None:
    web = serve(_provider(auto_consent=True))
    body = _login(web, CONFIDENTIAL_CLIENT)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": str(body["refresh_token"]),
        "client_id": CONFIDENTIAL_CLIENT,
    }
    response = web.post("/token", data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    wrong = web.post("/token", data=form, auth=(CONFIDENTIAL_CLIENT, "wrong"))
    assert wrong.status_code == 401
    right = web.post("/token", data=form, auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert right.status_code == 200


def test_code_is_single_use(serve: Callable[[IdentityProvider], Web]) -> None:
    web = serve(_provider(auto_consent=True))
    verifier = random_token(48)
    params = _redirect_params(
        web.get("/openid/authorize", params=_authorize_query(verifier), follow_redirects=False)
    )
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": PUBLIC_CLIENT,
    }
    assert web.post("/token", data=form).status_code == 200
    again = web.post("/token", data=form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_reuse_kills_the_grant(
    serve: Callable[[IdentityProvider], Web],
) -> None:
    idp = _provider(auto_consent=True)
    web = serve(idp)
    body = _login(web)
    first = _refresh(web, body["refresh_token"])
    assert first.status_code == 200
    new = first.json()
    assert new["refresh_token"] != body["refresh_token"]
    assert new["expires_in"] == 900
    replay = _refresh(web, body["refresh_token"])
    assert replay.json()["error"] == "invalid_grant"
    assert _refresh(web, new["refresh_token"]).json()["error"] == "invalid_grant"
    assert idp.check_access_token(new["access_token"]) is None


def test_fault_hooks_revoke_and_expire(serve: Callable[[IdentityProvider], Web]) -> None:
    idp = _provider(auto_consent=True)
    web = serve(idp)
    body = _login(web)
    assert idp.expire_refresh_tokens() == 1
    assert "expired" in _refresh(web, body["refresh_token"]).json()["error_description"]
    body = _login(web)
    assert idp.check_access_token(str(body["access_token"])) is not None
    idp.revoke_all_tokens()
    assert idp.check_access_token(str(body["access_token"])) is None
    assert _refresh(web, body["refresh_token"]).json()["error"] == "invalid_grant"
    body = _login(web)
    idp.expire_access_tokens()
    assert idp.check_access_token(str(body["access_token"])) is None
    idp.fail_token_requests(1, status=503)
    assert _refresh(web, body["refresh_token"]).status_code == 503
    assert _refresh(web, body["refresh_token"]).status_code == 200


def test_access_token_expires_after_its_ttl(serve: Callable[[IdentityProvider], Web]) -> None:
    now = [1_000_000.0]
    idp = _provider(auto_consent=True, clock=lambda: now[0])
    web = serve(idp)
    body = _login(web)
    now[0] += 899
    assert idp.check_access_token(str(body["access_token"])) is not None
    now[0] += 2
    assert idp.check_access_token(str(body["access_token"])) is None


def test_revocation_needs_the_hint_and_revokes_the_grant(
    serve: Callable[[IdentityProvider], Web],
) -> None:
    idp = _provider(auto_consent=True)
    web = serve(idp)
    body = _login(web)
    missing = web.post("/revoke", data={"token": body["refresh_token"], "client_id": PUBLIC_CLIENT})
    assert missing.status_code == 400
    ok = web.post(
        "/revoke",
        data={
            "token": body["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": PUBLIC_CLIENT,
        },
    )
    assert ok.status_code == 200
    assert idp.check_access_token(str(body["access_token"])) is None


def test_mint_tokens_gives_api_tests_a_valid_grant() -> None:
    idp = _provider()
    minted = idp.mint_tokens(PUBLIC_CLIENT, ["datev:accounting:clients"])
    grant = idp.check_access_token(minted.access_token)
    assert grant is not None
    assert grant.scopes == frozenset({"datev:accounting:clients"})


def test_scripted_browser_drives_the_consent_form_over_http(idp_server: object) -> None:
    from ml_connector_sandbox.emulators._server import ServerHandle

    assert isinstance(idp_server, ServerHandle)
    url = f"{idp_server.url}/openid/authorize?" + urlencode(_authorize_query(random_token(48)))
    assert "code" in browse_to_callback(url, REDIRECT_URI)


@pytest.mark.parametrize(
    ("registered", "asked", "allowed"),
    [
        (("http://127.0.0.1/callback",), "http://127.0.0.1:5000/callback", True),
        (("http://127.0.0.1/callback",), "http://127.0.0.1:5000/other", False),
        (("http://127.0.0.1/callback",), "http://10.0.0.1:5000/callback", False),
        (("https://app.example/cb",), "https://app.example/cb", True),
        (("https://app.example/cb",), "https://app.example/cb2", False),
        ((), "http://localhost:1234/anything", True),
        ((), "https://app.example/cb", False),
    ],
)
def test_redirect_uri_matching(registered: tuple[str, ...], asked: str, allowed: bool) -> None:
    registration = OAuthClientRegistration("c", redirect_uris=registered)
    assert registration.redirect_allowed(asked) is allowed
    strict = OAuthClientRegistration("c", redirect_uris=registered, loopback_any_port=False)
    assert strict.redirect_allowed(asked) is (asked in registered)
