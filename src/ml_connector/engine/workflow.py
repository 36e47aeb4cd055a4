"""The durable run: one DBOS workflow per run, its steps calling the injected :class:`RunSteps`.

Step order: start -> (a replay: settle the period's earlier files) -> prepare -> record
rows -> submit every file -> poll each job (durable sleeps in between) -> record each
outcome -> finish -> notify. A replay first awaits every DATEV job of an earlier run
of the period whose outcome is not recorded and records it, so its restatement sees
what DATEV posted; a job still pending after the budget is left unrecorded. DBOS
checkpoints every step's result; after a crash the workflow resumes after the last
completed step. Steps that write the store are idempotent on their own (they look
for their audit marker inside the same transaction), so a crash after the write but
before the checkpoint does no harm, and the submit step asks DATEV first whether
the file arrived already.

The injected dependencies live in a process-wide slot (:func:`install`), set by
:class:`~ml_connector.engine.runtime.Engine` before DBOS launches; workflow
arguments stay small and serialisable.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import chain as chain_items
from itertools import islice
from pathlib import Path
from typing import ParamSpec, TypeVar

from dbos import DBOS
from sqlalchemy import Connection
from sqlalchemy import Engine as SqlEngine

from ml_connector.canonical import canonical_json
from ml_connector.engine.dbos_compat import NONDETERMINISM_ERRORS, step_failure_cause
from ml_connector.engine.ports import (
    DatevJobPendingError,
    DocumentSteps,
    JobStatus,
    Prepared,
    PreparedDocument,
    PreparedFile,
    RowEventText,
    RunBlockedError,
    RunOutcome,
    RunSpec,
    RunState,
    RunSteps,
    iter_records,
    iter_row_events,
)
from ml_connector.errors import (
    ConfigurationError,
    MlConnectorError,
    NeedsUserError,
    RetriableError,
)
from ml_connector.formats.dxso.jobs import JOB_PREFIX as DXSO_JOB_PREFIX
from ml_connector.http.polling import DATEV_JOB_POLLING, PollPolicy, poll_delay
from ml_connector.store import runs as run_store
from ml_connector.store.audit import (
    AuditEvent,
    anchor_document,
    append_in,
    file_bookings,
    has_event,
    head_in,
    recorded_row_sources,
)
from ml_connector.store.posted import PostedRecord, record_posted_in
from ml_connector.store.transactions import utc_now, write_transaction

__all__ = ["WORKFLOW_NAME", "EngineDeps", "RunRequest", "install", "run_workdir", "run_workflow"]

log = logging.getLogger(__name__)

WORKFLOW_NAME = "ml_connector.run"
P = ParamSpec("P")
R = TypeVar("R")
#: a boundary hook gets names like "prepare", "submitted:1", "submit:1", "poll:1"
BoundaryHook = Callable[[str], None]
Notifier = Callable[[RunOutcome], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Workflow argument: the run's id, what to run, and replay options."""

    run_id: str
    spec: RunSpec
    replay_of: str | None = None
    #: filenames already accepted by DATEV in the replayed run (``--only-failed``)
    skip_files: frozenset[str] = field(default_factory=frozenset)


@dataclass(slots=True)
class EngineDeps:
    """What the workflow's steps use; installed once per process."""

    store: SqlEngine
    steps: RunSteps
    workdir: Path
    notifier: Notifier | None = None
    poll: PollPolicy = DATEV_JOB_POLLING
    on_boundary: BoundaryHook | None = None
    #: called with the run id when a run's workflow returns in this process (it wakes
    #: a caller waiting for the run; DBOS records the outcome right after)
    on_end: Callable[[str], None] | None = None


_deps: EngineDeps | None = None


def install(deps: EngineDeps | None) -> None:
    """Set (or clear) the dependencies the steps of this process use."""
    global _deps
    _deps = deps


def _get() -> EngineDeps:
    if _deps is None:
        raise RuntimeError("engine dependencies not installed; start runs through Engine")
    return _deps


def _boundary(name: str) -> None:
    hook = _get().on_boundary
    if hook is not None:
        hook(name)


def is_dxso_job(file: PreparedFile) -> bool:
    """Whether ``file`` is a dxso job folder (sent by :mod:`ml_connector.engine.dxso`)."""
    return file.filename.startswith(DXSO_JOB_PREFIX)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _workdir(req: RunRequest) -> Path:
    """``files/<pipeline>/<period>/<run>``: a replay keeps the original run's files intact."""
    return run_workdir(_get().workdir, req.spec.pipeline, req.spec.period, req.run_id)


def run_workdir(root: Path, pipeline: str, period: str, run_id: str) -> Path:
    """Where run ``run_id`` writes its files and ``report.json`` under ``root``."""
    return root / _safe(pipeline) / period / _safe(run_id)


# ---------------------------------------------------------------- steps


@DBOS.step(name="ml_connector.start")
async def _start_step(req: RunRequest) -> None:
    def write() -> None:
        with write_transaction(_get().store) as conn:
            run_store.ensure_run(
                conn,
                run_id=req.run_id,
                pipeline=req.spec.pipeline,
                customer=req.spec.customer,
                datev_client=req.spec.datev_client,
                period=req.spec.period,
                replay_of=req.replay_of,
            )
            if not has_event(conn, run_id=req.run_id, kind="run_started"):
                payload = {
                    "pipeline": req.spec.pipeline,
                    "customer": req.spec.customer,
                    "period": req.spec.period,
                    "replay_of": req.replay_of,
                    "skip_files": sorted(req.skip_files),
                }
                append_in(
                    conn, req.spec.datev_client, [AuditEvent("run_started", req.run_id, payload)]
                )
            run_store.update_run(conn, req.run_id, state="running", started_at=utc_now())

    await asyncio.to_thread(write)
    _boundary("start")


@DBOS.step(name="ml_connector.prepare")
async def _prepare_step(req: RunRequest) -> Prepared:
    workdir = _workdir(req)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        prepared = await _get().steps.prepare(req.spec, workdir)
    except RunBlockedError as exc:
        # what was read is recorded all the same; the run then ends as failed
        prepared = replace(exc.prepared, blocked=str(exc))
    _boundary("prepare")
    return prepared


#: rows appended per transaction (SQLite holds its write lock for one chunk at a time)
ROWS_PER_TRANSACTION = 20_000


def _row_event(run_id: str, row: RowEventText) -> AuditEvent:
    return AuditEvent(
        "row", run_id, row_key=row.row_key, filename=row.filename, payload_json=row.payload_json
    )


def _record_files(conn: Connection, req: RunRequest, prepared: Prepared) -> None:
    if has_event(conn, run_id=req.run_id, kind="file_written"):
        return
    for f in prepared.files:
        record = run_store.RunFileRecord(
            req.run_id, f.part, f.path, f.filename, f.sha256, f.reference_id, f.lines
        )
        run_store.add_file(conn, record)
    events = [
        AuditEvent(
            "file_written",
            req.run_id,
            {
                "path": f.path,
                "sha256": f.sha256,
                "part": f.part,
                "reference_id": f.reference_id,
                "lines": f.lines,
            },
            filename=f.filename,
        )
        for f in prepared.files
    ]
    append_in(conn, req.spec.datev_client, events)


def _rows_per_transaction() -> int:
    return ROWS_PER_TRANSACTION


class _Counted:
    """An iterator of row records that counts what went through it."""

    def __init__(self, records: Iterator[RowEventText]) -> None:
        self._records = records
        self.count = 0

    def __iter__(self) -> Iterator[RowEventText]:
        for record in self._records:
            self.count += 1
            yield record

    def drain(self) -> None:
        """Skip the rest (a chunk recorded before a crash)."""
        for _ in self:
            pass


def _chunk_events(run_id: str, batch: _Counted, marker: str) -> Iterator[AuditEvent]:
    """A chunk's row events, then its ``rows_chunk`` marker (one append, one lock)."""
    for record in batch:
        yield _row_event(run_id, record)
    yield AuditEvent("rows_chunk", run_id, {"rows": batch.count}, marker)


@DBOS.step(name="ml_connector.record_rows")
async def _record_rows_step(req: RunRequest, prepared: Prepared) -> None:
    """Files, then rows in chunks, each chunk with its marker in the same transaction."""
    chain = req.spec.datev_client
    store = _get().store

    def write() -> None:
        with write_transaction(store) as conn:
            if has_event(conn, run_id=req.run_id, kind="rows_recorded"):
                return
            _record_files(conn, req, prepared)
        # streamed from the records file: memory does not depend on the chunk size
        records = iter_row_events(Path(prepared.records_path))
        per_chunk = _rows_per_transaction()
        chunk = 0
        while (first := next(records, None)) is not None:
            batch = _Counted(chain_items([first], islice(records, per_chunk - 1)))
            with write_transaction(store) as conn:
                marker = str(chunk)
                if has_event(conn, run_id=req.run_id, kind="rows_chunk", row_key=marker):
                    batch.drain()
                else:
                    append_in(conn, chain, _chunk_events(req.run_id, batch, marker))
            _boundary(f"rows_chunk:{chunk}")
            chunk += 1
        counts = {
            "rows_read": prepared.rows_read,
            "rows_mapped": prepared.rows_mapped,
            "rows_rejected": prepared.rows_rejected,
            "files_written": len(prepared.files),
            "rows_unassigned": prepared.rows_unassigned,
        }
        changes = dict(prepared.data_changes)
        with write_transaction(store) as conn:
            if not has_event(conn, run_id=req.run_id, kind="rows_recorded"):
                fresh = _record_unassigned(conn, req, prepared)
                payload = {**counts, "unassigned_recorded": fresh, "data_changes": changes}
                append_in(conn, chain, [AuditEvent("rows_recorded", req.run_id, payload)])
                run_store.update_run(
                    conn,
                    req.run_id,
                    warnings="\n".join(prepared.warnings) or None,
                    data_changes=json.dumps(changes, sort_keys=True),
                    money=json.dumps(prepared.money, sort_keys=True) if prepared.money else None,
                    **counts,
                )

    await asyncio.to_thread(write)
    _boundary("record_rows")


#: kind of the audit event of a row with no readable period (one per key and content)
UNASSIGNED = "row_unassigned"


def _record_unassigned(conn: Connection, req: RunRequest, prepared: Prepared) -> int:
    """Record the pipeline's rows without a period that no run recorded yet (same key
    and content); how many were new. These rows belong to no period: whichever run
    finds them first puts them on the record, later runs only count them."""
    if prepared.unassigned_path is None:
        return 0
    spec = req.spec
    records = list(iter_records(Path(prepared.unassigned_path)))
    seen = recorded_row_sources(
        conn,
        chain=spec.datev_client,
        kind=UNASSIGNED,
        pipeline=spec.pipeline,
        keys=(r.row_key for r in records),
    )
    events = []
    for record in records:
        identity = (record.row_key, canonical_json(dict(record.source)))
        if identity in seen:
            continue
        seen.add(identity)
        payload = {"source": dict(record.source), "rejection": record.rejection}
        events.append(AuditEvent(UNASSIGNED, req.run_id, payload, row_key=record.row_key))
    if events:
        append_in(conn, spec.datev_client, events)
    return len(events)


#: longest text of DATEV's reasons kept in ``runs.error``
MAX_ERROR_CHARS = 2000


def _error_text(exc: BaseException) -> str:
    """What ``runs.error`` and the notification say about ``exc``: the project's own
    message (written to be shown), else only the error's class and where to look,
    since a database or library message can quote the rows it was handling."""
    if isinstance(exc, MlConnectorError):
        return str(exc)
    orig = getattr(exc, "orig", None)  # a database driver's error behind SQLAlchemy's
    name = type(orig).__name__ if isinstance(orig, BaseException) else type(exc).__name__
    return f"unexpected {name}; the worker log has the details (then replay the run)"


def _job_failures(failures: list[str]) -> str:
    text = "DATEV rejected " + "; ".join(failures)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _retriable(exc: BaseException) -> bool:
    return isinstance(exc, RetriableError)


def datev_step(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A durable step that calls DATEV: a retriable error (a timeout, a 5xx, a 429) is
    retried twice (after 5 s, then 10 s); anything else fails the step at once."""
    return DBOS.step(
        name=name,
        retries_allowed=True,
        max_attempts=3,
        interval_seconds=5.0,
        should_retry=_retriable,
    )


@datev_step("ml_connector.submit")
async def _submit_step(req: RunRequest, file: PreparedFile) -> str:
    steps = _get().steps
    earlier = await steps.find_submission(req.spec, file)
    job_id = earlier if earlier is not None else await steps.submit(req.spec, file)
    _boundary(f"submitted:{file.part}")
    await asyncio.to_thread(_record_submission, req, file, job_id, earlier is not None)
    _boundary(f"submit:{file.part}")
    return job_id


def _record_submission(
    req: RunRequest,
    file: PreparedFile,
    job_id: str,
    found: bool,
    extra: Mapping[str, object] | None = None,
) -> None:
    """Store the DATEV job of ``file`` of run ``req`` and its ``file_submitted`` event
    (``found``: DATEV had the file already; ``extra``: more to record, e.g. a dxso
    job's ledger folder); idempotent."""
    with write_transaction(_get().store) as conn:
        run_store.set_file_job(conn, req.run_id, file.filename, job_id)
        if not has_event(conn, run_id=req.run_id, kind="file_submitted", filename=file.filename):
            payload = {
                "datev_job_id": job_id,
                "reference_id": file.reference_id,
                "found_earlier_submission": found,
                **(extra or {}),
            }
            event = AuditEvent("file_submitted", req.run_id, payload, filename=file.filename)
            append_in(conn, req.spec.datev_client, [event])


@datev_step("ml_connector.upload_document")
async def _document_step(req: RunRequest, number: int, document: PreparedDocument) -> bool:
    """Upload one supporting document under its deterministic id, then record it.

    A crash after the upload and before the record repeats the upload: DATEV answers
    that it has the id, and it is recorded as already there, never stored twice."""
    steps = _get().steps
    if not isinstance(steps, DocumentSteps):
        raise ConfigurationError("this run has documents but its steps cannot upload them")
    created = await steps.upload_document(req.spec, document)
    _boundary(f"uploaded_document:{number}")
    await asyncio.to_thread(_record_document, req, document, created)
    _boundary(f"document:{number}")
    return created


def _record_document(req: RunRequest, document: PreparedDocument, created: bool) -> None:
    """The ``document_uploaded`` event: which document, linked to which rows; idempotent."""
    with write_transaction(_get().store) as conn:
        if has_event(conn, run_id=req.run_id, kind="document_uploaded", filename=document.filename):
            return
        payload = {
            "document_id": document.document_id,
            "document_type": document.document_type,
            "source": document.source,
            "sha256": document.sha256,
            "size": document.size,
            "linked_rows": "all" if document.row_keys is None else list(document.row_keys),
            "already_there": not created,
        }
        event = AuditEvent("document_uploaded", req.run_id, payload, filename=document.filename)
        append_in(conn, req.spec.datev_client, [event])


@datev_step("ml_connector.poll")
async def _poll_step(req: RunRequest, file: PreparedFile, job_id: str) -> JobStatus:
    status = await _get().steps.poll(req.spec, file, job_id)
    _boundary(f"poll:{file.part}")
    return status


@DBOS.step(name="ml_connector.record_outcome")
async def _outcome_step(
    req: RunRequest,
    file: PreparedFile,
    job_id: str,
    status: JobStatus,
    settled_by: str | None = None,
    refused: tuple[tuple[int, str], ...] = (),
) -> None:
    """Record what DATEV did with ``file`` of run ``req``; on success its rows become
    posted records. ``settled_by``: the replay that awaited the job of an earlier run;
    ``refused``: (line, DATEV's reason) of entries a partly processed dxso job did not
    import (held: not posted, so a replay sends them again)."""
    spec = req.spec
    skip = frozenset(line for line, _ in refused)

    def posted(conn: Connection) -> Iterator[PostedRecord]:
        """The file's booking lines, read back from its ``row`` events (indexed by run)."""
        lines = file_bookings(conn, run_id=req.run_id, filename=file.filename, skip_lines=skip)
        for row_key, booking in lines:
            yield PostedRecord(
                pipeline=spec.pipeline,
                datev_client=spec.datev_client,
                period=spec.period,
                row_key=row_key,
                booking_json=booking,
                run_id=req.run_id,
                filename=file.filename,
                datev_job_id=job_id,
            )

    def write() -> None:
        with write_transaction(_get().store) as conn:
            if has_event(conn, run_id=req.run_id, kind="job_outcome", filename=file.filename):
                return
            payload: dict[str, object] = {
                "datev_job_id": job_id,
                "outcome": status.state,
                "detail": status.detail,
            }
            if settled_by is not None:
                payload["settled_by"] = settled_by
            if refused:
                payload["refused"] = [{"line": line, "reason": why} for line, why in refused]
            if status.state == "succeeded":
                # the posted rows come under the chain: audit verify recomputes this
                payload["posted"] = record_posted_in(conn, posted(conn)).summary()
            event = AuditEvent("job_outcome", req.run_id, payload, filename=file.filename)
            append_in(conn, spec.datev_client, [event])
            run_store.set_file_outcome(conn, req.run_id, file.filename, status.state, status.detail)

    await asyncio.to_thread(write)
    _boundary(f"outcome:{file.part}")


@DBOS.step(name="ml_connector.finish")
async def _finish_step(outcome: RunOutcome) -> dict[str, object]:
    """Record how the run ended; returns the audit anchor after it (also in the run's
    ``audit-anchor.json``)."""

    def write() -> dict[str, object]:
        with write_transaction(_get().store) as conn:
            if not has_event(conn, run_id=outcome.run_id, kind="run_finished"):
                payload = {
                    "state": outcome.state,
                    "rows_read": outcome.rows_read,
                    "rows_mapped": outcome.rows_mapped,
                    "rows_rejected": outcome.rows_rejected,
                    "jobs_succeeded": outcome.jobs_succeeded,
                    "jobs_failed": outcome.jobs_failed,
                    "error": outcome.error,
                    "warnings": list(outcome.warnings),
                }
                event = AuditEvent("run_finished", outcome.run_id, payload)
                append_in(conn, outcome.spec.datev_client, [event])
            run_store.update_run(
                conn,
                outcome.run_id,
                state=outcome.state,
                jobs_succeeded=outcome.jobs_succeeded,
                jobs_failed=outcome.jobs_failed,
                error=outcome.error,
                finished_at=utc_now(),
            )
            return anchor_document([head_in(conn, outcome.spec.datev_client)])

    anchor = await asyncio.to_thread(write)
    _write_anchor(outcome, anchor)
    _boundary("finish")
    return anchor


def _write_anchor(outcome: RunOutcome, anchor: dict[str, object]) -> None:
    """``audit-anchor.json`` next to the run's files and report."""
    request = RunRequest(outcome.run_id, outcome.spec)
    workdir = _workdir(request)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "audit-anchor.json").write_text(json.dumps(anchor, indent=2) + "\n", "utf-8")


@DBOS.step(name="ml_connector.notify")
async def _notify_step(outcome: RunOutcome) -> None:
    notifier = _get().notifier
    if notifier is None:
        return
    try:
        await notifier(outcome)
    except Exception:  # a failed notification must not fail the run
        log.exception("notification for run %s failed", outcome.run_id)


# ---------------------------------------------------------------- workflow

_NONDETERMINISM = NONDETERMINISM_ERRORS


PollStep = Callable[[RunRequest, PreparedFile, str], Awaitable[JobStatus]]


async def _await_job(
    req: RunRequest, file: PreparedFile, job_id: str, poll: PollStep | None = None
) -> JobStatus:
    """Poll the job (with ``poll``, default the EXTF poll step) until it ends, within the
    polling budget and with durable sleeps; still ``pending`` after it."""
    policy = _get().poll
    poll_step = poll or _poll_step
    status = JobStatus("pending")
    for attempt in range(1, policy.max_polls + 1):
        status = await poll_step(req, file, job_id)
        if status.state != "pending":
            return status
        if attempt < policy.max_polls:
            await DBOS.sleep_async(poll_delay(attempt, policy, retry_after=status.retry_after))
    return status


def _pending_text(job_id: str, filename: str) -> str:
    return f"DATEV job {job_id} of {filename} still pending after {_get().poll.max_polls} polls"


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A file of an earlier run of the period that DATEV has, its outcome not recorded."""

    run_id: str
    file: PreparedFile
    job_id: str


def _prepared_file(record: run_store.RunFileRecord) -> PreparedFile:
    return PreparedFile(
        record.part, record.path, record.filename, record.sha256, record.reference_id, record.lines
    )


@datev_step("ml_connector.unsettled")
async def _unsettled_step(req: RunRequest) -> tuple[Unsettled, ...]:
    """The files of earlier runs of the period whose DATEV job has no recorded outcome:
    those with a stored job id, and those DATEV finds by name (sent, then a crash before
    the job id was stored; the job id is stored now)."""
    spec = req.spec
    records = await asyncio.to_thread(
        run_store.unsettled_files,
        _get().store,
        pipeline=spec.pipeline,
        datev_client=spec.datev_client,
        period=spec.period,
        exclude=req.run_id,
    )
    found: list[Unsettled] = []
    for record in records:
        file = _prepared_file(record)
        job_id = record.datev_job_id
        if job_id is None:
            if is_dxso_job(file):
                continue  # dxso-jobs has no job list: a job with no stored id is unknown
            job_id = await _get().steps.find_submission(spec, file)
            if job_id is None:
                continue  # DATEV does not have it: nothing to settle
            earlier = RunRequest(record.run_id, spec)
            await asyncio.to_thread(_record_submission, earlier, file, job_id, True)
        found.append(Unsettled(record.run_id, file, job_id))
    return tuple(found)


async def _settle_earlier(req: RunRequest) -> None:
    """Await every DATEV job of an earlier run of the period whose outcome is not
    recorded and record it (posted records, audit), so that the replay's restatement
    sees those rows as posted. A job still pending blocks the replay."""
    for item in await _unsettled_step(req):
        earlier = RunRequest(item.run_id, req.spec)
        if is_dxso_job(item.file):
            from ml_connector.engine import dxso  # dxso steps build on this module's

            await dxso.settle_earlier(req, earlier, item.file, item.job_id)
            continue
        status = await _await_job(earlier, item.file, item.job_id)
        if status.state == "pending":
            raise DatevJobPendingError(
                f"{_pending_text(item.job_id, item.file.filename)} (run {item.run_id}); "
                "the replay sent nothing",
                hint=f"replay {req.replay_of or req.run_id} again later",
            )
        await _outcome_step(earlier, item.file, item.job_id, status, settled_by=req.run_id)


async def _send(
    req: RunRequest, prepared: Prepared, outcome: RunOutcome, jobs: dict[str, str]
) -> RunOutcome:
    """Submit every file, await its job and record what DATEV did; ``jobs`` (file name
    -> DATEV job id) fills as files are submitted, so a failing step leaves it known."""
    todo = [f for f in prepared.files if f.filename not in req.skip_files]
    for number, document in enumerate(prepared.documents, start=1):
        await _document_step(req, number, document)
    if any(is_dxso_job(f) for f in todo):
        from ml_connector.engine import dxso  # dxso steps build on this module's

        return await dxso.send_jobs(req, todo, outcome, jobs)
    for file in todo:
        jobs[file.filename] = await _submit_step(req, file)
    tally = JobTally()
    for file in todo:
        job_id = jobs[file.filename]
        status = await _await_job(req, file, job_id)
        if status.state == "pending":
            # no outcome is recorded: a replay awaits this job before it prepares
            tally.pending.append(_pending_text(job_id, file.filename))
            continue
        await _outcome_step(req, file, job_id, status)
        tally.add(file, status)
    return tally.outcome(outcome, jobs)


@dataclass(slots=True)
class JobTally:
    """What DATEV did with a run's files so far, and how the run ends from it."""

    succeeded: int = 0
    failures: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    #: what a file DATEV accepted still tells (dxso entries not imported)
    notes: list[str] = field(default_factory=list)

    def add(self, file: PreparedFile, status: JobStatus, note: str | None = None) -> None:
        """Count one recorded outcome."""
        if status.state == "succeeded":
            self.succeeded += 1
        else:
            self.failures.append(f"{file.filename}: {status.detail or 'no reason given'}")
        if note is not None:
            self.notes.append(note)

    def outcome(self, outcome: RunOutcome, jobs: Mapping[str, str]) -> RunOutcome:
        """``outcome`` with the run's state, job counts and error."""
        failed = len(self.failures)  # a pending job is neither: its outcome is not known yet
        unsure = failed + len(self.pending) + len(self.notes)
        state: RunState = (
            "succeeded" if unsure == 0 else ("partial" if self.succeeded else "failed")
        )
        errors = [_job_failures(self.failures + self.notes)] if failed or self.notes else []
        if self.pending:
            errors.append(
                "; ".join(self.pending) + " (fix: replay the run later; it awaits the job)"
            )
        return replace(
            outcome,
            state=state,
            jobs=dict(jobs),
            jobs_succeeded=self.succeeded,
            jobs_failed=failed,
            error="; ".join(errors) or None,
        )


@DBOS.workflow(name=WORKFLOW_NAME)
async def run_workflow(req: RunRequest) -> RunOutcome:
    """One run of a pipeline for a period, durable step by step."""
    await _start_step(req)
    outcome = RunOutcome(run_id=req.run_id, spec=req.spec, state="running", replay_of=req.replay_of)
    jobs: dict[str, str] = {}  # files DATEV has, kept in the outcome when a later step fails
    try:
        if req.replay_of is not None:
            await _settle_earlier(req)
        prepared = await _prepare_step(req)
        outcome = replace(
            outcome,
            rows_read=prepared.rows_read,
            rows_mapped=prepared.rows_mapped,
            rows_rejected=prepared.rows_rejected,
            files=tuple(f.filename for f in prepared.files),
        )
        outcome = replace(
            outcome, warnings=prepared.warnings, rows_unassigned=prepared.rows_unassigned
        )
        await _record_rows_step(req, prepared)
        if prepared.blocked is not None:
            outcome = replace(
                outcome, state="failed", error=prepared.blocked, error_kind="RunBlockedError"
            )
        else:
            outcome = await _send(req, prepared, outcome, jobs)
    except _NONDETERMINISM:
        raise
    except NeedsUserError as exc:
        outcome = replace(
            outcome,
            state="needs_user",
            jobs=dict(jobs),
            error=str(exc),
            error_kind=type(exc).__name__,
        )
    except Exception as exc:
        log.exception("run %s failed", req.run_id)
        cause = step_failure_cause(exc)
        outcome = replace(
            outcome,
            state="failed",
            jobs=dict(jobs),
            error=_error_text(cause),
            error_kind=type(cause).__name__,
        )
    outcome = replace(outcome, audit_anchor=await _finish_step(outcome))
    if (
        outcome.state in ("failed", "partial", "needs_user")
        or outcome.rows_rejected
        or outcome.warnings
    ):
        # held rows wait for a correction and a replay: someone has to be told
        await _notify_step(outcome)
    if (on_end := _get().on_end) is not None:
        on_end(req.run_id)
    return outcome
