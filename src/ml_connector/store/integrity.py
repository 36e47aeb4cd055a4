"""Cross-checks of the operational tables against a verified audit chain.

``posted_records`` rows and ``runs`` rows live outside the hash chain (they are
queried and, for runs, updated in place), so :func:`ml_connector.store.audit.verify`
checks them against what the chain recorded:

* every file's posted rows must hash to the ``posted`` summary of the file's
  ``job_outcome`` event (count and SHA-256, see
  :class:`~ml_connector.store.posted.PostedDigest`), and every posted row must
  belong to such a file;
* every run's row must show what its ``run_started``, ``rows_recorded`` and
  ``run_finished`` events recorded (pipeline, customer, period, state and counts),
  and every run with events must still have its row.

Each check returns ``(seq, reason)`` of the first mismatch, or None.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from ml_connector.store.posted import PostedDigest
from ml_connector.store.tables import POSTED_RECORDS, RUNS

__all__ = ["ChainFacts", "Mismatch", "check_posted", "check_runs"]

Mismatch = tuple[int, str]
_BATCH = 1000
#: run columns each run event vouches for
_STARTED = ("pipeline", "customer", "period", "replay_of")
_COUNTED = ("rows_read", "rows_mapped", "rows_rejected", "files_written")
_FINISHED = ("state", "jobs_succeeded", "jobs_failed")


@dataclass(slots=True)
class ChainFacts:
    """What a chain's events say about posted rows and runs, collected while verifying."""

    #: (run, file) -> (seq of the job_outcome event, its posted summary)
    posted: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    #: run -> (seq of its latest run event, the run columns the events vouch for)
    runs: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def add(self, *, seq: int, kind: str, run_id: str, filename: str | None, payload: str) -> None:
        """Take note of one verified event."""
        if kind == "job_outcome" and filename is not None:
            summary = json.loads(payload).get("posted")
            if summary is not None:
                self.posted[(run_id, filename)] = (seq, summary)
        elif kind in ("run_started", "rows_recorded", "run_finished"):
            data = json.loads(payload)
            _, expected = self.runs.get(run_id, (seq, {}))
            if kind == "run_started":
                expected |= {name: data.get(name) for name in _STARTED}
                expected["state"] = "running"
            elif kind == "rows_recorded":
                expected |= {name: data[name] for name in _COUNTED if name in data}
            else:
                expected |= {name: data[name] for name in _FINISHED if name in data}
            self.runs[run_id] = (seq, expected)


def _posted_groups(conn: Connection, chain: str) -> Iterator[tuple[tuple[str, str], PostedDigest]]:
    table = POSTED_RECORDS
    query = (
        select(table)
        .where(table.c.datev_client == chain)
        .order_by(table.c.run_id, table.c.filename, table.c.id)
    )
    key: tuple[str, str] | None = None
    digest = PostedDigest()
    for row in conn.execute(query, execution_options={"yield_per": _BATCH}):
        row_key = (str(row.run_id), str(row.filename))
        if row_key != key:
            if key is not None:
                yield key, digest
            key, digest = row_key, PostedDigest()
        digest.add(row._mapping)
    if key is not None:
        yield key, digest


def check_posted(conn: Connection, chain: str, facts: ChainFacts) -> Mismatch | None:
    """The first file whose posted rows differ from its ``job_outcome`` event."""
    seen: set[tuple[str, str]] = set()
    for key, digest in _posted_groups(conn, chain):
        seen.add(key)
        recorded = facts.posted.get(key)
        where = f"posted_records of run {key[0]} file {key[1]}"
        if recorded is None:
            return 0, f"{where} have no job_outcome event that vouches for them"
        seq, summary = recorded
        if digest.mismatched is not None:
            return seq, f"{where}: booking of {digest.mismatched} does not match its digest"
        if digest.summary() != summary:
            return seq, f"{where} do not match the job_outcome event ({summary['rows']} rows)"
    for key, (seq, summary) in facts.posted.items():
        if key not in seen and summary.get("rows"):
            return seq, f"posted_records of run {key[0]} file {key[1]} are missing"
    return None


def _run_rows(conn: Connection, chain: str) -> Mapping[str, Mapping[Any, Any]]:
    table = RUNS
    rows = conn.execute(select(table).where(table.c.datev_client == chain))
    return {str(row.id): row._mapping for row in rows}


def check_runs(conn: Connection, chain: str, facts: ChainFacts) -> Mismatch | None:
    """The first run whose row differs from what its events recorded."""
    rows = _run_rows(conn, chain)
    for run_id, (seq, expected) in facts.runs.items():
        row = rows.get(run_id)
        if row is None:
            return seq, f"run {run_id} has audit events but no row in runs"
        changed = sorted(name for name, value in expected.items() if row[name] != value)
        if changed:
            return seq, f"run {run_id}: {', '.join(changed)} differ from its audit events"
    for run_id, row in rows.items():
        if run_id not in facts.runs and row["state"] != "queued":
            return 0, f"run {run_id} is {row['state']} but has no run_started event"
    return None
