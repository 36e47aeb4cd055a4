"""Every source row ends posted exactly once or held with a stated reason, to the cent.

A generated GL extract (several months, clean and dirty rows) is served by the Looker
emulator and run month by month through the durable engine into the DATEV emulator,
on SQLite and PostgreSQL; then every month is replayed.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from gl_dataset import DirtyRow, generate, serving, write_dataset
from sqlalchemy import Engine
from sync_support import CLIENT, PIPELINE

from ml_connector.engine.ports import RunOutcome
from ml_connector.formats.extf.validate import validate_file
from ml_connector.http.polling import PollPolicy
from ml_connector.runs.connect import open_sync_store
from ml_connector.runs.launch import EngineOptions, replay_run, run_pipeline
from ml_connector.store.audit import StoredEvent, iter_events
from ml_connector.store.runs import list_files
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall
from ml_connector_sandbox.emulators.datev.ledger import Booking

PERIODS = [f"2025-{m:02d}" for m in range(7, 13)]
#: clean rows per month (the dirty ones come on top)
ROWS_PER_PERIOD = 4_000
FAST = EngineOptions(
    queue_polling_interval=0.05, poll=PollPolicy(base=0.05, cap=0.2, floor=0.0, max_polls=200)
)


def _signed(booking: Booking) -> Decimal:
    """The booking's amount as the source signs it (amount on the contra account,
    positive = debit): the contra account is debited when the Konto side is Haben."""
    return booking.amount if booking.debit_credit == "H" else -booking.amount


def _period_of(row: DirtyRow) -> str | None:
    value = row.values["period_month"]
    return value if value in PERIODS else None


@pytest.mark.slow
def test_every_row_is_posted_once_or_held_and_the_amounts_add_up(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None, tmp_path: Path
) -> None:
    # the amount as Looker sends it: no gross-up, so nothing rounds a third decimal away
    config = installed_on.config_path.read_text("utf-8")
    amount = 'amount = "gl_monthly.amount_eur"'
    config, replaced = re.subn(r'(?m)^amount = "round\(.*"$', amount, config)
    assert replaced == 1
    installed_on.config_path.write_text(config, "utf-8")
    source = generate(PERIODS, ROWS_PER_PERIOD)
    data = write_dataset(tmp_path / "dataset", source)
    options = dataclasses.replace(FAST, system_database_url=db_url)
    with serving(emulators, data) as url:
        settings = dataclasses.replace(installed_on.settings, looker_url=url)
        outcomes = {
            period: run_pipeline(settings, PIPELINE, period, options=options, progress=None)
            for period in PERIODS
        }
        assert {o.state for o in outcomes.values()} == {"succeeded"}, [
            o.error for o in outcomes.values()
        ]
        posted_before = len(emulators.ledger.bookings(CLIENT))
        for outcome in outcomes.values():
            again = replay_run(settings, outcome.run_id, options=options, progress=None)
            assert again.state == "succeeded", again.error
    assert len(emulators.ledger.bookings(CLIENT)) == posted_before, "a replay posted again"
    assert emulators.ledger.duplicates() == []

    store = open_sync_store(installed_on.settings)
    try:
        counts = _check(store, emulators, source, outcomes)
    finally:
        store.dispose()
    print("\nrow invariants:", json.dumps(counts, indent=2, sort_keys=True))


def _check(
    store: Engine, emulators: DemoEmulators, source: list[DirtyRow], outcomes: dict[str, RunOutcome]
) -> dict[str, object]:
    events = list(iter_events(store, chain=CLIENT))
    unassigned = [e for e in events if e.kind == "row_unassigned"]
    expected_unassigned = [r for r in source if _period_of(r) is None]
    assert sorted(e.row_key or "" for e in unassigned) == sorted(
        r.values["line_id"] for r in expected_unassigned
    ), "each row without a period is held once, by the first run"
    assert all("no_period" in json.loads(e.payload)["rejection"] for e in unassigned)

    bookings = emulators.ledger.bookings(CLIENT)
    assert all(b.amount != 0 for b in bookings), "no zero-amount booking"
    reasons: Counter[str] = Counter()
    posted_total = held_total = source_total = Decimal("0")
    rows_total = posted_rows = 0
    for period, outcome in outcomes.items():
        run_id = outcome.run_id
        rows = [e for e in events if e.run_id == run_id and e.kind == "row"]
        mine = [r for r in source if _period_of(r) == period]
        assert len(rows) == len(mine), f"{period}: every source row has one row event"
        jobs = set()
        for file in list_files(store, run_id):
            assert validate_file(file.path, expected_client_id=CLIENT).valid, file.path
            jobs.add(file.datev_job_id)
        month_bookings = [b for b in bookings if b.job_id in jobs]
        sent = [e for e in rows if e.filename is not None]
        assert len(month_bookings) == len(sent), f"{period}: each sent row posted once"
        held = _held(rows, reasons)
        posted = sum((_signed(b) for b in month_bookings), Decimal("0"))
        expected = sum((r.amount for r in mine), Decimal("0"))
        assert posted + held == expected, f"{period}: posted {posted} + held {held} != {expected}"
        posted_total += posted
        held_total += held
        source_total += expected
        rows_total += len(mine)
        posted_rows += len(sent)
    assert posted_total + held_total == source_total
    reasons["no_period"] = len(unassigned)
    return {
        "source_rows": len(source),
        "rows_in_periods": rows_total,
        "posted": posted_rows,
        "zero_amount_not_posted": reasons.pop("zero", 0),
        "held": dict(reasons),
        "source_total": str(source_total),
        "posted_total": str(posted_total),
        "held_total": str(held_total),
        "ledger_bookings": len(bookings),
    }


def _held(rows: list[StoredEvent], reasons: Counter[str]) -> Decimal:
    """Sum of the source amounts of the rows not sent; their reasons counted."""
    total = Decimal("0")
    for event in rows:
        if event.filename is not None:
            continue
        payload = json.loads(event.payload)
        rejection = payload["rejection"]
        if rejection is None:
            assert payload["booking"]["lines"] == [], "an unsent mapped row books nothing"
            reasons["zero"] += 1
        else:
            reasons[rejection.split(" ", 1)[0].split(":", 1)[0]] += 1
        amount = payload["source"].get("gl_monthly.amount_eur")
        total += Decimal(str(amount)) if amount not in (None, "") else Decimal("0")
    return total
