"""Per-row documents named by URL: fetched from the customer's own Looker host with the
API token, cut while streaming past the limit, anything else held with the reason.

Looker's API has no endpoint that serves a stored file (its only PDF answer is a render
task's result), so a URL row names any PDF under the customer's Looker host; a local
HTTP fixture plays that host here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fpdf import FPDF

from ml_connector.config.models import Documents, RowDocuments, Source
from ml_connector.errors import DataError
from ml_connector.looker.client import LookerClient
from ml_connector.mapping.mapper import DocumentHold
from ml_connector.mapping.period import Period
from ml_connector.runs.documents import beleglink
from ml_connector.runs.row_documents import LookerFiles, RowDocumentLinks

HOST = "https://acme.cloud.looker.com"
LIMIT = 50_000


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 10, "Invoice 4711")
    return bytes(pdf.output())


class _Host:
    """The customer's Looker host: API login, and files under ``/files/``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.served = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.seen.append((path, request.headers.get("authorization")))
        if path == "/api/4.0/login":
            return httpx.Response(200, json={"access_token": "tok-1", "expires_in": 3600})
        if path == "/api/4.0/logout":
            return httpx.Response(204)
        if request.headers.get("authorization") != "token tok-1":
            return httpx.Response(401)
        if path == "/files/invoice-4711.pdf":
            return httpx.Response(200, content=_pdf(), headers={"content-type": "application/pdf"})
        if path == "/files/huge.pdf":
            return httpx.Response(200, content=self._endless())
        if path == "/files/moved.pdf":
            return httpx.Response(302, headers={"location": "https://evil.example.com/x.pdf"})
        return httpx.Response(404, json={"message": "Not found"})

    async def _endless(self) -> AsyncIterator[bytes]:
        for _ in range(3000):
            self.served += 1
            yield b"0" * 10_000


def _client(host: _Host) -> LookerClient:
    return LookerClient(HOST, "id", "secret", transport=httpx.MockTransport(host))


def test_a_file_on_the_looker_host_is_fetched_with_the_api_token() -> None:
    host = _Host()

    async def go() -> bytes:
        async with _client(host) as looker:
            return await looker.fetch_file(f"{HOST}/files/invoice-4711.pdf", max_bytes=LIMIT)

    assert asyncio.run(go()).startswith(b"%PDF-")
    assert ("/files/invoice-4711.pdf", "token tok-1") in host.seen


def test_a_big_answer_is_cut_while_it_streams_and_other_answers_are_refused() -> None:
    host = _Host()

    async def go() -> None:
        async with _client(host) as looker:
            cut = await looker.fetch_file(f"{HOST}/files/huge.pdf", max_bytes=LIMIT)
            assert len(cut) == LIMIT + 1
            for url, says in (
                ("https://evil.example.com/files/invoice-4711.pdf", "not on the Looker host"),
                ("https://acme.cloud.looker.com:8443/files/x.pdf", "not on the Looker host"),
                (f"{HOST}/files/moved.pdf", "HTTP 302"),
                (f"{HOST}/files/gone.pdf", "HTTP 404"),
            ):
                with pytest.raises(DataError, match=says):
                    await looker.fetch_file(url, max_bytes=LIMIT)

    asyncio.run(go())
    assert host.served < 10  # the download stopped; the 3000 chunks were never all read
    assert not any("evil" in path for path, _ in host.seen)


def _links(
    tmp_path: Path, host: _Host, folder: str | None = None
) -> tuple[RowDocumentLinks, LookerFiles]:
    (tmp_path / "receipts").mkdir()
    rows = RowDocuments(column="doc", folder=folder)
    docs = Documents(document_type="Rechnungseingang", rows=rows)
    files = LookerFiles(lambda: _client(host))
    links = RowDocumentLinks(
        docs,
        customer="acme",
        source=Source(look_id=1),
        period=Period.parse("2026-10"),
        base_dir=tmp_path,
        looker_base_url=HOST,
        workdir=tmp_path / "run",
        fetch=files,
    )
    return links, files


def test_rows_naming_urls_link_the_fetched_pdf_or_are_held_with_the_reason(
    tmp_path: Path,
) -> None:
    host = _Host()
    links, files = _links(tmp_path, host)
    rows = {
        "ok": {"doc": f"{HOST}/files/invoice-4711.pdf"},
        "again": {"doc": f"{HOST}/files/invoice-4711.pdf"},
        "gone": {"doc": f"{HOST}/files/gone.pdf"},
        "huge": {"doc": f"{HOST}/files/huge.pdf"},
        "http": {"doc": "http://acme.cloud.looker.com/files/invoice-4711.pdf"},
        "other": {"doc": "https://evil.example.com/files/invoice-4711.pdf"},
        "folder": {"doc": "invoice.pdf"},  # a path, but no folder is configured
    }

    async def go() -> None:
        try:
            await links.resolve(rows.values())
        finally:
            await files.aclose()

    asyncio.run(go())
    fetched = [path for path, _ in host.seen if path.startswith("/files/")]
    assert fetched.count("/files/invoice-4711.pdf") == 1  # each value read once
    link = links.link(rows["ok"])
    assert link == links.link(rows["again"])
    expected = {
        "gone": ("document_missing", "HTTP 404"),
        "huge": ("document_too_large", "20 MB"),
        "http": ("document_refused", "not on the customer's Looker host"),
        "other": ("document_refused", "not on the customer's Looker host"),
        "folder": ("document_refused", "no documents folder"),
    }
    for name, (reason, says) in expected.items():
        with pytest.raises(DocumentHold) as held:
            links.link(rows[name])
        assert (held.value.reason.value, says in held.value.message) == (reason, True), name
    with pytest.raises(DocumentHold, match="no document named in column doc"):
        links.link({"doc": " "})
    assert not any("evil" in path for path, _ in host.seen)
    [document] = links._documents.values()
    assert link == beleglink(document.document_id)
    assert document.filename == f"invoice-4711_{document.sha256[:8]}.pdf"
    assert Path(document.path).read_bytes().startswith(b"%PDF-")


def test_hostile_paths_hold_their_rows_with_a_reason_and_never_raise(tmp_path: Path) -> None:
    links, files = _links(tmp_path, _Host(), folder="receipts")
    (tmp_path / "receipts" / "a-folder").mkdir()
    (tmp_path / "receipts" / "loop.pdf").symlink_to("loop.pdf")
    expected = {
        "x" * 5000: "document_missing",  # a name the file system refuses
        "a-folder": "document_missing",
        "a\x00b.pdf": "document_refused",
        "loop.pdf": "document_refused",
        "../../etc/passwd": "document_refused",
        "https://[acme.cloud.looker.com/x.pdf": "document_refused",
        f"{HOST}/files/\x00.pdf": "document_missing",
    }

    async def go() -> None:
        try:
            await links.resolve({"doc": value} for value in expected)
        finally:
            await files.aclose()

    asyncio.run(go())
    for value, reason in expected.items():
        with pytest.raises(DocumentHold) as held:
            links.link({"doc": value})
        assert held.value.reason.value == reason, value[:20]
