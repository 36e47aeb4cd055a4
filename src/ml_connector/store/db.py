"""Database engine and migrations.

SQLite (one file in the data directory) is the embedded default; any SQLAlchemy
URL, e.g. ``postgresql+psycopg://user@127.0.0.1:5432/db``, selects another
server. The schema is owned by Alembic; :func:`migrate` brings a database to
the newest revision of every migration branch (``upgrade heads``); a database
already there is recognised from its ``alembic_version`` rows without loading
Alembic (a command that opens the store starts faster).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import DeclarativeBase

from ml_connector.errors import ConfigurationError
from ml_connector.paths import ensure_data_dir

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "SUPPORTED_DATABASES",
    "Base",
    "database_unreachable",
    "database_url",
    "make_engine",
    "migrate",
    "sqlite_url",
]

#: the databases ml-connector runs on (the SQLAlchemy backend name of a URL)
SUPPORTED_DATABASES = ("sqlite", "postgresql")

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


def database_url(text: str) -> URL:
    """``text`` as a URL of a supported database; a :class:`ConfigurationError` otherwise."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigurationError(  # the text is not shown: it may hold a password
            "the database URL (--store-url, --system-db-url or their environment "
            "variables) is not a URL",
            hint="write e.g. postgresql://user@host:5432/db or sqlite:////path/to/file.sqlite3",
        ) from None
    if url.get_backend_name() not in SUPPORTED_DATABASES:
        raise ConfigurationError(
            f"{url.get_backend_name()!r} databases are not supported",
            hint="use PostgreSQL (postgresql://...) or SQLite (sqlite:///...)",
        )
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = database_url(url)
    try:
        engine = create_engine(parsed, **kwargs)
    except ImportError as exc:
        raise ConfigurationError(
            f"the database driver {parsed.get_driver_name()!r} is not installed ({exc.name})",
            hint="use postgresql+psycopg:// (installed with ml-connector) or sqlite:///",
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the packaged migrations and ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to the newest revision of every branch.

    A database that cannot be reached is a :class:`ConfigurationError` naming it.
    """
    try:
        if _at_heads(engine):
            return
        from alembic import command

        command.upgrade(alembic_config(engine), "heads")
    except DBAPIError as exc:
        unreachable = database_unreachable(engine.url, exc)
        if unreachable is None:
            raise
        raise unreachable from None


_REVISION = re.compile(r"^revision(?:: [^=]+)? = ['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision(?:: [^=]+)? = (.+)$", re.M)


@functools.cache
def script_heads() -> frozenset[str]:
    """The newest revision of every branch of the packaged migrations (read from the
    files, as Alembic would find them); empty when a file does not read as expected."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return frozenset()
        revisions.add(revision.group(1))
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return frozenset(revisions - parents)


def _at_heads(engine: Engine) -> bool:
    """Whether the database's ``alembic_version`` holds exactly :func:`script_heads`."""
    heads = script_heads()
    if not heads:
        return False
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "alembic_version"):
            return False
        found = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    return found == heads


def database_unreachable(url: URL | str, exc: DBAPIError) -> ConfigurationError | None:
    """The error to show when ``exc`` means the database at ``url`` cannot be opened."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    where = make_url(url).render_as_string(hide_password=True)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return ConfigurationError(
        f"cannot open the database {where}: {reason}",
        hint="check the URL (--store-url / --system-db-url) and that the database "
        "server is running and reachable",
    )
