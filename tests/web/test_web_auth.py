"""Logging in and out, sessions, CSRF, the login rate limit and the security headers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine
from web_support import PASSWORD, TestClient, login, page_csrf

from ml_connector.interfaces.web import WebSettings, create_app
from ml_connector.interfaces.web.app import app_routes
from ml_connector.store.web import list_web_audit


def test_every_route_declares_who_may_use_it(app: FastAPI) -> None:
    undeclared = []
    routes = app_routes(app)
    assert len(routes) > 20
    for route in routes:
        calls = [dep.call for dep in route.dependant.dependencies]
        if not any(hasattr(call, "required_role") for call in calls):
            undeclared.append(route.path)
    assert undeclared == []


def test_anonymous_is_sent_to_login_and_comes_back(app: FastAPI) -> None:
    client = TestClient(app)
    answer = client.get("/?x=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2F%3Fx%3D1"
    assert login(client, "viewer") == 303
    assert "viewer (viewer)" in client.get("/").text


def test_wrong_password_is_refused_and_no_session_is_made(app: FastAPI) -> None:
    client = TestClient(app)
    assert login(client, "viewer", "wrong password!") == 401
    assert login(client, "nobody") == 401
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_redirect_stays_on_this_site(app: FastAPI) -> None:
    client = TestClient(app)
    form = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in form.text


def test_session_cookie_flags(app: FastAPI, web_engine: Engine, data_dir: Path) -> None:
    client = TestClient(app)
    form = client.get("/login")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "mlc_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie
    https = create_app(
        WebSettings(data_dir=data_dir, public_url="https://c.example"), engine=web_engine
    )
    secure = TestClient(https, base_url="https://testserver")
    form = secure.get("/login")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = secure.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert "__host-mlc_session=" in answer.headers["set-cookie"].lower()
    assert "secure" in answer.headers["set-cookie"].lower()


def test_login_without_its_csrf_cookie_is_refused(app: FastAPI) -> None:
    client = TestClient(app)
    answer = client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert answer.status_code == 403


def test_logout_needs_the_csrf_token_then_ends_the_session(
    as_role: dict[str, TestClient], web_engine: Engine
) -> None:
    client = as_role["operator"]
    refused = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
    token = page_csrf(client)
    assert (
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    assert client.get("/", follow_redirects=False).status_code == 303
    actions = [(e.user_name, e.action) for e in list_web_audit(web_engine)]
    assert ("operator", "logout") in actions
    assert ("operator", "login") in actions


def test_failed_logins_are_rate_limited(app: FastAPI) -> None:
    client = TestClient(app)
    for _ in range(5):
        assert login(client, "admin", "wrong password!") == 401
    assert login(client, "admin") == 429  # even the right password waits now
    assert client.get("/", follow_redirects=False).status_code == 303


def test_security_headers(app: FastAPI, web_engine: Engine, data_dir: Path) -> None:
    answer = TestClient(app).get("/login")
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in answer.headers
    assert "<script>" not in answer.text  # CSP forbids inline scripts: none are written
    https = create_app(
        WebSettings(data_dir=data_dir, public_url="https://c.example"), engine=web_engine
    )
    secure = TestClient(https, base_url="https://testserver").get("/login")
    assert secure.headers["strict-transport-security"].startswith("max-age=")


def test_users_add_reads_the_password_from_stdin(data_dir: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    command = [
        sys.executable,
        "-m",
        "ml_connector",
        "users",
        "add",
        "erika",
        "--role",
        "operator",
        "--password-stdin",
        "--store-url",
        store,
    ]
    done = subprocess.run(
        command, input="a long enough password\n", capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    again = subprocess.run(
        command, input="a long enough password\n", capture_output=True, text=True, check=False
    )
    assert again.returncode == 1
    assert again.stderr.strip().startswith("Error: user 'erika' exists")
    from ml_connector.store.db import make_engine

    engine = make_engine(store)
    app = create_app(WebSettings(data_dir=data_dir), engine=engine)
    client = TestClient(app)
    assert login(client, "erika", "a long enough password") == 303
    engine.dispose()
