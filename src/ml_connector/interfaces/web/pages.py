"""Rendering server-side pages (Jinja2, autoescaped) with the navigation and CSRF token."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ml_connector.interfaces.web.deps import CSRF_FIELD, current_principal
from ml_connector.mapping.money import format_money

__all__ = ["NAV", "render", "templates"]

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,
        undefined=StrictUndefined,
    )
)
templates.env.filters["money"] = lambda value: format_money(Decimal(str(value)))
templates.env.filters["q"] = lambda value: quote(str(value), safe="")

#: the navigation: (path, label, least role that sees it); routers add entries here
NAV: list[tuple[str, str, str]] = [
    ("/", "Runs", "viewer"),
    ("/schedules", "Schedules", "viewer"),
    ("/lineage", "Row lineage", "viewer"),
    ("/audit", "Audit", "viewer"),
    ("/tokens", "API tokens", "viewer"),
    ("/users", "Users", "admin"),
]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` with the principal, its navigation and CSRF token in the context."""
    principal = current_principal(request)
    nav = [
        (path, label)
        for path, label, role in NAV
        if principal is not None and principal.may(role)  # type: ignore[arg-type]
    ]
    context.update(
        principal=principal,
        nav=nav,
        csrf_field=CSRF_FIELD,
        csrf_token=principal.csrf_token if principal else None,
        path=request.url.path,
    )
    response: HTMLResponse = templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    return response
