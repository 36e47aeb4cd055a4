"""Users (admin only) and API tokens (each user their own; shown once, stored hashed)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ml_connector.errors import ConfigurationError
from ml_connector.interfaces.web.deps import Principal, require_role, store
from ml_connector.interfaces.web.pages import render
from ml_connector.interfaces.web.security import hash_password, new_token
from ml_connector.store.web import (
    ROLES,
    add_user,
    create_token,
    list_tokens,
    list_users,
    record_action,
    revoke_token,
    set_user,
)

__all__ = ["TOKEN_PREFIX", "router"]

router = APIRouter(include_in_schema=False)  # pages: not part of the API document
Admin = Annotated[Principal, Depends(require_role("admin"))]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
#: API tokens start with this, so a leaked one is recognisable (secret scanners)
TOKEN_PREFIX = "mlc_"  # noqa: S105 (a prefix, not a secret)
MIN_PASSWORD = 12


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, _who: Admin) -> HTMLResponse:
    """Every user with role and state; add, change role, disable."""
    return render(request, "users.html", users=list_users(store(request)), roles=ROLES)


@router.post("/users")
def users_add(
    request: Request,
    who: Admin,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    role: Annotated[Literal["viewer", "operator", "admin"], Form()],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Add a user."""
    if len(password) < MIN_PASSWORD:
        raise ConfigurationError(f"the password must have at least {MIN_PASSWORD} characters")
    add_user(store(request), name.strip(), role, hash_password(password))
    record_action(store(request), who.name, "user_add", target=name, detail=role)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{name}")
def users_set(
    request: Request,
    who: Admin,
    name: str,
    role: Annotated[Literal["viewer", "operator", "admin"] | None, Form()] = None,
    disabled: Annotated[Literal["yes", "no"] | None, Form()] = None,
) -> Response:
    """Change a user's role or disable/enable them (disabling ends their sessions)."""
    if name == who.name and (disabled == "yes" or (role and role != "admin")):
        raise ConfigurationError("you cannot disable or demote yourself", hint="ask another admin")
    off = None if disabled is None else disabled == "yes"
    set_user(store(request), name, role=role, disabled=off)
    changes = [f"role {role}"] if role else []
    changes += [f"disabled {off}"] if off is not None else []
    detail = ", ".join(changes)
    record_action(store(request), who.name, "user_set", target=name, detail=detail)
    return RedirectResponse("/users", status_code=303)


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, who: Viewer) -> HTMLResponse:
    """Your API tokens (never their values)."""
    tokens = list_tokens(store(request), who.name)
    return render(request, "tokens.html", tokens=tokens, new_token=None)


@router.post("/tokens", response_class=HTMLResponse)
def tokens_create(
    request: Request,
    who: Viewer,
    label: Annotated[str, Form(min_length=1, max_length=200)],
    scope: Annotated[Literal["read", "operate"], Form()],
) -> HTMLResponse:
    """Create an API token; its value is shown on this page once and never again."""
    if scope == "operate" and not who.may("operator"):
        raise ConfigurationError("viewers can create read tokens only")
    token = new_token(TOKEN_PREFIX)
    engine = store(request)
    create_token(engine, who.name, label, scope, token)
    record_action(engine, who.name, "token_create", target=label, detail=scope)
    tokens = list_tokens(engine, who.name)
    return render(request, "tokens.html", tokens=tokens, new_token=token)


@router.post("/tokens/{token_id}/revoke")
def tokens_revoke(request: Request, who: Viewer, token_id: int) -> Response:
    """Revoke one of your API tokens."""
    if not revoke_token(store(request), token_id, user=who.name):
        raise ConfigurationError(f"you have no active token {token_id}")
    record_action(store(request), who.name, "token_revoke", target=str(token_id))
    return RedirectResponse("/tokens", status_code=303)
