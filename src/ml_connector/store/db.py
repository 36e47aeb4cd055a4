"""Database engine and migrations.

SQLite (one file in the data directory) is the embedded default; any SQLAlchemy
URL, e.g. ``postgresql+psycopg://user@127.0.0.1:5432/db``, selects another
server. The schema is owned by Alembic; :func:`migrate` brings a database to
the newest revision of every migration branch (``upgrade heads``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase

from ml_connector.paths import ensure_data_dir

__all__ = ["Base", "make_engine", "migrate", "sqlite_url"]

_MIGRATIONS = Path(__file__).with_name("migrations")


class Base(DeclarativeBase):
    """Declarative base of every ml-connector table."""


def sqlite_url(data_dir: Path) -> str:
    """URL of the embedded SQLite database inside ``data_dir`` (created if missing)."""
    ensure_data_dir(data_dir)
    return f"sqlite:///{(data_dir / 'ml-connector.sqlite3').resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the packaged migrations and ``engine``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to the newest revision of every branch."""
    command.upgrade(alembic_config(engine), "heads")
