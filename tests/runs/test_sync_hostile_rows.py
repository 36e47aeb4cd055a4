"""Hostile rows through the engine on SQLite and PostgreSQL: the same outcome on both."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from click.testing import CliRunner
from gl_dataset import generate, serving, write_dataset
from sync_support import CLIENT, PIPELINE

from ml_connector.http.polling import PollPolicy
from ml_connector.interfaces.cli import main
from ml_connector.runs.connect import open_sync_store
from ml_connector.runs.launch import EngineOptions, run_pipeline
from ml_connector.store.audit import iter_events
from ml_connector.store.runs import get_run
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall

FAST = EngineOptions(
    queue_polling_interval=0.05, poll=PollPolicy(base=0.05, cap=0.1, floor=0.0, max_polls=50)
)


def test_hostile_rows_post_the_rest_and_rows_without_a_period_are_held_once(
    installed_on: DemoInstall,
    emulators: DemoEmulators,
    db_url: str | None,
    tmp_path: Path,
) -> None:
    rows = generate(["2025-11"], 5)
    data = write_dataset(tmp_path / "dataset", rows)
    options = dataclasses.replace(FAST, system_database_url=db_url)
    with serving(emulators, data) as url:
        settings = dataclasses.replace(installed_on.settings, looker_url=url)
        november = run_pipeline(settings, PIPELINE, "2025-11", options=options, progress=None)
        december = run_pipeline(settings, PIPELINE, "2025-12", options=options, progress=None)

    # a key over 255 characters, a row without an amount and one without a date do not
    # stop the month: they are held, the rest is posted; so are the two USD rows, as the
    # demo pipeline does not map wkz_umsatz (never booked as EUR)
    assert november.state == "succeeded", november.error
    assert (november.rows_read, november.rows_mapped, november.rows_rejected) == (18, 11, 7)
    assert november.rows_unassigned == 2
    assert len(emulators.ledger.bookings(CLIENT)) == 10  # the zero amount books nothing

    assert december.state == "succeeded", december.error
    assert december.rows_read == 0
    assert "Looker returned no rows for 2025-12" in december.warnings

    store = open_sync_store(installed_on.settings)
    try:
        events = list(iter_events(store, chain=CLIENT))
        held = [e for e in events if e.kind == "row_unassigned"]
        run = get_run(store, december.run_id)
    finally:
        store.dispose()
    assert [e.run_id for e in held] == [november.run_id] * 2, "held once, by the first run"
    assert {json.loads(e.payload)["source"]["gl_monthly.period_month"] for e in held} == {
        None,
        "2025/11",
    }
    assert run is not None
    assert run.rows_unassigned == 2
    usd = {r.values["line_id"] for r in rows if r.values["currency"] == "USD"}
    rejections = [json.loads(e.payload)["rejection"] for e in events if e.row_key in usd]
    assert len(rejections) == len(usd) == 2
    assert all(r.startswith("currency_mismatch") for r in rejections), rejections

    store_url = db_url or f"sqlite:///{installed_on.settings.data_dir / 'ml-connector.sqlite3'}"
    shown = CliRunner().invoke(main, ["status", "--store-url", store_url])
    assert shown.exit_code == 0, shown.output
    assert "Looker returned no rows for 2025-12" in shown.output
    assert "2 row(s) of gl-monthly have no readable period" in " ".join(shown.output.split())


def test_rows_in_earlier_periods_no_run_took_on_are_named(
    installed_on: DemoInstall,
    emulators: DemoEmulators,
    db_url: str | None,
    tmp_path: Path,
) -> None:
    data = write_dataset(tmp_path / "dataset", generate(["2025-09", "2025-10", "2025-11"], 3))
    options = dataclasses.replace(FAST, system_database_url=db_url)
    with serving(emulators, data) as url:
        settings = dataclasses.replace(installed_on.settings, looker_url=url)

        def uncovered(period: str) -> list[str]:
            outcome = run_pipeline(settings, PIPELINE, period, options=options, progress=None)
            assert outcome.state == "succeeded", outcome.error
            return [w for w in outcome.warnings if "no run has taken on" in w]

        october = uncovered("2025-10")
        september = uncovered("2025-09")
        november = uncovered("2025-11")
    # a schedule runs the month just closed: rows of September, before the first run,
    # would never be reached; the first run names the month, later ones do not
    assert len(october) == 1
    assert "1 earlier period(s)" in october[0]
    assert "(2025-09)" in october[0]
    assert september == []
    assert november == []
