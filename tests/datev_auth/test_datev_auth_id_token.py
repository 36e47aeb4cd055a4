"""The DATEV ID token is verified against the issuer's JWKS: signature and claims."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from joserfc.jwk import KeySet
from pydantic import SecretStr

from ml_connector.datev.oauth.endpoints import ProviderEndpoints
from ml_connector.datev.oauth.idtoken import IdTokenRejectedError, fetch_jwks, verify_id_token
from ml_connector.errors import ConfigurationError, NeedsUserError
from ml_connector_sandbox.emulators.datev.idp_jwt import IdTokenSigner

ISSUER = "http://127.0.0.1:8766/openid"
CLIENT = "ml-connector-app"
NONCE = "n" * 32
SIGNER = IdTokenSigner()
KEYS = KeySet.import_key_set(SIGNER.jwks())


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u1", "aud": CLIENT, "iat": now, "exp": now + 600}
    claims["nonce"] = NONCE
    claims.update(changes)
    return claims


def _verify(token: str) -> dict[str, Any]:
    return verify_id_token(SecretStr(token), KEYS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_signed_by_the_issuer_is_accepted() -> None:
    assert _verify(SIGNER.sign(_claims()))["sub"] == "u1"


def test_a_tampered_token_is_refused() -> None:
    header, _, signature = SIGNER.sign(_claims()).split(".")
    forged = f"{header}.{_b64(_claims(sub='admin'))}.{signature}"
    with pytest.raises(IdTokenRejectedError, match="signature does not verify"):
        _verify(forged)


def test_a_token_signed_with_another_key_is_refused() -> None:
    other = IdTokenSigner()
    other.kid = SIGNER.kid  # even under the issuer's key id
    with pytest.raises(IdTokenRejectedError, match="signature does not verify"):
        _verify(other.sign(_claims()))


def test_an_unsigned_token_is_refused() -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    with pytest.raises(IdTokenRejectedError):
        _verify(unsigned)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exp": int(time.time()) - 3600}, "has expired"),
        ({"aud": "someone-else"}, "another client"),
        ({"nonce": "x" * 32}, "another login"),
        ({"iss": "https://evil.example/openid"}, "another issuer"),
    ],
)
def test_claims_that_do_not_match_this_login_are_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(IdTokenRejectedError, match=message) as info:
        _verify(SIGNER.sign(_claims(**changes)))
    assert isinstance(info.value, NeedsUserError)
    assert "start the login again" in str(info.value)


def _endpoints(jwks_uri: str | None) -> ProviderEndpoints:
    return ProviderEndpoints(ISSUER, f"{ISSUER}/authorize", f"{ISSUER}/token", jwks_uri=jwks_uri)


async def test_the_keys_come_from_the_issuers_jwks_uri() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        assert request.url == f"{ISSUER}/certs"
        return httpx.Response(200, json=SIGNER.jwks())

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as http:
        keys = await fetch_jwks(_endpoints(f"{ISSUER}/certs"), http)
    claims = verify_id_token(
        SecretStr(SIGNER.sign(_claims())), keys, issuer=ISSUER, client_id=CLIENT, nonce=NONCE
    )
    assert claims["aud"] == CLIENT


async def test_a_provider_without_usable_keys_is_a_configuration_error() -> None:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json={"keys": "x"}))
    ) as http:
        with pytest.raises(ConfigurationError, match="jwks_uri"):
            await fetch_jwks(_endpoints(None), http)
        with pytest.raises(ConfigurationError, match="usable JWK Set"):
            await fetch_jwks(_endpoints(f"{ISSUER}/certs"), http)
