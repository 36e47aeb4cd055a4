"""Per-row supporting documents: a column naming each row's own PDF.

A row's value is a path under the configured folder or a URL on the customer's own
Looker host (:func:`~ml_connector.runs.documents.row_document_location`). Each distinct
value is read once per run (a URL with the Looker API token, stopped past 20 MB while it
streams), checked like every document (:func:`~ml_connector.runs.documents.check_pdf`)
and written to the run's ``documents/`` folder. Files with the same bytes are one
document.

The id is a UUID 5 of customer and the file's SHA-256 (no period, no location): a row
re-sent in a later period, a replay, a correction or another pipeline names the same
document, and a changed file is a new document under a new name (DATEV keeps the old
one). A row whose document cannot be used is held with a ``document_*`` reason and the
cause (:class:`~ml_connector.mapping.mapper.DocumentHold`); docs/documents.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ml_connector.config import LoadedConfig
from ml_connector.config.models import Documents, Source
from ml_connector.datev.api.names import DOCUMENT_MAX_BYTES, upload_filename
from ml_connector.engine.ports import PreparedDocument
from ml_connector.errors import ConfigurationError, DataError
from ml_connector.formats.dxso.models import Receipt
from ml_connector.mapping.mapper import DocumentHold, RejectReason
from ml_connector.mapping.period import Period
from ml_connector.mapping.stream import RowTrace, rows_in_period
from ml_connector.runs.documents import (
    DOCUMENT_NAMESPACE,
    DOCUMENTS_DIR,
    beleglink,
    check_pdf,
    row_document_location,
)

if TYPE_CHECKING:
    from ml_connector.looker.client import LookerClient

__all__ = ["FetchUrl", "LookerFiles", "RowDocumentLinks", "row_document_id", "row_document_links"]

_MISSING = RejectReason.DOCUMENT_MISSING
#: fetches a URL on the customer's Looker host (at most ``max_bytes``), or ``None`` offline
FetchUrl = Callable[[str, int], Awaitable[bytes]]


def row_document_id(customer: str, sha256: str) -> str:
    """The id of a per-row document: the customer's file by its bytes, the same in every
    period, replay and pipeline."""
    return str(uuid.uuid5(DOCUMENT_NAMESPACE, f"{customer}/row/sha256:{sha256}"))


class LookerFiles:
    """Files on the customer's Looker host, with one client for the run (opened on the
    first URL, so a run whose rows name only files in the folder never logs in)."""

    def __init__(self, open_client: Callable[[], LookerClient]) -> None:
        self._open = open_client
        self._client: LookerClient | None = None

    async def __call__(self, url: str, max_bytes: int) -> bytes:
        if self._client is None:
            self._client = self._open()
        return await self._client.fetch_file(url, max_bytes=max_bytes)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def row_document_links(
    config: LoadedConfig,
    pipeline: str,
    period: str,
    workdir: Path,
    *,
    looker_base_url: str,
    fetch: FetchUrl | None,
) -> RowDocumentLinks | None:
    """The run's per-row documents, ``None`` when the pipeline names none."""
    spec = config.pipeline(pipeline)
    docs = spec.documents
    if docs is None or docs.rows is None:
        return None
    if "beleglink" in config.mapping(pipeline).fields:
        raise ConfigurationError(
            f"pipeline {pipeline} maps beleglink itself and also has [documents.rows]",
            hint="remove beleglink from the mapping's fields: the row's document sets it",
        )
    return RowDocumentLinks(
        docs,
        customer=spec.customer,
        source=spec.source,
        period=Period.parse(period),
        base_dir=config.path.parent,
        looker_base_url=looker_base_url,
        workdir=workdir,
        fetch=fetch,
        in_job=spec.channel == "dxso",
    )


def _upload_name(location: str, sha256: str) -> str:
    """The file name DATEV gets: the path's or URL's last part with the first 8 hex of the
    file's SHA-256 added (DATEV refuses a second file of the same name and type,
    ``#DCO01253``: a file changed in place must arrive under a new name), ending ``.pdf``."""
    tail = unquote(urlsplit(location).path) if "://" in location else location
    name = tail.replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem = name[:-4] if name.lower().endswith(".pdf") else name
    return upload_filename(f"{stem[:180] or 'document'}_{sha256[:8]}.pdf")


@dataclass(frozen=True, slots=True)
class _Where:
    base_dir: Path
    looker_base_url: str
    workdir: Path


class RowDocumentLinks:
    """The documents a run's rows name: read, checked, stored and linked (``Beleglink``)."""

    def __init__(
        self,
        docs: Documents,
        *,
        customer: str,
        source: Source,
        period: Period,
        base_dir: Path,
        looker_base_url: str,
        workdir: Path,
        fetch: FetchUrl | None,
        in_job: bool = False,
    ) -> None:
        assert docs.rows is not None
        #: a dxso pipeline: the documents travel in the job as receipts, not uploaded
        self.in_job = in_job
        self.docs = docs
        self.column = docs.rows.column
        self.required = docs.rows.required
        self.customer = customer
        self.source = source
        self.period = period
        self.where = _Where(base_dir, looker_base_url, workdir)
        self.fetch = fetch
        #: value in the row -> the document's id, or why the row is held
        self._found: dict[str, str | DocumentHold] = {}
        self._documents: dict[str, PreparedDocument] = {}

    # -- before the rows are mapped ----------------------------------------------------

    async def resolve(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Read and check the documents the period's ``rows`` name (each value once)."""
        kept, _ = rows_in_period(rows, self.source, self.period)
        for row in kept:
            text = self._value(row)
            if text and text not in self._found:
                self._found[text] = await self._resolve(text)

    def link(self, row: Mapping[str, object]) -> str | None:
        """The row's ``Beleglink`` (the mapper's hook); :class:`DocumentHold` if its
        document cannot be used, or if it names none and documents are ``required``."""
        text = self._value(row)
        if not text:
            if not self.required:
                return None
            raise DocumentHold(_MISSING, f"no document named in column {self.column}")
        found = self._found.get(text)
        if found is None:
            raise DocumentHold(_MISSING, f"document {text} was not read", text)
        if isinstance(found, DocumentHold):
            raise DocumentHold(found.reason, found.message, found.value)
        return beleglink(found)

    def _value(self, row: Mapping[str, object]) -> str:
        value = row.get(self.column)
        return "" if value is None else str(value).strip()

    async def _resolve(self, text: str) -> str | DocumentHold:
        where = self.where
        try:
            found = row_document_location(
                text, self.docs, base_dir=where.base_dir, looker_base_url=where.looker_base_url
            )
        except DataError as exc:
            return DocumentHold(RejectReason.DOCUMENT_REFUSED, _said(exc), text)
        try:
            content = await self._content(text, found)
        except DataError as exc:
            return DocumentHold(_MISSING, _said(exc), text)
        if len(content) > DOCUMENT_MAX_BYTES:
            return DocumentHold(
                RejectReason.DOCUMENT_TOO_LARGE,
                f"document {text} is over DATEV's 20 MB limit (split or compress it)",
                text,
            )
        try:
            await asyncio.to_thread(check_pdf, content, text)
        except DataError as exc:
            return DocumentHold(RejectReason.DOCUMENT_INVALID, _said(exc), text)
        return await asyncio.to_thread(self._store, text, content)

    async def _content(self, text: str, found: Path | str) -> bytes:
        if isinstance(found, str):
            if self.fetch is None:
                raise DataError(f"document URL {text} not fetched: the rows come from a file")
            return await self.fetch(found, DOCUMENT_MAX_BYTES)
        return await asyncio.to_thread(_read_file, found, text)

    def _store(self, text: str, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        document_id = row_document_id(self.customer, sha256)
        if document_id in self._documents:  # the same bytes under another name
            return document_id
        name = _upload_name(text, sha256)
        folder = self.where.workdir / DOCUMENTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content)
        self._documents[document_id] = PreparedDocument(
            document_id=document_id,
            filename=name,
            path=str(path),
            sha256=sha256,
            document_type=self.docs.document_type,
            source=f"row:{text}",
            size=len(content),
            row_keys=(),
        )
        return document_id

    # -- after the run is written ------------------------------------------------------

    def receipts(self, invoices: Mapping[str, Sequence[str]]) -> list[Receipt]:
        """The receipts of a dxso job: each invoice's documents (by Beleglink), stapled to
        it; a document of several invoices is one file per invoice."""
        by_link = {beleglink(d.document_id): d for d in self._documents.values()}
        out: list[Receipt] = []
        names: set[str] = set()
        for invoice, links in invoices.items():
            for link in links:
                document = by_link.get(link)
                if document is None:
                    continue
                name = document.filename
                if name in names:
                    name = upload_filename(f"{name[:-4]}_{invoice}.pdf")
                names.add(name)
                out.append(Receipt(name, Path(document.path).read_bytes(), invoice))
        return out

    def linked(self, traces: Iterable[RowTrace], preview: bool = False) -> list[PreparedDocument]:
        """The documents that booking lines to send link (in a ``preview``: any row's
        booking line), each with its rows; the files of documents no line links are
        removed (all of them for a dxso job, which carries its receipts itself)."""
        if self.in_job:
            traces = ()
        rows: dict[str, list[str]] = {}
        for trace in traces:
            if trace.booking is None or (trace.position is None and not preview):
                continue
            for line in trace.booking.get("lines") or ():
                link = line.get("beleglink")
                if isinstance(link, str):
                    rows.setdefault(link, []).append(trace.row_key)
                    break
        out = []
        for document in self._documents.values():
            keys = rows.get(beleglink(document.document_id))
            if keys:
                out.append(replace(document, row_keys=tuple(keys)))
            else:
                Path(document.path).unlink(missing_ok=True)
        return out


def _said(exc: DataError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


def _read_file(path: Path, text: str) -> bytes:
    """A document file under the folder; past 20 MB only its first bytes are read."""
    try:
        with path.open("rb") as handle:
            return handle.read(DOCUMENT_MAX_BYTES + 1)
    except FileNotFoundError:
        raise DataError(f"document file {text} not found in the documents folder") from None
    except OSError as exc:  # a folder, no permission, ...
        raise DataError(f"document file {text} cannot be read ({exc.strerror})") from None
