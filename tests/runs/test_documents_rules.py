"""Document rules applied before anything is sent: ids, Beleglink, PDF checks, locations."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from ml_connector.config.models import Documents, RenderedDocument, RowDocuments
from ml_connector.datev.api.names import DOCUMENT_MAX_BYTES
from ml_connector.errors import DataError
from ml_connector.runs.documents import (
    beleglink,
    check_pdf,
    document_id,
    rendered_document,
    row_document_location,
)


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 10, "P&L")
    return bytes(pdf.output())


def test_ids_are_deterministic_per_customer_pipeline_period_and_source() -> None:
    one = document_id("acme", "gl", "2026-10", "render:dashboard/1")
    assert one == document_id("acme", "gl", "2026-10", "render:dashboard/1")
    others = {
        document_id("other", "gl", "2026-10", "render:dashboard/1"),
        document_id("acme", "gl2", "2026-10", "render:dashboard/1"),
        document_id("acme", "gl", "2026-11", "render:dashboard/1"),
        document_id("acme", "gl", "2026-10", "render:dashboard/2"),
    }
    assert one not in others
    assert len(others) == 4


def test_the_render_plan_fills_in_the_period_and_a_datev_file_name() -> None:
    render = RenderedDocument(
        dashboard_id="7", filters={"Period": "{period}"}, filename="GuV #{customer} {period}.pdf"
    )
    plan = rendered_document(render, customer="mueller", pipeline="gl", period="2026-10")
    assert plan.filters == {"Period": "2026-10"}
    assert plan.filename == "GuV _mueller 2026-10.pdf"  # DATEV's whitelist: '#' becomes '_'
    assert plan.document_id == document_id("mueller", "gl", "2026-10", plan.source)
    assert beleglink(plan.document_id) == f'BEDI "{plan.document_id}"'


def test_pdf_checks() -> None:
    check_pdf(_pdf(), "ok.pdf")
    with pytest.raises(DataError, match="not a PDF"):
        check_pdf(b"%PDF-1.4 but nothing else", "broken.pdf")
    with pytest.raises(DataError, match="20 MB"):
        check_pdf(b"0" * (DOCUMENT_MAX_BYTES + 1), "big.pdf")


def _rows(folder: str | None) -> Documents:
    rows = RowDocuments(column="receipt", folder=folder)
    return Documents(document_type="Rechnungseingang", rows=rows)


def test_row_documents_stay_under_their_folder_and_on_the_customers_looker(
    tmp_path: Path,
) -> None:
    (tmp_path / "receipts").mkdir()
    (tmp_path / "receipts" / "loop.pdf").symlink_to("loop.pdf")
    (tmp_path / "receipts" / "out.pdf").symlink_to(tmp_path / "secret.pdf")
    docs = _rows("receipts")
    where = {"base_dir": tmp_path, "looker_base_url": "https://acme.cloud.looker.com"}
    assert row_document_location("a/b.pdf", docs, **where) == (
        tmp_path / "receipts" / "a" / "b.pdf"
    )
    url = "https://acme.cloud.looker.com/api/4.0/x.pdf"
    assert row_document_location(url, docs, **where) == url
    for bad in (
        "../secret.pdf",
        "/etc/passwd",
        "https://evil.example/x.pdf",
        "http://acme.cloud.looker.com/x",
        "",
        "a\x00b.pdf",  # a NUL byte
        "loop.pdf",  # a symbolic link loop
        "out.pdf",  # a symbolic link out of the folder
    ):
        with pytest.raises(DataError):
            row_document_location(bad, docs, **where)
    with pytest.raises(DataError, match="no documents folder"):
        row_document_location("a.pdf", _rows(None), **where)
