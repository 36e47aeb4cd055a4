"""The web service's side of the DATEV login: its callback URL.

DATEV accepts only HTTPS redirect URIs for confidential clients in production
(since 2026-03-01; no localhost, IP addresses or custom schemes), so a production
customer logs in through ``<public-url>/oauth/datev/callback`` of the web service.
The sandbox and the emulator also accept loopback (the CLI's receiver).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from ml_connector.config.access import DATEV_ISSUERS, emulator_override
from ml_connector.config.models import Customer
from ml_connector.credentials import CredentialStore
from ml_connector.credentials.kinds import DATEV_CLIENT_SECRET
from ml_connector.credentials.resolve import resolve_secret
from ml_connector.datev.oauth.client import OAuthClient
from ml_connector.datev.oauth.endpoints import resolve_endpoints
from ml_connector.datev.oauth.login import LoginRequest, datev_login_request
from ml_connector.errors import ConfigurationError

__all__ = ["CALLBACK_PATH", "customer_login_request", "web_redirect_uri"]

CALLBACK_PATH = "/oauth/datev/callback"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def web_redirect_uri(public_url: str, issuer: str) -> str:
    """``<public_url>/oauth/datev/callback``; an HTTPS host name for DATEV production."""
    parts = urlsplit(public_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(
            f"the public URL {public_url!r} is not an http(s) URL",
            hint='set [web] public_url, e.g. "https://connector.example.com"',
        )
    uri = f"{public_url.strip().rstrip('/')}{CALLBACK_PATH}"
    if issuer.rstrip("/") != DATEV_ISSUERS["production"]:
        return uri
    host = parts.hostname
    if parts.scheme != "https" or host == "localhost" or _is_ip(host):
        raise ConfigurationError(
            f"DATEV production accepts only HTTPS redirect URIs on a host name, not {uri}",
            hint="serve the web app behind HTTPS and set [web] public_url to its https:// "
            f"address; register <public_url>{CALLBACK_PATH} with DATEV",
        )
    return uri


async def customer_login_request(
    customer_id: str,
    customer: Customer,
    credentials: CredentialStore,
    http: httpx.AsyncClient,
    *,
    apis: tuple[str, ...] = ("extf-files",),
    api_url: str | None = None,
) -> LoginRequest:
    """The login of ``customer`` as its ``[customers.<id>.datev]`` table configures it;
    ``api_url`` is the app's DATEV emulator override (an emulator customer only), the
    same one its runs use, so the login and the runs meet the same DATEV."""
    side = customer.datev
    if side.oauth is None:
        raise ConfigurationError(
            f"customer {customer_id!r} has no DATEV app registration",
            hint=f"add [customers.{customer_id}.datev.oauth] with client_id and client_secret",
        )
    secret: SecretStr | None = None
    if side.oauth.client_secret:
        secret = resolve_secret(
            side.oauth.client_secret, kind=DATEV_CLIENT_SECRET, store=credentials
        )
    override = emulator_override(customer_id, customer, what="the DATEV API URL", url=api_url)
    issuer = f"{override}/openid" if override else side.emulator_issuer
    endpoints = await resolve_endpoints(issuer or side.environment, http)
    client = OAuthClient(side.oauth.client_id, secret)
    return datev_login_request(customer_id, endpoints, client, apis)
