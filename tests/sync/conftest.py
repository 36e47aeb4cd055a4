"""Fixtures: both emulators and a demo installation (config, Looker key, DATEV login)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_connector.demo.emulators import DemoEmulators, running_emulators
from ml_connector.demo.setup import DemoInstall, install_demo


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
