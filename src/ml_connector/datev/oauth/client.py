"""Calls to the token and revocation endpoints (RFC 6749, 7009) for one OAuth client.

A *confidential* client (one with a secret, as DATEV's working clients are)
authenticates with HTTP Basic ``client_id:client_secret``; a *public* client sends
only ``client_id`` in the form. Which one is pure configuration.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from ml_connector.datev.oauth.endpoints import ProviderEndpoints
from ml_connector.errors import (
    ConfigurationError,
    RateLimitedError,
    ReconsentRequiredError,
    RemoteRejectedError,
    RetriableError,
)
from ml_connector.http.retry import parse_retry_after, transport_error

__all__ = ["InvalidGrantError", "OAuthClient", "TokenEndpointClient", "TokenSet", "id_token_claims"]


class InvalidGrantError(ReconsentRequiredError):
    """The provider refused the code or refresh token (``invalid_grant``)."""


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth client registration: public when ``client_secret`` is ``None``."""

    client_id: str
    client_secret: SecretStr | None = None

    @property
    def confidential(self) -> bool:
        """Whether the client authenticates with a secret (HTTP Basic)."""
        return self.client_secret is not None


@dataclass(frozen=True)
class TokenSet:
    """What a token response carried; tokens stay :class:`SecretStr`."""

    access_token: SecretStr
    expires_at: float
    refresh_token: SecretStr | None = None
    scope: str = ""
    token_type: str = "Bearer"  # noqa: S105
    id_token: SecretStr | None = None
    #: when the provider states it (``refresh_expires_in``); else unknown
    refresh_expires_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


def _basic(client: OAuthClient) -> str:
    assert client.client_secret is not None
    # RFC 6749 2.3.1: form-urlencode both parts before Base64.
    user = quote(client.client_id, safe="")
    password = quote(client.client_secret.get_secret_value(), safe="")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def id_token_claims(id_token: SecretStr) -> dict[str, Any]:
    """The claims of an ID token that was verified already (for display only).

    Signature and claims are verified once, at the login
    (:func:`ml_connector.datev.oauth.idtoken.verify_id_token`).
    """
    try:
        payload = id_token.get_secret_value().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise RemoteRejectedError("the identity provider sent a malformed ID token") from None
    if not isinstance(claims, dict):
        raise RemoteRejectedError("the identity provider sent a malformed ID token")
    return claims


class TokenEndpointClient:
    """Exchange codes, refresh and revoke tokens for one client at one provider."""

    def __init__(
        self,
        endpoints: ProviderEndpoints,
        client: OAuthClient,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoints = endpoints
        self.client = client
        self._http = http
        self._clock = clock

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP client this token client talks to the provider with."""
        return self._http

    async def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code (with its PKCE verifier) for tokens."""
        return await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            what="code exchange",
        )

    async def refresh(self, refresh_token: SecretStr) -> TokenSet:
        """Redeem ``refresh_token`` (single-use) for a new access and refresh token."""
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()},
            what="token refresh",
        )

    async def revoke(self, token: SecretStr, *, token_type_hint: str) -> None:
        """Revoke ``token`` (``access_token`` or ``refresh_token``; DATEV needs the hint)."""
        if not self.endpoints.revocation_endpoint:
            return
        data = {"token": token.get_secret_value(), "token_type_hint": token_type_hint}
        response = await self._post(self.endpoints.revocation_endpoint, data, what="revocation")
        if response.status_code != 200:
            self._raise(response, what="revocation")

    async def _token_request(self, data: dict[str, str], *, what: str) -> TokenSet:
        response = await self._post(self.endpoints.token_endpoint, data, what=what)
        if response.status_code != 200:
            self._raise(response, what=what)
        return self._parse(response)

    async def _post(self, url: str, data: dict[str, str], *, what: str) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if self.client.confidential:
            headers["Authorization"] = _basic(self.client)
        else:
            data = {**data, "client_id": self.client.client_id}
        try:
            return await self._http.post(url, data=data, headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc, what, url) from None

    def _parse(self, response: httpx.Response) -> TokenSet:
        body = response.json()
        try:
            access = str(body["access_token"])
            expires_in = float(body.get("expires_in", 900))
        except (KeyError, TypeError, ValueError):
            raise RemoteRejectedError("the token response has no usable access_token") from None
        now = self._clock()
        refresh = body.get("refresh_token")
        id_token = body.get("id_token")
        refresh_in = body.get("refresh_expires_in")
        known = {"access_token", "refresh_token", "id_token", "expires_in", "refresh_expires_in"}
        return TokenSet(
            access_token=SecretStr(access),
            expires_at=now + expires_in,
            refresh_token=SecretStr(str(refresh)) if refresh else None,
            scope=str(body.get("scope", "")),
            token_type=str(body.get("token_type", "Bearer")),
            id_token=SecretStr(str(id_token)) if id_token else None,
            refresh_expires_at=now + float(refresh_in) if refresh_in else None,
            extra={k: v for k, v in body.items() if k not in known},
        )

    def _raise(self, response: httpx.Response, *, what: str) -> None:
        status = response.status_code
        error, description = "", ""
        try:
            body = response.json()
            error = str(body.get("error", ""))
            description = str(body.get("error_description", ""))
        except (ValueError, AttributeError):
            pass
        said = f"{error}: {description}" if description else error or f"HTTP {status}"
        if status >= 500 or status == 429:
            raise (RateLimitedError if status == 429 else RetriableError)(
                f"{what} failed at the identity provider ({said})",
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if error == "invalid_grant":
            raise InvalidGrantError(
                f"DATEV refused the {what} ({said}); the grant is revoked, expired or was used",
                hint="run `ml-connector datev login` again to give consent",
            )
        if error in {"invalid_client", "unauthorized_client"}:
            raise ConfigurationError(
                f"the identity provider does not accept this OAuth client ({said})",
                hint="check the client id and client secret, and whether the client is "
                "registered as public or confidential",
            )
        raise RemoteRejectedError(
            f"{what} refused by the identity provider ({said})", status_code=status, detail=said
        )
