"""What every route depends on: the store, who is asking, and whether they may.

Every route declares :func:`require_role` (or :func:`public`); a test walks the app and
fails for a route that declares neither. Pages authenticate by the session cookie, the
``/api/`` routes also by ``Authorization: Bearer <API token>``. A session's unsafe
request (POST, PUT, PATCH, DELETE) must carry its CSRF token, as the form field
``csrf_token`` or the header ``X-CSRF-Token``; bearer tokens need none (no cookie).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from sqlalchemy import Engine

from ml_connector.store.web import ROLES, Role, find_session, find_token

__all__ = [
    "CSRF_FIELD",
    "CsrfRefusedError",
    "ForbiddenError",
    "NotLoggedInError",
    "Principal",
    "public",
    "require_role",
    "session_cookie_name",
    "store",
]

CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: the most an API token of each scope may do, whatever its user's role
TOKEN_CAP: dict[str, Role] = {"read": "viewer", "operate": "operator"}


class NotLoggedInError(Exception):
    """No valid session (pages: to the login page) or token (API: 401)."""


class ForbiddenError(Exception):
    """Logged in, but the role does not allow this (403)."""


class CsrfRefusedError(Exception):
    """An unsafe request of a session without its CSRF token (403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user through a session or an API token, and the role in effect."""

    name: str
    role: Role
    via: Literal["session", "token"]
    csrf_token: str | None = None

    def may(self, role: Role) -> bool:
        """Whether this principal has at least ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)


def store(request: Request) -> Engine:
    """The store engine the app was created with."""
    engine: Engine = request.app.state.engine
    return engine


def session_cookie_name(https: bool) -> str:
    """``__Host-`` cookies are only accepted over HTTPS, Secure, for the whole host."""
    return "__Host-mlc_session" if https else "mlc_session"


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_principal(request: Request) -> Principal | None:
    """The principal of ``request`` (cached on it), or None."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    engine = store(request)
    principal: Principal | None = None
    token = _bearer(request) if request.url.path.startswith("/api/") else None
    if token is not None:
        found = find_token(engine, token)
        if found is not None:
            api_token, user = found
            cap = TOKEN_CAP[api_token.scope]
            role = min(user.role, cap, key=ROLES.index)
            principal = Principal(user.name, role, "token")
    else:
        cookie = request.cookies.get(session_cookie_name(request.app.state.settings.https))
        session = find_session(engine, cookie) if cookie else None
        if session is not None:
            principal = Principal(
                session.user.name, session.user.role, "session", session.csrf_token
            )
    request.state.principal = principal
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method not in UNSAFE or principal.via != "session":
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = principal.csrf_token or ""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefusedError


def require_role(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the principal if it has at least ``role`` (and, for a session's
    unsafe request, the right CSRF token); else refused."""

    async def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise NotLoggedInError
        if not principal.may(role):
            raise ForbiddenError
        await _check_csrf(request, principal)
        return principal

    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency


async def public(request: Request) -> Principal | None:
    """A dependency for routes anyone may reach (login, callbacks that check their own
    credentials): the principal if there is one."""
    return current_principal(request)


public.required_role = None  # type: ignore[attr-defined]
