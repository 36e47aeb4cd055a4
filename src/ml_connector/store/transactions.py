"""Write transactions that serialise appends on SQLite and PostgreSQL alike.

SQLite has one writer; ``BEGIN IMMEDIATE`` takes the write lock at the start of the
transaction, so a read-then-append (chain head, then events) can never interleave
with another process. PostgreSQL locks rows (the chain head, through an upsert)
inside an ordinary transaction; see :mod:`ml_connector.store.audit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

__all__ = ["utc_now", "write_transaction"]


def utc_now() -> str:
    """Now, UTC, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a write transaction: committed on success, rolled back on error."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
