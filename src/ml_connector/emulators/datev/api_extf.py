"""extf-files v3: EXTF import, job status and job list.

An upload answers 202 with ``Location`` and ``Retry-After``; the job stays
``pending`` for ``job_pending_reads`` status reads, then shows ``succeeded`` or
``failed`` with ``validation_details``, as decided at upload by the EXTF checks.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from ml_connector.datev.api.endpoints import DatevApi
from ml_connector.emulators.datev.api_common import Ctx, api_route, json_response, problem
from ml_connector.emulators.datev.extf_check import ExtfVerdict, check_extf
from ml_connector.emulators.datev.extf_file import ExtfContent, amount
from ml_connector.emulators.datev.ledger import Booking, Transfer, now_iso
from ml_connector.emulators.datev.state import ExtfJobState

__all__ = ["extf_routes"]

_FILENAME = re.compile(r"EXTF_.{0,51}\.csv")
_REFERENCE = re.compile(r"[-0-9A-Za-z_äöüÄÖÜß_. +?;]{0,254}")
_HILFE = "http://www.datev.de/hilfe/"


def _iso(yyyymmdd: str) -> str | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])).isoformat()
    except ValueError:
        return None


def _job_fields(parsed: ExtfContent | None) -> dict[str, Any]:
    if parsed is None:
        return {}
    fields: dict[str, Any] = {"number_of_accounting_records": len(parsed.rows)}
    if parsed.data_category.isdigit():
        fields["data_category_id"] = int(parsed.data_category)
    for key, position in (("fiscal_year_begin", 13), ("date_from", 15), ("date_to", 16)):
        value = _iso(parsed.field(position))
        if value:
            fields[key] = value
    label = parsed.field(17)
    if label:
        fields["label"] = label if len(label) <= 250 else label[:250] + "..."
    return fields


def _bookings(client_id: str, job_id: str, filename: str, parsed: ExtfContent) -> list[Booking]:
    out = []
    for row in parsed.rows:
        f = row.fields + ("",) * max(0, 14 - len(row.fields))
        value = amount(f[0])
        if value is None:
            continue
        out.append(
            Booking(
                client_id=client_id,
                job_id=job_id,
                source=filename,
                line=row.line,
                amount=value,
                debit_credit=f[1] or "S",
                account=f[6],
                contra_account=f[7],
                date=f[9],
                document_field=f[10],
                text=f[13],
            )
        )
    return out


def _validation_details(verdict: ExtfVerdict) -> dict[str, Any]:
    details: dict[str, Any] = {"type": _HILFE + str(verdict.code), "title": verdict.title}
    if verdict.detail:
        details["detail"] = verdict.detail
    if verdict.affected_elements:
        details["affected_elements"] = [
            {"name": n, "reason": r} for n, r in verdict.affected_elements
        ]
    return details


async def import_file(ctx: Ctx) -> Response:
    """``POST /clients/{client-id}/extf-files/import``."""
    client = ctx.require_client()
    headers = ctx.request.headers
    if "Buchungsdatenservice" not in client.services:
        return problem(
            403,
            "1008838",
            "Permission missing",
            f"No Buchungsdatenservice permission for client {client.id}",
            request_id=ctx.request_id,
        )
    filename = headers.get("Filename", "")
    if not _FILENAME.fullmatch(filename):
        return problem(
            400,
            "1008832",
            "Invalid Filename",
            "Filename is empty or does not match EXTF_.{0,51}\\.csv",
            request_id=ctx.request_id,
        )
    reference = headers.get("Reference-Id")
    if reference is not None and not _REFERENCE.fullmatch(reference):
        return problem(400, "1008832", "Invalid Reference-Id", request_id=ctx.request_id)
    if not ctx.body:
        return problem(400, "1008831", "Body missing", request_id=ctx.request_id)

    state = ctx.state
    job_id = str(uuid.uuid4())
    verdict = check_extf(
        ctx.body, consultant_number=client.consultant_number, client_number=client.client_number
    )
    if verdict.ok and state.faults.job_fails():
        verdict = ExtfVerdict(verdict.content, "1008837", "Internal error", "Try again")
    digest = hashlib.sha256(ctx.body).hexdigest()
    received = now_iso()
    job: dict[str, Any] = {
        "id": job_id,
        "filename": filename,
        "timestamp": received,
        "result": "pending",
        "client_application_display_name": ctx.grant.client_id,
        **_job_fields(verdict.content),
    }
    if reference is not None:
        job["reference_id"] = reference
    if headers.get("Client-Application-Version"):
        job["client_application_version"] = headers["Client-Application-Version"]
    final = dict(job, result="succeeded" if verdict.ok else "failed")
    if not verdict.ok:
        final["validation_details"] = _validation_details(verdict)

    with state.lock:
        original = state.ledger.find_original(client.id, filename, digest) if verdict.ok else None
        bookings = (
            _bookings(client.id, job_id, filename, verdict.content)
            if verdict.ok and verdict.content is not None
            else []
        )
        state.ledger.record(
            Transfer(
                kind="extf",
                client_id=client.id,
                job_id=job_id,
                filename=filename,
                sha256=digest,
                reference_id=reference,
                received_at=received,
                succeeded=verdict.ok,
                bookings=len(bookings) if original is None else 0,
                duplicate_of=original.job_id if original else None,
                protocol=tuple(f"{n}: {r}" for n, r in verdict.affected_elements)
                + ((verdict.detail,) if verdict.detail and not verdict.affected_elements else ()),
            ),
            bookings,
        )
        state.extf_jobs[job_id] = ExtfJobState(client_id=client.id, job=job, final=final)
    return Response(
        status_code=202,
        headers={
            "Location": f"/clients/{client.id}/extf-files/jobs/{job_id}",
            "Retry-After": str(state.config.retry_after_seconds),
        },
    )


def _visible(job: ExtfJobState, pending_reads: int) -> dict[str, Any]:
    return job.final if job.reads > pending_reads else job.job


async def get_job(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}/extf-files/jobs/{job-id}``; each call counts as a read."""
    client = ctx.require_client()
    job_id = ctx.request.path_params["job_id"]
    state = ctx.state
    with state.lock:
        job = state.extf_jobs.get(job_id)
        if job is None or job.client_id != client.id:
            return problem(404, "404", "Job not found", job_id, request_id=ctx.request_id)
        job.reads += 1
        body = _visible(job, state.config.job_pending_reads)
    if body["result"] == "pending":
        return json_response(body, headers={"Retry-After": str(state.config.retry_after_seconds)})
    return json_response(body)


async def list_jobs(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}/extf-files/jobs`` (reads here do not advance jobs)."""
    client = ctx.require_client()
    query = ctx.request.query_params
    skip = int(query.get("skip", "0"))
    top = min(int(query.get("top", "100")), 100)
    state = ctx.state
    with state.lock:
        jobs = [
            _visible(j, state.config.job_pending_reads)
            for j in state.extf_jobs.values()
            if j.client_id == client.id
        ]
    return json_response(jobs[skip : skip + top], headers={"Total-Items": str(len(jobs))})


def extf_routes() -> list[Route]:
    """Routes of extf-files (relative to its base path)."""
    api = DatevApi.EXTF
    return [
        Route(
            "/clients/{client_id}/extf-files/import", api_route(api, import_file), methods=["POST"]
        ),
        Route("/clients/{client_id}/extf-files/jobs", api_route(api, list_jobs), methods=["GET"]),
        Route(
            "/clients/{client_id}/extf-files/jobs/{job_id}",
            api_route(api, get_job),
            methods=["GET"],
        ),
    ]
