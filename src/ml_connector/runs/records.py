"""What became of each Looker row of a prepared run, and what was posted before.

A run's :class:`~ml_connector.engine.ports.RowRecord` stream has one record per row
of the period (mapped or rejected) plus one per *gone* key (posted earlier, absent now,
reversed by this batch). The record's ``booking`` is what the engine stores as the
posted state of the key once DATEV accepted the file::

    {"content_digest": "...", "lines": [<booking line>...], "reversal": [<line>...]}

``lines`` empty means the key is retired (fully reversed). :func:`iter_posted_states`
reads the newest stored state per key back as a stream, and :func:`posted_entry`
turns one into what the mapping's restatement index needs, so the next run of the
period plans reversals and corrections instead of posting a second copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ml_connector.engine.ports import RowRecord
from ml_connector.mapping.restatement import PostedRecord, line_from_json
from ml_connector.mapping.stream import RowTrace, booking_payload
from ml_connector.store.posted import iter_latest

__all__ = [
    "FileSlice",
    "booking_payload",
    "iter_posted_states",
    "posted_entry",
    "posted_from_store",
    "row_records",
]


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


def row_records(traces: Iterable[RowTrace], slices: Sequence[FileSlice]) -> Iterator[RowRecord]:
    """One record per row trace of a streamed run (rows in extract order, then gone keys).

    A row whose booking is unchanged since the last accepted posting gets its
    booking but no file (nothing is sent for it). A changed row points at its new
    booking line (its reversal sits earlier in the same batch); a gone key at its
    reversal.
    """
    for trace in traces:
        filename, line = (
            _locate(slices, trace.position) if trace.position is not None else (None, None)
        )
        yield RowRecord(
            row_key=trace.row_key,
            source=trace.source,
            booking=trace.booking,
            rejection=trace.rejection,
            filename=filename,
            line=line,
        )


def iter_posted_states(
    engine: Engine, *, pipeline: str, datev_client: str, period: str
) -> Iterator[tuple[str, str]]:
    """``(row_key, booking JSON)`` of the newest posting per record key of one
    (pipeline, DATEV client, period), ordered by key, streamed in batches."""
    for state in iter_latest(engine, pipeline=pipeline, datev_client=datev_client, period=period):
        yield state.row_key, state.booking


def posted_entry(row_key: str, text: str) -> tuple[str, str, list[Any]] | None:
    """``(row_key, content digest, lines as JSON)`` of a stored posting, or ``None``
    when the key is retired (its newest posting has no lines)."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return None
    lines = data.get("lines") or []
    digest = data.get("content_digest")
    if not lines or not isinstance(lines, list) or digest is None:
        return None
    return row_key, str(digest), lines


def posted_from_store(bookings: Mapping[str, str]) -> list[PostedRecord]:
    """Posted records from the store's newest booking text per row key.

    Keys whose newest posting retired them (no lines) are left out: nothing of
    theirs is booked any more.
    """
    records: list[PostedRecord] = []
    for row_key, text in bookings.items():
        entry = posted_entry(row_key, text)
        if entry is not None:
            key, digest, lines = entry
            records.append(PostedRecord(key, digest, tuple(line_from_json(i) for i in lines)))
    return records
