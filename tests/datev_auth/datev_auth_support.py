"""Shared code for the DATEV login tests: a scripted browser and a logged-in connection."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

from ml_connector.datev.oauth import (
    ConnectionInfo,
    ConnectionStore,
    OAuthClient,
    ProviderEndpoints,
    TokenEndpointClient,
    begin_authorization,
    complete_authorization,
)

PUBLIC_CLIENT = "mlc-public"
CONFIDENTIAL_CLIENT = "mlc-confidential"
CONFIDENTIAL_SECRET = "emulator-client-secret-for-tests"
SCOPE = "openid profile offline_access datev:accounting:clients datev:accounting:extf-files-import"
REDIRECT_URI = "http://127.0.0.1:8765/callback"

_FORM = re.compile(r"<form[^>]*action=\"?'?([^\"' >]+)", re.IGNORECASE)
_HIDDEN = re.compile(
    r"<input[^>]*type=\"?'?hidden\"?'?[^>]*name=\"?'?([^\"' >]+)\"?'?[^>]*value=\"?'?([^\"'>]*)",
    re.IGNORECASE,
)


def browse_to_callback(
    url: str,
    redirect_prefix: str,
    *,
    username: str = "demo",
    password: str = "demo",
    max_hops: int = 20,
) -> dict[str, str]:
    """Play the user's browser until the provider redirects to ``redirect_prefix``.

    Follows redirects by hand with one cookie jar and submits each login or consent
    form it meets (the emulator's and oidc-provider's development pages). Returns
    the query parameters of the callback without requesting it.
    """
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        response = browser.get(url)
        for _ in range(max_hops):
            location = response.headers.get("location")
            if location:
                target = urljoin(str(response.url), location)
                if target.startswith(redirect_prefix):
                    return dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
                response = browser.get(target)
                continue
            assert response.status_code == 200, response.text[:500]
            form = _FORM.search(response.text)
            assert form is not None, response.text[:500]
            fields = {name: unescape(value) for name, value in _HIDDEN.findall(response.text)}
            fields.update(username=username, password=password, login=username)
            fields.setdefault("decision", "allow")
            action = urljoin(str(response.url), unescape(form.group(1)))
            response = browser.post(action, data=fields)
        raise AssertionError("the provider never redirected to the callback")


async def log_in(
    endpoints: ProviderEndpoints,
    client: OAuthClient,
    store: ConnectionStore,
    http: httpx.AsyncClient,
    *,
    name: str = "acme",
    scope: str = SCOPE,
) -> ConnectionInfo:
    """A complete login through the scripted browser, stored as connection ``name``."""
    url, pending = begin_authorization(
        endpoints, client_id=client.client_id, redirect_uri=REDIRECT_URI, scope=scope
    )
    params = browse_to_callback(url, REDIRECT_URI)
    tokens = await complete_authorization(
        params, pending, TokenEndpointClient(endpoints, client, http)
    )
    return store.save_login(
        name, endpoints=endpoints, client=client, requested_scope=scope, tokens=tokens
    )
