"""The login rate limit is kept in the store: every app process on it counts together."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from web_support import TestClient, login

from ml_connector.interfaces.web import WebSettings, create_app
from ml_connector.interfaces.web.security import LoginLimiter
from ml_connector.store.db import make_engine

WRONG = "wrong password!"


@pytest.fixture
def second_app(web_engine: Engine, data_dir: Path) -> Iterator[FastAPI]:
    """Another instance of the app (its own connection pool) on the same store."""
    engine = make_engine(web_engine.url.render_as_string(hide_password=False))
    yield create_app(WebSettings(data_dir=data_dir), engine=engine)
    engine.dispose()


def test_failures_in_two_app_instances_add_up(app: FastAPI, second_app: FastAPI) -> None:
    first, second = TestClient(app), TestClient(second_app)
    for _ in range(3):
        assert login(first, "admin", WRONG) == 401
    for _ in range(2):
        assert login(second, "admin", WRONG) == 401
    assert login(first, "admin") == 429
    assert login(second, "admin") == 429  # the other worker refuses the right password too


def test_one_address_trying_many_names_is_limited(app: FastAPI, second_app: FastAPI) -> None:
    first, second = TestClient(app), TestClient(second_app)
    for name in ("alice", "bob", "carol"):
        assert login(first, name, WRONG) == 401
    for name in ("dave", "erin"):
        assert login(second, name, WRONG) == 401
    assert login(first, "viewer") == 429  # same client address, any name


def test_a_good_login_clears_the_failures(app: FastAPI, second_app: FastAPI) -> None:
    first, second = TestClient(app), TestClient(second_app)
    for _ in range(4):
        assert login(first, "admin", WRONG) == 401
    assert login(second, "admin") == 303
    third = TestClient(second_app)
    for _ in range(4):
        assert login(third, "admin", WRONG) == 401
    assert login(first, "admin") == 303


def test_the_lockout_ends_when_the_window_has_passed(web_engine: Engine) -> None:
    now = [1_000_000.0]
    limiter = LoginLimiter(web_engine, attempts=5, window=900.0, clock=lambda: now[0])
    other = LoginLimiter(web_engine, attempts=5, window=900.0, clock=lambda: now[0])
    for _ in range(5):
        limiter.failed("Admin", "10.0.0.7")
    assert other.blocked("admin", "10.0.0.9")  # by the name, any case
    assert other.blocked("someone", "10.0.0.7")  # by the address
    assert not other.blocked("someone", "10.0.0.9")
    now[0] += 899.0
    assert other.blocked("admin", "10.0.0.9")
    now[0] += 2.0
    assert not other.blocked("admin", "10.0.0.7")
    limiter.failed("admin", "10.0.0.7")  # forgets the old ones as it counts the new one
    assert not other.blocked("admin", "10.0.0.7")
