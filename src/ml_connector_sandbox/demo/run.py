"""``ml-connector demo``: the whole product on a fresh machine, against both emulators.

:func:`run_demo` starts the Looker and DATEV emulators on loopback, creates a data
directory under ``workdir``, stores the Looker API3 key encrypted, logs in to DATEV
through the emulator's consent step (the real PKCE flow; the emulator consents on
its own), writes the demo configuration with the emulators' URLs, runs the bundled
pipeline for several months through the durable engine, sends the last month's invoices
as DXSO booking suggestions (pipeline ``ar-invoices``), verifies the audit chain and
checks what DATEV received against what ml-connector recorded.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select

from ml_connector.engine.ports import RunOutcome
from ml_connector.engine.runtime import Engine
from ml_connector.errors import ConfigurationError
from ml_connector.formats.dxso.jobs import read_manifest as read_job_manifest
from ml_connector.http.polling import PollPolicy
from ml_connector.mapping.money import MoneyFacts
from ml_connector.paths import ensure_data_dir
from ml_connector.runs.connect import open_sync_store
from ml_connector.runs.documents import read_manifest
from ml_connector.runs.launch import EngineOptions, describe_boundary, engine_settings
from ml_connector.runs.steps import LiveRunSteps
from ml_connector.store.audit import verify
from ml_connector.store.runs import list_files
from ml_connector.store.tables import AuditEventRow
from ml_connector_sandbox.demo.emulators import EMULATOR_DIR, DemoEmulators, running_emulators
from ml_connector_sandbox.demo.setup import (
    DEMO_CUSTOMER,
    DEMO_DXSO_PIPELINE,
    DEMO_PIPELINE,
    add_dxso_pipeline,
    install_demo,
)
from ml_connector_sandbox.demo.summary import (
    DemoDocument,
    DemoDxso,
    DemoFile,
    DemoRejection,
    DemoRun,
    DemoSummary,
    DemoTieOut,
)

__all__ = [
    "DEMO_ENGINE",
    "DEMO_MONTHS",
    "check_fresh",
    "default_workdir",
    "emulator_dir",
    "run_demo",
]

#: a closed quarter of the demo dataset; December holds one row back (a GL account
#: that has no DATEV account mapped yet), so the summary shows a rejection and its reason
DEMO_MONTHS = ("2025-10", "2025-11", "2025-12")
#: the emulator answers at once; poll quickly
DEMO_ENGINE = EngineOptions(
    queue_polling_interval=0.05,
    poll=PollPolicy(base=0.05, cap=0.2, floor=0.0, max_polls=20),
    application_version="ml-connector-demo",
)

Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(f"[demo] {line}", file=sys.stderr, flush=True)


def emulator_dir(workdir: Path) -> Path:
    """Where a demo in ``workdir`` keeps its DATEV emulator's state (in the demo's data dir)."""
    return ensure_data_dir(workdir / "data") / EMULATOR_DIR


def default_workdir(data_dir: Path) -> Path:
    """A fresh directory for one demo under ``data_dir/demo``."""
    return data_dir / "demo" / datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def check_fresh(workdir: Path) -> None:
    """Refuse a ``workdir`` whose data directory holds more than the DATEV emulator's state."""
    data = workdir / "data"
    if data.exists() and any(p.name != EMULATOR_DIR for p in data.iterdir()):
        raise ConfigurationError(
            f"{workdir} holds an earlier demo",
            hint="choose an empty directory with --workdir, or delete that one",
        )


def _rejections(store: SqlEngine, run_id: str, period: str) -> list[DemoRejection]:
    events = AuditEventRow.__table__
    query = (
        select(events.c.row_key, events.c.payload)
        .where((events.c.run_id == run_id) & (events.c.kind == "row"))
        .order_by(events.c.seq)
    )
    found = []
    with store.connect() as conn:
        for row_key, payload in conn.execute(query):
            reason = json.loads(payload).get("rejection")
            if reason:
                found.append(DemoRejection(period, str(row_key), str(reason)))
    return found


def _dxso_jobs(store: SqlEngine, outcomes: Sequence[RunOutcome]) -> tuple[DemoDxso, ...]:
    """The DXSO jobs of the dxso runs, with entries and total from each job's manifest."""
    jobs = []
    for outcome in outcomes:
        for f in list_files(store, outcome.run_id):
            manifest = read_job_manifest(Path(f.path))
            jobs.append(
                DemoDxso(
                    outcome.spec.pipeline,
                    outcome.spec.period,
                    outcome.run_id,
                    outcome.state,
                    f.path,
                    f.lines,
                    Decimal(str(manifest.get("amount", "0"))),
                    f.datev_job_id,
                    f.outcome,
                    f.detail,
                )
            )
    return tuple(jobs)


def _datev_counts(emulators: DemoEmulators, datev_client: str) -> tuple[int, int]:
    """Bookings the DATEV emulator holds for the client: (from EXTF, from DXSO jobs)."""
    ledger = emulators.ledger
    dxso_jobs = {t.job_id for t in ledger.transfers(datev_client) if t.kind == "dxso"}
    bookings = ledger.bookings(datev_client)
    from_dxso = sum(1 for b in bookings if b.job_id in dxso_jobs)
    return len(bookings) - from_dxso, from_dxso


def _summary(
    workdir: Path,
    install_config: Path,
    data_dir: Path,
    all_outcomes: Sequence[RunOutcome],
    store: SqlEngine,
    emulators: DemoEmulators,
    datev_client: str,
) -> DemoSummary:
    outcomes = [o for o in all_outcomes if o.spec.pipeline == DEMO_PIPELINE]
    dxso = _dxso_jobs(store, [o for o in all_outcomes if o.spec.pipeline == DEMO_DXSO_PIPELINE])
    from_extf, from_dxso = _datev_counts(emulators, datev_client)
    runs, files, rejections = [], [], []
    for outcome in outcomes:
        period = outcome.spec.period
        runs.append(
            DemoRun(
                period,
                outcome.run_id,
                outcome.state,
                outcome.rows_read,
                outcome.rows_mapped,
                outcome.rows_rejected,
                outcome.error,
                outcome.warnings,
            )
        )
        files += [
            DemoFile(period, f.path, f.lines, f.datev_job_id, f.outcome, f.detail)
            for f in list_files(store, outcome.run_id)
        ]
        rejections += _rejections(store, outcome.run_id, period)
    reports = verify(store)
    money, tie_outs = _money(data_dir, outcomes, files)
    documents = _documents(files, emulators, datev_client)
    return DemoSummary(
        workdir=str(workdir),
        data_dir=str(data_dir),
        config_path=str(install_config),
        customer=DEMO_CUSTOMER,
        pipeline=DEMO_PIPELINE,
        datev_client=datev_client,
        runs=tuple(runs),
        files=tuple(files),
        rejections=tuple(rejections),
        bookings_posted=sum(f.bookings for f in files if f.outcome == "succeeded"),
        datev_ledger_bookings=from_extf,
        datev_duplicate_transfers=len(emulators.ledger.duplicates()),
        audit_verified=bool(reports) and all(r.ok for r in reports),
        audit_chains=tuple(
            {"chain": r.chain, "events": r.events, "head_hash": r.head_hash, "ok": r.ok}
            for r in reports
        ),
        money=money,
        tie_outs=tie_outs,
        documents=documents,
        dxso=dxso,
        datev_dxso_entries=from_dxso,
    )


def _documents(
    files: Sequence[DemoFile], emulators: DemoEmulators, datev_client: str
) -> tuple[DemoDocument, ...]:
    """The documents each month's run uploaded (its ``documents.json``), checked in DATEV."""
    stored = {(d.id, d.filename) for d in emulators.ledger.documents(datev_client)}
    found: list[DemoDocument] = []
    folders = dict.fromkeys((Path(f.path).parent, f.period) for f in files)
    for folder, period in folders:
        lines = sum(f.bookings for f in files if Path(f.path).parent == folder)
        found += [
            DemoDocument(
                period,
                doc.filename,
                doc.document_id,
                doc.document_type,
                doc.size,
                lines,
                (doc.document_id, doc.filename) in stored,
            )
            for doc in read_manifest(folder)
        ]
    return tuple(found)


def _run_report(data_dir: Path, period: str, files: Sequence[DemoFile]) -> dict[str, Any] | None:
    """The month's ``report.json``: beside its files, else the newest of that month."""
    candidates = [Path(f.path).parent / "report.json" for f in files if f.period == period]
    found = (data_dir / "files").glob(f"*/{period}/*/report.json")
    candidates += sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else None
    return None


def _money(
    data_dir: Path, outcomes: Sequence[RunOutcome], files: Sequence[DemoFile]
) -> tuple[MoneyFacts, tuple[DemoTieOut, ...]]:
    """Money over the months (from each run's report) and each month's tie-out."""
    parts, tie_outs = [], []
    for outcome in outcomes:
        report = _run_report(data_dir, outcome.spec.period, files)
        if report is None:
            continue
        parts.append(MoneyFacts.from_report(report.get("money")))
        tie_out = report.get("tie_out")
        if isinstance(tie_out, dict):
            tie_outs.append(DemoTieOut.from_report(outcome.spec.period, tie_out))
    return MoneyFacts.combined(parts), tuple(tie_outs)


def run_demo(
    workdir: Path,
    *,
    months: list[str] | None = None,
    json_output: bool = False,
    progress: Progress | None = _stderr,
    print_summary: bool = True,
    emulators: DemoEmulators | None = None,
    store_url: str | None = None,
) -> DemoSummary:
    """Run the end-to-end demo in ``workdir`` and return (and print) its summary.

    ``months`` defaults to :data:`DEMO_MONTHS`. The summary goes to stdout as text,
    or as one JSON object with ``json_output``; progress lines go to ``progress``
    (stderr by default). ``emulators`` runs against already running emulators
    (tests) instead of starting fresh ones; ``store_url`` keeps the store in that
    database instead of the data directory. Raises :class:`ConfigurationError` when
    ``workdir`` holds an earlier demo.
    """
    say: Progress = progress or (lambda _line: None)
    periods = list(months or DEMO_MONTHS)
    workdir = workdir.resolve()
    check_fresh(workdir)
    say("starting the Looker and DATEV emulators on loopback")
    with ExitStack() as stack:
        if emulators is None:
            emulators = stack.enter_context(running_emulators(datev_dir=emulator_dir(workdir)))
        say(f"Looker emulator at {emulators.looker_url}, DATEV emulator at {emulators.datev_url}")
        say(f"creating the data directory {workdir / 'data'} and the configuration")
        install = asyncio.run(install_demo(workdir, emulators, store_url=store_url))
        say(f"Looker API3 key stored encrypted; logged in to DATEV as {install.datev_subject}")
        add_dxso_pipeline(install.config_path)
        settings = install.settings
        steps = LiveRunSteps(settings, progress=say)
        current = {"pipeline": DEMO_PIPELINE, "period": ""}

        def boundary(name: str) -> None:
            text = describe_boundary(name)
            if text is not None:
                say(f"{current['pipeline']} {current['period']}: {text}")

        outcomes: list[RunOutcome] = []
        try:
            with Engine(
                engine_settings(settings, DEMO_ENGINE), steps, on_boundary=boundary
            ) as engine:
                # the EXTF months, then the last month's invoices as DXSO suggestions
                todo = [(DEMO_PIPELINE, p) for p in periods] + [(DEMO_DXSO_PIPELINE, periods[-1])]
                for pipeline, period in todo:
                    current.update(pipeline=pipeline, period=period)
                    spec = steps.spec_for(pipeline, period)
                    outcome = engine.wait(engine.enqueue(spec), timeout=300)
                    say(f"{pipeline} {period}: {outcome.state}")
                    outcomes.append(outcome)
            say("verifying the audit chain")
            store = open_sync_store(settings)
            try:
                summary = _summary(
                    workdir,
                    install.config_path,
                    settings.data_dir,
                    outcomes,
                    store,
                    emulators,
                    outcomes[0].spec.datev_client if outcomes else "",
                )
            finally:
                store.dispose()
        finally:
            steps.close()
    if print_summary:
        if json_output:
            print(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))
        else:
            print(summary.render())
    return summary
