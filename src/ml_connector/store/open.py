"""Open the store the way the command line does: URL or the SQLite file in the data dir."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ml_connector.paths import default_data_dir
from ml_connector.store.db import make_engine, migrate, sqlite_url

__all__ = ["open_store"]


def open_store(url: str | None = None, *, data_dir: Path | None = None) -> Engine:
    """An engine on ``url`` (default: the SQLite file of ``data_dir``, else of the
    default data directory), migrated."""
    engine = make_engine(url or sqlite_url(data_dir or default_data_dir()))
    migrate(engine)
    return engine
