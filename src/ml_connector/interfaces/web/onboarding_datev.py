"""``/onboarding/{customer}/datev``: pick the DATEV client (Mandant) the bookings go to.

Lists the clients the customer's stored DATEV login may see (accounting-clients
``GET /clients``, through :class:`~ml_connector.runs.connect.DatevConnections` as
``ping`` does), and for the chosen one its services per channel and its Belege online
document types. The choice becomes the ``[customers.<id>.datev]`` snippet to add; the
configuration stays a TOML file. A missing login or a failed call is one clear line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from ml_connector.datev.api.models import SERVICE_BY_CHANNEL, Client, DocumentType
from ml_connector.datev.client import DatevClient
from ml_connector.errors import MlConnectorError
from ml_connector.interfaces.web import context
from ml_connector.interfaces.web.deps import Principal, require_role
from ml_connector.interfaces.web.pages import render
from ml_connector.runs.connect import DatevConnections

__all__ = ["ClientChoice", "client_snippet", "router"]

router = APIRouter()

#: clients shown at most (a consultant's whole client list is not needed to pick one)
MAX_CLIENTS = 200


@dataclass(frozen=True, slots=True)
class ClientChoice:
    """The chosen client: services booked per channel, document types, snippet."""

    client: Client
    services: tuple[tuple[str, str, bool], ...]  # (channel, DATEV service name, booked)
    document_types: tuple[DocumentType, ...] | str  # str: why they could not be read
    snippet: str


def client_snippet(customer_id: str, client: Client) -> str:
    """The ``[customers.<id>.datev]`` keys that name ``client`` (config/models.py)."""
    return (
        f"[customers.{customer_id}.datev]\n"
        f"consultant_number = {client.consultant_number}   # Beraternummer\n"
        f"client_number = {client.client_number}   # Mandantennummer: {client.name}\n"
    )


def _services(client: Client) -> tuple[tuple[str, str, bool], ...]:
    return tuple(
        (channel, name, client.has_service(channel))
        for channel, (name, _scope) in SERVICE_BY_CHANNEL.items()
    )


async def _document_types(client: DatevClient, picked: Client) -> tuple[DocumentType, ...] | str:
    """The client's document types, or why they cannot be read (the list stays usable)."""
    if not picked.has_service("documents"):
        return "Belege online is not booked: documents cannot be uploaded for this client"
    try:
        return await client.document_types(picked.id)
    except MlConnectorError as exc:
        hint = f" (fix: {exc.hint})" if exc.hint else ""
        return f"could not be read: {exc.message}{hint}"


async def _lookup(
    request: Request, customer_id: str, chosen: str | None
) -> tuple[list[Client], ClientChoice | None]:
    customer = context.customer(request, customer_id)
    datev = DatevConnections(context.sync_settings(request), context.connections(request))
    async with datev.client(customer_id, customer) as client:
        clients: list[Client] = []
        async for item in client.iter_clients():
            clients.append(item)
            if len(clients) >= MAX_CLIENTS:
                break
        picked = next((c for c in clients if c.id == chosen), None)
        if picked is None:
            return clients, None
        types = await _document_types(client, picked)
    choice = ClientChoice(picked, _services(picked), types, client_snippet(customer_id, picked))
    return clients, choice


@router.get("/onboarding/{customer_id}/datev", response_class=HTMLResponse)
async def onboarding_datev(
    request: Request,
    customer_id: str,
    who: Annotated[Principal, Depends(require_role("operator"))],
    client: str | None = None,
) -> HTMLResponse:
    """The DATEV clients this customer's login sees; ``?client=<id>`` shows one in detail."""
    customer = context.customer(request, customer_id)
    clients: list[Client] = []
    choice = None
    failure = None
    try:
        clients, choice = await _lookup(request, customer_id, client)
    except MlConnectorError as exc:
        failure = (exc.message, exc.hint or "")
    return render(
        request,
        "onboarding_datev.html",
        customer_id=customer_id,
        customer=customer,
        clients=clients,
        truncated=len(clients) >= MAX_CLIENTS,
        choice=choice,
        unknown_choice=client is not None and choice is None and failure is None,
        failure=failure,
    )
