"""``/onboarding/{customer}``: does this customer fit? DATEV connection, checks, snippets.

The page shows the customer's DATEV connection (with the login link for operators),
runs the same checks as ``ml-connector ping`` (:func:`~ml_connector.runs.ping.ping_customer`)
on request, each failure with its fix, and offers the configuration snippet that lets
Looker trigger the customer's pipelines. The configuration stays a TOML file; the page
only shows what to add.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from ml_connector.datev.oauth.connection_store import needs_person
from ml_connector.interfaces.web import context
from ml_connector.interfaces.web.deps import Principal, require_role
from ml_connector.interfaces.web.pages import render
from ml_connector.runs.connect import DatevConnections
from ml_connector.runs.ping import ping_customer

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


@router.get("/onboarding/{customer_id}", response_class=HTMLResponse)
async def onboarding(
    request: Request,
    customer_id: str,
    who: Annotated[Principal, Depends(require_role("viewer"))],
    check: bool = False,
) -> HTMLResponse:
    """The customer's onboarding state; ``?check=true`` pings Looker and DATEV."""
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
        can_act=who.may("operator"),
    )
