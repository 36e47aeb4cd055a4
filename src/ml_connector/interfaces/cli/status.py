"""``ml-connector status``: List recent runs per customer with their outcome."""

from __future__ import annotations

import json
from dataclasses import asdict
from itertools import groupby
from typing import TYPE_CHECKING, Any

import click

from ml_connector.interfaces.cli._store import store_url_option

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ml_connector.store.runs import RunRecord

__all__ = ["status"]

_STATE_STYLE = {
    "succeeded": "green",
    "partial": "yellow",
    "failed": "red",
    "needs_user": "magenta",
    "running": "cyan",
    "queued": "dim",
}


@click.command(name="status")
@click.argument("run_id", required=False)
@click.option("--customer", help="only this customer's runs")
@click.option("--limit", default=20, show_default=True, help="most recent runs to show")
@click.option("--json", "as_json", is_flag=True, help="print the runs as JSON")
@store_url_option
def status(
    run_id: str | None, customer: str | None, limit: int, as_json: bool, store_url: str | None
) -> None:
    """List recent runs per customer with their outcome; with RUN_ID, that run's files,
    their DATEV jobs and the stored DXSO protocol."""
    from rich.table import Table
    from rich.text import Text

    from ml_connector.interfaces.cli._console import console as _console
    from ml_connector.store.open import open_store
    from ml_connector.store.runs import list_runs

    engine = open_store(store_url)
    if run_id is not None:
        try:
            _run_detail(engine, run_id, as_json)
        finally:
            engine.dispose()
        return
    try:
        runs = list_runs(engine, customer=customer, limit=limit)
        replayed = {r.replay_of: r.id for r in runs if r.replay_of}
        hints = {r.id: hint for r in runs if (hint := _next_step(engine, r, replayed)) is not None}
    finally:
        engine.dispose()
    if as_json:
        rows = [
            {
                **asdict(r),
                "data_changes": _counts(r.data_changes),
                "money": _money_json(r.money),
                "next_step": hints.get(r.id),
            }
            for r in runs
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    console = _console()
    if not runs:
        console.print("No runs yet.")
        return
    ordered = sorted(runs, key=lambda r: r.customer)
    for name, group in groupby(ordered, key=lambda r: r.customer):
        table = Table(title=f"customer {name}", title_justify="left")
        errors: list[str] = []
        warnings: list[str] = []
        for column in (
            "run",
            "pipeline",
            "period",
            "state",
            "rows",
            "rejected",
            "data changed",
            "debit = credit",
            "held",
            "jobs ok/failed",
            "finished",
        ):
            table.add_column(column)
        for r in group:
            style = _STATE_STYLE.get(r.state, "")
            table.add_row(
                r.id,
                r.pipeline,
                r.period,
                f"[{style}]{r.state}[/]" if style else r.state,
                str(r.rows_read),
                str(r.rows_rejected),
                _data_changes(r.data_changes),
                *_money_cells(r.money),
                f"{r.jobs_succeeded}/{r.jobs_failed}",
                r.finished_at or "",
            )
            if r.error:
                errors.append(f"{r.id}: {r.error}")
            if r.id in hints:
                errors.append(f"{r.id}: next: {hints[r.id]}")
            for warning in (r.warnings or "").splitlines():
                warnings.append(f"{r.id}: {warning}")
        console.print(table)
        for line in errors:
            console.print(Text(f"  {line}", style="red"), soft_wrap=True)
        for line in warnings:
            console.print(Text(f"  warning {line}", style="yellow"), soft_wrap=True)


def _run_detail(engine: Engine, run_id: str, as_json: bool) -> None:
    """One run: its state, each file with its DATEV job and outcome, the DXSO protocol."""
    from rich.table import Table

    from ml_connector.errors import ConfigurationError
    from ml_connector.interfaces.cli._console import console as _console
    from ml_connector.store.runs import get_run, list_files, list_protocol

    run = get_run(engine, run_id)
    if run is None:
        raise ConfigurationError(f"no run {run_id!r}", hint="see 'ml-connector status'")
    files = list_files(engine, run_id)
    protocol = list_protocol(engine, run_id)
    if as_json:
        detail = {
            "run": asdict(run),
            "files": [asdict(f) for f in files],
            "dxso_protocol": [asdict(p) for p in protocol],
        }
        click.echo(json.dumps(detail, indent=2))
        return
    console = _console()
    console.print(f"run {run.id}: {run.state} ({run.pipeline} {run.period})")
    if run.error:
        console.print(f"  {run.error}", style="red", soft_wrap=True, markup=False)
    table = Table(title="files", title_justify="left")
    for column in ("file", "entries/lines", "DATEV job", "outcome", "detail"):
        table.add_column(column)
    for f in files:
        table.add_row(
            f.filename, str(f.lines), f.datev_job_id or "", f.outcome or "", f.detail or ""
        )
    console.print(table)
    if protocol:
        entries = Table(
            title="DXSO protocol (DATEV deletes it after ~2 months)", title_justify="left"
        )
        for column in ("job", "time", "type", "file", "text"):
            entries.add_column(column)
        for p in protocol:
            entries.add_row(
                p.datev_job_id, p.time or "", p.type or "", p.entry_filename or "", p.text or ""
            )
        console.print(entries)


def _next_step(engine: Engine, run: RunRecord, replayed: dict[str, str]) -> str | None:
    """What ``run`` printed after this run: the same advice, from the stored files, or the
    replay that took it on."""
    from ml_connector.interfaces.cli._engine import advice
    from ml_connector.store.runs import list_files

    if run.state != "failed":
        return None
    if run.id in replayed:
        return f"replayed by {replayed[run.id]}"
    files = list_files(engine, run.id)
    sent = sum(1 for f in files if f.datev_job_id)
    return advice(run.id, run.state, len(files), sent, run.jobs_succeeded + run.jobs_failed)


def _counts(stored: str | None) -> dict[str, int]:
    """The run's stored data-change counts (``{}`` for none or unreadable)."""
    try:
        counts = json.loads(stored) if stored else {}
    except ValueError:
        return {}
    if not isinstance(counts, dict):
        return {}
    return {str(k): v for k, v in counts.items() if isinstance(v, int)}


def _money_json(stored: str | None) -> dict[str, Any]:
    """The run's stored money (``{}`` for none or unreadable); exact decimal strings."""
    try:
        money = json.loads(stored) if stored else {}
    except ValueError:
        return {}
    return money if isinstance(money, dict) else {}


def _money_cells(stored: str | None) -> tuple[str, str]:
    """``debit = credit`` per currency and the held amount, formatted as money."""
    from ml_connector.mapping.money import MoneyFacts, format_money

    try:
        facts = MoneyFacts.from_report(_money_json(stored))
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return "", ""
    booked = ", ".join(
        f"{format_money(debit)} {currency}"
        + ("" if debit == credit else f" (credit {format_money(credit)})")
        for currency, (debit, credit) in facts.totals().items()
    )
    count = sum(h.count for h in facts.held)
    held = f"{format_money(facts.held_amount)} ({count} rows)" if count else ""
    return booked, held


def _data_changes(stored: str | None) -> str:
    """The run's stored data-change counts as ``3 texts shortened, ...`` (empty if none)."""
    from ml_connector.mapping.changes import describe_counts

    return describe_counts(_counts(stored))
