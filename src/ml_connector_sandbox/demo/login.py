"""The DATEV login of the demo: the real PKCE flow, consent given by the emulator.

:func:`login_with_loopback` runs exactly as ``ml-connector datev login`` does: a
loopback receiver, a fresh ``state``/``nonce``/PKCE verifier, the code exchange and
the encrypted token store. Instead of a person's browser, an HTTP client opens the
consent URL and follows the redirects; the emulator's identity provider was started
with ``auto_consent``, so it redirects straight back to the receiver with the code.
"""

from __future__ import annotations

import threading

import httpx
from pydantic import SecretStr

from ml_connector.datev.oauth.client import OAuthClient
from ml_connector.datev.oauth.connection_store import ConnectionInfo, ConnectionStore
from ml_connector.datev.oauth.endpoints import discover
from ml_connector.datev.oauth.login import datev_login_request, login_with_loopback

__all__ = ["DEMO_APIS", "login_unattended"]

#: the APIs the demo login asks consent for
DEMO_APIS = ("extf-files", "dxso-jobs", "documents")


def _follow(url: str, problems: list[str]) -> None:
    try:
        with httpx.Client(follow_redirects=True, timeout=30.0) as browser:
            browser.get(url)
    except httpx.HTTPError as exc:
        problems.append(f"{type(exc).__name__}: {exc}")


async def login_unattended(
    store: ConnectionStore,
    connection: str,
    *,
    issuer: str,
    client_id: str,
    client_secret: SecretStr | None = None,
    apis: tuple[str, ...] = DEMO_APIS,
    wait_seconds: float = 30.0,
) -> ConnectionInfo:
    """Log in to the identity provider at ``issuer`` and store connection ``connection``.

    Works only where the provider completes consent on its own (the emulator's
    ``auto_consent``); anywhere else it times out waiting for the callback.
    """
    problems: list[str] = []
    threads: list[threading.Thread] = []

    def open_url(url: str) -> None:
        thread = threading.Thread(target=_follow, args=(url, problems), daemon=True)
        thread.start()
        threads.append(thread)

    async with httpx.AsyncClient(timeout=30.0) as http:
        endpoints = await discover(issuer, http)
        client = OAuthClient(client_id, client_secret)
        request = datev_login_request(connection, endpoints, client, apis)
        info = await login_with_loopback(
            request, store, http, open_url=open_url, wait_seconds=wait_seconds
        )
    for thread in threads:
        thread.join(5)
    return info
