"""Disk-backed scratch state of a streaming run: key index and spill files.

A run of any size keeps only bounded state in memory; what grows with the rows lives
here, in the run's working directory, and is removed when the run is prepared:

* :class:`KeyIndex`: a temporary SQLite database with what was posted before per row
  key (``posted``), the keys seen in this run (``seen``) and the first source value of
  each Belegfeld 1 (``documents``), for restatements and the duplicate-key and
  document-number collision checks;
* :class:`LineSpill`: booking lines written one after the other (JSON of their filled
  columns, exact decimals, or the Belegdatum and the checked EXTF text of a line the
  mapper rendered) and read back in the same order;
* :class:`JsonSpill`: JSON values, one a line.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import IO, Any

from ml_connector.formats.extf.models import BookingLine, RenderedLine
from ml_connector.mapping.restatement import line_from_json

__all__ = ["JsonSpill", "KeyIndex", "LineSpill"]


_SCHEMA = """
CREATE TABLE posted (
    row_key TEXT PRIMARY KEY,
    ord INTEGER NOT NULL,
    digest TEXT NOT NULL,
    lines TEXT NOT NULL
);
CREATE TABLE seen (
    row_key TEXT PRIMARY KEY,
    first INTEGER NOT NULL,
    mapped INTEGER NOT NULL
);
CREATE TABLE documents (
    cleaned TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    first INTEGER NOT NULL
);
"""


#: rows whose first use is kept in memory before it is written to the index in one go
_BATCH = 2_000
_SEEN_SQL = "INSERT INTO seen (row_key, first, mapped) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_DOCUMENT_SQL = (
    "INSERT INTO documents (cleaned, source, first) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)


class _NewKeys:
    """Which texts were surely never added, in fixed memory (a Bloom filter: three bits
    of ``bits`` per text; "maybe added" is then checked against the index itself)."""

    def __init__(self, bits: int) -> None:
        self._mask = bits - 1
        self._bits = bytearray(bits // 8 or 1)

    def add(self, text: str) -> bool:
        """Add ``text``; whether it was surely not added before."""
        h, mask, bits = hash(text), self._mask, self._bits
        new = False
        for at in (h & mask, (h >> 24) & mask, ((h >> 40) ^ (h >> 7)) & mask):
            byte, bit = at >> 3, 1 << (at & 7)
            if not bits[byte] & bit:
                bits[byte] |= bit
                new = True
        return new


class KeyIndex:
    """Posted state and seen keys of one run, in a SQLite file (bounded page cache).

    A row key or Belegfeld 1 that is surely new (most of them) is not looked up: its
    first use waits in memory and is written with the next batch of ``2,000``.
    """

    def __init__(self, path: Path, *, filter_bits: int = 1 << 24) -> None:
        if filter_bits & (filter_bits - 1):
            raise ValueError("filter_bits must be a power of two")
        path.unlink(missing_ok=True)
        self.path = path
        # used from one thread at a time (the run may hop between worker threads)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8192;"
            "PRAGMA temp_store=FILE; BEGIN;" + _SCHEMA
        )
        self.posted_count = 0
        self._new_keys, self._new_documents = _NewKeys(filter_bits), _NewKeys(filter_bits)
        self._seen: list[tuple[str, int, int]] = []
        self._documents: list[tuple[str, str, int]] = []

    def _flush(self) -> None:
        """Write the first uses kept in memory."""
        if self._seen:
            self._db.executemany(_SEEN_SQL, self._seen)
            self._seen.clear()
        if self._documents:
            self._db.executemany(_DOCUMENT_SQL, self._documents)
            self._documents.clear()

    def add_posted(self, row_key: str, digest: str, lines_json: str) -> None:
        """Remember what was posted for ``row_key`` (a later entry for a key replaces its
        content but keeps its place in the order)."""
        self._db.execute(
            "INSERT INTO posted (row_key, ord, digest, lines) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (row_key) DO UPDATE SET digest = excluded.digest, lines = excluded.lines",
            (row_key, self.posted_count, digest, lines_json),
        )
        self.posted_count += 1

    def posted(self, row_key: str) -> tuple[str, str] | None:
        """``(digest, lines_json)`` posted for ``row_key``, else None."""
        if not self.posted_count:
            return None
        found = self._db.execute(
            "SELECT digest, lines FROM posted WHERE row_key = ?", (row_key,)
        ).fetchone()
        return None if found is None else (str(found[0]), str(found[1]))

    def see(self, row_key: str, index: int, *, mapped: bool) -> int | None:
        """Record the row key's first use; the earlier row's index if it was used before."""
        if self._new_keys.add(row_key):
            self._seen.append((row_key, index, int(mapped)))
            if len(self._seen) >= _BATCH:
                self._flush()
            return None
        self._flush()
        cursor = self._db.execute(_SEEN_SQL, (row_key, index, int(mapped)))
        if cursor.rowcount == 1:
            return None
        found = self._db.execute("SELECT first FROM seen WHERE row_key = ?", (row_key,)).fetchone()
        return int(found[0])

    def document(self, cleaned: str, source: str, index: int) -> tuple[str, int] | None:
        """Record the first source value that became Belegfeld 1 ``cleaned``; the first
        ``(source, row index)`` when an earlier row had a *different* source value."""
        if self._new_documents.add(cleaned):
            self._documents.append((cleaned, source, index))
            if len(self._documents) >= _BATCH:
                self._flush()
            return None
        self._flush()
        cursor = self._db.execute(_DOCUMENT_SQL, (cleaned, source, index))
        if cursor.rowcount == 1:
            return None
        found = self._db.execute(
            "SELECT source, first FROM documents WHERE cleaned = ?", (cleaned,)
        ).fetchone()
        return None if found[0] == source else (str(found[0]), int(found[1]))

    def not_mapped(self) -> Iterator[tuple[str, str, bool]]:
        """Posted keys without a mapped row in this run, in posted order, as
        ``(row_key, lines_json, held)``: ``held`` when the key's row was rejected,
        else the row is gone."""
        self._flush()
        cursor = self._db.execute(
            "SELECT p.row_key, p.lines, s.mapped FROM posted p "
            "LEFT JOIN seen s ON s.row_key = p.row_key "
            "WHERE s.mapped IS NULL OR s.mapped = 0 ORDER BY p.ord"
        )
        for row_key, lines, mapped in cursor:
            yield str(row_key), str(lines), mapped is not None

    def close(self) -> None:
        """Close and delete the database."""
        self._db.close()
        self.path.unlink(missing_ok=True)


class LineSpill:
    """Booking lines appended to a file (as their filled columns in JSON, see
    :func:`~ml_connector.mapping.restatement.line_to_json`) and read back in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._out: IO[str] | None = path.open("w", encoding="utf-8")

    def append(self, line: Mapping[str, object]) -> None:
        """Append one line given as :func:`line_to_json` returns it."""
        assert self._out is not None, "spill already closed for writing"
        self._out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.count += 1

    def append_rendered(self, belegdatum: date, text: str) -> None:
        """Append a line the mapper rendered and checked: its Belegdatum (ISO) and its
        text, as they are (the checks refuse line breaks in every field)."""
        assert self._out is not None, "spill already closed for writing"
        if "\n" in text or "\r" in text:
            raise ValueError("a rendered EXTF line cannot hold a line break")
        self._out.write(f"{belegdatum.isoformat()} {text}\n")
        self.count += 1

    def seal(self) -> None:
        """Finish writing (reading needs a sealed spill)."""
        if self._out is not None:
            self._out.close()
            self._out = None

    def __iter__(self) -> Iterator[BookingLine]:
        """The lines appended with :meth:`append` (a spill without rendered lines)."""
        for line in self.batch(0):
            if isinstance(line, RenderedLine):
                raise TypeError("the spill holds rendered lines; read it with batch()")
            yield line

    def batch(self, account_digits: int) -> Iterator[BookingLine | RenderedLine]:
        """Every line in order; a rendered one as a :class:`RenderedLine` checked for
        ``account_digits`` (the Sachkontenlänge + 1 of the mapper's header)."""
        self.seal()
        with self.path.open(encoding="utf-8") as handle:
            for text in handle:
                if text.startswith("{"):
                    yield line_from_json(json.loads(text))
                else:  # "YYYY-MM-DD <text>\n"
                    day = date.fromisoformat(text[:10])
                    yield RenderedLine(day, text[11:-1], account_digits)

    def close(self) -> None:
        """Close and delete the file."""
        self.seal()
        self.path.unlink(missing_ok=True)


class JsonSpill:
    """JSON values appended to a file, one a line, and read back in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._out: IO[str] | None = path.open("w", encoding="utf-8")

    def append(self, value: Any) -> None:
        assert self._out is not None, "spill already closed for writing"
        self._out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.count += 1

    def seal(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def __iter__(self) -> Iterator[Any]:
        self.seal()
        with self.path.open(encoding="utf-8") as handle:
            for text in handle:
                yield json.loads(text)

    def close(self) -> None:
        self.seal()
        self.path.unlink(missing_ok=True)
