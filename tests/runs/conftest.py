"""Fixtures: both emulators and a demo installation (config, Looker key, DATEV login)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_connector_sandbox.demo.emulators import DemoEmulators, running_emulators
from ml_connector_sandbox.demo.setup import DemoInstall, install_demo


@pytest.fixture
def emulators() -> Iterator[DemoEmulators]:
    with running_emulators() as running:
        yield running


@pytest.fixture
def installed(
    tmp_path: Path, emulators: DemoEmulators, monkeypatch: pytest.MonkeyPatch
) -> DemoInstall:
    monkeypatch.delenv("ML_CONNECTOR_LOOKER_CLIENT_ID", raising=False)
    monkeypatch.delenv("ML_CONNECTOR_LOOKER_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(tmp_path / "work" / "data"))
    return asyncio.run(install_demo(tmp_path / "work", emulators))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """The store and engine database: ``None`` for SQLite in the data directory."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def installed_on(
    tmp_path: Path,
    emulators: DemoEmulators,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str | None,
) -> DemoInstall:
    """The demo installation with its store on SQLite or PostgreSQL."""
    monkeypatch.delenv("ML_CONNECTOR_LOOKER_CLIENT_ID", raising=False)
    monkeypatch.delenv("ML_CONNECTOR_LOOKER_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(tmp_path / "work" / "data"))
    return asyncio.run(install_demo(tmp_path / "work", emulators, store_url=db_url))
