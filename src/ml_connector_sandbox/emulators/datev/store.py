"""Where the emulator keeps what it must not forget: one SQLite file in its data dir.

The ledger streams bookings into SQLite (memory stays flat however many are
accepted); jobs, documents and the identity provider's grants are JSON objects
keyed by kind and id, written through on every change and read back at start, so
a restarted emulator on the same data dir still knows them. Without a data dir
(tests, benchmarks) the file lives in a temporary directory, removed on
:meth:`EmulatorStore.close` or at exit: on disk as well, so the ledger never
grows in memory.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["FILE_NAME", "EmulatorStore"]

FILE_NAME = "datev-emulator.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS transfers (
    seq INTEGER PRIMARY KEY, kind TEXT, client_id TEXT, job_id TEXT, filename TEXT,
    sha256 TEXT, reference_id TEXT, received_at TEXT, succeeded INTEGER, bookings INTEGER,
    duplicate_of TEXT, protocol TEXT);
CREATE INDEX IF NOT EXISTS transfers_original ON transfers (client_id, filename, sha256);
CREATE TABLE IF NOT EXISTS bookings (
    seq INTEGER PRIMARY KEY, client_id TEXT, job_id TEXT, source TEXT, line INTEGER,
    amount TEXT, debit_credit TEXT, account TEXT, contra_account TEXT, date TEXT,
    document_field TEXT, text TEXT, currency TEXT, rate TEXT, base_amount TEXT,
    base_currency TEXT);
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY, client_id TEXT, id TEXT, filename TEXT, document_type TEXT,
    size INTEGER, sha256 TEXT);
"""
#: columns added to ``bookings`` after its first version (added to an older data dir)
_ADDED_BOOKING_COLUMNS = ("currency", "rate", "base_amount", "base_currency")


class EmulatorStore:
    """One SQLite database under ``data_dir``; under a temporary directory when None."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.temporary = data_dir is None
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="datev-emulator-"))
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.path = data_dir / FILE_NAME
        self.lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        if self.temporary:  # nothing in it outlives the process: no need to wait for the disk
            self._db.execute("PRAGMA synchronous=OFF")
        self._cleanup = weakref.finalize(
            self, _discard, self._db, data_dir if self.temporary else None
        )
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a data dir written by an older emulator up to the current bookings table."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(bookings)")}
        for column in _ADDED_BOOKING_COLUMNS:
            if column not in present:
                self._db.execute(f"ALTER TABLE bookings ADD COLUMN {column} TEXT")

    def close(self) -> None:
        """Close the database (and remove it, when temporary)."""
        with self.lock:
            self._cleanup()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside commit together or not at all."""
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a query."""
        with self.lock:
            cursor = self._db.execute(sql, tuple(params))
            cursor.row_factory = sqlite3.Row
            return list(cursor.fetchall())

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store ``value`` (JSON-ready) under ``kind``/``key``, keeping its first position."""
        text = json.dumps(value, ensure_ascii=False)
        with self.lock:
            self._db.execute(
                "INSERT INTO objects (kind, key, seq, value) VALUES"
                " (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM objects), ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                (kind, key, text),
            )

    def delete(self, kind: str, key: str | None = None) -> None:
        """Forget one object, or every object of ``kind``."""
        with self.lock:
            if key is None:
                self._db.execute("DELETE FROM objects WHERE kind = ?", (kind,))
            else:
                self._db.execute("DELETE FROM objects WHERE kind = ? AND key = ?", (kind, key))

    def objects(self, kind: str) -> list[tuple[str, Any]]:
        """Every stored object of ``kind`` as (key, value), oldest first."""
        return [
            (row["key"], json.loads(row["value"]))
            for row in self.rows(
                "SELECT key, value FROM objects WHERE kind = ? ORDER BY seq", [kind]
            )
        ]


def _discard(db: sqlite3.Connection, temporary_dir: Path | None) -> None:
    """Close ``db``; remove ``temporary_dir`` with it."""
    db.close()
    if temporary_dir is not None:
        shutil.rmtree(temporary_dir, ignore_errors=True)
