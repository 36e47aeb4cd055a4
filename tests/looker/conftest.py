"""Fixtures for the Looker client and emulator tests.

Every client test talks to the emulator through a transport that validates each
request the client sends and each response the emulator gives against the official
Looker API 4.0 OpenAPI spec, so neither can drift from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from looker_testkit import CLIENT_ID, SECRET, FakeClock, SpecCheckingTransport, load_spec
from openapi_core import OpenAPI
from pydantic import SecretStr

from ml_connector.http.polling import LOOKER_TASK_POLLING
from ml_connector.http.retry import RetryPolicy
from ml_connector.looker import LookerClient
from ml_connector_sandbox.emulators.looker import create_app


@pytest.fixture(scope="session")
def looker_spec() -> OpenAPI:
    """The official spec, loaded once per test run."""
    return load_spec()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_app(clock: FakeClock) -> Callable[..., Any]:
    def make(**kw: Any) -> Any:
        kw.setdefault("client_id", CLIENT_ID)
        kw.setdefault("client_secret", SECRET)
        kw.setdefault("clock", clock)
        return create_app(**kw)

    return make


@pytest.fixture
def make_client(looker_spec: OpenAPI, clock: FakeClock) -> Callable[..., LookerClient]:
    def make(app: Any, **kw: Any) -> LookerClient:
        kw.setdefault("transport", SpecCheckingTransport(app, looker_spec))
        kw.setdefault("policy", RetryPolicy(attempts=4, base=0.0, cap=0.0))
        kw.setdefault("poll", replace(LOOKER_TASK_POLLING, base=0.0))
        kw.setdefault("clock", clock)
        return LookerClient(
            kw.pop("base_url", "http://127.0.0.1:19999"),
            kw.pop("client_id", CLIENT_ID),
            SecretStr(kw.pop("client_secret", SECRET)),
            **kw,
        )

    return make
