"""What the ``run``, ``worker``, ``replay`` and ``mapping preview`` commands share:
settings, the dry run, and outcome output."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ml_connector.engine.ports import RunOutcome
from ml_connector.mapping.restatement import ChangeKind
from ml_connector.mapping.stream import RunFacts, StreamedRun
from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.launch import EngineOptions, outcome_json

__all__ = [
    "advice",
    "cli_settings",
    "dry_run",
    "freeze_imports",
    "next_step",
    "print_outcome",
    "run_through_engine",
    "would_send",
    "would_upload",
]

_STYLE = {"succeeded": "green", "partial": "yellow", "failed": "red", "needs_user": "magenta"}


def cli_settings(
    *,
    config_path: Path | None,
    store_url: str | None,
    looker_url: str | None = None,
    datev_url: str | None = None,
) -> SyncSettings:
    """Settings from command-line options, in the data directory."""
    from ml_connector.paths import default_data_dir

    return SyncSettings(
        data_dir=default_data_dir(),
        store_url=store_url,
        config_path=config_path,
        looker_url=looker_url,
        datev_api_url=datev_url,
    )


def freeze_imports() -> None:
    """Leave what is imported so far out of garbage collection (``gc.freeze``).

    The modules a run needs (engine, mapping, database, HTTP) live until the process
    exits; without this every full collection during the run, and the one at exit
    (about 0.4 s), walks all of their objects again.
    """
    import gc

    gc.freeze()


def next_step(outcome: RunOutcome) -> str | None:
    """What to do after a run that did not succeed, in one sentence (``None``: nothing)."""
    settled = outcome.jobs_succeeded + outcome.jobs_failed
    return advice(outcome.run_id, outcome.state, len(outcome.files), len(outcome.jobs), settled)


def advice(run_id: str, state: str, files: int, jobs: int, settled: int) -> str | None:
    """The next step for a run in ``state`` that sent ``jobs`` of ``files`` files to DATEV,
    ``settled`` of them with a known outcome; shared by ``run`` and ``status``."""
    if state != "failed":
        return None
    replay = f"'ml-connector replay {run_id}'"
    if jobs > settled:
        return (
            f"DATEV received {jobs} of {files} file(s) before the run "
            f"stopped; once DATEV answers again, {replay} finishes the run safely: it asks "
            "DATEV for every file by name and waits for the jobs DATEV took before it reads "
            "Looker again, so nothing is posted twice"
        )
    return f"fix the cause above, then run {replay}"


def print_outcome(outcome: RunOutcome, *, as_json: bool) -> None:
    """The outcome as JSON or as a few lines; exits 1 unless the run succeeded."""
    if as_json:
        click.echo(json.dumps(outcome_json(outcome), indent=2, ensure_ascii=False))
    else:
        from rich.console import Console

        console = Console(highlight=False)
        style = _STYLE.get(outcome.state, "cyan")
        console.print(f"run {outcome.run_id}: [{style}]{outcome.state}[/]")
        console.print(
            f"  rows: {outcome.rows_read} read, {outcome.rows_mapped} mapped, "
            f"{outcome.rows_rejected} rejected"
        )
        for filename in outcome.files:
            job = outcome.jobs.get(filename)
            console.print(f"  file {filename}" + (f" -> DATEV job {job}" if job else ""))
        unknown = len(outcome.jobs) - outcome.jobs_succeeded - outcome.jobs_failed
        console.print(
            f"  DATEV jobs: {outcome.jobs_succeeded} succeeded, {outcome.jobs_failed} failed"
            + (f", {unknown} not known yet" if unknown > 0 else "")
        )
        if outcome.error:
            console.print(f"  [red]error[/]: {outcome.error}", soft_wrap=True)
        if (hint := next_step(outcome)) is not None:
            console.print(f"  next: {hint}", soft_wrap=True, markup=False)
    if outcome.state != "succeeded":
        raise SystemExit(1)


def run_through_engine(
    pipeline: str,
    period: str,
    *,
    config_path: Path | None,
    store_url: str | None,
    system_db_url: str | None,
    looker_url: str | None,
    datev_url: str | None,
    queue_only: bool,
    as_json: bool,
) -> None:
    """``run PIPELINE --period P`` without ``--dry-run``: queue, or run now and print."""
    from ml_connector.interfaces.cli import imports_without_gc

    with imports_without_gc():
        from ml_connector.runs.launch import RunAlreadyExistsError, queue_run, run_pipeline
    freeze_imports()
    settings = cli_settings(
        config_path=config_path, store_url=store_url, looker_url=looker_url, datev_url=datev_url
    )
    options = EngineOptions(system_database_url=system_db_url)
    try:
        if queue_only:
            run_id = queue_run(settings, pipeline, period, options)
            click.echo(f"queued {run_id}; 'ml-connector worker' runs it")
            return
        outcome = run_pipeline(settings, pipeline, period, options=options)
    except RunAlreadyExistsError as exc:
        raise click.ClickException(
            f"{pipeline} {period} ran before ({exc.state}); run it again with "
            f"'ml-connector replay {exc.run_id}' (add --only-failed to resend failed files only)"
        ) from None
    print_outcome(outcome, as_json=as_json)


def dry_run(
    settings: SyncSettings,
    pipeline: str,
    period: str,
    out_dir: Path,
    *,
    rows_file: Path | None = None,
    totals_file: Path | None = None,
    limit: int | None = None,
) -> StreamedRun:
    """The real run's prepare into ``out_dir``, stopped before sending (see
    :meth:`~ml_connector.runs.steps.LiveRunSteps.dry_run`); rows from the customer's
    Looker, or from ``rows_file``/``totals_file``. Errors are the project's own; the
    command group shows them as one line."""
    import asyncio

    from ml_connector.runs.sources import JsonLinesRows
    from ml_connector.runs.steps import LiveRunSteps

    steps = LiveRunSteps(settings)
    try:
        if rows_file is not None or totals_file is not None:
            steps.source = JsonLinesRows(rows_file, totals_file, fallback=steps)
        spec = steps.spec_for(pipeline, period)
        return asyncio.run(steps.dry_run(spec, out_dir, limit=limit))
    finally:
        steps.close()


def would_upload(out_dir: Path, facts: RunFacts) -> list[str]:
    """One line per supporting document a ready run would upload, and what links it."""
    from ml_connector.runs.documents import read_manifest

    lines = []
    for doc in read_manifest(out_dir):
        rows = (
            f"all {facts.lines_to_post} booking line(s)"
            if doc.row_keys is None
            else f"{len(doc.row_keys)} booking line(s), one per row naming it"
        )
        size = f"{doc.size:,} bytes" if doc.path else "not rendered: rows from a file"
        lines.append(
            f"would upload {doc.filename} ({doc.document_type}, {size}, "
            f"id {doc.document_id}) and link it from {rows} (Beleglink)"
        )
    return lines


def would_send(facts: RunFacts, files: int) -> str:
    """One line on what a ready run would send, and what it skips as already posted."""
    count = facts.changes.get
    unchanged = count(ChangeKind.UNCHANGED.value, 0)
    skipped = f"{unchanged} row(s) unchanged since their last posting, skipped"
    if not facts.lines_to_post:
        return f"nothing to send; {skipped}"
    changed = count(ChangeKind.CHANGED.value, 0)
    corrected = (
        f"{changed} changed row(s) not re-posted (append_only)"
        if facts.restatement_mode == "append_only"
        else f"{changed} corrected"
    )
    return (
        f"would send {facts.lines_to_post} booking line(s) in {files} file(s): "
        f"{count(ChangeKind.NEW.value, 0)} new row(s), {corrected}, "
        f"{count(ChangeKind.GONE.value, 0)} gone, {facts.reversals} reversal line(s); {skipped}"
    )
