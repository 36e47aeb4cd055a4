"""The audit trail (verify, export download) and the schedules with their next dates."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask

from ml_connector.interfaces.web.context import load_web_config
from ml_connector.interfaces.web.deps import Principal, require_role, store
from ml_connector.interfaces.web.pages import render
from ml_connector.store.audit import chains, verify
from ml_connector.store.export import export_trail
from ml_connector.store.web import list_web_audit, record_action

__all__ = ["export_download", "router"]

router = APIRouter(include_in_schema=False)  # pages: not part of the API document
Viewer = Annotated[Principal, Depends(require_role("viewer"))]


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, _who: Viewer, check: bool = False) -> HTMLResponse:
    """Chains, their verification on request, the export and the web actions."""
    engine = store(request)
    reports = verify(engine) if check else None
    return render(
        request,
        "audit.html",
        chains=chains(engine),
        reports=reports,
        actions=list_web_audit(engine, limit=100),
    )


def export_download(
    request: Request,
    who: Principal,
    fmt: Literal["csv", "json"],
    chain: str | None,
    run_id: str | None,
) -> FileResponse:
    """The audit trail export (``store.export``) as a download; the download is audited."""
    engine = store(request)
    handle, name = tempfile.mkstemp(prefix="mlc-audit-", suffix=f".{fmt}")
    os.close(handle)
    path = Path(name)
    export_trail(engine, path, fmt=fmt, chain=chain or None, run_id=run_id or None, overwrite=True)
    record_action(engine, who.name, "audit_export", target=chain or run_id or "all", detail=fmt)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return FileResponse(
        path,
        filename=f"ml-connector-audit-{stamp}.{fmt}",
        media_type="text/csv" if fmt == "csv" else "application/json",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/audit/export")
def audit_export(
    request: Request,
    who: Viewer,
    format: Literal["csv", "json"] = "csv",
    chain: Annotated[str, Query(max_length=100)] = "",
    run_id: Annotated[str, Query(max_length=200)] = "",
) -> FileResponse:
    """Download the audit trail (all, one DATEV client's chain, or one run)."""
    return export_download(request, who, format, chain, run_id)


@router.get("/schedules", response_class=HTMLResponse)
def schedules_page(request: Request, _who: Viewer) -> HTMLResponse:
    """Every scheduled pipeline with its next three dates and the period each processes."""
    from ml_connector.errors import MlConnectorError
    from ml_connector.schedule import parse_rule
    from ml_connector.schedule.fire import next_runs, period_for

    config, config_error = load_web_config(request)
    now = datetime.now(UTC)
    rows: list[tuple[str, str, str, list[tuple[datetime, str]], str | None]] = []
    for name, pipeline in sorted(config.model.pipelines.items()) if config else []:
        if not pipeline.schedule:
            continue
        try:
            rule = parse_rule(pipeline.schedule)
            fires = [(f, period_for(rule, f)) for f in next_runs(rule, now, 3)]
            rows.append((name, pipeline.customer, pipeline.schedule, fires, None))
        except MlConnectorError as exc:
            rows.append((name, pipeline.customer, pipeline.schedule, [], str(exc)))
    return render(request, "schedules.html", rows=rows, config_error=config_error)
