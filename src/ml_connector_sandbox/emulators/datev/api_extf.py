"""extf-files v3: EXTF import, job status and job list.

An upload answers 202 with ``Location`` and ``Retry-After``; the file is checked
as the job's processing (off the event loop, see :mod:`.extf_check`). A checked
job stays ``pending`` for ``job_pending_reads`` status reads, then shows
``succeeded`` or ``failed`` with ``validation_details``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from ml_connector.datev.api.endpoints import DatevApi
from ml_connector_sandbox.emulators.datev.api_common import (
    Ctx,
    api_route,
    json_response,
    page_links,
    problem,
)
from ml_connector_sandbox.emulators.datev.extf_check import ExtfVerdict, check_extf
from ml_connector_sandbox.emulators.datev.extf_file import ExtfContent, amount
from ml_connector_sandbox.emulators.datev.ledger import Booking, Transfer, now_iso
from ml_connector_sandbox.emulators.datev.state import EmulatorState, ExtfJobState

__all__ = ["extf_routes"]

_FILENAME = re.compile(r"EXTF_.{0,51}\.csv")
_REFERENCE = re.compile(r"[-0-9A-Za-z_äöüÄÖÜß_. +?;]{0,254}")
_HILFE = "http://www.datev.de/hilfe/"
_UNALLOWED = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]')


def _iso(yyyymmdd: str) -> str | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])).isoformat()
    except ValueError:
        return None


def _job_fields(parsed: ExtfContent | None) -> dict[str, Any]:
    if parsed is None:
        return {}
    fields: dict[str, Any] = {"number_of_accounting_records": parsed.row_count}
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


def _bookings(client_id: str, job_id: str, filename: str, parsed: ExtfContent) -> Iterator[Booking]:
    """The bookings of a checked Buchungsstapel, streamed (every row has an amount)."""
    for row in parsed.rows():
        f = row.fields + ("",) * max(0, 14 - len(row.fields))
        value = amount(f[0])
        if value is None:
            continue
        yield (
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
                currency=f[2],
                rate=amount(f[3]),
                base_amount=amount(f[4]),
                base_currency=f[5],
            )
        )


def _validation_details(verdict: ExtfVerdict) -> dict[str, Any]:
    details: dict[str, Any] = {"type": _HILFE + str(verdict.code), "title": verdict.title}
    if verdict.detail:
        details["detail"] = verdict.detail
    if verdict.affected_elements:
        details["affected_elements"] = [
            {"name": n, "reason": r} for n, r in verdict.affected_elements
        ]
    return details


def stored_filename(filename: str) -> str:
    """The name DATEV keeps: characters it does not allow become ``_``.

    Spec (Filename header): "Unallowed chars will be replaced by an underscore".
    Which characters are unallowed is not published (hilfe 1023095 was not
    available); the emulator replaces control characters and those no Windows
    file name may hold: ``\\ / : * ? " < > |``.
    """
    return _UNALLOWED.sub("_", filename)


def _refuse_upload(ctx: Ctx, filename: str, reference: str | None) -> Response | None:
    """The checks DATEV answers at upload time (spec: 400 1008831/1008832, 403 1008838)."""
    client = ctx.require_client()
    if "Buchungsdatenservice" not in client.services:
        return problem(
            403,
            "1008838",
            "Permission missing",
            f"No Buchungsdatenservice permission for client {client.id}",
            request_id=ctx.request_id,
        )
    if not _FILENAME.fullmatch(filename):
        return problem(
            400,
            "1008832",
            "Invalid Filename",
            "Filename is empty or does not match EXTF_.{0,51}\\.csv",
            request_id=ctx.request_id,
        )
    if reference is not None and not _REFERENCE.fullmatch(reference):
        return problem(400, "1008832", "Invalid Reference-Id", request_id=ctx.request_id)
    if not ctx.body:
        return problem(400, "1008831", "Body missing", request_id=ctx.request_id)
    return None


@dataclass(frozen=True, slots=True)
class _Upload:
    client_id: str
    consultant_number: int
    client_number: int
    job_id: str
    filename: str
    reference_id: str | None
    received: str
    content: bytes


def _process(state: EmulatorState, upload: _Upload) -> None:
    """Check the file and record the outcome (runs in a worker thread)."""
    verdict = check_extf(
        upload.content,
        consultant_number=upload.consultant_number,
        client_number=upload.client_number,
    )
    if verdict.ok and state.faults.job_fails():
        verdict = ExtfVerdict(verdict.content, "1008837", "Internal error", "Try again")
    books = verdict.ok and verdict.content is not None and verdict.content.data_category == "21"
    digest = hashlib.sha256(upload.content).hexdigest()
    with state.lock:
        job = state.extf_jobs[upload.job_id]
        job.job.update(_job_fields(verdict.content))
        final = dict(job.job, result="succeeded" if verdict.ok else "failed")
    if not verdict.ok:
        final["validation_details"] = _validation_details(verdict)
    content = verdict.content if books else None
    bookings = (
        _bookings(upload.client_id, upload.job_id, upload.filename, content)
        if content is not None
        else iter(())
    )
    # the ledger write (up to 99,999 bookings) holds the store, not the emulator's lock
    state.ledger.record(
        Transfer(
            kind="extf",
            client_id=upload.client_id,
            job_id=upload.job_id,
            filename=upload.filename,
            sha256=digest,
            reference_id=upload.reference_id,
            received_at=upload.received,
            succeeded=verdict.ok,
            bookings=content.row_count if content is not None else 0,
            protocol=tuple(f"{n}: {r}" for n, r in verdict.affected_elements)
            + ((verdict.detail,) if verdict.detail and not verdict.affected_elements else ()),
        ),
        bookings,
    )
    with state.lock:
        job.final = final
        state.save_extf(upload.job_id)


async def import_file(ctx: Ctx) -> Response:
    """``POST /clients/{client-id}/extf-files/import``.

    The request is answered 202 once the job exists; the file is checked in a worker
    thread (other requests are served meanwhile). The answer waits for that check at
    most ``inline_processing_seconds``; a job still being checked reads ``pending``.
    """
    client = ctx.require_client()
    headers = ctx.request.headers
    filename = headers.get("Filename", "")
    reference = headers.get("Reference-Id")
    refused = _refuse_upload(ctx, filename, reference)
    if refused is not None:
        return refused
    state = ctx.state
    upload = _Upload(
        client_id=client.id,
        consultant_number=client.consultant_number,
        client_number=client.client_number,
        job_id=str(uuid.uuid4()),
        filename=stored_filename(filename),
        reference_id=reference,
        received=now_iso(),
        content=ctx.body,
    )
    job: dict[str, Any] = {
        "id": upload.job_id,
        "filename": upload.filename,
        "timestamp": upload.received,
        "result": "pending",
        "client_application_display_name": ctx.grant.client_id,
    }
    if reference is not None:
        job["reference_id"] = reference
    if headers.get("Client-Application-Version"):
        job["client_application_version"] = headers["Client-Application-Version"]
    with state.lock:
        state.extf_jobs[upload.job_id] = ExtfJobState(client_id=client.id, job=job)
        state.save_extf(upload.job_id)
    task = asyncio.create_task(asyncio.to_thread(_process, state, upload))
    state.background.add(task)
    task.add_done_callback(state.background.discard)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), state.config.inline_processing_seconds)
    return Response(
        status_code=202,
        headers={
            "Location": f"/clients/{client.id}/extf-files/jobs/{upload.job_id}",
            "Retry-After": str(state.config.retry_after_seconds),
        },
    )


def _visible(job: ExtfJobState, pending_reads: int) -> dict[str, Any]:
    if job.final is None:
        return job.job
    return job.final if job.reads > pending_reads else job.job


async def get_job(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}/extf-files/jobs/{job-id}``; reads of a checked job count."""
    client = ctx.require_client()
    job_id = ctx.request.path_params["job_id"]
    state = ctx.state
    with state.lock:
        job = state.extf_jobs.get(job_id)
        if job is None or job.client_id != client.id:
            return problem(404, "404", "Job not found", job_id, request_id=ctx.request_id)
        if job.final is not None:
            job.reads += 1
            state.save_extf(job_id)
        body = _visible(job, state.config.job_pending_reads)
    if body["result"] == "pending":
        return json_response(body, headers={"Retry-After": str(state.config.retry_after_seconds)})
    return json_response(body)


def _paging(query: Mapping[str, str]) -> tuple[int, int] | None:
    """``skip``/``top`` (top capped at 100, spec); None when not non-negative integers."""
    skip, top = query.get("skip", "0"), query.get("top", "100")
    if not (skip.isdigit() and top.isdigit()):
        return None
    return int(skip), min(int(top), 100) or 100


async def list_jobs(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}/extf-files/jobs`` with ``Total-Items`` and ``Link`` (spec).

    Reads here do not advance jobs.
    """
    client = ctx.require_client()
    paging = _paging(ctx.request.query_params)
    if paging is None:
        return problem(
            400, "1008828", "Invalid query parameters", "skip and top", request_id=ctx.request_id
        )
    skip, top = paging
    state = ctx.state
    with state.lock:
        jobs = [
            _visible(j, state.config.job_pending_reads)
            for j in state.extf_jobs.values()
            if j.client_id == client.id
        ]
    headers = {"Total-Items": str(len(jobs))}
    link = page_links(skip, top, len(jobs))
    if link:
        headers["Link"] = link
    return json_response(jobs[skip : skip + top], headers=headers)


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
