"""Row lineage: Looker row key or Belegfeld 1 -> booking line -> EXTF file and line ->
DATEV job -> outcome, with the audit events (read by :mod:`ml_connector.store.lineage`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from ml_connector.interfaces.web.deps import Principal, require_role, store
from ml_connector.interfaces.web.pages import render
from ml_connector.store.lineage import find_rows

__all__ = ["router"]

router = APIRouter(include_in_schema=False)  # pages: not part of the API document


@router.get("/lineage", response_class=HTMLResponse)
def lineage_page(
    request: Request,
    _who: Annotated[Principal, Depends(require_role("viewer"))],
    row_key: Annotated[str, Query(max_length=2000)] = "",
    belegfeld_1: Annotated[str, Query(max_length=36)] = "",
) -> HTMLResponse:
    """Search a row; every run that recorded it, and where it went."""
    hits = find_rows(store(request), row_key=row_key.strip(), belegfeld_1=belegfeld_1.strip())
    searched = bool(row_key.strip() or belegfeld_1.strip())
    return render(
        request, "lineage.html", hits=hits, row_key=row_key, belegfeld_1=belegfeld_1,
        searched=searched,
    )  # fmt: skip
