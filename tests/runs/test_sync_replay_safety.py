"""A replay never posts twice, and an empty extract never reverses a posted month.

Both emulators, the durable engine and the live steps, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import Decimal
from pathlib import Path

from sync_support import CLIENT, PIPELINE, edited_looker, restated_looker

from ml_connector.engine.ports import RunOutcome
from ml_connector.engine.runtime import Engine
from ml_connector.http.polling import PollPolicy
from ml_connector.interfaces.cli._engine import next_step
from ml_connector.runs.connect import open_sync_store
from ml_connector.runs.launch import EngineOptions, engine_settings, replay_run, run_pipeline
from ml_connector.runs.steps import LiveRunSteps
from ml_connector.store.audit import verify
from ml_connector.store.posted import iter_latest
from ml_connector.store.runs import list_files
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall
from ml_connector_sandbox.emulators.datev.app import emulator_state

PERIOD = "2026-10"
CHANGED = "2026-10|IT|OPS-300|BER-IT"
NEW_AMOUNT = Decimal("22000.00")


def _options(db_url: str | None) -> EngineOptions:
    return EngineOptions(
        system_database_url=db_url,
        queue_polling_interval=0.05,
        poll=PollPolicy(base=0.05, cap=0.1, floor=0.0, max_polls=5),
    )


def _net_postings(emulators: DemoEmulators) -> Counter[str]:
    """Per Belegfeld: bookings minus their reversals (``Storno``), as DATEV holds them."""
    net: Counter[str] = Counter()
    for booking in emulators.ledger.bookings(CLIENT):
        net[booking.document_field] += -1 if booking.text.startswith("Storno") else 1
    return net


def _run_with_datev_down_after_upload(
    installed: DemoInstall, emulators: DemoEmulators, options: EngineOptions
) -> RunOutcome:
    faults = emulator_state(emulators.datev_app).faults

    def progress(line: str) -> None:
        if "submitted to DATEV" in line:
            faults.update(error_rate=1.0)  # DATEV answers 503 from now on

    try:
        outcome = run_pipeline(
            installed.settings, PIPELINE, PERIOD, options=options, progress=progress
        )
    finally:
        faults.update(error_rate=0.0)
    assert outcome.state == "failed"
    assert len(outcome.jobs) == 1 == len(emulators.ledger.transfers(CLIENT))
    return outcome


def _set_pending_reads(emulators: DemoEmulators, reads: int) -> None:
    state = emulator_state(emulators.datev_app)
    state.config = state.config.model_copy(update={"job_pending_reads": reads})


def test_rows_changed_before_the_replay_of_an_unrecorded_upload_are_corrected_not_reposted(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None, tmp_path: Path
) -> None:
    installed, options = installed_on, _options(db_url)
    first = _run_with_datev_down_after_upload(installed, emulators, options)
    assert len(emulators.ledger.bookings(CLIENT)) == 63

    with restated_looker(emulators, tmp_path, CHANGED, NEW_AMOUNT) as url:
        settings = dataclasses.replace(installed.settings, looker_url=url)
        again = replay_run(settings, first.run_id, options=options, progress=None)

    assert again.state == "succeeded", again.error
    assert len(emulators.ledger.transfers(CLIENT)) == 2
    assert emulators.ledger.duplicates() == []
    net = _net_postings(emulators)
    assert len(net) == 63
    assert set(net.values()) == {1}, "each booking is in DATEV's ledger exactly once"
    belegfeld = CHANGED.replace("|", "/")
    replayed = [
        b for b in emulators.ledger.bookings(CLIENT) if b.job_id == again.jobs[again.files[0]]
    ]
    assert [b.document_field for b in replayed] == [belegfeld, belegfeld]
    assert replayed[0].text.startswith("Storno")
    assert replayed[1].amount == NEW_AMOUNT

    store = open_sync_store(installed.settings)
    try:
        assert [f.outcome for f in list_files(store, first.run_id)] == ["succeeded"]
        latest = list(iter_latest(store, pipeline=PIPELINE, datev_client=CLIENT, period=PERIOD))
        assert len(latest) == 63
        assert [r.ok for r in verify(store)] == [True]
    finally:
        store.dispose()


def test_a_file_sent_without_a_stored_job_id_is_found_by_name_before_the_replay_prepares(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None, tmp_path: Path
) -> None:
    installed, options = installed_on, _options(db_url)
    steps = LiveRunSteps(installed.settings)

    def lose_the_job_id(name: str) -> None:
        if name == "submitted:1":  # DATEV has the file; the job id is not stored yet
            raise RuntimeError("worker lost")

    try:
        settings = engine_settings(installed.settings, options)
        with Engine(settings, steps, on_boundary=lose_the_job_id) as engine:
            run_id = engine.enqueue(steps.spec_for(PIPELINE, PERIOD))
            first = engine.wait(run_id)
    finally:
        steps.close()
    assert first.state == "failed"
    assert first.jobs == {}
    assert len(emulators.ledger.transfers(CLIENT)) == 1

    with restated_looker(emulators, tmp_path, CHANGED, NEW_AMOUNT) as url:
        settings = dataclasses.replace(installed.settings, looker_url=url)
        again = replay_run(settings, first.run_id, options=options, progress=None)

    assert again.state == "succeeded", again.error
    assert len(emulators.ledger.transfers(CLIENT)) == 2
    assert set(_net_postings(emulators).values()) == {1}
    assert len(emulators.ledger.bookings(CLIENT)) == 65
    store = open_sync_store(installed.settings)
    try:
        [file] = list_files(store, first.run_id)
        assert (file.datev_job_id, file.outcome) == (
            emulators.ledger.transfers(CLIENT)[0].job_id,
            "succeeded",
        )
    finally:
        store.dispose()


def test_a_job_still_pending_blocks_the_replay_until_it_ends(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None, tmp_path: Path
) -> None:
    installed, options = installed_on, _options(db_url)
    _set_pending_reads(emulators, 1000)
    first = run_pipeline(installed.settings, PIPELINE, PERIOD, options=options, progress=None)
    assert first.state == "failed"
    assert "still pending" in (first.error or "")
    assert (first.jobs_succeeded, first.jobs_failed) == (0, 0), "its outcome is not known"
    assert f"ml-connector replay {first.run_id}" in (next_step(first) or "")

    with restated_looker(emulators, tmp_path, CHANGED, NEW_AMOUNT) as url:
        settings = dataclasses.replace(installed.settings, looker_url=url)
        blocked = replay_run(settings, first.run_id, options=options, progress=None)
        assert blocked.state == "failed"
        assert blocked.error_kind == "DatevJobPendingError"
        assert "still pending" in (blocked.error or "")
        assert "again later" in (blocked.error or "")
        assert len(emulators.ledger.transfers(CLIENT)) == 1, "nothing sent while pending"

        _set_pending_reads(emulators, 0)
        done = replay_run(settings, first.run_id, options=options, progress=None)

    assert done.state == "succeeded", done.error
    assert len(emulators.ledger.transfers(CLIENT)) == 2
    assert set(_net_postings(emulators).values()) == {1}
    assert len(emulators.ledger.bookings(CLIENT)) == 65


def test_no_rows_from_looker_for_a_posted_month_blocks_the_reversals(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None, tmp_path: Path
) -> None:
    installed, options = installed_on, _options(db_url)
    first = run_pipeline(installed.settings, PIPELINE, PERIOD, options=options, progress=None)
    assert first.state == "succeeded", first.error

    def empty_month(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [row for row in rows if row["period_month"] != PERIOD]

    with edited_looker(emulators, tmp_path, empty_month) as url:
        settings = dataclasses.replace(installed.settings, looker_url=url)
        blocked = replay_run(settings, first.run_id, options=options, progress=None)
        assert blocked.state == "failed"
        assert blocked.error is not None
        assert f"Looker returned no rows for {PERIOD} although 63 booking(s)" in blocked.error
        assert "--allow-empty" in blocked.error
        assert len(emulators.ledger.transfers(CLIENT)) == 1, "no reversal was sent"

        emptied = replay_run(
            settings, first.run_id, allow_empty=True, options=options, progress=None
        )

    assert emptied.state == "succeeded", emptied.error
    assert len(emulators.ledger.transfers(CLIENT)) == 2
    assert set(_net_postings(emulators).values()) == {0}, "the month is reversed once"
