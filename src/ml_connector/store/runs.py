"""Runs and their files: operational state, updated as a run moves on.

The immutable history of a run lives in the audit trail
(:mod:`ml_connector.store.audit`); these tables answer "what is going on" quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ml_connector.store.tables import DXSO_PROTOCOL, RUN_FILES, RUNS
from ml_connector.store.transactions import utc_now, write_transaction

__all__ = [
    "FINAL_STATES",
    "ProtocolRecord",
    "RunFileRecord",
    "RunRecord",
    "add_file",
    "drop_queued_run",
    "ensure_run",
    "get_run",
    "list_files",
    "list_protocol",
    "list_runs",
    "record_protocol",
    "set_file_job",
    "set_file_outcome",
    "unsettled_files",
    "update_run",
]

#: states a run does not leave (except through a replay, which is a new run)
FINAL_STATES = frozenset({"succeeded", "partial", "failed", "needs_user"})
COUNTS = (
    "rows_read",
    "rows_mapped",
    "rows_rejected",
    "files_written",
    "jobs_succeeded",
    "jobs_failed",
)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as stored."""

    id: str
    pipeline: str
    customer: str
    datev_client: str
    period: str
    state: str
    replay_of: str | None = None
    rows_read: int = 0
    rows_mapped: int = 0
    rows_rejected: int = 0
    files_written: int = 0
    jobs_succeeded: int = 0
    jobs_failed: int = 0
    error: str | None = None
    data_changes: str | None = None
    """JSON ``{kind: count}`` of the data changes of the run's booked rows."""
    money: str | None = None
    """JSON of the batch's money (``report.json`` ``money``)."""
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    warnings: str | None = None
    """What a successful run must still tell, one per line (e.g. no rows from Looker)."""
    rows_unassigned: int = 0
    """The pipeline's rows with no readable period, found by this run (held as no_period)."""


@dataclass(frozen=True, slots=True)
class RunFileRecord:
    """A file of a run as stored."""

    run_id: str
    part: int
    path: str
    filename: str
    sha256: str
    reference_id: str
    lines: int
    datev_job_id: str | None = None
    outcome: str | None = None
    detail: str | None = None


def _insert_ignore(conn: Connection, table: Any, values: dict[str, Any]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(values).on_conflict_do_nothing())


def ensure_run(
    conn: Connection,
    *,
    run_id: str,
    pipeline: str,
    customer: str,
    datev_client: str,
    period: str,
    replay_of: str | None = None,
    state: str = "queued",
) -> None:
    """Insert the run unless it exists (idempotent)."""
    _insert_ignore(
        conn,
        RUNS,
        {
            "id": run_id,
            "pipeline": pipeline,
            "customer": customer,
            "datev_client": datev_client,
            "period": period,
            "replay_of": replay_of,
            "state": state,
            "created_at": utc_now(),
            **dict.fromkeys(COUNTS, 0),
        },
    )


def drop_queued_run(conn: Connection, run_id: str) -> bool:
    """Forget the record of a run taken out of the queue before it started (a run queued
    in a worker's process is recorded as ``queued`` at once); whether there was one."""
    table = RUNS
    done = conn.execute(delete(table).where(table.c.id == run_id, table.c.state == "queued"))
    return done.rowcount > 0


def update_run(conn: Connection, run_id: str, **values: Any) -> None:
    """Set state, counts, error or timestamps of a run."""
    unknown = set(values) - {f.name for f in fields(RunRecord)}
    if unknown:
        raise ValueError(f"unknown run fields: {sorted(unknown)}")
    table = RUNS
    conn.execute(update(table).where(table.c.id == run_id).values(**values))


def add_file(conn: Connection, record: RunFileRecord) -> None:
    """Record a written file of a run (idempotent per run and filename)."""
    values = {f.name: getattr(record, f.name) for f in fields(RunFileRecord)}
    _insert_ignore(conn, RUN_FILES, values)


def set_file_job(conn: Connection, run_id: str, filename: str, datev_job_id: str) -> None:
    """Store the DATEV job id of a submitted file."""
    table = RUN_FILES
    conn.execute(
        update(table)
        .where((table.c.run_id == run_id) & (table.c.filename == filename))
        .values(datev_job_id=datev_job_id, outcome="submitted")
    )


def set_file_outcome(
    conn: Connection, run_id: str, filename: str, outcome: str, detail: str | None
) -> None:
    """Store what DATEV did with a file (``succeeded`` or ``failed``)."""
    table = RUN_FILES
    conn.execute(
        update(table)
        .where((table.c.run_id == run_id) & (table.c.filename == filename))
        .values(outcome=outcome, detail=detail)
    )


def get_run(engine: Engine, run_id: str) -> RunRecord | None:
    """The run ``run_id``, or None."""
    table = RUNS
    with engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == run_id)).first()
    return None if row is None else RunRecord(**row._asdict())


def list_runs(
    engine: Engine, *, customer: str | None = None, pipeline: str | None = None, limit: int = 50
) -> list[RunRecord]:
    """Most recent runs first, optionally of one customer or pipeline."""
    table = RUNS
    query = select(table).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
    if customer is not None:
        query = query.where(table.c.customer == customer)
    if pipeline is not None:
        query = query.where(table.c.pipeline == pipeline)
    with engine.connect() as conn:
        return [RunRecord(**row._asdict()) for row in conn.execute(query)]


def run_periods(engine: Engine, *, pipeline: str, datev_client: str) -> set[str]:
    """The periods (``YYYY-MM``) that some run of ``pipeline`` for ``datev_client`` took on."""
    table = RUNS
    query = (
        select(table.c.period)
        .where(table.c.pipeline == pipeline, table.c.datev_client == datev_client)
        .distinct()
    )
    with engine.connect() as conn:
        return {str(period) for period in conn.scalars(query)}


def list_files(engine: Engine, run_id: str) -> list[RunFileRecord]:
    """Files of a run in part order."""
    table = RUN_FILES
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.part)
    with engine.connect() as conn:
        return [
            RunFileRecord(**{k: v for k, v in row._asdict().items() if k != "id"})
            for row in conn.execute(query)
        ]


def unsettled_files(
    engine: Engine, *, pipeline: str, datev_client: str, period: str, exclude: str
) -> list[RunFileRecord]:
    """Files of the runs of ``pipeline`` for ``period`` (but run ``exclude``) whose DATEV
    outcome is not recorded: sent with a job id but not awaited to its end, or with no
    job id (never sent, or sent and the job id lost in a crash). In run and part order."""
    files, runs = RUN_FILES, RUNS
    query = (
        select(files)
        .join(runs, runs.c.id == files.c.run_id)
        .where(
            (runs.c.pipeline == pipeline)
            & (runs.c.datev_client == datev_client)
            & (runs.c.period == period)
            & (runs.c.id != exclude)
            & (files.c.outcome.is_(None) | (files.c.outcome == "submitted"))
        )
        .order_by(runs.c.created_at, files.c.run_id, files.c.part)
    )
    with engine.connect() as conn:
        return [
            RunFileRecord(**{k: v for k, v in row._asdict().items() if k != "id"})
            for row in conn.execute(query)
        ]


@dataclass(frozen=True, slots=True)
class ProtocolRecord:
    """One stored protocol entry of a run's dxso job (``filename``: the job folder)."""

    filename: str
    datev_job_id: str
    seq: int
    time: str | None
    type: str | None
    text: str | None
    context: str | None = None
    entry_filename: str | None = None


def record_protocol(conn: Connection, run_id: str, entries: list[ProtocolRecord]) -> None:
    """Store the protocol of one dxso job of ``run_id``, unless it is stored already."""
    if not entries:
        return
    table = DXSO_PROTOCOL
    first = entries[0]
    stored = conn.execute(
        select(table.c.id)
        .where((table.c.run_id == run_id) & (table.c.filename == first.filename))
        .limit(1)
    ).first()
    if stored is None:
        conn.execute(
            table.insert(),
            [
                {"run_id": run_id, **{f.name: getattr(e, f.name) for f in fields(e)}}
                for e in entries
            ],
        )


def list_protocol(engine: Engine, run_id: str) -> list[ProtocolRecord]:
    """The stored dxso protocol entries of ``run_id``, per job in DATEV's order."""
    table = DXSO_PROTOCOL
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    with engine.connect() as conn:
        return [
            ProtocolRecord(**{k: v for k, v in row._asdict().items() if k not in ("id", "run_id")})
            for row in conn.execute(query)
        ]


def new_run(engine: Engine, **kwargs: Any) -> None:
    """:func:`ensure_run` in its own transaction."""
    with write_transaction(engine) as conn:
        ensure_run(conn, **kwargs)


__all__ += ["new_run", "run_periods"]
