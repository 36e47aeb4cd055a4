"""End to end with the emulator's identity provider, and the DATEV-side ping checks."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from datev_api_support import APP_CLIENT_ID, BASE, Setup, emulator_config, make_extf
from pydantic import SecretStr
from rich.console import Console

from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.client import DatevClient
from ml_connector.datev.health import CheckResult, check_datev
from ml_connector.errors import ReconsentRequiredError
from ml_connector.interfaces.cli.ping import render_checks
from ml_connector_sandbox.emulators.datev.app import create_app
from ml_connector_sandbox.emulators.datev.idp import IdentityProvider, OAuthClientRegistration

REDIRECT = "http://127.0.0.1:9999/callback"
SCOPES = "openid offline_access datev:accounting:clients datev:accounting:extf-files-import"


@dataclass
class BearerOnly:
    """A token source holding one access token (no refresh)."""

    token: str

    async def get_access_token(self) -> SecretStr:
        return SecretStr(self.token)

    async def invalidate(self, token: SecretStr) -> None:
        return None


@pytest.fixture
async def idp_http() -> AsyncIterator[tuple[httpx.AsyncBaseTransport, httpx.AsyncClient]]:
    idp = IdentityProvider(
        issuer=BASE + "/openid",
        oauth_clients=[OAuthClientRegistration(client_id=APP_CLIENT_ID, redirect_uris=(REDIRECT,))],
        auto_consent=True,
    )
    transport = httpx.ASGITransport(app=create_app(emulator_config(), idp))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield transport, http


async def _login(http: httpx.AsyncClient) -> dict[str, object]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    authorize = await http.get(
        "/openid/authorize",
        params={
            "response_type": "code",
            "client_id": APP_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "scope": SCOPES,
            "state": secrets.token_urlsafe(24),
            "nonce": secrets.token_urlsafe(24),
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        },
    )
    assert authorize.status_code in (302, 303)
    code = parse_qs(urlsplit(authorize.headers["Location"]).query)["code"][0]
    token = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": APP_CLIENT_ID,
        },
    )
    assert token.status_code == 200, token.text
    return dict(token.json())


async def test_token_from_identity_provider_opens_the_apis(idp_http) -> None:  # type: ignore[no-untyped-def]
    transport, http = idp_http
    access = str((await _login(http))["access_token"])
    client = DatevClient(
        BearerOnly(access),
        app_client_id=APP_CLIENT_ID,
        endpoints=Endpoints.emulator(BASE),
        transport=transport,
    )
    found = await client.find_client(455148, 1)
    assert found is not None
    upload = await client.upload_extf(
        "455148-1", make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]), "EXTF_a.csv"
    )
    assert upload.job_id
    # documents scope was not granted: the documents API refuses with 403
    with pytest.raises(Exception, match="403"):
        await client.document_types("455148-1")
    revoked = await http.post("/admin/revoke-tokens")
    assert revoked.status_code == 200
    with pytest.raises(ReconsentRequiredError):
        await client.get_client("455148-1")
    await client.aclose()


async def test_admin_expires_refresh_tokens_at_the_idp(idp_http) -> None:  # type: ignore[no-untyped-def]
    _, http = idp_http
    tokens = await _login(http)
    assert (await http.post("/admin/expire-refresh-tokens")).status_code == 200
    refresh = await http.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": str(tokens["refresh_token"]),
            "client_id": APP_CLIENT_ID,
        },
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


async def test_ping_checks_all_ok(setup: Setup) -> None:
    results = await check_datev(setup.client, berater=455148, mandant=1, channel="extf")
    # EXTF uploads no documents: the document types are not its business
    assert [r.name for r in results] == ["DATEV token", "DATEV client", "DATEV service"]
    assert all(r.ok for r in results)


async def test_ping_checks_document_types_where_documents_are_used(setup: Setup) -> None:
    results = await check_datev(setup.client, berater=455148, mandant=1, channel="documents")
    assert [r.name for r in results][-1] == "DATEV document types"
    assert results[-1].ok, results[-1]


async def test_ping_checks_report_missing_service_with_fix(setup: Setup) -> None:
    results = await check_datev(setup.client, berater=455148, mandant=3, channel="extf")
    service = next(r for r in results if r.name == "DATEV service")
    assert not service.ok
    assert "Buchungsdatenservice" in (service.fix or "")


async def test_ping_checks_unknown_client(setup: Setup) -> None:
    results = await check_datev(setup.client, berater=455148, mandant=42, channel="extf")
    assert results[1].name == "DATEV client"
    assert not results[1].ok
    assert results[1].fix
    assert not any(r.ok for r in results[2:])


async def test_ping_checks_lost_grant(setup: Setup) -> None:
    setup.tokens.reconsent = True
    results = await check_datev(setup.client, berater=455148, mandant=1, channel="extf")
    assert not results[0].ok
    assert "datev login" in (results[0].fix or "")
    assert len(results) == 3


def test_render_checks_table() -> None:
    console = Console(record=True, width=120)
    console.print(
        render_checks(
            [
                CheckResult("Looker login", True, "ok"),
                CheckResult("DATEV client", False, "not visible", "grant access"),
            ],
            title="ping",
        )
    )
    text = console.export_text()
    assert "FAIL" in text
    assert "grant access" in text
    assert "Looker login" in text
