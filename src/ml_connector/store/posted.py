"""What was posted to DATEV, per record key: the memory behind restatements.

Append-only (the database refuses UPDATE and DELETE): every posting of a record key
adds a row with the content digest and the booking line; the newest row per key is
the current state. A restated period compares its new records against
:func:`latest` to post only what changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from ml_connector.canonical import canonical_json, sha256_hex
from ml_connector.store.tables import POSTED_RECORDS
from ml_connector.store.transactions import utc_now, write_transaction

__all__ = [
    "PostedDigest",
    "PostedRecord",
    "PostedState",
    "iter_latest",
    "latest",
    "record_posted",
    "record_posted_in",
]

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class PostedRecord:
    """One record key's posted booking line, as canonical JSON (``booking_json``)."""

    pipeline: str
    datev_client: str
    period: str
    row_key: str
    booking_json: str
    run_id: str
    filename: str | None = None
    datev_job_id: str | None = None

    @property
    def digest(self) -> str:
        """Content digest of the booking line (SHA-256 of its canonical JSON)."""
        return sha256_hex(self.booking_json)


#: the columns of a posted row that its audit hash covers (``payload`` via ``digest``)
HASHED_COLUMNS = (
    "pipeline",
    "datev_client",
    "period",
    "row_key",
    "digest",
    "run_id",
    "filename",
    "datev_job_id",
)


class PostedDigest:
    """Count and running SHA-256 of a file's posted rows, in the order they were stored.

    The outcome step records it in the file's ``job_outcome`` audit event and
    ``audit verify`` recomputes it, so an edited, added or removed posted row (or one
    whose booking no longer matches its digest) fails verification.
    """

    def __init__(self) -> None:
        self.rows = 0
        self._hash = hashlib.sha256()
        self.mismatched: str | None = None

    def add(self, row: Mapping[Any, Any]) -> None:
        """Add one stored row (a mapping with the hashed columns and ``payload``)."""
        if self.mismatched is None and sha256_hex(str(row["payload"])) != row["digest"]:
            self.mismatched = str(row["row_key"])
        self.add_hashed(row)

    def add_hashed(self, row: Mapping[Any, Any]) -> None:
        """Add one row whose ``digest`` was just computed from its ``payload``."""
        self.rows += 1
        item = canonical_json({name: row[name] for name in HASHED_COLUMNS})
        self._hash.update(item.encode("utf-8") + b"\n")

    def summary(self) -> dict[str, Any]:
        """``{"rows": n, "sha256": hex}`` as recorded in the audit event."""
        return {"rows": self.rows, "sha256": self._hash.hexdigest()}


def record_posted_in(conn: Connection, records: Iterable[PostedRecord]) -> PostedDigest:
    """Append ``records`` inside the caller's transaction; returns the
    :class:`PostedDigest` of what was stored, in storage order (as ``audit verify``
    reads it back).

    Inserted in batches of 1,000, so a file of any size costs bounded memory.
    """
    now = utc_now()
    digest = PostedDigest()
    batch: list[dict[str, Any]] = []
    for r in records:
        row = {
            "pipeline": r.pipeline,
            "datev_client": r.datev_client,
            "period": r.period,
            "row_key": r.row_key,
            "digest": r.digest,
            "payload": r.booking_json,
            "run_id": r.run_id,
            "filename": r.filename,
            "datev_job_id": r.datev_job_id,
            "recorded_at": now,
        }
        digest.add_hashed(row)
        batch.append(row)
        if len(batch) >= _BATCH:
            conn.execute(insert(POSTED_RECORDS), batch)
            batch = []
    if batch:
        conn.execute(insert(POSTED_RECORDS), batch)
    return digest


def record_posted(engine: Engine, records: Iterable[PostedRecord]) -> PostedDigest:
    """Append ``records`` in one transaction; returns their :class:`PostedDigest`."""
    with write_transaction(engine) as conn:
        return record_posted_in(conn, records)


@dataclass(frozen=True, slots=True)
class PostedState:
    """The newest posting of one record key."""

    row_key: str
    digest: str
    booking: str
    run_id: str
    recorded_at: str


def iter_latest(
    engine: Engine, *, pipeline: str, datev_client: str, period: str
) -> Iterator[PostedState]:
    """Newest posting per record key of one (pipeline, DATEV client, period), ordered
    by key and streamed in batches of 1,000 (memory does not grow with the keys)."""
    table = POSTED_RECORDS
    scope = (
        (table.c.pipeline == pipeline)
        & (table.c.datev_client == datev_client)
        & (table.c.period == period)
    )
    newest = (
        select(func.max(table.c.id).label("id")).where(scope).group_by(table.c.row_key).subquery()
    )
    query = (
        select(
            table.c.row_key, table.c.digest, table.c.payload, table.c.run_id, table.c.recorded_at
        )
        .join(newest, newest.c.id == table.c.id)
        .order_by(table.c.row_key)
    )
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=_BATCH).execute(query):
            yield PostedState(
                row_key=row.row_key,
                digest=row.digest,
                booking=row.payload,
                run_id=row.run_id,
                recorded_at=row.recorded_at,
            )


def latest(
    engine: Engine, *, pipeline: str, datev_client: str, period: str
) -> dict[str, PostedState]:
    """Newest posting per record key of one (pipeline, DATEV client, period)."""
    return {
        state.row_key: state
        for state in iter_latest(
            engine, pipeline=pipeline, datev_client=datev_client, period=period
        )
    }
