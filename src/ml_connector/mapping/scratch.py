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
    """Which texts were surely never added: Bloom filters of three bits per text (a
    "maybe added" is then checked against the index itself). The first has
    ``first_bits``; each time the newest holds a text per 16 bits, one eight times
    larger (up to ``most_bits``) takes the new texts, so a small run keeps a small one."""

    def __init__(self, first_bits: int, most_bits: int) -> None:
        self._most = most_bits
        self._older: list[tuple[int, bytearray]] = []
        self._mask, self._bits, self._room = 0, bytearray(), 0
        self._start(first_bits)

    def _start(self, bits: int) -> None:
        if self._bits:
            self._older.append((self._mask, self._bits))
        self._mask, self._bits, self._room = bits - 1, bytearray(bits // 8 or 1), bits // 16

    def add(self, text: str) -> bool:
        """Add ``text``; whether it was surely not added before."""
        h = hash(text)
        spots = (h, h >> 24, (h >> 40) ^ (h >> 7))
        for mask, bits in self._older:
            a, b, c = spots[0] & mask, spots[1] & mask, spots[2] & mask
            if bits[a >> 3] >> (a & 7) & bits[b >> 3] >> (b & 7) & bits[c >> 3] >> (c & 7) & 1:
                return False
        mask, bits, new = self._mask, self._bits, False
        for spot in spots:
            at = spot & mask
            byte, bit = at >> 3, 1 << (at & 7)
            if not bits[byte] & bit:
                bits[byte] |= bit
                new = True
        if new:
            self._room -= 1
            if self._room <= 0 and self._mask + 1 < self._most:
                self._start(min((self._mask + 1) * 8, self._most))
        return new


class KeyIndex:
    """Posted state and seen keys of one run, in a SQLite file (bounded page cache).

    A row key or Belegfeld 1 that is surely new (most of them) is not looked up: its
    first use waits in memory and is written with the next batch of ``2,000``. The
    filters that say so take 64 KiB each for up to 32,768 texts and grow to about
    2.6 MiB each for a million.
    """

    def __init__(
        self, path: Path, *, filter_bits: int = 1 << 19, most_filter_bits: int = 1 << 24
    ) -> None:
        for bits in (filter_bits, most_filter_bits):
            if bits < 8 or bits & (bits - 1):
                raise ValueError("filter sizes must be powers of two of at least 8 bits")
        if filter_bits > most_filter_bits:
            raise ValueError("filter_bits must not exceed most_filter_bits")
        path.unlink(missing_ok=True)
        self.path = path
        # used from one thread at a time (the run may hop between worker threads)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8192;"
            "PRAGMA temp_store=FILE; BEGIN;" + _SCHEMA
        )
        self.posted_count = 0
        self._new_keys = _NewKeys(filter_bits, most_filter_bits)
        self._new_documents = _NewKeys(filter_bits, most_filter_bits)
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
    :func:`~ml_connector.formats.extf.models.line_to_json`) and read back in order."""

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
