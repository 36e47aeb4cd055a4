"""The interactive login: begin, let the user consent in a browser, complete, store.

:func:`begin_login` and :func:`complete_login` are the one implementation; the CLI's
loopback receiver and the web service's callback page both call them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from ml_connector.datev.oauth.client import (
    OAuthClient,
    TokenEndpointClient,
    TokenSet,
    id_token_claims,
)
from ml_connector.datev.oauth.connection_store import ConnectionInfo, ConnectionStore
from ml_connector.datev.oauth.endpoints import ProviderEndpoints
from ml_connector.datev.oauth.flow import (
    CallbackRejectedError,
    begin_authorization,
    complete_authorization,
)
from ml_connector.datev.oauth.loopback import LoopbackReceiver
from ml_connector.datev.oauth.pending import PendingLogins
from ml_connector.datev.oauth.scopes import scope_for

__all__ = [
    "LoginRequest",
    "begin_login",
    "complete_login",
    "consenting_user",
    "datev_login_request",
    "login_with_loopback",
    "logout",
]


@dataclass(frozen=True)
class LoginRequest:
    """Everything a login needs besides the user."""

    connection: str
    endpoints: ProviderEndpoints
    client: OAuthClient
    scope: str
    port: int = 0
    callback_path: str = "/callback"
    redirect_host: str = "127.0.0.1"
    extra_params: tuple[tuple[str, str], ...] = ()


def datev_login_request(
    connection: str,
    endpoints: ProviderEndpoints,
    client: OAuthClient,
    apis: tuple[str, ...],
    *,
    port: int = 0,
    callback_path: str = "/callback",
    redirect_host: str = "127.0.0.1",
) -> LoginRequest:
    """The login asking for the scopes of ``apis``; on DATEV's own identity provider
    also ``enableWindowsSso=true``, which DATEV requires for "Login mit DATEV"."""
    own_issuer = endpoints.issuer.startswith("https://login.datev.de/")
    return LoginRequest(
        connection=connection,
        endpoints=endpoints,
        client=client,
        scope=scope_for(apis or ("extf-files",)),
        port=port,
        callback_path=callback_path,
        redirect_host=redirect_host,
        extra_params=(("enableWindowsSso", "true"),) if own_issuer else (),
    )


def begin_login(
    request: LoginRequest,
    logins: PendingLogins,
    *,
    redirect_uri: str,
    started_by: str | None = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """Start a login for ``request.connection``: keep its state, return the consent URL."""
    url, pending = begin_authorization(
        request.endpoints,
        client_id=request.client.client_id,
        redirect_uri=redirect_uri,
        scope=request.scope,
        extra_params=dict(request.extra_params),
        clock=clock,
    )
    logins.put(request.connection, pending, started_by=started_by, clock=clock())
    return url


async def complete_login(
    params: Mapping[str, str],
    logins: PendingLogins,
    store: ConnectionStore,
    http: httpx.AsyncClient,
    request_for: Callable[[str], Awaitable[LoginRequest]],
    *,
    user: str | None = None,
    clock: Callable[[], float] = time.time,
) -> ConnectionInfo:
    """Finish the login the callback ``params`` belong to, and store its tokens.

    The login is taken from ``logins`` by its ``state`` (once only); ``request_for``
    gives the endpoints and client of its connection. A login begun by a named user
    completes only for that user. State, ``iss``, age and the ID token's ``nonce`` are
    checked by :func:`~ml_connector.datev.oauth.flow.complete_authorization`.
    """
    started = logins.take(params.get("state"))
    if started.started_by is not None and started.started_by != user:
        raise CallbackRejectedError(
            "this login was started by another user", hint="start the login again yourself"
        )
    request = await request_for(started.connection)
    if request.connection != started.connection:
        raise CallbackRejectedError("this login was started for another connection")
    token_client = TokenEndpointClient(request.endpoints, request.client, http)
    tokens = await complete_authorization(params, started.pending, token_client, clock=clock)
    subject = await consenting_user(tokens, request.endpoints, http)
    return store.save_login(
        request.connection,
        endpoints=request.endpoints,
        client=request.client,
        requested_scope=request.scope,
        tokens=tokens,
        subject=subject,
        clock=clock(),
    )


async def login_with_loopback(
    request: LoginRequest,
    store: ConnectionStore,
    http: httpx.AsyncClient,
    *,
    open_url: Callable[[str], object],
    wait_seconds: float = 300.0,
) -> ConnectionInfo:
    """Run the whole login on a loopback receiver; ``open_url`` shows the consent URL."""
    logins = PendingLogins(store.credentials)
    with LoopbackReceiver(
        request.port, path=request.callback_path, redirect_host=request.redirect_host
    ) as receiver:
        open_url(begin_login(request, logins, redirect_uri=receiver.redirect_uri))
        params = await receiver.wait(wait_seconds)

    async def this_request(_connection: str) -> LoginRequest:
        return request

    return await complete_login(params, logins, store, http, this_request)


async def consenting_user(
    tokens: TokenSet, endpoints: ProviderEndpoints, http: httpx.AsyncClient
) -> str | None:
    """Who gave consent: the userinfo ``name`` (scope ``profile``), else the ``sub``.

    DATEV's rules ask integrations to show the person who issued the token. Best
    effort: a failing userinfo call falls back to the ID token's subject.
    """
    sub: str | None = None
    if tokens.id_token is not None:
        claim = id_token_claims(tokens.id_token).get("sub")
        sub = str(claim) if claim is not None else None
    if endpoints.userinfo_endpoint:
        headers = {
            "Authorization": f"Bearer {tokens.access_token.get_secret_value()}",
            "Accept": "application/json",
        }
        try:
            response = await http.get(endpoints.userinfo_endpoint, headers=headers)
            info = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            info = {}
        if isinstance(info, dict):
            name = info.get("name")
            sub = sub or (str(info["sub"]) if info.get("sub") else None)
            if name:
                return f"{name} ({sub})" if sub else str(name)
    return sub


async def logout(store: ConnectionStore, name: str, http: httpx.AsyncClient) -> list[str]:
    """Revoke the connection's tokens at the provider, then forget them locally.

    Returns problems met while revoking (the local data is deleted regardless, as
    DATEV's rules for "disconnect" require); an unknown connection returns ``[]``.
    """
    from ml_connector.datev.oauth.connection_store import (
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        credential_owner,
    )
    from ml_connector.errors import MlConnectorError

    info = store.info(name)
    if info is None:
        return []
    problems: list[str] = []
    try:
        client = store.client(info)
    except MlConnectorError as exc:
        client = None
        problems.append(f"cannot authenticate the revocation: {exc}")
    if client is not None:
        token_client = TokenEndpointClient(info.endpoints, client, http)
        for kind in (REFRESH_TOKEN, ACCESS_TOKEN):
            token = store.credentials.find(credential_owner(name), kind)
            if token is None:
                continue
            try:
                await token_client.revoke(token, token_type_hint=kind)
            except MlConnectorError as exc:
                problems.append(f"revoking the {kind.replace('_', ' ')} failed: {exc}")
    store.delete(name)
    return problems
