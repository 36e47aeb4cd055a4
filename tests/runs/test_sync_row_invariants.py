"""Every source row ends posted exactly once or held with a stated reason, to the cent.

A generated GL extract (several months, clean and dirty rows) is served by the Looker
emulator and run month by month through the durable engine into the DATEV emulator,
on SQLite and PostgreSQL; then every month is replayed.

Amounts count as the source states them: a USD row's amount is in USD, and posted
(the ledger's Umsatz) + held = the source total in those units, per month and overall.
The EUR value of a foreign booking (Basis-Umsatz) is checked on its own.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from gl_dataset import USD_RATE, DirtyRow, generate, serving, write_dataset
from sqlalchemy import Engine
from sync_support import CLIENT, PIPELINE

from ml_connector.engine.ports import RunOutcome
from ml_connector.formats.extf.validate import validate_file
from ml_connector.http.polling import PollPolicy
from ml_connector.runs.connect import open_sync_store
from ml_connector.runs.launch import EngineOptions, replay_run, run_pipeline
from ml_connector.store.audit import StoredEvent, iter_events
from ml_connector.store.runs import RunRecord, get_run, list_files
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
    # the row's currency and rate come from its columns (a USD row without a rate is held)
    fields = "[pipelines.gl-monthly.mapping.fields]\n"
    currency = 'wkz_umsatz = "gl_monthly.currency"\nkurs = "gl_monthly.fx_rate"\n'
    assert fields in config
    config = config.replace(fields, fields + currency, 1)
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
        replays = [
            replay_run(settings, outcome.run_id, options=options, progress=None)
            for outcome in outcomes.values()
        ]
        assert {r.state for r in replays} == {"succeeded"}, [r.error for r in replays]
    bookings = emulators.ledger.bookings(CLIENT)
    assert len(bookings) == posted_before, "a replay posted again"
    assert emulators.ledger.duplicates() == []

    store = open_sync_store(installed_on.settings)
    try:
        events = list(iter_events(store, chain=CLIENT))
        counts = _check(store, events, bookings, source, outcomes)
        counts["foreign"] = _check_foreign(events, bookings, source)
        runs = [*outcomes.values(), *replays]
        counts["data_changes"] = _check_data_changes(
            store, events, bookings, source, runs, installed_on.settings.data_dir
        )
    finally:
        store.dispose()
    counts["source_kinds"] = dict(Counter(r.kind for r in source))
    print("\nrow invariants:", json.dumps(counts, indent=2, sort_keys=True))


def _check(
    store: Engine,
    events: list[StoredEvent],
    bookings: list[Booking],
    source: list[DirtyRow],
    outcomes: dict[str, RunOutcome],
) -> dict[str, object]:
    unassigned = [e for e in events if e.kind == "row_unassigned"]
    expected_unassigned = [r for r in source if _period_of(r) is None]
    assert sorted(e.row_key or "" for e in unassigned) == sorted(
        r.values["line_id"] for r in expected_unassigned
    ), "each row without a period is held once, by the first run"
    assert all("no_period" in json.loads(e.payload)["rejection"] for e in unassigned)

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


def _check_foreign(
    events: list[StoredEvent], bookings: list[Booking], source: list[DirtyRow]
) -> dict[str, int]:
    """A USD row with a rate lands in USD with Kurs, Basis-Umsatz (EUR) and WKZ
    Basis-Umsatz; one without a rate is held, never booked as EUR; every other booking
    is in EUR with no rate."""
    by_document = {b.document_field: b for b in bookings}
    rejections = {
        e.row_key: json.loads(e.payload)["rejection"]
        for e in events
        if e.kind == "row" and e.filename is None
    }
    rate = Decimal(USD_RATE)
    booked = held = 0
    for row in source:
        document = row.values["line_id"].replace("|", "/")
        if row.kind == "foreign_with_rate":
            booking = by_document[document]
            base = (abs(row.amount) / rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
            landed = (booking.amount, booking.currency, booking.rate, booking.base_amount)
            assert landed == (abs(row.amount), "USD", rate, base), booking
            assert booking.base_currency == "EUR", booking
            booked += 1
        elif row.kind == "foreign_no_rate":
            assert document not in by_document, "a USD row without a rate was booked"
            assert rejections[row.values["line_id"]].startswith("missing_exchange_rate")
            held += 1
    in_eur = [b for b in bookings if b.currency != "USD"]
    assert len(bookings) - len(in_eur) == booked
    assert all(b.currency in ("", "EUR") and b.rate is b.base_amount is None for b in in_eur)
    return {"usd_booked_with_rate": booked, "usd_held_without_rate": held}


def _check_data_changes(
    store: Engine,
    events: list[StoredEvent],
    bookings: list[Booking],
    source: list[DirtyRow],
    runs: list[RunOutcome],
    data_dir: Path,
) -> dict[str, int]:
    """Every change to a row's data is on the record: each row's changes (its row event)
    add up to the run's ``data_changes`` in report.json and in the run store, and the
    rows with characters outside Windows-1252 or a Belegfeld 1 to clean carry theirs.

    A decomposed (NFD) text is not changed: it lands as the same text, composed (NFC),
    so it carries no change. Returns the first runs' counts (a replay's are the same)."""
    texts = {b.document_field: b.text for b in bookings}
    for row in source:
        if row.kind == "nfd_text":
            document = row.values["line_id"].replace("|", "/")
            assert texts[document] == unicodedata.normalize("NFC", row.values["description"])
    expected_kinds = {
        "emoji_non_latin": "characters_replaced",
        "belegfeld_chars": "document_number_cleaned",
    }
    kind_of = {r.values["line_id"]: r.kind for r in source}
    rows_of: dict[str, list[StoredEvent]] = {}
    for event in events:
        if event.kind == "row":
            rows_of.setdefault(event.run_id or "", []).append(event)
    total: Counter[str] = Counter()
    for outcome in runs:
        tally: Counter[str] = Counter()
        for event in rows_of.get(outcome.run_id, []):
            booking = json.loads(event.payload)["booking"] or {}
            kinds = [c["kind"] for c in booking.get("changes", [])]
            tally.update(kinds)
            expected = expected_kinds.get(kind_of.get(event.row_key or "", ""))
            assert expected is None or expected in kinds, (event.row_key, kinds)
        stored = get_run(store, outcome.run_id)
        assert stored is not None
        assert stored.data_changes is not None
        assert json.loads(stored.data_changes) == dict(tally), outcome.run_id
        report_path = _workdir(data_dir, stored) / "report.json"
        report = json.loads(report_path.read_text("utf-8"))
        reported = {k: n for k, n in report["data_changes"]["counts"].items() if n}
        assert reported == dict(tally), outcome.run_id
        if stored.replay_of is None:
            total.update(tally)
    for kind in expected_kinds.values():
        assert total[kind] >= len(PERIODS), f"each month has a {kind} row"
    return dict(total)


def _workdir(data_dir: Path, run: RunRecord) -> Path:
    """The run's directory, ``files/<pipeline>/<period>/<run>`` (its report.json)."""
    return data_dir / "files" / run.pipeline / run.period / re.sub(r"[^\w.-]", "_", run.id)


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
