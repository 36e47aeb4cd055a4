"""LiveRunSteps against both emulators: exactly the mapped bookings, never twice."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from sync_support import CLIENT, PIPELINE, drive, restated_looker

from ml_connector.engine.ports import Prepared, iter_records
from ml_connector.formats.extf.reader import read_file
from ml_connector.runs.names import reference_id_for
from ml_connector.runs.steps import LiveRunSteps, RunBlockedError
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall
from ml_connector_sandbox.emulators.datev.app import emulator_state


def _ledger_view(emulators: DemoEmulators) -> list[tuple[str, str, str, str]]:
    return sorted(
        (b.document_field, str(b.amount), b.debit_credit, b.contra_account)
        for b in emulators.ledger.bookings(CLIENT)
    )


def test_a_period_posts_exactly_the_mapped_bookings_and_a_rerun_nothing(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    steps = LiveRunSteps(installed.settings)
    spec = steps.spec_for(PIPELINE, "2025-12")
    assert spec.datev_client == CLIENT
    prepared, jobs = drive(steps, spec, tmp_path / "run1")

    assert (prepared.rows_read, prepared.rows_mapped, prepared.rows_rejected) == (64, 63, 1)
    assert len(prepared.files) == 1
    assert len(jobs) == 1
    file = prepared.files[0]
    assert file.reference_id == reference_id_for(file.filename)
    written = read_file(Path(file.path))
    expected = sorted(
        (line.belegfeld_1, str(line.umsatz), line.soll_haben, str(line.gegenkonto))
        for line in written.lines
    )
    assert len(expected) == 63
    assert _ledger_view(emulators) == expected
    [transfer] = emulators.ledger.transfers(CLIENT)
    assert (transfer.filename, transfer.reference_id) == (file.filename, file.reference_id)

    records = list(iter_records(Path(prepared.records_path)))
    rejected = [r for r in records if r.rejection]
    assert [r.row_key for r in rejected] == ["2025-12|ZD|OPS-399|CGN-BO"]
    assert "unmapped_account" in (rejected[0].rejection or "")
    placed = sorted(r.line for r in records if r.filename == file.filename and r.line)
    assert placed == list(range(1, 64))

    # the same period again: everything posted is unchanged, so no file and no booking
    again, jobs_again = drive(steps, spec, tmp_path / "run2")
    assert again.files == ()
    assert jobs_again == []
    assert len(emulators.ledger.bookings(CLIENT)) == 63
    assert emulators.ledger.duplicates() == []


def test_a_crash_before_the_job_id_was_stored_finds_the_earlier_submission(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    steps = LiveRunSteps(installed.settings)
    spec = steps.spec_for(PIPELINE, "2026-10")
    workdir = tmp_path / "run"

    async def submit_then_crash() -> tuple[Prepared, str]:
        try:
            prepared = await steps.prepare(spec, workdir)
            return prepared, await steps.submit(spec, prepared.files[0])
        finally:
            await steps.aclose()

    async def resume() -> tuple[Prepared, str | None]:
        try:
            prepared = await steps.prepare(spec, workdir)
            return prepared, await steps.find_submission(spec, prepared.files[0])
        finally:
            await steps.aclose()

    first, job = asyncio.run(submit_then_crash())
    # prepared again in the same workdir, as after a crash: same bytes, name and id
    second, found = asyncio.run(resume())
    assert [(f.filename, f.sha256, f.reference_id) for f in second.files] == [
        (f.filename, f.sha256, f.reference_id) for f in first.files
    ]
    assert found == job
    assert len(emulators.ledger.transfers(CLIENT)) == 1


def test_a_failed_earlier_job_counts_as_not_submitted(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    steps = LiveRunSteps(installed.settings)
    spec = steps.spec_for(PIPELINE, "2026-09")
    emulator_state(emulators.datev_app).faults.update(job_failure_rate=1.0)

    async def submit_and_poll() -> tuple[Prepared, str, str]:
        try:
            prepared = await steps.prepare(spec, tmp_path / "run")
            file = prepared.files[0]
            job = await steps.submit(spec, file)
            status = await steps.poll(spec, file, job)
            for _ in range(20):
                if status.state != "pending":
                    break
                await asyncio.sleep(0.05)
                status = await steps.poll(spec, file, job)
            found = await steps.find_submission(spec, file)
            return prepared, status.state, str(found)
        finally:
            await steps.aclose()

    _, state, found = asyncio.run(submit_and_poll())
    assert (state, found) == ("failed", "None")
    assert emulators.ledger.bookings(CLIENT) == []


def test_a_restated_row_yields_one_reversal_and_one_corrected_booking(
    installed: DemoInstall, emulators: DemoEmulators, tmp_path: Path
) -> None:
    steps = LiveRunSteps(installed.settings)
    spec = steps.spec_for(PIPELINE, "2026-10")
    drive(steps, spec, tmp_path / "run1")
    before = len(emulators.ledger.bookings(CLIENT))
    line_id = "2026-10|IT|OPS-300|BER-IT"
    with restated_looker(emulators, tmp_path, line_id, Decimal("22000.00")) as url:
        restated = LiveRunSteps(
            dataclasses.replace(installed.settings, looker_url=url), store=steps.store
        )
        prepared, jobs = drive(restated, spec, tmp_path / "run2")
    assert len(prepared.files) == 1
    assert len(jobs) == 1
    new = [b for b in emulators.ledger.bookings(CLIENT) if b.job_id == jobs[0]]
    assert len(emulators.ledger.bookings(CLIENT)) == before + 2
    belegfeld = "2026-10/IT/OPS-300/BER-IT"
    assert {b.document_field for b in new} == {belegfeld}
    written = read_file(Path(prepared.files[0].path)).lines
    assert [line.generalumkehr for line in written] == [True, None]
    assert written[1].umsatz == Decimal("22000.00")
    assert written[0].buchungstext is not None
    assert written[0].buchungstext.startswith("Storno")
    # and a third run with the restated data posts nothing more
    with restated_looker(emulators, tmp_path / "x", line_id, Decimal("22000.00")) as url:
        third = LiveRunSteps(
            dataclasses.replace(installed.settings, looker_url=url), store=steps.store
        )
        again, _ = drive(third, spec, tmp_path / "run3")
    assert again.files == ()
    assert len(emulators.ledger.bookings(CLIENT)) == before + 2


def test_a_blocked_run_raises_with_the_report_on_disk(
    installed: DemoInstall, tmp_path: Path
) -> None:
    text = installed.config_path.read_text("utf-8")
    installed.config_path.write_text(
        text.replace('reject_policy = "hold_rejected"', 'reject_policy = "reject_batch"'), "utf-8"
    )
    steps = LiveRunSteps(installed.settings)
    spec = steps.spec_for(PIPELINE, "2025-12")
    with pytest.raises(RunBlockedError) as caught:
        drive(steps, spec, tmp_path / "blocked")
    assert "reject_batch" in str(caught.value)
    assert (tmp_path / "blocked" / "report.txt").exists()
    assert not list((tmp_path / "blocked").glob("EXTF_*.csv"))


def test_prepare_reports_rows_as_they_stream_in(installed: DemoInstall, tmp_path: Path) -> None:
    lines: list[str] = []
    steps = LiveRunSteps(installed.settings, progress=lines.append, progress_interval=0.0)
    try:
        spec = steps.spec_for(PIPELINE, "2025-12")
        asyncio.run(steps.prepare(spec, tmp_path / "run"))
    finally:
        steps.close()
    assert lines[-1] == f"{PIPELINE} 2025-12: 64 rows extracted and mapped"
    counts = [int(line.split(": ")[1].split()[0].replace(",", "")) for line in lines]
    assert counts == sorted(counts)
    assert len(lines) >= 2, "partial counts are reported while the rows stream in"
