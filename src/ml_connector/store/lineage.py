"""Row lineage: from a Looker row key or Belegfeld 1 to the booking line, the EXTF file
and line, the DATEV job and its outcome, with the audit events that record each step.

Everything is read from the audit trail (``row`` events and the file events of the
run), so what is shown is what the hash chain vouches for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine, or_, select

from ml_connector.canonical import canonical_json
from ml_connector.store.audit import StoredEvent
from ml_connector.store.tables import AUDIT_EVENTS

__all__ = [
    "FILE_EVENTS",
    "RowLineage",
    "document_events",
    "file_events",
    "find_rows",
    "held_rows",
]

_BEDI = re.compile(r'BEDI "([^"]+)"')
#: the events that follow a file from writing to DATEV's answer
FILE_EVENTS = ("file_written", "file_submitted", "job_outcome")


@dataclass(frozen=True, slots=True)
class RowLineage:
    """One Looker row of one run and where it went."""

    row: StoredEvent
    source: dict[str, Any]
    booking: dict[str, Any] | None
    rejection: str | None
    line: int | None
    events: list[StoredEvent] = field(default_factory=list)
    document: StoredEvent | None = None
    """The ``document_uploaded`` event of the supporting document the row's line links."""

    @property
    def lines(self) -> list[dict[str, Any]]:
        """The row's booking lines (a run records them under ``lines``; older test
        records hold one flat line)."""
        booking = self.booking or {}
        lines = booking.get("lines")
        return list(lines) if isinstance(lines, list) else ([booking] if booking else [])

    @property
    def document_id(self) -> str | None:
        """The id in the row's EXTF ``Beleglink`` (``BEDI "<id>"``), if it links one."""
        for line in self.lines:
            found = _BEDI.fullmatch(str(line.get("beleglink") or ""))
            if found:
                return found.group(1)
        return None

    @property
    def document_name(self) -> str | None:
        """The file name of the row's uploaded document."""
        return self.document.filename if self.document else None

    @property
    def datev_job_id(self) -> str | None:
        """The DATEV job that took the row's file, if it was sent."""
        return self._last("datev_job_id")

    @property
    def job_outcome(self) -> str | None:
        """What DATEV did with the row's file (``succeeded``, ``failed``, ...)."""
        return self._last("outcome")

    @property
    def job_detail(self) -> str | None:
        """DATEV's protocol text for the row's file."""
        return self._last("detail")

    def _last(self, key: str) -> str | None:
        value: str | None = None
        for event in self.events:
            found = json.loads(event.payload).get(key)
            if found is not None:
                value = str(found)
        return value


def file_events(engine: Engine, run_id: str, filename: str | None = None) -> list[StoredEvent]:
    """The file events of ``run_id`` (of one file if given), in chain order."""
    table = AUDIT_EVENTS
    query = (
        select(table)
        .where(table.c.run_id == run_id, table.c.kind.in_(FILE_EVENTS))
        .order_by(table.c.chain, table.c.seq)
    )
    if filename is not None:
        query = query.where(table.c.filename == filename)
    with engine.connect() as conn:
        return [StoredEvent(**row._asdict()) for row in conn.execute(query)]


def document_events(engine: Engine, run_id: str) -> dict[str, StoredEvent]:
    """The ``document_uploaded`` events of ``run_id`` by document id."""
    table = AUDIT_EVENTS
    query = select(table).where(table.c.run_id == run_id, table.c.kind == "document_uploaded")
    with engine.connect() as conn:
        found = [StoredEvent(**row._asdict()) for row in conn.execute(query)]
    return {str(json.loads(e.payload).get("document_id")): e for e in found}


def _lineage(
    event: StoredEvent, events: list[StoredEvent], documents: dict[str, StoredEvent]
) -> RowLineage:
    payload = json.loads(event.payload)
    hit = RowLineage(
        row=event,
        source=payload.get("source") or {},
        booking=payload.get("booking"),
        rejection=payload.get("rejection"),
        line=payload.get("line"),
        events=[e for e in events if e.filename == event.filename] if event.filename else [],
    )
    document = documents.get(hit.document_id or "")
    return replace(hit, document=document) if document else hit


def find_rows(
    engine: Engine, *, row_key: str | None = None, belegfeld_1: str | None = None, limit: int = 50
) -> list[RowLineage]:
    """Every recorded row with this Looker row key or Belegfeld 1 (newest first)."""
    table = AUDIT_EVENTS
    terms = []
    if row_key:
        terms.append(table.c.row_key == row_key)
    if belegfeld_1:
        needle = canonical_json({"belegfeld_1": belegfeld_1})[1:-1]
        terms.append(table.c.payload.contains(needle, autoescape=True))
    if not terms:
        return []
    query = (
        select(table)
        .where(table.c.kind == "row", or_(*terms))
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [StoredEvent(**row._asdict()) for row in conn.execute(query)]
    found: list[RowLineage] = []
    by_run: dict[str, tuple[list[StoredEvent], dict[str, StoredEvent]]] = {}
    for event in rows:
        if event.run_id not in by_run:
            run_id = event.run_id
            by_run[run_id] = (file_events(engine, run_id), document_events(engine, run_id))
        hit = _lineage(event, *by_run[event.run_id])
        booked = {line.get("belegfeld_1") for line in hit.lines}
        if (row_key and event.row_key == row_key) or (belegfeld_1 and belegfeld_1 in booked):
            found.append(hit)
    return found


def held_rows(engine: Engine, run_id: str, limit: int = 1000) -> list[RowLineage]:
    """The rows of ``run_id`` that were held, each with its reason (in row order)."""
    table = AUDIT_EVENTS
    query = (
        select(table)
        .where(table.c.run_id == run_id, table.c.kind == "row")
        .where(table.c.payload.contains('"rejection":"', autoescape=True))
        .order_by(table.c.chain, table.c.seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [StoredEvent(**row._asdict()) for row in conn.execute(query)]
    held = (_lineage(event, [], {}) for event in rows)
    return [row for row in held if row.rejection is not None]
