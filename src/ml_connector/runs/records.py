"""What became of each Looker row of a prepared run, and what was posted before.

A run's :class:`~ml_connector.engine.ports.RowRecord` stream has one record per row
of the period (mapped or rejected) plus one per *gone* key (posted earlier, absent now,
reversed by this batch). The record's ``booking`` is what the engine stores as the
posted state of the key once DATEV accepted the file::

    {"content_digest": "...", "lines": [<booking line>...], "reversal": [<line>...]}

``lines`` empty means the key is retired (fully reversed). The next run of the period
reads the newest stored state per key back (:func:`ml_connector.store.posted.iter_latest`)
into :meth:`~ml_connector.mapping.stream.RunStream.load_posted`, so it plans reversals
and corrections instead of posting a second copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ml_connector.canonical import canonical_text
from ml_connector.engine.ports import RowRecord
from ml_connector.mapping.stream import RowTrace, TracePiece, booking_payload

__all__ = [
    "FileSlice",
    "booking_payload",
    "record_lines",
    "row_records",
    "write_record_lines",
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


def record_lines(pieces: Iterable[TracePiece], slices: Sequence[FileSlice]) -> Iterator[str]:
    """The records file's lines for :func:`row_records` of the same traces, composed
    from the spilled canonical JSON (the same text as
    :func:`~ml_connector.engine.ports.write_records` writes, without parsing a row)."""
    for piece in pieces:
        filename, line = (
            _locate(slices, piece.position) if piece.position is not None else (None, None)
        )
        where = f'"filename":{canonical_text(filename)},"line":{"null" if line is None else line}'
        yield f'{{"booking":{piece.booking},{where},{piece.rest}}}\n'


def write_record_lines(path: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` (from :func:`record_lines`) to ``path``, replacing it when done;
    returns the count (read back with :func:`~ml_connector.engine.ports.iter_records`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for text in lines:
            handle.write(text)
            count += 1
    tmp.replace(path)
    return count
