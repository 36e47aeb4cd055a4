"""The start page: the newest runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from ml_connector.interfaces.web.deps import Principal, require_role, store
from ml_connector.interfaces.web.pages import render
from ml_connector.store.runs import list_runs

__all__ = ["router"]

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, _who: Annotated[Principal, Depends(require_role("viewer"))]
) -> HTMLResponse:
    """The newest runs of every customer."""
    return render(request, "home.html", runs=list_runs(store(request), limit=50))
