"""Fixtures for the DATEV API client and emulator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from datev_api_support import (
    APP_CLIENT_ID,
    BASE,
    FakeTokens,
    Setup,
    SpecCheckingTransport,
    emulator_config,
)

from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.api.httplog import HttpLog
from ml_connector.datev.client import DatevClient
from ml_connector_sandbox.emulators.datev.app import create_app, emulator_state
from ml_connector_sandbox.emulators.datev.config import EmulatorConfig
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker


@pytest.fixture
def config() -> EmulatorConfig:
    return emulator_config()


@pytest.fixture
async def setup(config: EmulatorConfig, tmp_path: Path) -> AsyncIterator[Setup]:
    checker = StaticTokenChecker(["token-1", "token-2"], client_id=APP_CLIENT_ID)
    app = create_app(config, checker=checker)
    transport = SpecCheckingTransport(httpx.ASGITransport(app=app))
    tokens = FakeTokens(["token-1", "token-2"])
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    log = HttpLog(tmp_path / "logs")
    client = DatevClient(
        tokens,
        app_client_id=APP_CLIENT_ID,
        endpoints=Endpoints.emulator(BASE),
        http_log=log,
        transport=transport,
        sleep=sleep,
    )
    yield Setup(app, emulator_state(app), client, tokens, transport, checker, sleeps, log)
    await client.aclose()
    assert transport.violations == []
