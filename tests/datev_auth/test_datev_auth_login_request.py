"""One login request for every way to log in: CLI loopback, web callback, demo."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from ml_connector.datev.oauth import OAuthClient
from ml_connector.datev.oauth.endpoints import ProviderEndpoints
from ml_connector.datev.oauth.flow import begin_authorization
from ml_connector.datev.oauth.login import LoginRequest, datev_login_request
from ml_connector.datev.oauth.scopes import scope_for


def _endpoints(issuer: str) -> ProviderEndpoints:
    return ProviderEndpoints(issuer, f"{issuer}/authorize", f"{issuer}/token")


def _consent_query(request: LoginRequest) -> dict[str, list[str]]:
    url, _ = begin_authorization(
        request.endpoints,
        client_id=request.client.client_id,
        redirect_uri="http://127.0.0.1:8765/callback",
        scope=request.scope,
        extra_params=dict(request.extra_params),
    )
    return parse_qs(urlsplit(url).query)


def test_datev_s_own_login_asks_for_windows_sso_and_the_scopes_of_the_apis() -> None:
    request = datev_login_request(
        "acme",
        _endpoints("https://login.datev.de/openid"),
        OAuthClient("app-id", None),
        ("extf-files", "documents"),
        port=8765,
    )

    query = _consent_query(request)
    assert query["enableWindowsSso"] == ["true"]
    assert query["scope"] == [scope_for(("extf-files", "documents"))]
    assert (request.connection, request.port) == ("acme", 8765)


def test_another_identity_provider_gets_no_datev_parameter_and_extf_by_default() -> None:
    request = datev_login_request(
        "acme", _endpoints("http://127.0.0.1:9000/openid"), OAuthClient("app-id", None), ()
    )

    query = _consent_query(request)
    assert "enableWindowsSso" not in query
    assert query["scope"] == [scope_for(("extf-files",))]
