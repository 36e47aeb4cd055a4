"""DATEV login through the web: start it for a customer, receive DATEV's callback.

``GET /oauth/datev/login/{customer}`` (operator) begins the login and redirects to
DATEV's consent page; DATEV returns the person to ``GET /oauth/datev/callback``, which
completes it for the same user (``state``, ``iss``, age and ``nonce`` are checked by
:func:`~ml_connector.datev.oauth.login.complete_login`). Every outcome is in the web
audit with the user's name; every failure is a page saying what to do.
"""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ml_connector.config import LoadedConfig
from ml_connector.datev.oauth.connection_store import needs_person
from ml_connector.datev.oauth.login import LoginRequest, begin_login, complete_login
from ml_connector.datev.oauth.pending import PendingLogins
from ml_connector.datev.oauth.scopes import apis_for
from ml_connector.datev.oauth.web import CALLBACK_PATH, customer_login_request, web_redirect_uri
from ml_connector.errors import MlConnectorError, NeedsUserError
from ml_connector.interfaces.web import context
from ml_connector.interfaces.web.deps import Principal, public, require_role, store
from ml_connector.interfaces.web.pages import render
from ml_connector.store.web import record_action

__all__ = ["needs_consent", "router"]

router = APIRouter()


async def _request_for(request: Request, customer_id: str, http: httpx.AsyncClient) -> LoginRequest:
    found = context.customer(request, customer_id)
    config, _ = context.load_web_config(request)
    channels: list[str] = []
    for pipeline in config.model.pipelines.values() if config is not None else ():
        if pipeline.customer == customer_id:
            channels += [pipeline.channel, *(["documents"] if pipeline.documents else [])]
    return await customer_login_request(
        customer_id,
        found,
        context.credentials(request),
        http,
        apis=apis_for(channels),
        api_url=context.settings_of(request).datev_url,
    )


@router.get("/oauth/datev/login/{customer_id}")
async def login_start(
    request: Request,
    customer_id: str,
    who: Annotated[Principal, Depends(require_role("operator"))],
) -> RedirectResponse:
    """Begin the customer's DATEV login and send the browser to DATEV's consent page."""
    engine = store(request)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            login = await _request_for(request, customer_id, http)
        redirect_uri = web_redirect_uri(context.public_url(request), login.endpoints.issuer)
        url = begin_login(
            login,
            PendingLogins(context.credentials(request)),
            redirect_uri=redirect_uri,
            started_by=who.name,
        )
    except MlConnectorError as exc:
        record_action(engine, who.name, "datev.login.refused", customer_id, str(exc))
        raise
    record_action(engine, who.name, "datev.login.started", customer_id, login.endpoints.issuer)
    return RedirectResponse(url, status_code=303)


@router.get(CALLBACK_PATH, response_class=HTMLResponse)
async def login_callback(
    request: Request, who: Annotated[Principal | None, Depends(public)]
) -> HTMLResponse:
    """Complete the login DATEV returns to; only for the user who began it."""
    engine = store(request)
    user = who.name if who is not None else None
    params = dict(request.query_params)

    async def request_for(customer_id: str) -> LoginRequest:
        return await _request_for(request, customer_id, http)

    try:
        async with httpx.AsyncClient(timeout=30) as http:
            info = await complete_login(
                params,
                PendingLogins(context.credentials(request)),
                context.connections(request),
                http,
                request_for,
                user=user,
            )
    except MlConnectorError as exc:
        record_action(engine, user or "(not logged in)", "datev.login.failed", None, str(exc))
        if who is None and isinstance(exc, NeedsUserError):
            raise NeedsUserError(
                f"{exc.message}; log in to ml-connector first", hint=exc.hint
            ) from None
        raise
    record_action(engine, user or "(not logged in)", "datev.login.completed", info.name)
    return render(request, "datev_connected.html", info=info)


def needs_consent(request: Request, config: LoadedConfig | None) -> list[tuple[str, str]]:
    """Customers whose DATEV connection needs a person to log in, with the reason.

    Customers with a DATEV app registration or a stored connection; the re-consent
    banner shows them with a button to :func:`login_start`.
    """
    if config is None:
        return []
    connections = context.connections(request)
    stored = set(connections.names())
    found = []
    for customer_id, customer in sorted(config.model.customers.items()):
        if customer.datev.oauth is None and customer_id not in stored:
            continue
        reason = needs_person(connections, customer_id)
        if reason is not None:
            found.append((customer_id, reason))
    return found
