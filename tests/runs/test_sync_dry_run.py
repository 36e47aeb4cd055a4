"""The dry run and the preview are the real run stopped before sending."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sync_support import CLIENT, PIPELINE

from ml_connector.http.polling import PollPolicy
from ml_connector.interfaces.cli import main
from ml_connector.mapping.stream import StreamedRun
from ml_connector.runs.launch import EngineOptions, replay_run, run_pipeline
from ml_connector.runs.names import file_sha256
from ml_connector.runs.steps import RECORDS_FILE, LiveRunSteps
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall

FAST = EngineOptions(
    queue_polling_interval=0.05, poll=PollPolicy(base=0.05, cap=0.1, floor=0.0, max_polls=20)
)
STAMP = datetime(2026, 11, 3, 7, 45, tzinfo=UTC)


def _dry_run(steps: LiveRunSteps, period: str, out: Path) -> StreamedRun:
    try:
        return asyncio.run(steps.dry_run(steps.spec_for(PIPELINE, period), out))
    finally:
        steps.close()


def test_a_dry_run_writes_what_the_real_run_sends_and_nothing_once_it_is_posted(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None, tmp_path: Path
) -> None:
    settings = installed_on.settings
    dry = _dry_run(LiveRunSteps(settings, clock=lambda: STAMP), "2025-12", tmp_path / "dry")
    assert dry.ready
    (dry_file,) = dry.files
    assert emulators.ledger.transfers(CLIENT) == [], "a dry run sends nothing"

    options = dataclasses.replace(FAST, system_database_url=db_url)
    real_steps = LiveRunSteps(settings, clock=lambda: STAMP)
    try:
        outcome = run_pipeline(
            settings, PIPELINE, "2025-12", options=options, progress=None, steps=real_steps
        )
    finally:
        real_steps.close()
    assert outcome.state == "succeeded", outcome.error
    (transfer,) = emulators.ledger.transfers(CLIENT)
    assert (transfer.filename, transfer.sha256) == (dry_file.path.name, file_sha256(dry_file.path))
    (sent,) = settings.data_dir.glob("files/**/EXTF_*.csv")
    assert sent.read_bytes() == dry_file.path.read_bytes()
    for name in ("report.json", "report.txt", "held.jsonl", RECORDS_FILE):
        assert (sent.parent / name).read_bytes() == (tmp_path / "dry" / name).read_bytes(), name

    # the period is posted: a dry run now plans nothing new, like the replay sends nothing
    again = _dry_run(LiveRunSteps(settings), "2025-12", tmp_path / "again")
    assert again.ready
    assert again.files == ()
    assert not list((tmp_path / "again").glob("EXTF_*.csv"))
    changes = json.loads((tmp_path / "again" / "report.json").read_text("utf-8"))["changes"]
    assert changes == {"new": 0, "unchanged": 63, "changed": 0, "gone": 0, "held": 0}
    replay = replay_run(settings, outcome.run_id, options=options, progress=None)
    assert replay.state == "succeeded"
    assert replay.files == ()
    assert len(emulators.ledger.transfers(CLIENT)) == 1


def test_the_dry_run_command_reads_looker_with_the_stored_key(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None
) -> None:
    # the demo keeps its Looker key as credential = "store:meridian-looker"
    config = installed_on.config_path
    assert 'credential = "store:' in config.read_text("utf-8")
    args = ["run", PIPELINE, "--period", "2026-10", "--dry-run", "--config", str(config)]
    result = CliRunner().invoke(main, [*args, *(["--store-url", db_url] if db_url else [])])
    assert result.exit_code == 0, result.output
    out = installed_on.settings.data_dir / "dry-run" / PIPELINE / "2026-10"
    assert f"written to {out}" in result.output
    assert "would send 63 booking line(s) in 1 file(s): 63 new row(s)" in result.output
    assert len(list(out.glob("EXTF_*.csv"))) == 1
    assert emulators.ledger.transfers(CLIENT) == []


def test_preview_shows_a_mapping_error_as_the_dry_run_reports_it(
    installed_on: DemoInstall, db_url: str | None, tmp_path: Path
) -> None:
    config = str(installed_on.config_path)
    store = ["--store-url", db_url] if db_url else []
    args = ["mapping", "preview", PIPELINE, "-n", "64", "--period", "2025-12", "--config", config]
    preview = CliRunner(env={"COLUMNS": "220"}).invoke(main, [*args, *store])
    assert preview.exit_code == 0, preview.output
    assert "63 mapped, 1 rejected" in preview.output
    (rejected,) = [line for line in preview.output.splitlines() if line.startswith("rejected ")]
    assert "[2025-12|ZD|OPS-399|CGN-BO]: unmapped_account" in rejected

    out = tmp_path / "dry"
    args = ["run", PIPELINE, "--period", "2025-12", "--dry-run", "--config", config]
    dry = CliRunner().invoke(main, [*args, "--out", str(out), *store])
    assert dry.exit_code == 0, dry.output
    assert f"  {rejected}" in (out / "report.txt").read_text("utf-8").splitlines()


def test_preview_stops_the_extract_after_n_rows(installed: DemoInstall) -> None:
    config = str(installed.config_path)
    args = ["mapping", "preview", PIPELINE, "-n", "5", "--period", "2025-12", "--config", config]
    result = CliRunner(env={"COLUMNS": "220"}).invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{PIPELINE} 2025-12: first 5 rows" in result.output
    assert "5 mapped, 0 rejected" in result.output
