"""Runs: the list per customer and pipeline with live progress, and one run's page."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from ml_connector.interfaces.web.context import load_web_config, queue_url, settings_of
from ml_connector.interfaces.web.datev_login import needs_consent
from ml_connector.interfaces.web.deps import Principal, require_role, store
from ml_connector.interfaces.web.pages import render
from ml_connector.mapping.money import MoneyFacts
from ml_connector.store.lineage import file_events, held_rows
from ml_connector.store.runs import (
    FINAL_STATES,
    RunRecord,
    get_run,
    list_files,
    list_protocol,
    list_runs,
)

__all__ = ["queued", "router", "run_or_404", "run_report"]

router = APIRouter(include_in_schema=False)  # pages: not part of the API document
Viewer = Annotated[Principal, Depends(require_role("viewer"))]


def queued(request: Request) -> list[Any]:
    """The runs waiting for a worker."""
    from ml_connector.engine.runtime import queued_runs

    return list(queued_runs(queue_url(request)))


def run_or_404(request: Request, run_id: str) -> RunRecord:
    """The run ``run_id`` or a 404."""
    run = get_run(store(request), run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return run


def run_report(request: Request, run: RunRecord) -> dict[str, Any]:
    """The run's ``report.json`` (tie-out per group, held rows by reason), or ``{}``."""
    from ml_connector.engine.runtime import run_report_path

    path = run_report_path(settings_of(request).data_dir, run.pipeline, run.period, run.id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request, who: Viewer, customer: str | None = None, pipeline: str | None = None
) -> HTMLResponse:
    """Runs per customer and pipeline; unfinished ones update themselves."""
    config, config_error = load_web_config(request)
    pipelines = sorted(config.model.pipelines.items()) if config else []
    runs = list_runs(
        store(request), customer=customer or None, pipeline=pipeline or None, limit=200
    )
    return render(
        request,
        "runs.html",
        runs=runs,
        queued=queued(request),
        pipelines=pipelines,
        customers=sorted(config.model.customers) if config else [],
        customer=customer or "",
        pipeline=pipeline or "",
        final=FINAL_STATES,
        config_error=config_error,
        can_act=who.may("operator"),
        reconsent=needs_consent(request, config),
    )


def _money(run: RunRecord) -> MoneyFacts:
    try:
        return MoneyFacts.from_report(json.loads(run.money or "null"))
    except (ValueError, KeyError, ArithmeticError):
        return MoneyFacts()


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, who: Viewer, run_id: str) -> HTMLResponse:
    """Money per account, tie-out per group, files, DATEV jobs and protocol, held rows."""
    run = run_or_404(request, run_id)
    engine = store(request)
    report = run_report(request, run)
    return render(
        request,
        "run.html",
        run=run,
        money=_money(run),
        tie_out=report.get("tie_out") or {},
        files=list_files(engine, run.id),
        protocol=list_protocol(engine, run.id),
        events=file_events(engine, run.id),
        held=held_rows(engine, run.id),
        final=run.state in FINAL_STATES,
        can_act=who.may("operator"),
        decimal=Decimal,
    )


def _zipped(folder: Path) -> bytes:
    """The files of ``folder`` (a DXSO job: manifest, XML, receipts) as one ZIP."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.iterdir()):
            if item.is_file() and not item.is_symlink():
                archive.write(item, f"{folder.name}/{item.name}")
    return buffer.getvalue()


@router.get("/runs/{run_id}/files/{filename}")
def run_file(request: Request, _who: Viewer, run_id: str, filename: str) -> Response:
    """Download a file the run wrote (only the run's own files, by their recorded path);
    a DXSO job folder comes as one ZIP of its files."""
    run = run_or_404(request, run_id)
    for file in list_files(store(request), run.id):
        path = Path(file.path)
        if file.filename != filename:
            continue
        if path.is_file():
            return FileResponse(path, filename=file.filename, media_type="text/csv")
        if path.is_dir():
            headers = {"Content-Disposition": f'attachment; filename="{path.name}.zip"'}
            return Response(_zipped(path), media_type="application/zip", headers=headers)
    raise HTTPException(404, f"run {run_id!r} has no file {filename!r} on this server")
