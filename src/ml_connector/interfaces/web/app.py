"""The app factory: one FastAPI app on the store the command line uses.

Adding an area: write a module with ``router = APIRouter()`` whose every route depends
on :func:`~ml_connector.interfaces.web.deps.require_role` (or ``public``), name the
module in :data:`ROUTER_MODULES` (or pass the router to :func:`create_app`), and, for a
page, add its navigation entry to :data:`~ml_connector.interfaces.web.pages.NAV`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_connector import __version__
from ml_connector.errors import MlConnectorError
from ml_connector.interfaces.web.deps import CsrfRefusedError, ForbiddenError, NotLoggedInError
from ml_connector.interfaces.web.pages import render
from ml_connector.interfaces.web.security import LoginLimiter, security_headers
from ml_connector.interfaces.web.settings import WebSettings

__all__ = ["ROUTER_MODULES", "app_routes", "create_app"]

#: the modules whose ``router`` the app includes, in this order
ROUTER_MODULES: tuple[str, ...] = (
    "auth",
    "runs",
    "lineage",
    "audit",
    "actions",
    "admin",
    "api",
    "datev_login",
    "looker_hooks",
    "onboarding",
    "onboarding_datev",
    "onboarding_looker",
)

_log = logging.getLogger("ml_connector.web")


class _Headers:
    """Adds the security headers to every answer, and ``no-store`` to pages."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.headers
                if not static:
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, add)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _refusal(request: Request, status: int, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", status, status=status, message=message)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotLoggedInError)
    async def not_logged_in(request: Request, _exc: Exception) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"error": "log in or send 'Authorization: Bearer <API token>'"},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, _exc: Exception) -> Response:
        return _refusal(request, 403, "Your role does not allow this.")

    @app.exception_handler(CsrfRefusedError)
    async def csrf(request: Request, _exc: Exception) -> Response:
        return _refusal(request, 403, "The form expired or did not come from this app; reload.")

    @app.exception_handler(MlConnectorError)
    async def own_error(request: Request, exc: Exception) -> Response:
        return _refusal(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        where = ", ".join(
            ".".join(str(p) for p in e.get("loc", ())) + f": {e.get('msg', '')}" for e in errors
        )
        return _refusal(request, 422, f"invalid input ({where})")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else "error"
        return _refusal(request, status, str(detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        _log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return _refusal(request, 500, f"unexpected {type(exc).__name__} (see the server log)")


def default_routers() -> list[APIRouter]:
    """The routers of :data:`ROUTER_MODULES`."""
    package = __name__.rsplit(".", 1)[0]
    return [import_module(f"{package}.{name}").router for name in ROUTER_MODULES]


def app_routes(app: FastAPI) -> list[APIRoute]:
    """Every route of the app's routers (what the access test walks)."""
    return [r for router in app.state.routers for r in router.routes if isinstance(r, APIRoute)]


def create_app(
    settings: WebSettings, *, engine: Engine | None = None, routers: Iterable[APIRouter] = ()
) -> FastAPI:
    """The web app on ``engine`` (default: the migrated store of ``settings``)."""
    from ml_connector.store.open import open_store

    app = FastAPI(
        title="ml-connector",
        version=__version__,
        docs_url=None,  # the interactive docs need inline scripts; the document is enough
        redoc_url=None,
        openapi_url=None,  # served by the api module behind a role check
    )
    app.state.settings = settings
    app.state.engine = engine or open_store(settings.store_url, data_dir=settings.data_dir)
    app.state.login_limiter = LoginLimiter(
        app.state.engine, settings.login_attempts, settings.login_window_seconds
    )
    _install_handlers(app)
    app.state.routers = [*default_routers(), *routers]
    for router in app.state.routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), "static")
    app.add_middleware(_Headers, headers=security_headers(https=settings.https))
    return app
