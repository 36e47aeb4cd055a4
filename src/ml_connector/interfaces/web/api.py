"""The REST API ``/api/v1`` (JSON; OpenAPI document at ``/api/v1/openapi.json``).

Authenticated by an API token (``Authorization: Bearer mlc_...``; scope read acts as a
viewer, operate as an operator, never above the token's user) or by the browser
session (unsafe requests then need the ``X-CSRF-Token`` header). The actions are the
ones the pages use (:mod:`ml_connector.interfaces.web.actions`): confirmed by the
request itself, written to the web audit.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ml_connector.interfaces.web import actions
from ml_connector.interfaces.web.audit import export_download
from ml_connector.interfaces.web.context import load_web_config
from ml_connector.interfaces.web.deps import Principal, require_role, store
from ml_connector.interfaces.web.runs import queued, run_or_404, run_report
from ml_connector.store.lineage import RowLineage, find_rows, held_rows
from ml_connector.store.runs import FINAL_STATES, RunRecord, list_files, list_runs
from ml_connector.store.web import connection_statuses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["api"])
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]


class StartRun(BaseModel):
    """Run a pipeline for a period now."""

    pipeline: str = Field(max_length=200)
    period: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")


class ReplayRun(BaseModel):
    """Replay a finished run, or only its failed files (held rows are mapped again)."""

    only_failed: bool = False


def _run(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "customer": run.customer,
        "pipeline": run.pipeline,
        "period": run.period,
        "datev_client": run.datev_client,
        "replay_of": run.replay_of,
        "state": run.state,
        "final": run.state in FINAL_STATES,
        "rows_read": run.rows_read,
        "rows_mapped": run.rows_mapped,
        "rows_held": run.rows_rejected,
        "files_written": run.files_written,
        "jobs_succeeded": run.jobs_succeeded,
        "jobs_failed": run.jobs_failed,
        "money": json.loads(run.money) if run.money else None,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def _lineage(hit: RowLineage) -> dict[str, Any]:
    return {
        "run_id": hit.row.run_id,
        "datev_client": hit.row.chain,
        "row_key": hit.row.row_key,
        "source": hit.source,
        "held": hit.rejection,
        "booking": hit.booking,
        "filename": hit.row.filename,
        "line": hit.line,
        "datev_job_id": hit.datev_job_id,
        "job_outcome": hit.job_outcome,
        "job_detail": hit.job_detail,
        "document": {"id": hit.document_id, "filename": hit.document_name}
        if hit.document_id else None,
        "events": [
            {"chain": e.chain, "seq": e.seq, "kind": e.kind, "recorded_at": e.recorded_at,
             "row_hash": e.row_hash}
            for e in [hit.row, *([hit.document] if hit.document else []), *hit.events]
        ],
    }  # fmt: skip


@router.get("/openapi.json", include_in_schema=False)
def openapi_document(request: Request, _who: Viewer) -> dict[str, Any]:
    """The OpenAPI document of this API."""
    document: dict[str, Any] = request.app.openapi()
    return document


@router.get("/ping")
def ping(who: Viewer) -> dict[str, str]:
    """Who is asking, with which role in effect."""
    return {"status": "ok", "user": who.name, "role": who.role, "via": who.via}


@router.get("/customers")
def customers(request: Request, _who: Viewer) -> list[dict[str, Any]]:
    """Every customer: DATEV client, pipelines and the DATEV connection's status."""
    config, error = load_web_config(request)
    if config is None:
        from ml_connector.errors import ConfigurationError

        raise ConfigurationError(error or "no configuration")
    statuses = connection_statuses(store(request))
    out = []
    for name, customer in sorted(config.model.customers.items()):
        pipelines = sorted(p for p, v in config.model.pipelines.items() if v.customer == name)
        out.append(
            {
                "id": name,
                "datev_client": customer.datev.client_id,
                "pipelines": pipelines,
                "datev_connection": statuses.get(name, {"status": "not connected"}),
            }
        )
    return out


@router.get("/pipelines")
def pipelines(request: Request, _who: Viewer) -> list[dict[str, Any]]:
    """Every pipeline with its customer and schedule."""
    config, _error = load_web_config(request)
    if config is None:
        return []
    return [
        {"name": name, "customer": p.customer, "schedule": p.schedule}
        for name, p in sorted(config.model.pipelines.items())
    ]


@router.get("/runs")
def runs(
    request: Request,
    _who: Viewer,
    customer: str | None = None,
    pipeline: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Runs, newest first, and the runs waiting in the queue."""
    found = list_runs(store(request), customer=customer, pipeline=pipeline, limit=limit)
    waiting = [
        {"id": q.run_id, "customer": q.customer, "pipeline": q.pipeline, "period": q.period,
         "replay_of": q.replay_of, "state": "queued"}
        for q in queued(request)
    ]  # fmt: skip
    return {"runs": [_run(r) for r in found], "queued": waiting}


@router.get("/runs/{run_id}")
def run(request: Request, _who: Viewer, run_id: str) -> dict[str, Any]:
    """One run: progress, money, tie-out, files with their DATEV jobs."""
    record = run_or_404(request, run_id)
    files = [
        {"filename": f.filename, "lines": f.lines, "sha256": f.sha256,
         "datev_job_id": f.datev_job_id, "outcome": f.outcome, "protocol": f.detail}
        for f in list_files(store(request), record.id)
    ]  # fmt: skip
    tie_out = run_report(request, record).get("tie_out")
    return {**_run(record), "files": files, "tie_out": tie_out}


@router.get("/runs/{run_id}/held")
def held(request: Request, _who: Viewer, run_id: str) -> list[dict[str, Any]]:
    """Every held row of the run with its reason."""
    record = run_or_404(request, run_id)
    return [_lineage(h) for h in held_rows(store(request), record.id)]


@router.post("/runs", status_code=202)
def start(request: Request, who: Operator, body: StartRun) -> dict[str, str]:
    """Queue a run of a pipeline for a period (a worker runs it)."""
    run_id = actions.start(request, who, body.pipeline, body.period)
    return {"id": run_id, "state": "queued"}


@router.post("/runs/{run_id}/replay", status_code=202)
def replay(request: Request, who: Operator, run_id: str, body: ReplayRun) -> dict[str, str]:
    """Queue a replay of a finished run."""
    new_id = actions.replay(request, who, run_id, body.only_failed)
    return {"id": new_id, "replay_of": run_id, "state": "queued"}


@router.post("/runs/{run_id}/cancel")
def cancel(request: Request, who: Operator, run_id: str) -> dict[str, str]:
    """Take a queued run out of the queue."""
    actions.cancel(request, who, run_id)
    return {"id": run_id, "state": "cancelled"}


@router.get("/lineage")
def lineage(
    request: Request,
    _who: Viewer,
    row_key: Annotated[str | None, Query(max_length=2000)] = None,
    belegfeld_1: Annotated[str | None, Query(max_length=36)] = None,
) -> list[dict[str, Any]]:
    """Where a Looker row (by row key or Belegfeld 1) went, with its audit events."""
    hits = find_rows(store(request), row_key=row_key, belegfeld_1=belegfeld_1)
    return [_lineage(h) for h in hits]


@router.get("/audit/export")
def audit_export(
    request: Request,
    who: Viewer,
    format: Literal["csv", "json"] = "json",
    chain: Annotated[str | None, Query(max_length=100)] = None,
    run_id: Annotated[str | None, Query(max_length=200)] = None,
) -> FileResponse:
    """The audit trail export (CSV or JSON)."""
    return export_download(request, who, format, chain, run_id)
