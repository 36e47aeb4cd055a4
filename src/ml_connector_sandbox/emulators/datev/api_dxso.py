"""dxso-jobs v2: create a job, upload files, finalize, poll the integer status, protocol.

On finalize the emulator checks the package as DATEV's processing would: a
``document.xml`` must be there, every XML must be valid against DATEV's DXSO v6.0
schemas, and every data file ``document.xml`` names must have been uploaded.
The job then shows status 1 (processing) for ``job_pending_reads`` reads and ends
in 2 (processed) or 3 (not processed) with protocol entries.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import xmlschema
from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.datev.api.endpoints import DatevApi
from ml_connector_sandbox.emulators.datev.api_clients import read_clients_routes
from ml_connector_sandbox.emulators.datev.api_common import Ctx, api_route, dco_error, json_response
from ml_connector_sandbox.emulators.datev.ledger import Booking, Transfer, now_iso
from ml_connector_sandbox.emulators.datev.state import DxsoJobState

__all__ = ["dxso_routes"]

_SCHEMAS = Path(str(resources.files("ml_connector.datev") / "dxso_schemas"))
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_EXTENSIONS = frozenset({"xml", "pdf", "jpg", "jpeg", "png", "tif", "tiff", "gif"})
_LEDGER_NS = "{http://xml.datev.de/bedi/tps/ledger/v060}"
_ENTRY_TAGS = frozenset(
    _LEDGER_NS + t for t in ("accountsPayableLedger", "accountsReceivableLedger", "cashLedger")
)
_FOLDERS = {
    "accountsPayableLedgerImport": ("ledger_folder_names", ["Eingangsrechnungen"]),
    "accountsReceivableLedgerImport": ("ledger_folder_names", ["Ausgangsrechnungen"]),
    "cashLedgerImport": ("cash_ledger_names", ["Kasse"]),
}


@cache
def _schema(name: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(_SCHEMAS / name))


def _entry(
    status_text: str, text: str, *, kind: str = "information", filename: str = ""
) -> dict[str, Any]:
    entry = {"time": now_iso(), "text": text, "context": status_text, "type": kind}
    if filename:
        entry["filename"] = filename
    return entry


def _open_cash_job(ctx: Ctx, client_id: str) -> bool:
    return any(
        job.client_id == client_id and job.import_type == "cashLedgerImport" and job.status < 2
        for job in ctx.state.dxso_jobs.values()
    )


def _not_found(ctx: Ctx) -> Response:
    return dco_error(404, "#DCO01003", "restapi.InvalidDxsoJobId", request_id=ctx.request_id)


def _job(ctx: Ctx) -> DxsoJobState | None:
    job = ctx.state.dxso_jobs.get(ctx.request.path_params["job_id"])
    if job is None or job.client_id != ctx.require_client().id:
        return None
    return job


async def create_job(ctx: Ctx) -> Response:
    """``POST /clients/{client-id}/dxso-jobs``."""
    client = ctx.require_client()
    data = ctx.request.headers.get("Content-Type", "")

    body = json.loads(ctx.body) if ctx.body and "json" in data else {}
    if not isinstance(body, dict):
        return dco_error(400, "#DCO01008", "restapi.InvalidMessageBody", request_id=ctx.request_id)
    import_type = body.get("import_type")
    month = body.get("accounting_month")
    if (import_type is None) != (month is None):
        return dco_error(
            400,
            "#DCO01017",
            "restapi.MissingMandatoryParameter: import_type and accounting_month go together",
            request_id=ctx.request_id,
        )
    if month is not None and not _MONTH.fullmatch(str(month)):
        return dco_error(
            400,
            "#DCO01008",
            "restapi.InvalidMessageBody: accounting_month must be YYYY-MM",
            request_id=ctx.request_id,
        )
    if client.new_belege_online:
        # dxso-jobs spec 2.1.7, error table: "the company is a user of the new version of
        # Belege online"; research note datev-api.md section 5
        return dco_error(
            400, "#DCO01301", "restapi.RDS1UploadNotSupportedFault", request_id=ctx.request_id
        )
    if "Rechnungsdatenservice 1.0" not in client.services:
        return dco_error(
            400, "#DCO01002", "restapi.InvalidDxsoImportTarget", request_id=ctx.request_id
        )
    if month is not None:
        year = int(str(month)[:4])
        creatable = import_type != "cashLedgerImport" and year - 1 in client.fiscal_years
        if year not in client.fiscal_years and not creatable:
            return dco_error(
                400,
                "#DCO01002",
                f"restapi.InvalidDxsoImportTarget: no fiscal year {year}",
                request_id=ctx.request_id,
            )
    job_id = uuid.uuid4().hex.upper()
    with ctx.state.lock:
        if import_type == "cashLedgerImport" and _open_cash_job(ctx, client.id):
            # dxso-jobs spec 2.1.7, import_type: cash jobs "cannot be processed in parallel";
            # the next may start only when the previous completed. The spec names no error
            # code for this; InvalidDxsoJobState is our inference (docs/emulators.md).
            return dco_error(
                400,
                "#DCO01007",
                "restapi.InvalidDxsoJobState: a cash ledger job of this client is not completed",
                request_id=ctx.request_id,
            )
        ctx.state.dxso_jobs[job_id] = DxsoJobState(
            client_id=client.id,
            id=job_id,
            import_type=str(import_type or "accountsPayableLedgerImport"),
            accounting_month=str(month or ""),
        )
        ctx.state.save_dxso(job_id)
    key, names = _FOLDERS[str(import_type or "accountsPayableLedgerImport")]
    return json_response({"id": job_id, "account_length": client.account_length, key: names}, 201)


async def upload_file(ctx: Ctx) -> Response:
    """``POST /clients/{client-id}/dxso-jobs/{job-id}/files`` (one part named ``files``)."""
    job = _job(ctx)
    if job is None:
        return _not_found(ctx)
    form = await ctx.request.form()
    part = form.get("files")
    if not isinstance(part, UploadFile) or not part.filename:
        return dco_error(
            400, "#DCO01004", "restapi.MultipartUploadFault", request_id=ctx.request_id
        )
    content = await part.read()
    name = part.filename
    if len(content) > ctx.state.config.max_document_bytes:
        return dco_error(400, "#DCO01016", "restapi.FileSize", request_id=ctx.request_id)
    if name.rsplit(".", 1)[-1].lower() not in _EXTENSIONS:
        return dco_error(400, "#DCO01015", "restapi.UnsupportedFileType", request_id=ctx.request_id)
    with ctx.state.lock:
        if job.status != 0:
            return dco_error(
                400, "#DCO01007", "restapi.InvalidDxsoJobState", request_id=ctx.request_id
            )
        job.files.append((name, content))
        job.protocol.append(_entry("", "wurde empfangen!", filename=name))
        ctx.state.save_dxso(job.id)
    return json_response({}, 201, utf8=False)


def _check_package(job: DxsoJobState) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    names = {name for name, _ in job.files}
    if "document.xml" not in names:
        errors.append(("document.xml", "Dokumentenverwaltungsdatei fehlt"))
    for name, content in job.files:
        if not name.lower().endswith(".xml"):
            continue
        try:
            root = ET.fromstring(content)  # noqa: S314
        except ET.ParseError as exc:
            errors.append((name, f"XML nicht lesbar: {exc}"))
            continue
        schema = (
            "Document_v060.xsd"
            if root.tag.endswith("archive")
            else "Belegverwaltung_online_ledger_import_v060.xsd"
        )
        for err in _schema(schema).iter_errors(content.decode("utf-8", errors="replace")):
            errors.append((name, str(err.reason or err.message)[:300]))
            break
        if root.tag.endswith("archive"):
            for ext in root.iter():
                datafile = ext.get("datafile") or (
                    ext.get("name") if ext.tag.endswith("extension") else None
                )
                if datafile and datafile not in names:
                    errors.append((name, f"Datei {datafile} fehlt"))
    return errors


def _partial(job: DxsoJobState, bad: set[str]) -> bool:
    """Some ledger files are fine while others are not, and document.xml is fine."""
    if "" in bad or "document.xml" in bad:
        return False
    data = [n for n, _ in job.files if n.lower().endswith(".xml") and n != "document.xml"]
    return any(n not in bad for n in data)


def _ledger_bookings(
    job: DxsoJobState, skip: set[str] | frozenset[str] = frozenset()
) -> list[Booking]:
    out = []
    for name, content in job.files:
        if not name.lower().endswith(".xml") or name == "document.xml" or name in skip:
            continue
        root = ET.fromstring(content)  # noqa: S314
        for number, entry in enumerate((e for e in root.iter() if e.tag in _ENTRY_TAGS), start=1):

            def text(tag: str, entry: ET.Element = entry) -> str:
                found = entry.find(_LEDGER_NS + tag)
                return (found.text or "") if found is not None else ""

            try:
                value = Decimal(text("amount"))
            except InvalidOperation:
                continue
            out.append(
                Booking(
                    client_id=job.client_id,
                    job_id=job.id,
                    source=name,
                    line=number,
                    amount=value,
                    debit_credit="",
                    account=text("accountNo"),
                    contra_account=text("bpAccountNo"),
                    date=text("date"),
                    document_field=text("invoiceId"),
                    text=text("bookingText"),
                )
            )
    return out


async def finalize_job(ctx: Ctx) -> Response:
    """``PUT /clients/{client-id}/dxso-jobs/{job-id}`` with ``{"ready": "true"}``."""
    job = _job(ctx)
    if job is None:
        return _not_found(ctx)

    body = json.loads(ctx.body) if ctx.body else {}
    if not isinstance(body, dict) or body.get("ready") != "true":
        return dco_error(
            400, "#DCO01001", "restapi.InvalidResourceModification", request_id=ctx.request_id
        )
    state = ctx.state
    with state.lock:
        if job.status != 0:
            return dco_error(
                400, "#DCO01007", "restapi.InvalidDxsoJobState", request_id=ctx.request_id
            )
        job.status = 1
        errors = _check_package(job)
        if not errors and state.faults.job_fails():
            errors = [("", "Interner Fehler, bitte erneut versuchen")]
        data = [n for n, _ in job.files if n.lower().endswith(".xml") and n != "document.xml"]
        if not errors and len(data) > 1 and state.faults.dxso_partial():
            errors = [(data[-1], "Belegsatz konnte nicht verarbeitet werden (injiziert)")]
        for name, reason in errors:
            job.protocol.append(_entry("", reason, kind="error", filename=name))
        bad = {name for name, _ in errors}
        partial = bool(errors) and _partial(job, bad)
        bookings = _ledger_bookings(job, skip=bad) if partial or not errors else []
        digest = hashlib.sha256(b"".join(c for _, c in sorted(job.files))).hexdigest()
        filename = ",".join(sorted(n for n, _ in job.files))
        state.ledger.record(
            Transfer(
                kind="dxso",
                client_id=job.client_id,
                job_id=job.id,
                filename=filename,
                sha256=digest,
                reference_id=None,
                received_at=now_iso(),
                succeeded=not errors or partial,
                bookings=len(bookings),
                protocol=tuple(f"{n}: {r}" for n, r in errors),
            ),
            bookings,
        )
        if not errors or partial:
            job.protocol.append(_entry("", f"{len(bookings)} Datensätze verarbeitet"))
        # status 4 "partially processed": some data files imported, others have errors
        job.final_status = 2 if not errors else 4 if partial else 3
        state.save_dxso(job.id)
    return Response(status_code=204)


async def get_status(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}/dxso-jobs/{job-id}``; each read advances processing."""
    job = _job(ctx)
    if job is None:
        return _not_found(ctx)
    with ctx.state.lock:
        if job.status == 1 and job.final_status is not None:
            job.reads += 1
            if job.reads > ctx.state.config.job_pending_reads:
                job.status = job.final_status
            ctx.state.save_dxso(job.id)
        status = job.status
    return json_response({"id": job.id, "status": status})


async def cancel_job(ctx: Ctx) -> Response:
    """``DELETE /clients/{client-id}/dxso-jobs/{job-id}`` (only while open)."""
    job = _job(ctx)
    if job is None:
        return _not_found(ctx)
    with ctx.state.lock:
        if job.status != 0:
            return dco_error(
                400, "#DCO01007", "restapi.InvalidDxsoJobState", request_id=ctx.request_id
            )
        del ctx.state.dxso_jobs[job.id]
        ctx.state.save_dxso(job.id)
    return Response(status_code=204)


async def protocol(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}/dxso-jobs/{job-id}/protocol-entries``."""
    job = _job(ctx)
    if job is None:
        return _not_found(ctx)
    with ctx.state.lock:
        entries = list(job.protocol)
    return json_response(entries)


def dxso_routes() -> list[Route]:
    """Routes of dxso-jobs (relative to its base path)."""
    api = DatevApi.DXSO
    job = "/clients/{client_id}/dxso-jobs/{job_id}"
    return [
        *read_clients_routes(api),
        Route("/clients/{client_id}/dxso-jobs", api_route(api, create_job), methods=["POST"]),
        Route(job + "/files", api_route(api, upload_file), methods=["POST"]),
        Route(job + "/protocol-entries", api_route(api, protocol), methods=["GET"]),
        Route(job, api_route(api, get_status), methods=["GET"]),
        Route(job, api_route(api, finalize_job), methods=["PUT"]),
        Route(job, api_route(api, cancel_job), methods=["DELETE"]),
    ]
