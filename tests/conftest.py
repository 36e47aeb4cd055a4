"""Shared fixtures: retry waits off, temporary data dirs, PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import stamina

POSTGRES_ADMIN_URL = os.environ.get(
    "ML_CONNECTOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


_ISOLATED_VARS = (
    "ML_CONNECTOR_CONFIG",
    "ML_CONNECTOR_STORE_URL",
    "ML_CONNECTOR_SECRET_KEYS",
    "ML_CONNECTOR_LOOKER_CLIENT_ID",
    "ML_CONNECTOR_LOOKER_CLIENT_SECRET",
    "ML_CONNECTOR_LOG_LEVEL",
    "ML_CONNECTOR_LOG_FORMAT",
)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the user's own data directory or configuration."""
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(tmp_path_factory.mktemp("home")))
    for name in _ISOLATED_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    """Retries happen at once in tests; the attempt counts stay real."""
    stamina.set_testing(True, attempts=50, cap=True)
    yield
    stamina.set_testing(False)


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A fresh ml-connector data directory, also exported as ML_CONNECTOR_HOME."""
    path = tmp_path_factory.mktemp("ml-connector-home")
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(path))
    return path


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped afterwards.

    Skips when no server listens on 127.0.0.1:5432, except in CI (``CI=true``), where
    a missing server is a failure: the suite must run on both SQLite and PostgreSQL there.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mlc_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc.orig}")
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
