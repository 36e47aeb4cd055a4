"""The run pages, lineage, audit export and the API read what the engine recorded."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from sqlalchemy import Engine
from web_support import FILENAME, TestClient

from ml_connector.store.audit import AuditEvent, append_in
from ml_connector.store.runs import ProtocolRecord, RunFileRecord, add_file, record_protocol
from ml_connector.store.transactions import write_transaction


def test_runs_list_shows_the_run_with_its_progress(
    as_role: dict[str, TestClient], recorded_run: str
) -> None:
    page = as_role["viewer"].get("/").text
    assert 'href="/runs/run%3Agl-monthly%3A2026-10"' in page
    assert "succeeded" in page
    assert "data-poll" not in page  # a finished run does not poll


def test_run_page_shows_money_tie_out_files_jobs_and_held_rows(
    as_role: dict[str, TestClient], recorded_run: str
) -> None:
    page = as_role["viewer"].get(f"/runs/{recorded_run}").text
    assert "1,234.50" in page  # money, as money
    assert "99.90" in page  # the held amount
    assert FILENAME in page
    assert "job-77" in page
    assert "imported without errors" in page  # DATEV's protocol
    assert "unmapped_account: no DATEV account for GL 4711" in page  # the held row's reason
    assert 'href="/lineage?row_key=row-2"' in page
    assert "Replay" not in page  # a viewer sees no actions
    assert "Replay" in as_role["operator"].get(f"/runs/{recorded_run}").text


def test_file_download_is_the_run_file(as_role: dict[str, TestClient], recorded_run: str) -> None:
    client = as_role["viewer"]
    answer = client.get(f"/runs/{recorded_run}/files/{FILENAME}")
    assert answer.status_code == 200
    assert answer.text.startswith('"EXTF"')
    assert client.get(f"/runs/{recorded_run}/files/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/runs/no-such-run").status_code == 404


def test_lineage_by_row_key_and_belegfeld(
    as_role: dict[str, TestClient], recorded_run: str
) -> None:
    client = as_role["viewer"]
    page = client.get("/lineage", params={"belegfeld_1": "RE-2026-1"}).text
    assert "Row row-1" in page
    assert "job-77" in page
    assert "line 1" in page
    assert "job_outcome" in page  # the audit events along the way
    api = client.get("/api/v1/lineage", params={"row_key": "row-2"}).json()
    assert [hit["held"] for hit in api] == ["unmapped_account: no DATEV account for GL 4711"]
    assert client.get("/api/v1/lineage", params={"belegfeld_1": "RE-%"}).json() == []


def test_api_run_progress_and_held_rows(as_role: dict[str, TestClient], recorded_run: str) -> None:
    client = as_role["viewer"]
    run = client.get(f"/api/v1/runs/{recorded_run}").json()
    assert run["state"] == "succeeded"
    assert run["final"] is True
    assert (run["rows_read"], run["rows_mapped"], run["rows_held"]) == (2, 1, 1)
    assert run["files"][0]["datev_job_id"] == "job-77"
    assert run["money"]["accounts"][0]["debit"] == "1234.50"
    held = client.get(f"/api/v1/runs/{recorded_run}/held").json()
    assert [h["row_key"] for h in held] == ["row-2"]


def test_audit_export_download_and_verify(
    as_role: dict[str, TestClient], recorded_run: str
) -> None:
    client = as_role["viewer"]
    answer = client.get("/audit/export", params={"format": "json", "run_id": recorded_run})
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    exported = json.loads(answer.text)
    assert {row["row_key"] for row in exported["rows"]} == {"row-1", "row-2"}
    verified = client.get("/audit?check=1").text
    assert "intact" in verified, verified[verified.find("Verification") :][:600]
    assert "audit_export" in client.get("/audit").text  # the download is in the web audit


def test_lineage_shows_the_rows_supporting_document(
    as_role: dict[str, TestClient], recorded_run: str, web_engine: Engine
) -> None:
    document_id = "5b0e6a4c-0000-5000-8000-000000000001"
    booked = {
        "source": {"id": "row-3"},
        "line": 2,
        "rejection": None,
        "booking": {"lines": [{"belegfeld_1": "RE-2026-3", "beleglink": f'BEDI "{document_id}"'}]},
    }
    uploaded = {"document_id": document_id, "linked_rows": ["row-3"], "already_there": False}
    with write_transaction(web_engine) as conn:
        append_in(
            conn,
            "1001-1",
            [
                AuditEvent("document_uploaded", recorded_run, uploaded, filename="RE-2026-3.pdf"),
                AuditEvent("row", recorded_run, booked, row_key="row-3", filename=FILENAME),
            ],
        )
    client = as_role["viewer"]
    page = client.get("/lineage", params={"row_key": "row-3"}).text
    assert "Supporting document" in page
    assert "RE-2026-3.pdf (document_uploaded)" in page
    assert document_id in page
    [hit] = client.get("/api/v1/lineage", params={"row_key": "row-3"}).json()
    assert hit["document"] == {"id": document_id, "filename": "RE-2026-3.pdf"}
    assert "document_uploaded" in [e["kind"] for e in hit["events"]]
    # a row without a document says nothing about one
    [plain] = client.get("/api/v1/lineage", params={"row_key": "row-1"}).json()
    assert plain["document"] is None
    assert "Supporting document" not in client.get("/lineage", params={"row_key": "row-1"}).text


def test_run_page_shows_the_stored_dxso_protocol(
    as_role: dict[str, TestClient], recorded_run: str, web_engine: Engine
) -> None:
    entry = ProtocolRecord(
        FILENAME, "job-77", 1, "2026-11-02T08:00:00", "error", "Rechnungsnummer fehlt",
        entry_filename="AR_202610_0001.xml",
    )  # fmt: skip
    with write_transaction(web_engine) as conn:
        record_protocol(conn, recorded_run, [entry])
    page = as_role["viewer"].get(f"/runs/{recorded_run}").text
    assert "DXSO protocol" in page
    assert "AR_202610_0001.xml" in page
    assert "Rechnungsnummer fehlt" in page


def test_a_dxso_job_folder_downloads_as_one_zip(
    as_role: dict[str, TestClient], recorded_run: str, web_engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "DXSO_AR_2026-10_01_abc"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}", encoding="utf-8")
    (folder / "document.xml").write_text("<archive/>", encoding="utf-8")
    (folder / "escape.xml").symlink_to(tmp_path.parent)  # never followed into the archive
    record = RunFileRecord(recorded_run, 2, str(folder), folder.name, "cd" * 32, "ref-2", 3)
    with write_transaction(web_engine) as conn:
        add_file(conn, record)
    answer = as_role["viewer"].get(f"/runs/{recorded_run}/files/{folder.name}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert f'filename="{folder.name}.zip"' in answer.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert names == [f"{folder.name}/document.xml", f"{folder.name}/manifest.json"]
