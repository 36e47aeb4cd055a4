"""Where the identity provider lives: DATEV production, DATEV sandbox, or any OIDC issuer.

DATEV's endpoints are known constants (from its published discovery documents);
any other issuer, including the emulator and test servers, is discovered through
``<issuer>/.well-known/openid-configuration``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ml_connector.errors import ConfigurationError, RetriableError

__all__ = [
    "DATEV_PRODUCTION",
    "DATEV_SANDBOX",
    "ProviderEndpoints",
    "discover",
    "resolve_endpoints",
]


@dataclass(frozen=True)
class ProviderEndpoints:
    """The endpoints of one OAuth 2.0 / OIDC provider."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
    #: RFC 9207: the provider always sends ``iss`` on the authorization response
    iss_parameter_supported: bool = False

    @classmethod
    def from_discovery(cls, document: dict[str, Any]) -> ProviderEndpoints:
        """Build from a discovery document (RFC 8414 / OIDC Discovery)."""
        try:
            return cls(
                issuer=str(document["issuer"]),
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                revocation_endpoint=document.get("revocation_endpoint"),
                userinfo_endpoint=document.get("userinfo_endpoint"),
                jwks_uri=document.get("jwks_uri"),
                iss_parameter_supported=bool(
                    document.get("authorization_response_iss_parameter_supported", False)
                ),
            )
        except KeyError as exc:
            raise ConfigurationError(
                f"the discovery document lacks {exc.args[0]!r}",
                hint="check the issuer URL; it must serve /.well-known/openid-configuration",
            ) from None


DATEV_PRODUCTION = ProviderEndpoints(
    issuer="https://login.datev.de/openid",
    authorization_endpoint="https://login.datev.de/openid/authorize",
    token_endpoint="https://api.datev.de/token",  # noqa: S106
    revocation_endpoint="https://api.datev.de/revoke",
    userinfo_endpoint="https://api.datev.de/userinfo",
    jwks_uri="https://api.datev.de/certs",
)

DATEV_SANDBOX = ProviderEndpoints(
    issuer="https://login.datev.de/openidsandbox",
    authorization_endpoint="https://login.datev.de/openidsandbox/authorize",
    token_endpoint="https://sandbox-api.datev.de/token",  # noqa: S106
    revocation_endpoint="https://sandbox-api.datev.de/revoke",
    userinfo_endpoint="https://sandbox-api.datev.de/userinfo",
    jwks_uri="https://sandbox-api.datev.de/certs",
)

_NAMED = {"production": DATEV_PRODUCTION, "sandbox": DATEV_SANDBOX}


async def discover(issuer: str, http: httpx.AsyncClient) -> ProviderEndpoints:
    """Fetch and check ``<issuer>/.well-known/openid-configuration``."""
    issuer = issuer.rstrip("/")
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise RetriableError(f"cannot reach the identity provider at {url}: {exc}") from None
    if response.status_code >= 500:
        raise RetriableError(
            f"discovery at {url} answered {response.status_code}", status_code=response.status_code
        )
    if response.status_code != 200:
        raise ConfigurationError(
            f"discovery at {url} answered {response.status_code}",
            hint="check the issuer URL (no trailing /.well-known part)",
        )
    endpoints = ProviderEndpoints.from_discovery(response.json())
    if endpoints.issuer.rstrip("/") != issuer:
        raise ConfigurationError(
            f"the discovery document names issuer {endpoints.issuer!r}, expected {issuer!r}",
            hint="use exactly the issuer URL the provider announces",
        )
    return endpoints


async def resolve_endpoints(environment: str, http: httpx.AsyncClient) -> ProviderEndpoints:
    """``production`` / ``sandbox`` (DATEV), or an issuer URL to discover."""
    named = _NAMED.get(environment.lower())
    if named is not None:
        return named
    if not environment.startswith(("https://", "http://")):
        raise ConfigurationError(
            f"unknown DATEV environment {environment!r}",
            hint="use production, sandbox, or the issuer URL of an OpenID Connect provider",
        )
    return await discover(environment, http)
