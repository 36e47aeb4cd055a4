"""The durable engine with the live steps, in process, against both emulators."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from sync_support import CLIENT, PIPELINE

from ml_connector.http.polling import PollPolicy
from ml_connector.interfaces.cli import main
from ml_connector.runs.connect import open_sync_store
from ml_connector.runs.launch import EngineOptions, RunAlreadyExistsError, replay_run, run_pipeline
from ml_connector.store.audit import verify
from ml_connector.store.runs import get_run
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall

FAST = EngineOptions(
    queue_polling_interval=0.05, poll=PollPolicy(base=0.05, cap=0.1, floor=0.0, max_polls=20)
)


def test_run_then_replay_posts_each_booking_once(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None
) -> None:
    installed = installed_on
    options = dataclasses.replace(FAST, system_database_url=db_url)
    lines: list[str] = []
    outcome = run_pipeline(
        installed.settings, PIPELINE, "2025-12", options=options, progress=lines.append
    )
    assert outcome.state == "succeeded", outcome.error
    assert (outcome.rows_read, outcome.rows_mapped, outcome.rows_rejected) == (64, 63, 1)
    assert outcome.jobs_succeeded == 1
    assert len(emulators.ledger.bookings(CLIENT)) == 63
    assert any("submitted to DATEV" in line for line in lines)

    with pytest.raises(RunAlreadyExistsError):
        run_pipeline(installed.settings, PIPELINE, "2025-12", options=options, progress=None)

    again = replay_run(installed.settings, outcome.run_id, options=options, progress=None)
    assert again.state == "succeeded"
    assert again.replay_of == outcome.run_id
    assert again.files == ()
    assert len(emulators.ledger.bookings(CLIENT)) == 63
    assert emulators.ledger.duplicates() == []

    store = open_sync_store(installed.settings)
    try:
        assert [r.ok for r in verify(store)] == [True]
        run = get_run(store, outcome.run_id)
        # the demo's December rows are clean: the counts are stored, and none is changed
        assert run is not None
        assert run.data_changes is not None
        assert json.loads(run.data_changes) == {}
        # the money is stored with the run: debit = credit, the held row's amount and why
        assert run.money is not None
        money = json.loads(run.money)
        assert money["totals"]["EUR"]["debit"] == money["totals"]["EUR"]["credit"]
        assert money["held"] == [
            {"reason": "unmapped_account", "count": 1, "amount": "1808.57", "without_amount": 0}
        ]
        url = store.url.render_as_string(hide_password=False)
        shown = CliRunner().invoke(main, ["status", "--store-url", url])
        assert shown.exit_code == 0, shown.output
        assert "1,808.57 (1 rows)" in shown.output
        listed = CliRunner().invoke(main, ["status", "--store-url", url, "--json"])
        by_id = {r["id"]: r for r in json.loads(listed.output)}
        assert by_id[outcome.run_id]["money"]["held_amount"] == "1808.57"
    finally:
        store.dispose()


def test_run_command_prints_the_outcome(installed: DemoInstall, emulators: DemoEmulators) -> None:
    args = ["run", PIPELINE, "--period", "2026-10", "--config", str(installed.config_path)]
    result = CliRunner().invoke(main, [*args, "--datev-url", emulators.datev_url, "--json"])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout[result.stdout.index("{") :])
    assert outcome["state"] == "succeeded"
    assert outcome["jobs_succeeded"] == 1
    assert len(emulators.ledger.bookings(CLIENT)) == outcome["rows_mapped"] == 63

    again = CliRunner().invoke(main, [*args, "--datev-url", emulators.datev_url])
    assert again.exit_code == 1
    assert "ml-connector replay run:gl-monthly:2026-10" in again.output


def test_a_revoked_grant_ends_the_run_as_needs_user(
    installed: DemoInstall, emulators: DemoEmulators
) -> None:
    emulators.idp.revoke_all_tokens()
    outcome = run_pipeline(installed.settings, PIPELINE, "2026-10", options=FAST, progress=None)
    assert outcome.state == "needs_user"
    assert outcome.error is not None
    assert "datev login --customer meridian" in outcome.error
    assert emulators.ledger.transfers(CLIENT) == []


def test_a_held_row_is_posted_by_a_replay_once_the_mapping_is_fixed(
    installed: DemoInstall, emulators: DemoEmulators
) -> None:
    outcome = run_pipeline(installed.settings, PIPELINE, "2025-12", options=FAST, progress=None)
    assert (outcome.rows_mapped, outcome.rows_rejected) == (63, 1)
    assert len(emulators.ledger.bookings(CLIENT)) == 63

    # the accountant maps the missing GL account, then replays the run
    accounts = installed.config_path.parent / "accounts.csv"
    accounts.write_text(
        accounts.read_text(encoding="utf-8") + "OPS-399,4980,Betriebsbedarf\n", encoding="utf-8"
    )
    replayed = replay_run(installed.settings, outcome.run_id, options=FAST, progress=None)
    assert (replayed.state, replayed.rows_mapped, replayed.rows_rejected) == ("succeeded", 64, 0)
    assert len(replayed.files) == 1

    bookings = emulators.ledger.bookings(CLIENT)
    assert len(bookings) == 64, "exactly the held row is added; nothing is posted twice"
    assert bookings[-1].document_field == "2025-12/ZD/OPS-399/CGN-BO"
    assert bookings[-1].contra_account == "4980"
    assert emulators.ledger.duplicates() == []


def test_datev_down_after_the_upload_then_a_replay_finishes_the_run(
    installed: DemoInstall, emulators: DemoEmulators, capfd: pytest.CaptureFixture[str]
) -> None:
    from ml_connector.interfaces.cli._engine import next_step
    from ml_connector_sandbox.emulators.datev.app import emulator_state

    faults = emulator_state(emulators.datev_app).faults

    def progress(line: str) -> None:
        if "submitted to DATEV" in line:
            faults.update(error_rate=1.0)  # DATEV answers 503 from now on

    try:
        outcome = run_pipeline(
            installed.settings, PIPELINE, "2026-10", options=FAST, progress=progress
        )
    finally:
        faults.update(error_rate=0.0)
    assert outcome.state == "failed"
    assert outcome.error_kind == "DatevUnavailableError"
    assert "DBOS" not in (outcome.error or "")
    assert len(outcome.jobs) == 1 == len(emulators.ledger.transfers(CLIENT))
    assert "Traceback" not in capfd.readouterr().err
    assert f"ml-connector replay {outcome.run_id}" in (next_step(outcome) or "")
    # `status` later gives the same advice as the run did, from what the store kept
    store = open_sync_store(installed.settings)
    try:
        url = store.url.render_as_string(hide_password=False)
    finally:
        store.dispose()
    shown = CliRunner().invoke(main, ["status", "--store-url", url, "--json"])
    by_id = {r["id"]: r for r in json.loads(shown.output)}
    assert by_id[outcome.run_id]["next_step"] == next_step(outcome)
    listed = CliRunner().invoke(main, ["status", "--store-url", url])
    assert "DATEV received 1 of 1 file(s)" in " ".join(listed.output.split())

    again = replay_run(installed.settings, outcome.run_id, options=FAST, progress=None)
    assert again.state == "succeeded", again.error
    assert len(emulators.ledger.transfers(CLIENT)) == 1, "the replay found the file, sent none"
    assert len(emulators.ledger.bookings(CLIENT)) == 63
    assert emulators.ledger.duplicates() == []
    shown = CliRunner().invoke(main, ["status", "--store-url", url, "--json"])
    by_id = {r["id"]: r for r in json.loads(shown.output)}
    assert by_id[outcome.run_id]["next_step"] == f"replayed by {again.run_id}"
