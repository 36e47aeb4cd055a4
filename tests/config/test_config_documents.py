"""``[pipelines.<name>.documents]``: checked when the configuration loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config_loader import VALID, one

from ml_connector.config import parse_config

RENDER = """
[pipelines.revenue.documents]
document_type = "Rechnungsausgang"
[pipelines.revenue.documents.render]
dashboard_id = 1
filters = { Period = "{period}" }
filename = "PL_{customer}_{period}.pdf"
"""


def test_a_rendered_document_per_period(tmp_path: Path) -> None:
    docs = parse_config(VALID + RENDER, path=tmp_path / "c.toml").pipeline("revenue").documents
    assert docs is not None
    assert docs.render is not None
    assert docs.render.dashboard_id == "1"
    assert docs.render.filters == {"Period": "{period}"}
    assert docs.document_type == "Rechnungsausgang"
    assert docs.rows is None


ROWS = (
    '[pipelines.revenue.documents]\ndocument_type = "Rechnungseingang"\n'
    '[pipelines.revenue.documents.rows]\ncolumn = "gl.account"\nfolder = "receipts"\n'
)


def test_per_row_documents_name_a_column_and_a_folder(tmp_path: Path) -> None:
    (tmp_path / "receipts").mkdir()
    docs = parse_config(VALID + ROWS, path=tmp_path / "c.toml").pipeline("revenue").documents
    assert docs is not None
    assert docs.rows is not None
    assert (docs.rows.column, docs.rows.folder) == ("gl.account", "receipts")


def test_a_missing_folder_or_both_sources_are_refused(tmp_path: Path) -> None:
    problem = one(VALID + ROWS, tmp_path)
    assert problem.key == "pipelines.revenue.documents.rows.folder"
    assert "does not exist" in problem.message
    (tmp_path / "receipts").mkdir()
    both = VALID + ROWS + RENDER.split("\n", 3)[3]
    problem = one(both, tmp_path)
    assert problem.key == "pipelines.revenue.documents.rows"
    assert "one document" in problem.message


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        (
            '[pipelines.revenue.documents]\ndocument_type = "X"\n',
            "pipelines.revenue.documents",
            "documents.render",
        ),
        (
            RENDER.replace("PL_{customer}_{period}.pdf", "../PL_{period}.pdf"),
            "pipelines.revenue.documents.render.filename",
            "ending in .pdf",
        ),
        (
            RENDER.replace("PL_{customer}_{period}.pdf", "PL_{month}.pdf"),
            "pipelines.revenue.documents.render.filename",
            "month",
        ),
        (
            RENDER.replace("PL_{customer}_{period}.pdf", "PL_{period}.xlsx"),
            "pipelines.revenue.documents.render.filename",
            ".pdf",
        ),
        (
            RENDER.replace('"Rechnungsausgang"', '"' + "x" * 31 + '"'),
            "pipelines.revenue.documents.document_type",
            "30",
        ),
    ],
)
def test_bad_documents_settings_name_key_and_fix(
    extra: str, key: str, says: str, tmp_path: Path
) -> None:
    problem = one(VALID + extra, tmp_path)
    assert problem.key == key
    assert says in problem.message + problem.fix
