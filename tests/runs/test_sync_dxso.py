"""A dxso pipeline run from the CLI against both emulators: booking suggestions in one
job per ledger and month, posted records, the protocol kept; a replay restates."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from fpdf import FPDF
from sync_support import CLIENT

from ml_connector.interfaces.cli import main
from ml_connector.store.db import make_engine, sqlite_url
from ml_connector.store.posted import iter_latest
from ml_connector.store.runs import list_files, list_protocol
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall, add_dxso_pipeline
from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.datev.app import emulator_state
from ml_connector_sandbox.emulators.looker import create_app as create_looker_app
from ml_connector_sandbox.emulators.looker import demo_dataset_dir

INVOICES = [
    ("RE-2026-0101", "2026-01-05", "Nordlicht AG", "10001", "1190.00"),
    ("RE-2026-0102", "2026-01-12", "Becker & Söhne KG", "10002", "595.00"),
    ("RE-2026-0103", "2026-01-20", "Nordlicht AG", "10001", "-119.00"),
]
FIELDS = ["invoice_id", "invoice_date", "period_month", "customer_name", "debtor_account",
          "amount_eur", "due_date"]  # fmt: skip


def _dataset(directory: Path, amount_of_first: str) -> Path:
    """The demo dataset with ``INVOICES`` as its invoices (the first at that amount)."""
    data = directory / "dataset"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(demo_dataset_dir(), data)
    rows = [
        dict(zip(FIELDS, (iid, day, day[:7], name, debtor, amount, None), strict=True))
        for iid, day, name, debtor, amount in INVOICES
    ]
    rows[0]["amount_eur"] = amount_of_first
    (data / "invoices.json").write_text(json.dumps(rows), encoding="utf-8")
    return data


@contextmanager
def _looker(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path, amount: str, url: str
) -> Iterator[str]:
    """A Looker emulator with the invoices (the first at ``amount``), in the configuration
    instead of ``url``; its URL."""
    app = create_looker_app(
        _dataset(tmp_path, amount),
        client_id=emulators.looker_client_id,
        client_secret=emulators.looker_client_secret,
    )
    with serve_in_thread(app) as server:
        text = installed.config_path.read_text("utf-8").replace(url, server.url)
        installed.config_path.write_text(text, encoding="utf-8")
        yield server.url


@pytest.fixture
def invoices_looker(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> Iterator[str]:
    """The demo installation with an invoices explore on its Looker and a dxso pipeline."""
    add_dxso_pipeline(installed.config_path)
    with _looker(installed, emulators, tmp_path, INVOICES[0][4], emulators.looker_url) as url:
        yield url


def _run(
    installed: DemoInstall, emulators: DemoEmulators, *args: str, code: int = 0
) -> dict[str, object]:
    config = ["--config", str(installed.config_path), "--datev-url", emulators.datev_url]
    result = CliRunner().invoke(main, [*args, *config, "--json"])
    assert result.exit_code == code, result.output
    outcome: dict[str, object] = json.loads(result.stdout[result.stdout.index("{") :])
    return outcome


def test_a_dxso_run_sends_suggestions_through_the_engine(
    installed: DemoInstall, emulators: DemoEmulators, invoices_looker: str
) -> None:
    outcome = _run(installed, emulators, "run", "ar-invoices", "--period", "2026-01")
    assert (outcome["state"], outcome["jobs_succeeded"], outcome["rows_mapped"]) == (
        "succeeded",
        1,
        3,
    )
    bookings = emulators.ledger.bookings(CLIENT)
    assert sorted(b.amount for b in bookings) == [
        Decimal("-119.00"),  # a credit note
        Decimal("595.00"),
        Decimal("1190.00"),
    ]
    assert [t.kind for t in emulators.ledger.transfers(CLIENT)] == ["dxso"]  # not EXTF
    jobs = emulator_state(emulators.datev_app).dxso_jobs
    [(job_id, job)] = jobs.items()
    names = [name for name, _ in job.files]
    assert names[-1] == "document.xml"
    assert len(names) == len(set(names))

    store = make_engine(sqlite_url(installed.settings.data_dir))
    try:
        run_id = str(outcome["run_id"])
        [file] = list_files(store, run_id)
        assert (file.datev_job_id, file.outcome) == (job_id, "succeeded")
        assert file.filename.startswith("DXSO_AR_2026-01_01_")
        protocol = list_protocol(store, run_id)
        assert {p.entry_filename for p in protocol if p.entry_filename} == set(names)
        posted = iter_latest(store, pipeline="ar-invoices", datev_client=CLIENT, period="2026-01")
        assert sorted(p.row_key for p in posted) == [i[0] for i in INVOICES]
    finally:
        store.dispose()

    shown = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["status", run_id])
    assert shown.exit_code == 0, shown.output
    assert job_id in shown.output
    assert "wurde empfangen" in shown.output
    unknown = CliRunner().invoke(main, ["status", "run:nope:2026-01"])
    assert unknown.exit_code != 0
    assert "no run 'run:nope:2026-01'" in unknown.output
    assert "Traceback" not in unknown.output


def _posted(installed: DemoInstall) -> dict[str, list[str]]:
    store = make_engine(sqlite_url(installed.settings.data_dir))
    try:
        states = iter_latest(store, pipeline="ar-invoices", datev_client=CLIENT, period="2026-01")
        return {
            s.row_key: [str(line["umsatz"]) for line in json.loads(s.booking)["lines"]]
            for s in states
        }
    finally:
        store.dispose()


def test_a_replay_restates_a_changed_invoice_as_credit_note_and_new_entry(
    installed: DemoInstall, emulators: DemoEmulators, invoices_looker: str, tmp_path: Path
) -> None:
    first = _run(installed, emulators, "run", "ar-invoices", "--period", "2026-01")
    assert first["state"] == "succeeded"
    with _looker(installed, emulators, tmp_path / "v2", "1309.00", invoices_looker):
        again = _run(installed, emulators, "replay", str(first["run_id"]))
    assert (again["state"], again["jobs_succeeded"]) == ("succeeded", 1)
    jobs = list(emulator_state(emulators.datev_app).dxso_jobs.values())
    assert len(jobs) == 2
    later = [b.amount for b in emulators.ledger.bookings(CLIENT)][3:]
    assert sorted(later) == [Decimal("-1190.00"), Decimal("1309.00")]
    assert _posted(installed)["RE-2026-0101"] == ["1309.00"]


def test_entries_datev_did_not_import_are_held_and_a_replay_sends_them(
    installed: DemoInstall, emulators: DemoEmulators, invoices_looker: str
) -> None:
    state = emulator_state(emulators.datev_app)
    state.faults.update(dxso_partial_rate=1.0)  # DATEV refuses the job's last data file
    first = _run(installed, emulators, "run", "ar-invoices", "--period", "2026-01", code=1)
    assert first["state"] == "partial"
    assert "1 of 3 entries not imported" in str(first["error"])
    posted = _posted(installed)
    assert len(posted) == 2  # the refused file's invoice is held, not posted

    state.faults.update(dxso_partial_rate=0.0)
    again = _run(installed, emulators, "replay", str(first["run_id"]), "--only-failed")
    assert again["state"] == "succeeded"
    assert again["rows_mapped"] == 3
    [_, job] = state.dxso_jobs.values()
    assert [name for name, _ in job.files][1:] == ["document.xml"]  # the held invoice only
    assert sorted(_posted(installed)) == [i[0] for i in INVOICES]


RECEIPTS = """
[pipelines.ar-invoices.documents]
document_type = "Rechnungsausgang"

[pipelines.ar-invoices.documents.rows]
column = "invoices.receipt"
folder = "receipts"
required = false
"""


def test_a_rows_pdf_travels_in_its_job_as_the_receipt_of_its_invoice(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    add_dxso_pipeline(installed.config_path)
    text = installed.config_path.read_text("utf-8")
    text = text.replace('"invoices.due_date"]', '"invoices.due_date", "invoices.receipt"]')
    installed.config_path.write_text(text + RECEIPTS, encoding="utf-8")
    folder = installed.config_path.parent / "receipts"
    folder.mkdir()
    pdf = FPDF()
    pdf.add_page()
    receipt = bytes(pdf.output())
    (folder / "RE-2026-0101.pdf").write_bytes(receipt)
    data = _dataset(tmp_path, INVOICES[0][4])
    rows = json.loads((data / "invoices.json").read_text("utf-8"))
    rows[0]["receipt"], rows[1]["receipt"] = "RE-2026-0101.pdf", "missing.pdf"
    (data / "invoices.json").write_text(json.dumps(rows), encoding="utf-8")
    app = create_looker_app(
        data, client_id=emulators.looker_client_id, client_secret=emulators.looker_client_secret
    )
    with serve_in_thread(app) as server:
        text = installed.config_path.read_text("utf-8").replace(emulators.looker_url, server.url)
        installed.config_path.write_text(text, encoding="utf-8")
        outcome = _run(installed, emulators, "run", "ar-invoices", "--period", "2026-01")
    # the invoice whose PDF is missing is held; the credit note names none (not required)
    assert (outcome["state"], outcome["rows_mapped"], outcome["rows_rejected"]) == (
        "succeeded",
        2,
        1,
    )
    [job] = emulator_state(emulators.datev_app).dxso_jobs.values()
    files = dict(job.files)
    [name] = [n for n in files if n.endswith(".pdf")]
    assert name.startswith("RE-2026-0101_")
    assert files[name] == receipt
    assert f'name="{name}"' in files["document.xml"].decode("utf-8")
    assert not emulators.ledger.documents(CLIENT)  # nothing through the documents API
