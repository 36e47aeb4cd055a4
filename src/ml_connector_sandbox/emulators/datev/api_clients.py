"""accounting-clients v2 and the ``/clients`` routes of dxso-jobs and documents."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from ml_connector.datev.api.endpoints import DatevApi
from ml_connector_sandbox.emulators.datev.api_common import (
    Ctx,
    api_route,
    json_response,
    page_links,
    problem,
)
from ml_connector_sandbox.emulators.datev.config import SERVICE_SCOPES, EmulatedClient

__all__ = ["basics_json", "client_json", "clients_routes", "parse_filter", "read_clients_routes"]

_CONDITION = re.compile(r"\s*(consultant_number|client_number)\s+eq\s+(\d{1,10})\s*")


def parse_filter(text: str) -> dict[str, int]:
    """``consultant_number eq N and client_number eq M`` -> field values; ValueError if invalid."""
    result: dict[str, int] = {}
    for part in re.split(r"\s+and\s+", text.strip()):
        match = _CONDITION.fullmatch(part)
        if not match or match.group(1) in result:
            raise ValueError(f"unsupported filter expression {part!r}")
        value = int(match.group(2))
        if not 1 <= value <= 9999999999:
            raise ValueError(f"filter value out of range: {value}")
        result[match.group(1)] = value
    return result


def client_json(client: EmulatedClient) -> dict[str, Any]:
    """accounting-clients ``Client``."""
    return {
        "client_number": client.client_number,
        "consultant_number": client.consultant_number,
        "id": client.id,
        "name": client.name,
        "services": [
            {"name": name, "scopes": list(SERVICE_SCOPES.get(name, ()))} for name in client.services
        ],
    }


def basics_json(client: EmulatedClient) -> dict[str, Any]:
    """dxso-jobs/documents ``ClientBasics`` (last three fiscal years)."""
    ledgers = "Rechnungsdatenservice 1.0" in client.services
    return {
        "client_number": client.client_number,
        "consultant_number": client.consultant_number,
        "id": client.id,
        "name": client.name,
        "is_document_management_available": client.is_document_management_available,
        "basic_accounting_information": [
            {
                "fiscal_year_start": date(year, 1, 1).isoformat(),
                "fiscal_year_end": date(year, 12, 31).isoformat(),
                "account_length": client.account_length,
                "ledgers": {
                    "is_accounts_payable_ledger_available": ledgers,
                    "is_accounts_receivable_ledger_available": ledgers,
                    "is_cash_ledger_available": ledgers,
                },
            }
            for year in sorted(client.fiscal_years, reverse=True)[:3]
        ],
    }


async def list_clients(ctx: Ctx) -> Response:
    """``GET /clients`` with filter, skip, top, ``Total-Items`` and ``Link``."""
    query = ctx.request.query_params
    try:
        wanted = parse_filter(query["filter"]) if query.get("filter") else {}
    except ValueError as exc:
        return problem(400, "1008828", "Invalid query", str(exc), request_id=ctx.request_id)
    skip = int(query.get("skip", "0"))
    top = int(query.get("top", "100"))
    matching = [
        c
        for c in ctx.state.config.clients
        if all(getattr(c, key) == value for key, value in wanted.items())
    ]
    page = matching[skip : skip + top]
    headers = {"Total-Items": str(len(matching))}
    link = page_links(skip, top, len(matching))
    if link:
        headers["Link"] = link
    return json_response([client_json(c) for c in page], headers=headers)


async def get_client(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}``."""
    return json_response(client_json(ctx.require_client()))


async def list_client_basics(ctx: Ctx) -> Response:
    """dxso-jobs/documents ``GET /clients`` (no paging in these specs)."""
    clients = ctx.state.config.clients
    return json_response(
        [
            {
                "client_number": c.client_number,
                "consultant_number": c.consultant_number,
                "id": c.id,
                "name": c.name,
            }
            for c in clients
        ]
    )


async def get_client_basics(ctx: Ctx) -> Response:
    """dxso-jobs/documents ``GET /clients/{client-id}``."""
    return json_response(basics_json(ctx.require_client()), utf8=ctx.api is DatevApi.DXSO)


def clients_routes() -> list[Route]:
    """Routes of accounting-clients (relative to its base path)."""
    api = DatevApi.CLIENTS
    return [
        Route("/clients", api_route(api, list_clients), methods=["GET"]),
        Route("/clients/{client_id}", api_route(api, get_client), methods=["GET"]),
    ]


def read_clients_routes(api: DatevApi) -> list[Route]:
    """The ``/clients`` routes dxso-jobs and documents share."""
    return [
        Route("/clients", api_route(api, list_client_basics), methods=["GET"]),
        Route("/clients/{client_id}", api_route(api, get_client_basics), methods=["GET"]),
    ]
