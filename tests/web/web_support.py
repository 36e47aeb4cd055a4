"""Helpers of the web app tests: the test client, the users' password, logging in."""

from __future__ import annotations

import warnings

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette asks for the httpx fork (httpx2) for its test client; the product uses
    # httpx (docs/dependencies.md), which the test client still drives correctly.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
ROLES = ("viewer", "operator", "admin")


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


RUN_ID = "run:gl-monthly:2026-10"
FILENAME = "EXTF_Buchungsstapel_1.csv"
