"""Admin endpoints of the emulator (no DATEV counterpart; loopback use only).

=========================  ====================================================
``GET  /admin/ledger``     transfers, bookings, duplicates and documents (JSON);
                           bookings in pages of ``limit`` (default 1,000) after
                           position ``after``; ``next_after`` starts the next page
``GET  /admin/faults``     current fault settings
``PUT  /admin/faults``     change fault settings (JSON object, partial)
``POST /admin/revoke-tokens``          identity provider: revoke every token
``POST /admin/expire-refresh-tokens``  identity provider: expire refresh tokens
``POST /admin/expire-access-tokens``   identity provider: expire access tokens
``POST /admin/reset``      forget jobs, documents and the ledger
``GET  /admin/clients``    the configured clients
=========================  ====================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector_sandbox.emulators.datev.state import EmulatorState

__all__ = ["LEDGER_PAGE", "admin_routes"]

#: bookings per ``/admin/ledger`` page unless ``limit`` says otherwise (the ledger
#: is on disk and may hold millions; one answer holds one page)
LEDGER_PAGE = 1000


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.datev
    return state


async def ledger(request: Request) -> Response:
    """Everything the emulator accepted; bookings paged with ``limit`` and ``after``."""
    query = request.query_params
    after, limit = query.get("after", "0"), query.get("limit", str(LEDGER_PAGE))
    if not (after.isdigit() and limit.isdigit() and int(limit) > 0):
        return JSONResponse(
            {"error": "after must be a whole number, limit a positive one"}, status_code=400
        )
    snapshot = _state(request).ledger.snapshot(after=int(after), limit=int(limit))
    return JSONResponse(snapshot)


async def get_faults(request: Request) -> Response:
    """Current fault settings."""
    return JSONResponse(_state(request).faults.config.model_dump())


async def put_faults(request: Request) -> Response:
    """Change fault settings, e.g. ``{"error_rate": 0.2, "job_failure_rate": 1}``."""
    try:
        changes = await request.json()
        if not isinstance(changes, dict):
            raise TypeError("expected a JSON object")
        config = _state(request).faults.update(**changes)
    except (ValueError, TypeError, ValidationError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(config.model_dump())


def _idp_action(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def action(request: Request) -> Response:
        idp = _state(request).idp
        if idp is None:
            return JSONResponse({"error": "no identity provider mounted"}, status_code=409)
        action = getattr(idp, name, None)
        if action is None:
            return JSONResponse({"error": f"identity provider has no {name}"}, status_code=409)
        result = action()
        return JSONResponse({"done": name, "affected": result if isinstance(result, int) else None})

    return action


async def reset(request: Request) -> Response:
    """Forget jobs, documents and the ledger."""
    _state(request).reset()
    return JSONResponse({"done": "reset"})


async def clients(request: Request) -> Response:
    """The configured clients."""
    return JSONResponse(
        [c.model_dump(mode="json") | {"id": c.id} for c in _state(request).config.clients]
    )


def admin_routes() -> list[Route]:
    """Routes under ``/admin``."""
    return [
        Route("/ledger", ledger, methods=["GET"]),
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", put_faults, methods=["PUT"]),
        Route("/revoke-tokens", _idp_action("revoke_all_tokens"), methods=["POST"]),
        Route("/expire-refresh-tokens", _idp_action("expire_refresh_tokens"), methods=["POST"]),
        Route("/expire-access-tokens", _idp_action("expire_access_tokens"), methods=["POST"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/clients", clients, methods=["GET"]),
    ]
