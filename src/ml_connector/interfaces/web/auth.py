"""Logging in and out (``/login``, ``/logout``).

The login form has no session yet, so its CSRF token is a double-submit cookie: a
random value in a SameSite=Strict cookie that the form must repeat.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ml_connector.interfaces.web.deps import (
    Principal,
    public,
    require_role,
    session_cookie_name,
    store,
)
from ml_connector.interfaces.web.pages import render
from ml_connector.interfaces.web.security import new_token, verify_password
from ml_connector.store.web import create_session, delete_session, get_user, record_action

__all__ = ["router"]

router = APIRouter(include_in_schema=False)  # pages: not part of the API document
LOGIN_CSRF_COOKIE = "mlc_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only a local path: no open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.netloc or parts.scheme else target


def _login_page(request: Request, next_path: str, error: str | None, status: int) -> Response:
    token = new_token()
    page = render(request, "login.html", status, login_csrf=token, next=next_path, error=error)
    page.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.https,
        path="/login",
    )
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, _who: Annotated[Principal | None, Depends(public)], next: str = "/"
) -> Response:
    """The login form."""
    return _login_page(request, _safe_next(next), None, 200)


@router.post("/login")
def login(
    request: Request,
    _who: Annotated[Principal | None, Depends(public)],
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password; on success a new session and back to ``next``."""
    settings = request.app.state.settings
    limiter = request.app.state.login_limiter
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        return _login_page(request, _safe_next(next), "The form expired; please try again.", 403)
    client = request.client.host if request.client else "unknown"
    if limiter.blocked(username, client):
        return _login_page(
            request, _safe_next(next), "Too many failed logins; wait 15 minutes.", 429
        )
    engine = store(request)
    user = get_user(engine, username)
    good = verify_password(user.password_hash if user else None, password)
    if user is None or not good or user.disabled:
        limiter.failed(username, client)
        return _login_page(request, _safe_next(next), "Wrong user name or password.", 401)
    limiter.succeeded(username, client)
    token = new_token()
    create_session(engine, user.name, token, new_token(), settings.session_hours * 3600)
    record_action(engine, user.name, "login", detail=f"from {client}")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        session_cookie_name(settings.https),
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.https,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request, who: Annotated[Principal, Depends(require_role("viewer"))]
) -> Response:
    """End this session."""
    settings = request.app.state.settings
    name = session_cookie_name(settings.https)
    engine = store(request)
    delete_session(engine, request.cookies.get(name, ""))
    record_action(engine, who.name, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(name, path="/", secure=settings.https, httponly=True)
    return response
