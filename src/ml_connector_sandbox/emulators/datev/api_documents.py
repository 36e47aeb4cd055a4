"""documents v2: document types, DUO version, uploads to Belege online.

Uploads are ``multipart/form-data`` with a ``file`` part (``files[]`` for stapled
uploads), an optional JSON ``metadata`` part and ``custom_metadata``. The emulator
enforces the document type (``#DCO01010``), 20 MB (``#DCO01016``), allowed
extensions (``#DCO01215``), name length (``#DCO01222``), GUID format
(``#DCO01234``), GUID conflicts on PUT (409 ``#DCO01012``) and duplicate files, same
name and document type (``#DCO01253``). File names are stored as DATEV does: NFC,
characters outside its whitelist replaced by ``_``.

Also per the documents v2 spec (``accounting_documents-2.1.12.json``, error table):
a PDF must parse (``#DCO01245 restapi.PdfNotParseableFault``; checked with pypdf,
lenient mode, as a reader that DATEV's own viewer would accept); a file part's
Content-Type must match its extension ("its own Content-Type must match the file",
notes/datev-api.md section 6; answered ``#DCO01215``, no dedicated code is
documented); a client without Belegbilderservice has no Belege inventory
(``#DCO01019 restapi.NoValidBelegeBestandFault``). Stored documents are listed by
``GET /admin/ledger``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.datev.api.endpoints import DatevApi
from ml_connector.datev.api.names import upload_filename
from ml_connector_sandbox.emulators.datev.api_clients import read_clients_routes
from ml_connector_sandbox.emulators.datev.api_common import Ctx, api_route, dco_error, json_response
from ml_connector_sandbox.emulators.datev.ledger import StoredDocument, now_iso

__all__ = ["documents_routes"]

_EXTENSIONS = ("gif", "jpeg", "jpg", "png", "tif", "tiff", "xml", "pdf")
#: media types a file part may declare, by extension (an empty or generic type is let through)
_MEDIA_TYPES = {
    "gif": {"image/gif"},
    "jpeg": {"image/jpeg"},
    "jpg": {"image/jpeg"},
    "png": {"image/png"},
    "tif": {"image/tiff"},
    "tiff": {"image/tiff"},
    "xml": {"application/xml", "text/xml"},
    "pdf": {"application/pdf"},
}
_GENERIC = {"", "application/octet-stream"}
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


async def document_types(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}/document-types``."""
    client = ctx.require_client()
    return json_response(
        [t.model_dump(exclude_none=True) for t in client.document_types], utf8=False
    )


async def duo_version(ctx: Ctx) -> Response:
    """``GET /clients/{client-id}/duo-version`` (a DuoNext client)."""
    return json_response(
        {
            "allowed_file_extensions": list(_EXTENSIONS),
            "allowed_staple_file_extensions": ["pdf", "tif", "tiff", "jpg", "jpeg", "png"],
            "staple_logic": "logically",
        },
        utf8=False,
    )


def _metadata(form: FormData) -> dict[str, Any] | None:
    raw = form.get("metadata")
    if raw is None:
        return {}
    text = raw if isinstance(raw, str) else None
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _pdf_parses(content: bytes) -> bool:
    try:
        return len(PdfReader(io.BytesIO(content), strict=False).pages) > 0
    except (PyPdfError, ValueError, TypeError, KeyError, OSError):
        return False


def _file_fault(name: str, content: bytes, media_type: str) -> tuple[str, str] | None:
    """The DATEV fault of one file part (code, description), ``None`` if it is fine."""
    extension = name.rsplit(".", 1)[-1].lower()
    if extension not in _EXTENSIONS:
        return "#DCO01215", "restapi.UnsupportedFileFormat"
    declared = media_type.split(";", 1)[0].strip().lower()
    if declared not in _GENERIC and declared not in _MEDIA_TYPES[extension]:
        return "#DCO01215", f"restapi.UnsupportedFileFormat: {declared} for .{extension}"
    if extension == "pdf" and not _pdf_parses(content):
        return "#DCO01245", "restapi.PdfNotParseableFault"
    return None


async def _store(ctx: Ctx, document_id: str, files: list[UploadFile]) -> Response:
    client = ctx.require_client()
    state = ctx.state
    if "Belegbilderservice" not in client.services:
        return dco_error(
            400, "#DCO01019", "restapi.NoValidBelegeBestandFault", request_id=ctx.request_id
        )
    form = await ctx.request.form()
    metadata = _metadata(form)
    if metadata is None:
        return dco_error(
            400, "#DCO01008", "restapi.InvalidMessageBody: metadata", request_id=ctx.request_id
        )
    doc_type = str(metadata.get("document_type", ""))
    if doc_type and doc_type not in {t.name for t in client.document_types}:
        return dco_error(
            400, "#DCO01010", f"restapi.InvalidDocumentType: {doc_type}", request_id=ctx.request_id
        )
    if not files:
        return dco_error(
            400, "#DCO01004", "restapi.MultipartUploadFault", request_id=ctx.request_id
        )
    stored = []
    for part in files:
        content = await part.read()
        name = upload_filename(part.filename or "")
        if len(content) > state.config.max_document_bytes:
            return dco_error(400, "#DCO01016", "restapi.FileSize", request_id=ctx.request_id)
        if len(name) > 255:
            return dco_error(400, "#DCO01222", "restapi.FileNameTooLong", request_id=ctx.request_id)
        fault = _file_fault(name, content, part.content_type or "")
        if fault is not None:
            return dco_error(400, *fault, request_id=ctx.request_id)
        stored.append((name, content, part.content_type or "application/octet-stream"))
    with state.lock:
        if (client.id, document_id) in state.documents:
            return dco_error(409, "#DCO01012", "restapi.KeyConflict", request_id=ctx.request_id)
        for name, _, _ in stored:
            if any(
                d.filename == name and d.document_type == doc_type
                for d in state.ledger.documents(client.id)
            ):
                return dco_error(
                    400, "#DCO01253", "restapi.DuplicateFile", request_id=ctx.request_id
                )
        files_json = []
        for name, content, media_type in stored:
            files_json.append(
                {
                    "id": str(uuid.uuid4()).upper(),
                    "name": name,
                    "size": len(content),
                    "upload_date": now_iso(),
                    "media_type": media_type,
                }
            )
            state.ledger.add_document(
                StoredDocument(
                    client_id=client.id,
                    id=document_id,
                    filename=name,
                    document_type=doc_type,
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                )
            )
        document: dict[str, Any] = {
            "id": document_id,
            "files": files_json,
            "document_type": doc_type,
        }
        if metadata.get("note"):
            document["note"] = str(metadata["note"])
        state.documents[(client.id, document_id)] = document
        state.save_document(client.id, document_id)
    return json_response(document, 201, utf8=False)


def _single(form: FormData) -> list[UploadFile]:
    part = form.get("file")
    return [part] if isinstance(part, UploadFile) else []


async def post_document(ctx: Ctx) -> Response:
    """``POST /clients/{client-id}/documents`` (server-assigned id)."""
    form = await ctx.request.form()
    return await _store(ctx, str(uuid.uuid4()), _single(form))


async def put_document(ctx: Ctx) -> Response:
    """``PUT /clients/{client-id}/documents/{document-id}`` (client-chosen GUID)."""
    document_id = ctx.request.path_params["document_id"]
    if not _GUID.fullmatch(document_id):
        return dco_error(400, "#DCO01234", "restapi.InvalidDocumentId", request_id=ctx.request_id)
    form = await ctx.request.form()
    return await _store(ctx, document_id, _single(form))


async def put_stapled(ctx: Ctx) -> Response:
    """``PUT /clients/{client-id}/documents/stapled`` (up to 10 files, stapled in order)."""
    form = await ctx.request.form()
    parts = [
        p for p in form.getlist("files[]") + form.getlist("files") if isinstance(p, UploadFile)
    ]
    if len(parts) > 10:
        return dco_error(
            400,
            "#DCO01004",
            "restapi.MultipartUploadFault: more than 10 files",
            request_id=ctx.request_id,
        )
    return await _store(ctx, str(uuid.uuid4()), parts)


def documents_routes() -> list[Route]:
    """Routes of documents (relative to its base path)."""
    api = DatevApi.DOCUMENTS
    base = "/clients/{client_id}"
    return [
        *read_clients_routes(api),
        Route(base + "/document-types", api_route(api, document_types), methods=["GET"]),
        Route(base + "/duo-version", api_route(api, duo_version), methods=["GET"]),
        Route(base + "/documents", api_route(api, post_document), methods=["POST"]),
        Route(base + "/documents/stapled", api_route(api, put_stapled), methods=["PUT"]),
        Route(base + "/documents/{document_id}", api_route(api, put_document), methods=["PUT"]),
    ]
