"""Async client for DATEV's accounting APIs (clients, extf-files, dxso-jobs, documents).

Every call carries ``Authorization: Bearer`` (from an :class:`AccessTokenSource`)
and ``X-DATEV-Client-Id``; a 401 invalidates the token and is retried once with a
fresh one. 429, 5xx and network failures are retried with full-jitter backoff, but
only when repeating cannot create a second job or document: non-idempotent calls
are retried on 429/503/connection refused only, and an EXTF upload whose outcome is
unknown is first looked up by its ``Reference-Id``. Every request is written to the
:class:`~ml_connector.datev.api.httplog.HttpLog`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx

from ml_connector import __version__
from ml_connector.datev.api.endpoints import DatevApi, Endpoints
from ml_connector.datev.api.httplog import HttpLog, HttpLogEntry
from ml_connector.datev.api.models import (
    SERVICE_BY_CHANNEL,
    Client,
    ClientBasics,
    Document,
    DocumentType,
    DxsoJob,
    DxsoJobStatus,
    DxsoStatus,
    ExtfJob,
    ExtfJobOutcome,
    ExtfUpload,
    ProtocolEntry,
)
from ml_connector.datev.api.names import (
    DOCUMENT_MAX_BYTES,
    EXTF_MAX_BYTES,
    check_extf_filename,
    upload_filename,
)
from ml_connector.datev.api.problems import (
    DatevConfigurationError,
    DatevDataError,
    DatevRejectedError,
    DatevUnavailableError,
    DatevUnreachableError,
    error_for_response,
    parse_problem,
)
from ml_connector.datev.tokens import AccessTokenSource
from ml_connector.errors import DataError, ReconsentRequiredError, RetriableError
from ml_connector.http.clients import tls_context
from ml_connector.http.polling import DATEV_JOB_POLLING, PollPolicy, poll_delay
from ml_connector.http.retry import (
    RetryPolicy,
    parse_retry_after,
    retry_async,
    unreachable_reason,
)

__all__ = ["ClientPage", "DatevClient", "datev_http_client"]

T = TypeVar("T")

#: non-idempotent calls are repeated only after these statuses (request surely not processed)
_SAFE_RETRY_STATUSES = frozenset({429, 503})
_DXSO_IMPORT_TYPES = frozenset(
    {"accountsPayableLedgerImport", "accountsReceivableLedgerImport", "cashLedgerImport"}
)


UPLOAD_CHUNK_BYTES = 256 * 1024


class FileBody:
    """A request body read from a file in ``UPLOAD_CHUNK_BYTES`` chunks.

    Not a generator: httpx iterates it afresh for each send, and each iteration opens
    the file again from its first byte, so a retried upload sends the whole file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, UPLOAD_CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()


@dataclass(frozen=True, slots=True)
class ClientPage:
    """One page of ``GET /clients``."""

    items: tuple[Client, ...]
    total: int | None
    skip: int
    top: int


def datev_http_client(
    transport: httpx.AsyncBaseTransport | None = None, timeout: float = 60.0
) -> httpx.AsyncClient:
    """An HTTP client for DATEV's APIs: no credentials (each request carries its own
    token), so one client may serve many steps of one customer."""
    return httpx.AsyncClient(
        transport=transport,
        verify=tls_context(),
        timeout=httpx.Timeout(timeout, connect=10.0),
        headers={"Accept": "application/json", "User-Agent": f"ml-connector/{__version__}"},
    )


class _NotRepeatableError(Exception):
    """Carries a transient error out of the retry loop when repeating is unsafe."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class DatevClient:
    """One DATEV connection (one OAuth app, one user's grant).

    ``http``: a client from :func:`datev_http_client` to send through (kept open by its
    owner, e.g. a :class:`~ml_connector.http.clients.ClientPool`); default: its own,
    closed with this one.
    """

    def __init__(
        self,
        tokens: AccessTokenSource,
        *,
        app_client_id: str,
        endpoints: Endpoints,
        http_log: HttpLog | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._tokens = tokens
        self._app_client_id = app_client_id
        self.endpoints = endpoints
        self._log = http_log
        self._retry = retry_policy or RetryPolicy()
        self.poll_policy = poll_policy or DATEV_JOB_POLLING
        self._sleep = sleep
        self._owns_http = http is None
        self._http = http if http is not None else datev_http_client(transport, timeout)
        self._document_types: dict[str, tuple[DocumentType, ...]] = {}

    @property
    def tokens(self) -> AccessTokenSource:
        """The token source this client uses."""
        return self._tokens

    @property
    def app_client_id(self) -> str:
        """The OAuth app's client id sent as ``X-DATEV-Client-Id``."""
        return self._app_client_id

    async def aclose(self) -> None:
        """Close the connection pool (unless it was handed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> DatevClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport

    def url(self, api: DatevApi, path: str) -> str:
        """Absolute URL of ``path`` (starting with ``/``) on ``api``."""
        return self.endpoints.base_url(api) + path

    async def _send_once(
        self, api: DatevApi, method: str, url: str, token: str, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {token}"
        headers["X-DATEV-Client-Id"] = self._app_client_id
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        response: httpx.Response | None = None
        try:
            response = await self._http.request(method, url, headers=headers, **kwargs)
            status = response.status_code
            if status >= 400:
                error = parse_problem(status, response.content).summary()
            return response
        except httpx.TransportError as exc:
            error = type(exc).__name__
            raise
        finally:
            if self._log is not None:
                self._log.record(
                    HttpLogEntry(
                        api=api.value,
                        method=method,
                        url=url,
                        status=status,
                        duration_ms=(time.perf_counter() - started) * 1000.0,
                        global_transaction_id=_header(response, "X-Global-Transaction-ID"),
                        v_cap_request_id=_header(response, "V-Cap-Request-ID"),
                        error=error,
                    )
                )

    async def _send_authorized(
        self, api: DatevApi, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        token = await self._tokens.get_access_token()
        response = await self._send_once(api, method, url, token.get_secret_value(), **kwargs)
        if response.status_code != 401:
            return response
        await self._tokens.invalidate(token)
        token = await self._tokens.get_access_token()
        response = await self._send_once(api, method, url, token.get_secret_value(), **kwargs)
        if response.status_code == 401:
            await self._tokens.invalidate(token)
            raise ReconsentRequiredError(
                "DATEV rejected a freshly issued access token",
                hint="run `ml-connector datev login` again; if it persists, check the "
                "DATEV app's client id in the configuration",
            )
        return response

    async def _call(
        self,
        api: DatevApi,
        method: str,
        path: str,
        *,
        expected: tuple[int, ...] = (200,),
        idempotent: bool = True,
        what: str | None = None,
        accept_status: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with auth, retries and error translation; returns a response in
        ``expected`` or ``accept_status`` (the latter handled by the caller)."""
        url = self.url(api, path)
        label = what or f"{method} {path}"

        async def attempt() -> httpx.Response:
            try:
                response = await self._send_authorized(api, method, url, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if (reason := unreachable_reason(exc)) is not None:
                    raise DatevUnreachableError(
                        f"{label}: cannot reach DATEV at {url} ({reason})",
                        hint="check the DATEV URL and this machine's network",
                    ) from exc
                raise DatevUnavailableError(f"{label}: cannot reach DATEV ({exc})") from exc
            except httpx.TransportError as exc:
                err = DatevUnavailableError(f"{label}: {type(exc).__name__} talking to DATEV")
                if idempotent:
                    raise err from exc
                raise _NotRepeatableError(err) from exc
            status = response.status_code
            if status in expected or status in accept_status:
                return response
            error = error_for_response(
                status,
                response.content,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                what=label,
            )
            if (
                isinstance(error, RetriableError)
                and not idempotent
                and status not in _SAFE_RETRY_STATUSES
            ):
                raise _NotRepeatableError(error)
            raise error

        try:
            return await retry_async(attempt, self._retry)
        except _NotRepeatableError as wrapped:
            raise wrapped.error from None

    async def _json(self, api: DatevApi, path: str, **kwargs: Any) -> Any:
        response = await self._call(api, "GET", path, **kwargs)
        return response.json()

    # ------------------------------------------------------------------ clients

    async def list_clients(
        self,
        *,
        consultant_number: int | None = None,
        client_number: int | None = None,
        skip: int = 0,
        top: int = 100,
    ) -> ClientPage:
        """One page of clients this grant may see (accounting-clients ``GET /clients``)."""
        params: dict[str, Any] = {"skip": skip, "top": max(1, min(top, 100))}
        filters = []
        if consultant_number is not None:
            filters.append(f"consultant_number eq {int(consultant_number)}")
        if client_number is not None:
            filters.append(f"client_number eq {int(client_number)}")
        if filters:
            params["filter"] = " and ".join(filters)
        response = await self._call(DatevApi.CLIENTS, "GET", "/clients", params=params)
        total = response.headers.get("Total-Items")
        return ClientPage(
            items=tuple(Client.from_json(c) for c in response.json()),
            total=int(total) if total and total.isdigit() else None,
            skip=skip,
            top=params["top"],
        )

    async def iter_clients(
        self, *, consultant_number: int | None = None, client_number: int | None = None
    ) -> AsyncIterator[Client]:
        """All clients, page by page."""
        skip = 0
        while True:
            page = await self.list_clients(
                consultant_number=consultant_number, client_number=client_number, skip=skip
            )
            for item in page.items:
                yield item
            skip += len(page.items)
            if not page.items or len(page.items) < page.top:
                return
            if page.total is not None and skip >= page.total:
                return

    async def get_client(self, client_id: str) -> Client:
        """``GET /clients/{client-id}`` on accounting-clients."""
        data = await self._json(DatevApi.CLIENTS, f"/clients/{client_id}")
        return Client.from_json(data)

    async def find_client(self, consultant_number: int, client_number: int) -> Client | None:
        """The client with these Berater/Mandant numbers, or None when not visible."""
        page = await self.list_clients(
            consultant_number=consultant_number, client_number=client_number, top=1
        )
        return page.items[0] if page.items else None

    async def require_service(self, client_id: str, channel: str) -> Client:
        """The client, after checking it has the service ``channel`` needs.

        ``channel`` is ``extf``, ``dxso`` or ``documents``.
        """
        if channel not in SERVICE_BY_CHANNEL:
            raise ValueError(f"unknown channel {channel!r}")
        client = await self.get_client(client_id)
        if not client.has_service(channel):
            name, _scope = SERVICE_BY_CHANNEL[channel]
            raise DatevConfigurationError(
                f"DATEV client {client_id} ({client.name}) has no {name}",
                hint=f"book '{name}' for this client in DATEV and grant it to ml-connector",
            )
        return client

    async def get_client_basics(
        self, client_id: str, *, api: DatevApi = DatevApi.DXSO
    ) -> ClientBasics:
        """``GET /clients/{client-id}`` on dxso-jobs or documents (fiscal years, ledgers)."""
        data = await self._json(api, f"/clients/{client_id}")
        return ClientBasics.from_json(data)

    # ------------------------------------------------------------------ documents

    async def document_types(
        self, client_id: str, *, refresh: bool = False
    ) -> tuple[DocumentType, ...]:
        """The client's document types; cached per client until ``refresh``."""
        if refresh or client_id not in self._document_types:
            data = await self._json(DatevApi.DOCUMENTS, f"/clients/{client_id}/document-types")
            self._document_types[client_id] = tuple(DocumentType.from_json(d) for d in data)
        return self._document_types[client_id]

    async def duo_version(self, client_id: str) -> dict[str, Any]:
        """Allowed file extensions and staple logic of the client's Belege online."""
        data = await self._json(DatevApi.DOCUMENTS, f"/clients/{client_id}/duo-version")
        return dict(data)

    async def upload_document(
        self,
        client_id: str,
        content: bytes,
        filename: str,
        *,
        document_type: str,
        document_id: uuid.UUID | str | None = None,
        media_type: str = "application/pdf",
        note: str | None = None,
        category: str | None = None,
        folder: str | None = None,
        register: str | None = None,
    ) -> Document:
        """Upload one document to Belege online.

        With ``document_id`` (a GUID the caller stores before uploading) the upload
        is a ``PUT`` and can be repeated safely: if DATEV already has that GUID the
        result has ``created=False``. The document type must be one of the client's
        (checked against :meth:`document_types`, fetched first).
        """
        if len(content) > DOCUMENT_MAX_BYTES:
            raise DataError(
                "document larger than DATEV's 20 MB limit",
                location=filename,
                value=len(content),
                hint="split or compress the document",
            )
        types = await self.document_types(client_id)
        if document_type not in {t.name for t in types}:
            raise DataError(
                f"DATEV client {client_id} has no document type {document_type!r}",
                location=filename,
                value=document_type,
                hint="choose one of: " + ", ".join(t.name for t in types),
            )
        metadata: dict[str, str] = {"document_type": document_type}
        for key, value in (
            ("note", note),
            ("category", category),
            ("folder", folder),
            ("register", register),
        ):
            if value is not None:
                metadata[key] = value
        files = {
            "file": (upload_filename(filename), content, media_type),
            "metadata": (None, json.dumps(metadata).encode("utf-8"), "application/json"),
        }
        if document_id is None:
            response = await self._call(
                DatevApi.DOCUMENTS,
                "POST",
                f"/clients/{client_id}/documents",
                files=files,
                expected=(201,),
                idempotent=False,
                what=f"upload of {filename}",
            )
            return Document.from_json(response.json())
        guid = str(document_id)
        try:
            response = await self._call(
                DatevApi.DOCUMENTS,
                "PUT",
                f"/clients/{client_id}/documents/{guid}",
                files=files,
                expected=(201,),
                accept_status=(409,),
                what=f"upload of {filename}",
            )
        except DatevDataError as exc:
            if exc.problem is not None and exc.problem.code == "#DCO01010":
                self._document_types.pop(client_id, None)
            raise
        if response.status_code == 409:
            return Document(id=guid, document_type=document_type, created=False)
        return Document.from_json(response.json())

    async def upload_stapled_document(
        self,
        client_id: str,
        files: list[tuple[str, bytes, str]],
        *,
        document_type: str,
        note: str | None = None,
    ) -> Document:
        """Upload up to 10 files (name, content, media type) stapled into one document.

        DATEV assigns the id, so this call is not repeated after an unclear failure.
        """
        if not 1 <= len(files) <= 10:
            raise ValueError("a stapled document has 1 to 10 files")
        types = await self.document_types(client_id)
        if document_type not in {t.name for t in types}:
            raise DataError(
                f"DATEV client {client_id} has no document type {document_type!r}",
                value=document_type,
                hint="choose one of: " + ", ".join(t.name for t in types),
            )
        metadata: dict[str, str] = {"document_type": document_type}
        if note is not None:
            metadata["note"] = note
        parts: list[tuple[str, tuple[str | None, bytes, str]]] = []
        for name, content, media_type in files:
            if len(content) > DOCUMENT_MAX_BYTES:
                raise DataError("file larger than DATEV's 20 MB limit", location=name)
            parts.append(("files[]", (upload_filename(name), content, media_type)))
        parts.append(("metadata", (None, json.dumps(metadata).encode("utf-8"), "application/json")))
        response = await self._call(
            DatevApi.DOCUMENTS,
            "PUT",
            f"/clients/{client_id}/documents/stapled",
            files=parts,
            expected=(201,),
            idempotent=False,
            what="stapled upload",
        )
        return Document.from_json(response.json())

    # ------------------------------------------------------------------ extf-files

    async def upload_extf(
        self,
        client_id: str,
        content: bytes | Path,
        filename: str,
        *,
        reference_id: str | None = None,
        client_application_version: str | None = None,
        check_existing: bool = False,
    ) -> ExtfUpload:
        """Submit one EXTF file; DATEV answers 202 with the job to watch.

        A ``Reference-Id`` is always sent (a fresh UUID when none is given). When the
        outcome of a POST is unknown (timeout, 5xx), the job list is searched for that
        Reference-Id before the file is sent again, so a retry never books twice.
        ``check_existing`` does that lookup before the first POST too: use it when
        resuming after a crash or a given-up attempt (with the same ``reference_id``).

        ``content`` may be a path: the file is then streamed from disk in bounded chunks
        (same bytes and ``Content-Length`` on the wire), and every send, a retry or the
        re-send after a refreshed token included, reads it again from the start.
        """
        check_extf_filename(filename)
        body: bytes | FileBody
        if isinstance(content, Path):
            body = FileBody(content)
            size = body.size
        else:
            body = content
            size = len(content)
        if size > EXTF_MAX_BYTES:
            raise DataError(
                "EXTF file larger than DATEV's 50 MB limit",
                location=filename,
                value=size,
                hint="split the export into several files",
            )
        reference = reference_id or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/octet-stream",
            "Filename": filename,
            "Reference-Id": reference,
        }
        if isinstance(body, FileBody):
            headers["Content-Length"] = str(size)
        if client_application_version:
            headers["Client-Application-Version"] = client_application_version
        path = f"/clients/{client_id}/extf-files/import"
        uncertain = check_existing

        async def attempt() -> ExtfUpload:
            nonlocal uncertain
            if uncertain:
                job = await self.find_extf_job(client_id, filename=filename, reference_id=reference)
                if job is not None:
                    return self._upload_from_job(client_id, job)
            try:
                response = await self._call(
                    DatevApi.EXTF,
                    "POST",
                    path,
                    content=body,
                    headers=headers,
                    expected=(202,),
                    idempotent=False,
                    what=f"upload of {filename}",
                )
            except RetriableError as exc:
                if exc.status_code not in _SAFE_RETRY_STATUSES:
                    uncertain = True
                raise
            location = response.headers.get("Location", "")
            job_id = location.rstrip("/").rsplit("/", 1)[-1]
            if not job_id:
                raise DatevRejectedError(
                    f"DATEV accepted {filename} without a job Location", status_code=202
                )
            return ExtfUpload(
                client_id=client_id,
                job_id=job_id,
                location=self._absolute(DatevApi.EXTF, location),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )

        return await retry_async(attempt, self._retry)

    def _absolute(self, api: DatevApi, location: str) -> str:
        """Resolve a Location relative to the versioned base URL (as DATEV documents it)."""
        if location.startswith(("http://", "https://")):
            return location
        return self.endpoints.base_url(api) + "/" + location.lstrip("/")

    def _upload_from_job(self, client_id: str, job: ExtfJob) -> ExtfUpload:
        path = f"/clients/{client_id}/extf-files/jobs/{job.id}"
        return ExtfUpload(
            client_id=client_id,
            job_id=job.id,
            location=urljoin(self.endpoints.extf + "/", path.lstrip("/")),
            retry_after=None,
        )

    async def _extf_job(self, client_id: str, job_id: str) -> tuple[ExtfJob, float | None]:
        response = await self._call(
            DatevApi.EXTF, "GET", f"/clients/{client_id}/extf-files/jobs/{job_id}"
        )
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return ExtfJob.from_json(response.json()), retry_after

    async def get_extf_job(self, client_id: str, job_id: str) -> ExtfJob:
        """One read of an EXTF job."""
        job, _ = await self._extf_job(client_id, job_id)
        return job

    async def list_extf_jobs(
        self, client_id: str, *, skip: int = 0, top: int = 100
    ) -> list[ExtfJob]:
        """One page of the client's EXTF jobs."""
        data = await self._json(
            DatevApi.EXTF,
            f"/clients/{client_id}/extf-files/jobs",
            params={"skip": skip, "top": max(1, min(top, 100))},
        )
        return [ExtfJob.from_json(j) for j in data]

    async def find_extf_job(
        self,
        client_id: str,
        *,
        filename: str | None = None,
        reference_id: str | None = None,
        max_pages: int = 20,
    ) -> ExtfJob | None:
        """The newest job matching ``filename`` and/or ``reference_id``, or None.

        Lets the sync engine learn after a crash whether a file was already submitted,
        and with what result and protocol.
        """
        if filename is None and reference_id is None:
            raise ValueError("give filename or reference_id")
        matches: list[ExtfJob] = []
        for page in range(max_pages):
            jobs = await self.list_extf_jobs(client_id, skip=page * 100, top=100)
            matches.extend(
                j
                for j in jobs
                if (filename is None or j.filename == filename)
                and (reference_id is None or j.reference_id == reference_id)
            )
            if len(jobs) < 100:
                break
        if not matches:
            return None
        return max(matches, key=lambda j: j.timestamp or "")

    async def wait_for_extf_job(
        self,
        client_id: str,
        job_id: str,
        *,
        retry_after: float | None = None,
        policy: PollPolicy | None = None,
    ) -> ExtfJobOutcome:
        """Poll the job until DATEV decides or the read budget is spent.

        Waits at least ``retry_after`` (from the upload) before the first read and
        backs off with full jitter between reads. A result with ``still_running``
        means: record the job id and look again later, do not resubmit.
        """
        policy = policy or self.poll_policy
        wait_hint = retry_after
        job: ExtfJob | None = None
        for read in range(1, policy.max_polls + 1):
            await self._sleep(poll_delay(read, policy, retry_after=wait_hint))
            job, wait_hint = await self._extf_job(client_id, job_id)
            if job.finished:
                return ExtfJobOutcome(job=job, reads=read)
        assert job is not None
        return ExtfJobOutcome(job=job, reads=policy.max_polls)

    async def submit_extf(
        self,
        client_id: str,
        content: bytes,
        filename: str,
        *,
        reference_id: str | None = None,
        policy: PollPolicy | None = None,
    ) -> ExtfJobOutcome:
        """Upload and wait (within the read budget) in one call."""
        upload = await self.upload_extf(client_id, content, filename, reference_id=reference_id)
        return await self.wait_for_extf_job(
            client_id, upload.job_id, retry_after=upload.retry_after, policy=policy
        )

    # ------------------------------------------------------------------ dxso-jobs

    async def create_dxso_job(
        self, client_id: str, *, import_type: str, accounting_month: str
    ) -> DxsoJob:
        """Open a job for one import type and month (``YYYY-MM``)."""
        if import_type not in _DXSO_IMPORT_TYPES:
            raise ValueError(f"unknown dxso import type {import_type!r}")
        if len(accounting_month) != 7 or accounting_month[4] != "-":
            raise ValueError("accounting_month must look like YYYY-MM")
        response = await self._call(
            DatevApi.DXSO,
            "POST",
            f"/clients/{client_id}/dxso-jobs",
            json={"import_type": import_type, "accounting_month": accounting_month},
            expected=(201,),
            idempotent=False,
            what="creating a dxso job",
        )
        return DxsoJob.from_json(response.json())

    async def upload_dxso_file(
        self,
        client_id: str,
        job_id: str,
        filename: str,
        content: bytes,
        *,
        media_type: str = "application/xml",
    ) -> None:
        """Add one file (ledger XML, receipt, ``document.xml`` last) to an open job."""
        if len(content) > DOCUMENT_MAX_BYTES:
            raise DataError(
                "file larger than DATEV's 20 MB limit", location=filename, value=len(content)
            )
        await self._call(
            DatevApi.DXSO,
            "POST",
            f"/clients/{client_id}/dxso-jobs/{job_id}/files",
            files={"files": (upload_filename(filename), content, media_type)},
            expected=(201,),
            idempotent=False,
            what=f"upload of {filename}",
        )

    async def finalize_dxso_job(self, client_id: str, job_id: str) -> None:
        """Mark the job ready (merge-patch ``{"ready": "true"}``); DATEV starts processing."""
        await self._call(
            DatevApi.DXSO,
            "PUT",
            f"/clients/{client_id}/dxso-jobs/{job_id}",
            content=json.dumps({"ready": "true"}).encode(),
            headers={"Content-Type": "application/merge-patch+json"},
            expected=(204,),
            idempotent=False,
            what="finalizing the dxso job",
        )

    async def get_dxso_job_status(self, client_id: str, job_id: str) -> DxsoJobStatus:
        """One read of a dxso job's integer status."""
        data = await self._json(DatevApi.DXSO, f"/clients/{client_id}/dxso-jobs/{job_id}")
        return DxsoJobStatus(id=str(data.get("id", job_id)), status=DxsoStatus(int(data["status"])))

    async def wait_for_dxso_job(
        self, client_id: str, job_id: str, *, policy: PollPolicy | None = None
    ) -> DxsoJobStatus:
        """Poll the dxso job within the read budget (see :meth:`wait_for_extf_job`)."""
        policy = policy or self.poll_policy
        status: DxsoJobStatus | None = None
        for read in range(1, policy.max_polls + 1):
            await self._sleep(poll_delay(read, policy))
            current = await self.get_dxso_job_status(client_id, job_id)
            status = DxsoJobStatus(id=current.id, status=current.status, reads=read)
            if not status.still_running:
                return status
        assert status is not None
        return status

    async def dxso_protocol(self, client_id: str, job_id: str) -> list[ProtocolEntry]:
        """The job's protocol entries (DATEV keeps them about two months: store them)."""
        data = await self._json(
            DatevApi.DXSO, f"/clients/{client_id}/dxso-jobs/{job_id}/protocol-entries"
        )
        return [ProtocolEntry.from_json(e) for e in data]

    async def cancel_dxso_job(self, client_id: str, job_id: str) -> None:
        """Delete a job that is still open (status 0)."""
        await self._call(
            DatevApi.DXSO,
            "DELETE",
            f"/clients/{client_id}/dxso-jobs/{job_id}",
            expected=(204,),
        )


def _header(response: httpx.Response | None, name: str) -> str | None:
    if response is None:
        return None
    value: str | None = response.headers.get(name)
    return value
