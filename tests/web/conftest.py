"""The web app on a migrated store (SQLite and PostgreSQL), with one user per role."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.exceptions import StarletteDeprecationWarning

from ml_connector.interfaces.web import WebSettings, create_app
from ml_connector.interfaces.web.security import hash_password
from ml_connector.store.db import make_engine, migrate
from ml_connector.store.web import add_user

with warnings.catch_warnings():
    # Starlette asks for the httpx fork (httpx2) for its test client; the product uses
    # httpx (docs/dependencies.md), which the test client still drives correctly.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
ROLES = ("viewer", "operator", "admin")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def web_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store holding the users viewer, operator and admin."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    hashed = hash_password(PASSWORD)
    for role in ROLES:
        add_user(engine, role, role, hashed)
    yield engine
    engine.dispose()


@pytest.fixture
def app(web_engine: Engine, data_dir: Path) -> FastAPI:
    """The app over plain HTTP."""
    return create_app(WebSettings(data_dir=data_dir), engine=web_engine)


def login(client: TestClient, name: str, password: str = PASSWORD) -> int:
    """Log ``client`` in as ``name`` through the form; the status of the POST."""
    form = client.get("/login")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": csrf, "next": "/"},
        follow_redirects=False,
    )
    return answer.status_code


def page_csrf(client: TestClient, path: str = "/") -> str:
    """The CSRF token the session's pages carry."""
    text = client.get(path).text
    return text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


@pytest.fixture
def as_role(app: FastAPI) -> Iterator[dict[str, TestClient]]:
    """A logged-in client per role, plus ``anonymous``."""
    clients = {"anonymous": TestClient(app)}
    for role in ROLES:
        client = TestClient(app)
        assert login(client, role) == 303
        clients[role] = client
    yield clients
    for client in clients.values():
        client.close()
