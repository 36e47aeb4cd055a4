"""What every emulated DATEV API route does before its own work.

In order: injected faults, ``X-DATEV-Client-Id`` and bearer token (401), scope (403),
body size (413), OpenAPI validation of the request (400), the client in the path
(404). Errors are written in the API's own family: ProblemDetails for
accounting-clients and extf-files, ``#DCO`` objects for dxso-jobs and documents.
Every response carries ``X-Global-Transaction-ID`` and ``V-Cap-Request-ID``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector.datev.api.endpoints import EMULATOR_PREFIXES, DatevApi
from ml_connector_sandbox.emulators.datev.config import EmulatedClient
from ml_connector_sandbox.emulators.datev.grants import AccessGrant
from ml_connector_sandbox.emulators.datev.state import EmulatorState
from ml_connector_sandbox.emulators.datev.validation import validate_request

__all__ = ["Ctx", "api_route", "dco_error", "error", "json_response", "page_links", "problem"]

_PROBLEM_FAMILY = frozenset({DatevApi.CLIENTS, DatevApi.EXTF})
_HILFE = "http://www.datev.de/hilfe/"
_DCO_HELP = "https://apps.datev.de/knowledge/help/search?q="
JSON_UTF8 = "application/json;charset=utf-8"

#: scope the API's own operations need; ``/clients`` routes of dxso/documents need the read scope
API_SCOPES: dict[DatevApi, str] = {
    DatevApi.CLIENTS: "datev:accounting:clients",
    DatevApi.EXTF: "datev:accounting:extf-files-import",
    DatevApi.DXSO: "accounting:dxso-jobs",
    DatevApi.DOCUMENTS: "accounting:documents",
}
CLIENTS_READ = "accounting:clients:read"


@dataclass
class Ctx:
    """One validated API request."""

    request: Request
    api: DatevApi
    path: str
    body: bytes
    grant: AccessGrant
    state: EmulatorState
    request_id: str
    client: EmulatedClient | None

    def require_client(self) -> EmulatedClient:
        """The client of the path (the wrapper has already answered 404 if unknown)."""
        assert self.client is not None
        return self.client


Handler = Callable[[Ctx], Awaitable[Response]]


def json_response(
    data: Any, status: int = 200, *, utf8: bool = True, headers: dict[str, str] | None = None
) -> Response:
    """JSON with DATEV's content type."""
    return Response(
        json.dumps(data, ensure_ascii=False).encode("utf-8"),
        status_code=status,
        media_type=JSON_UTF8 if utf8 else "application/json",
        headers=headers or None,
    )


def page_links(skip: int, top: int, total: int) -> str:
    """The ``Link`` header of a paged list (spec example: ``<?skip=0&top=100>;rel="prev"``)."""
    links = []
    if skip > 0:
        links.append(f'<?skip={max(0, skip - top)}&top={top}>;rel="prev"')
    if skip + top < total:
        links.append(f'<?skip={skip + top}&top={top}>;rel="next"')
    return ", ".join(links)


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    request_id: str = "",
    affected: tuple[tuple[str, str], ...] = (),
) -> Response:
    """An RFC 7807 ProblemDetails body as accounting-clients and extf-files send it."""
    body: dict[str, Any] = {"type": _HILFE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if affected:
        body["affected_elements"] = [{"name": n, "reason": r} for n, r in affected]
    if request_id:
        body["request_id"] = request_id
    return json_response(body, status)


def dco_error(status: int, code: str, description: str, *, request_id: str = "") -> Response:
    """A ``#DCO`` error object as dxso-jobs and documents send it."""
    return JSONResponse(
        {
            "error": code,
            "error_description": description,
            "error_uri": _DCO_HELP + code.lstrip("#"),
            "request_id": request_id,
        },
        status_code=status,
    )


def error(
    api: DatevApi,
    status: int,
    *,
    problem_code: str,
    dco_code: str,
    title: str,
    detail: str | None = None,
    request_id: str = "",
) -> Response:
    """An error in the family ``api`` uses."""
    if api in _PROBLEM_FAMILY:
        return problem(status, problem_code, title, detail, request_id=request_id)
    return dco_error(
        status, dco_code, title if detail is None else f"{title}: {detail}", request_id=request_id
    )


def _unauthorized(api: DatevApi, detail: str, request_id: str) -> Response:
    response = error(
        api,
        401,
        problem_code="401",
        dco_code="#DCO01013",
        title="Unauthorized",
        detail=detail,
        request_id=request_id,
    )
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _too_large(api: DatevApi, limit: int, request_id: str) -> Response:
    return error(
        api,
        413,
        problem_code="1008833",
        dco_code="#DCO01016",
        title="File too large",
        detail=f"more than {limit} bytes",
        request_id=request_id,
    )


def _client_id_from_path(path: str) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "clients":
        return parts[1]
    return None


async def _guarded(request: Request, api: DatevApi, handler: Handler, request_id: str) -> Response:
    state: EmulatorState = request.app.state.datev
    decision = state.faults.for_request()
    if decision.latency:
        await asyncio.sleep(decision.latency)
    if decision.status == 429:
        response = error(
            api,
            429,
            problem_code="429",
            dco_code="#DCO01020",
            title="Too many requests",
            request_id=request_id,
        )
        response.headers["Retry-After"] = str(decision.retry_after or 0)
        return response
    if decision.status is not None:
        return error(
            api,
            decision.status,
            problem_code="1008837",
            dco_code="#DCO01020",
            title="Service unavailable",
            detail="Try again",
            request_id=request_id,
        )

    app_client_id = request.headers.get("X-DATEV-Client-Id")
    if not app_client_id:
        return _unauthorized(api, "Invalid client id or secret", request_id)
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    grant = state.checker.check_access_token(token.strip()) if scheme.lower() == "bearer" else None
    if grant is None:
        return _unauthorized(api, "Invalid or expired access token", request_id)
    if grant.client_id != app_client_id:
        return _unauthorized(api, "Invalid client id or secret", request_id)

    path = request.url.path[len(EMULATOR_PREFIXES[api]) :] or "/"
    needed = (
        CLIENTS_READ
        if api in (DatevApi.DXSO, DatevApi.DOCUMENTS) and path.count("/") <= 2
        else API_SCOPES[api]
    )
    if needed not in grant.scopes:
        return error(
            api,
            403,
            problem_code="1008829",
            dco_code="#DCO01005",
            title="Missing required scope",
            detail=f"Missing scope(s) are: {needed}",
            request_id=request_id,
        )

    refused = _refuse_accept(api, request, request_id)
    if refused is not None:
        return refused
    limit = (
        state.config.max_extf_bytes
        if api is DatevApi.EXTF
        else state.config.max_document_bytes * 11
    )
    body = await _read_body(request, limit)
    if body is None:
        return _too_large(api, limit, request_id)
    if not _json_readable(request, body):
        return _invalid(api, path, ["body: not UTF-8 encoded JSON"], request_id)

    violations = validate_request(
        api,
        request.method,
        path,
        query=list(request.query_params.multi_items()),
        headers=dict(request.headers),
        body=body or None,
    )
    if violations:
        return _invalid(api, path, violations, request_id)

    client = None
    client_id = _client_id_from_path(path)
    if client_id is not None:
        client = state.config.client(client_id)
        if client is None:
            return error(
                api,
                404,
                problem_code="404",
                dco_code="#DCO01011",
                title="Client not found",
                detail=client_id,
                request_id=request_id,
            )
    ctx = Ctx(request, api, path, body, grant, state, request_id, client)
    response = await handler(ctx)
    if response.status_code < 300 and state.faults.loses_response():
        return error(
            api,
            504,
            problem_code="504",
            dco_code="#DCO01020",
            title="Gateway timeout",
            request_id=request_id,
        )
    return response


#: media ranges that accept DATEV's JSON answers (spec: 406 Not Acceptable otherwise)
_ACCEPTABLE = frozenset({"*/*", "application/*", "application/json", "application/problem+json"})
#: body read beyond a size limit is discarded (up to this many bytes, or 4x the limit), so the
#: client gets the 413 answer instead of a connection reset
_DRAIN_CAP = 200 * 1024 * 1024


def _refuse_accept(api: DatevApi, request: Request, request_id: str) -> Response | None:
    """406 when ``Accept`` rules out JSON (documented for accounting-clients and extf-files)."""
    accept = request.headers.get("Accept")
    if api not in _PROBLEM_FAMILY or not accept or not accept.strip():
        return None
    ranges = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    if ranges & _ACCEPTABLE:
        return None
    return problem(406, "406", "Not Acceptable", f"cannot answer {accept!r}", request_id=request_id)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it exceeds ``limit`` (the rest is read and discarded)."""
    length = request.headers.get("Content-Length", "")
    announced = int(length) if length.isdigit() else 0
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max(limit * 4, _DRAIN_CAP):
            break
        if size <= limit and announced <= limit:
            chunks.append(chunk)
    if size > limit or announced > limit:
        return None
    body = b"".join(chunks)
    request._body = body  # Starlette's cache: later request.form() reads this, not the stream
    return body


def _json_readable(request: Request, body: bytes) -> bool:
    """False for a JSON-typed body that is not UTF-8 JSON (answered 400, not 500)."""
    if not body or "json" not in request.headers.get("Content-Type", "").lower():
        return True
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _invalid(api: DatevApi, path: str, violations: list[str], request_id: str) -> Response:
    detail = "; ".join(violations)
    if api in _PROBLEM_FAMILY and "mimetype not found" in detail:
        return problem(415, "415", "Unsupported Media Type", detail, request_id=request_id)
    if api is DatevApi.CLIENTS:
        return problem(400, "1008828", "Invalid query", detail, request_id=request_id)
    if api is DatevApi.EXTF:
        if detail.startswith("Query parameter"):  # spec: 1008828 for bad paging parameters
            return problem(
                400, "1008828", "Invalid query parameters", detail, request_id=request_id
            )
        code = "1008831" if "body" in detail.lower() else "1008832"
        return problem(400, code, "Invalid request", detail, request_id=request_id)
    if "document-id" in detail:
        return dco_error(
            400, "#DCO01234", "restapi.InvalidDocumentId: " + detail, request_id=request_id
        )
    if "missing" in detail.lower():
        return dco_error(
            400, "#DCO01017", "restapi.MissingMandatoryParameter: " + detail, request_id=request_id
        )
    return dco_error(
        400, "#DCO01008", "restapi.InvalidMessageBody: " + detail, request_id=request_id
    )


def api_route(api: DatevApi, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` with the checks every DATEV API request passes."""

    async def endpoint(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            response = await _guarded(request, api, handler, request_id)
        finally:
            await request.close()  # closes uploaded files of multipart forms
        response.headers["X-Global-Transaction-ID"] = str(uuid.uuid4())
        response.headers["V-Cap-Request-ID"] = request_id
        return response

    return endpoint
