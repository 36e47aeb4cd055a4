"""``/onboarding/{customer}``: does this customer fit? DATEV connection, checks, snippets.

The page shows the customer's DATEV connection (with the login link for operators),
runs the same checks as ``ml-connector ping`` (:func:`~ml_connector.runs.ping.ping_customer`)
on request, each failure with its fix, and offers the configuration snippet that lets
Looker trigger the customer's pipelines. The configuration stays a TOML file; the page
only shows what to add.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import SecretStr

from ml_connector.datev.oauth.connection_store import needs_person
from ml_connector.errors import ConfigurationError, MlConnectorError
from ml_connector.interfaces.web import context
from ml_connector.interfaces.web.deps import Principal, require_role, store
from ml_connector.interfaces.web.pages import render
from ml_connector.looker.client import LookerClient
from ml_connector.runs.connect import DatevConnections, store_looker_credentials
from ml_connector.runs.ping import ping_customer
from ml_connector.store.web import record_action

__all__ = ["router", "webhook_snippet"]

router = APIRouter()


def webhook_snippet(pipeline: str) -> str:
    """The ``[pipelines.<name>.webhook]`` table to add, its secret kept in the store."""
    return (
        f"[pipelines.{pipeline}.webhook]\n"
        f'secret = "store:{pipeline}-hook"   # ml-connector credentials set {pipeline}-hook '
        "looker_webhook_secret\n"
        'period = "previous_month"\n'
    )


async def _page(
    request: Request,
    customer_id: str,
    who: Principal,
    *,
    check: bool = False,
    looker: tuple[bool, str, str] | None = None,
) -> HTMLResponse:
    context.customer(request, customer_id)  # a clear page for an unknown customer
    config, _ = context.load_web_config(request)
    assert config is not None
    connections = context.connections(request)
    checks = None
    if check:
        datev = DatevConnections(context.sync_settings(request), connections)
        checks = await ping_customer(
            config, customer_id, datev, looker_url=context.settings_of(request).looker_url
        )
    pipelines = sorted(n for n, p in config.model.pipelines.items() if p.customer == customer_id)
    base = context.public_url(request)
    hooks = [
        (name, f"{base}/hooks/looker/{name}?token=<secret>", webhook_snippet(name))
        for name in pipelines
        if config.model.pipelines[name].webhook is None
    ]
    return render(
        request,
        "onboarding.html",
        customer_id=customer_id,
        customer=config.model.customers[customer_id],
        datev_state=needs_person(connections, customer_id),
        checks=checks,
        hooks=hooks,
        looker=looker,
        can_act=who.may("operator"),
    )


@router.get("/onboarding/{customer_id}", response_class=HTMLResponse)
async def onboarding(
    request: Request,
    customer_id: str,
    who: Annotated[Principal, Depends(require_role("viewer"))],
    check: bool = False,
) -> HTMLResponse:
    """The customer's onboarding state; ``?check=true`` pings Looker and DATEV."""
    return await _page(request, customer_id, who, check=check)


@router.post("/onboarding/{customer_id}/looker", response_class=HTMLResponse)
async def onboarding_looker(
    request: Request,
    customer_id: str,
    who: Annotated[Principal, Depends(require_role("operator"))],
    base_url: Annotated[str, Form(max_length=500)],
    client_id: Annotated[str, Form(min_length=1, max_length=200)],
    client_secret: Annotated[str, Form(min_length=1, max_length=500)],
) -> HTMLResponse:
    """Store a Looker API3 key encrypted for the customer and try to log in with it."""
    context.customer(request, customer_id)
    url = base_url.strip().rstrip("/")
    if not url.lower().startswith(("https://", "http://")):
        raise ConfigurationError(
            f"the Looker instance URL {base_url!r} is not an http(s) URL",
            hint="e.g. https://mycompany.cloud.looker.com",
        )
    owner = f"{customer_id}-looker"
    secret = SecretStr(client_secret)
    store_looker_credentials(context.credentials(request), owner, client_id, secret)
    record_action(store(request), who.name, "onboarding.looker_key_stored", customer_id, owner)
    try:
        async with LookerClient(url, client_id, secret) as looker:
            await looker.login()
        outcome = (True, f"logged in at {url}", "")
    except MlConnectorError as exc:
        outcome = (False, exc.message, exc.hint or "check the URL and the API3 key")
    snippet = (
        f'[customers.{customer_id}.looker]\nbase_url = "{url}"\ncredential = "store:{owner}"\n'
    )
    return await _page(request, customer_id, who, looker=(*outcome[:2], outcome[2] or snippet))
