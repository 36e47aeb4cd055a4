"""What became of each Looker row of a prepared run, and what was posted before (pure).

A run's :class:`~ml_connector.engine.ports.RowRecord` list has one record per row of
the period (mapped or rejected) plus one per *gone* key (posted earlier, absent now,
reversed by this batch). The record's ``booking`` is what the engine stores as the
posted state of the key once DATEV accepted the file::

    {"content_digest": "...", "lines": [<booking line>...], "reversal": [<line>...]}

``lines`` empty means the key is retired (fully reversed). :func:`posted_from_store`
turns the stored states back into the mapping's
:class:`~ml_connector.mapping.restatement.PostedRecord`, so the next run of the
period plans reversals and corrections instead of posting a second copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_connector.engine.ports import RowRecord
from ml_connector.mapping.mapper import MappedRow
from ml_connector.mapping.pipeline import PreparedRun
from ml_connector.mapping.restatement import (
    ChangeKind,
    PostedRecord,
    line_from_json,
    line_to_json,
)
from ml_connector.mapping.rows import to_jsonable

__all__ = ["FileSlice", "booking_payload", "posted_from_store", "row_records"]


@dataclass(frozen=True, slots=True)
class FileSlice:
    """One written file and how many of the batch's lines it holds (in batch order)."""

    filename: str
    lines: int


def _locate(slices: Sequence[FileSlice], index: int) -> tuple[str | None, int | None]:
    """File and 1-based line of the batch's ``index``-th line (0-based)."""
    start = 0
    for item in slices:
        if index < start + item.lines:
            return item.filename, index - start + 1
        start += item.lines
    return None, None


def _source(row: Mapping[str, object]) -> dict[str, Any]:
    return {str(k): to_jsonable(v) for k, v in row.items()}


def booking_payload(
    digest: str | None, lines: Iterable[Any], reversal: Iterable[Any] = ()
) -> dict[str, Any]:
    """The ``booking`` of a row record: content digest, lines and reversal lines as JSON."""
    return {
        "content_digest": digest,
        "lines": [line_to_json(line) for line in lines],
        "reversal": [line_to_json(line) for line in reversal],
    }


def row_records(prepared: PreparedRun, slices: Sequence[FileSlice]) -> Iterator[RowRecord]:
    """One record per row of the period and per gone key, in extract order.

    A row whose booking is unchanged since the last accepted posting gets its
    booking but no file (nothing is sent for it). A changed row points at its new
    booking line (its reversal sits earlier in the same batch).
    """
    changes = {c.row_key: c for c in prepared.plan.changes}
    # positions in prepared.lines: reversals of applied changes first, then bookings
    first_reversal: dict[str, int] = {}
    first_booking: dict[str, int] = {}
    position = 0
    applied = [c for c in prepared.plan.changes if c.applied] if prepared.ready else []
    for change in applied:
        if change.reversal:
            first_reversal[change.row_key] = position
            position += len(change.reversal)
    for change in applied:
        if change.booking:
            first_booking[change.row_key] = position
            position += len(change.booking)

    for outcome in prepared.outcomes:
        if not isinstance(outcome, MappedRow):
            yield RowRecord(
                row_key=outcome.row_key or f"row-{outcome.index + 1}",
                source=_source(outcome.row),
                rejection=outcome.describe(),
            )
            continue
        planned = changes.get(outcome.row_key)
        reversal = planned.reversal if planned is not None and planned.applied else ()
        where = first_booking.get(outcome.row_key)
        filename, line = _locate(slices, where) if where is not None else (None, None)
        yield RowRecord(
            row_key=outcome.row_key,
            source=_source(outcome.row),
            booking=booking_payload(outcome.content_digest, outcome.lines, reversal),
            filename=filename,
            line=line,
        )
    for change in applied:
        if change.kind is ChangeKind.GONE and change.row_key in first_reversal:
            filename, line = _locate(slices, first_reversal[change.row_key])
            yield RowRecord(
                row_key=change.row_key,
                source={},
                booking=booking_payload(None, (), change.reversal),
                filename=filename,
                line=line,
            )


def posted_from_store(bookings: Mapping[str, str]) -> list[PostedRecord]:
    """Posted records from the store's newest booking text per row key.

    Keys whose newest posting retired them (no lines) are left out: nothing of
    theirs is booked any more.
    """
    records: list[PostedRecord] = []
    for row_key, text in bookings.items():
        data = json.loads(text)
        if not isinstance(data, dict):
            continue
        lines = data.get("lines") or []
        digest = data.get("content_digest")
        if not lines or not isinstance(lines, list) or digest is None:
            continue
        records.append(
            PostedRecord(
                row_key=row_key,
                content_digest=str(digest),
                lines=tuple(line_from_json(item) for item in lines),
            )
        )
    return records
