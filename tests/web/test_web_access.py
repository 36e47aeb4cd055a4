"""Every route, every principal: who may, who may not; and no answer carries a secret.

The table below names the least role of every route; a route missing from it fails the
test, so a new route cannot be added without deciding who may use it.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from web_support import FILENAME, PASSWORD, TestClient, page_csrf

from ml_connector.interfaces.web.app import app_routes
from ml_connector.store.web import WEB_SESSIONS, create_token

#: (method, path) -> least role; None: anyone
LEAST_ROLE: dict[tuple[str, str], str | None] = {
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("POST", "/logout"): "viewer",
    ("GET", "/"): "viewer",
    ("GET", "/runs/{run_id}"): "viewer",
    ("GET", "/runs/{run_id}/files/{filename}"): "viewer",
    ("GET", "/lineage"): "viewer",
    ("GET", "/audit"): "viewer",
    ("GET", "/audit/export"): "viewer",
    ("GET", "/schedules"): "viewer",
    ("POST", "/actions/start"): "operator",
    ("POST", "/actions/replay"): "operator",
    ("POST", "/actions/cancel"): "operator",
    ("GET", "/users"): "admin",
    ("POST", "/users"): "admin",
    ("POST", "/users/{name}"): "admin",
    ("GET", "/tokens"): "viewer",
    ("POST", "/tokens"): "viewer",
    ("POST", "/tokens/{token_id}/revoke"): "viewer",
    ("GET", "/api/v1/openapi.json"): "viewer",
    ("GET", "/api/v1/ping"): "viewer",
    ("GET", "/api/v1/customers"): "viewer",
    ("GET", "/api/v1/pipelines"): "viewer",
    ("GET", "/api/v1/runs"): "viewer",
    ("GET", "/api/v1/runs/{run_id}"): "viewer",
    ("GET", "/api/v1/runs/{run_id}/held"): "viewer",
    ("POST", "/api/v1/runs"): "operator",
    ("POST", "/api/v1/runs/{run_id}/replay"): "operator",
    ("POST", "/api/v1/runs/{run_id}/cancel"): "operator",
    ("GET", "/api/v1/lineage"): "viewer",
    ("GET", "/api/v1/audit/export"): "viewer",
    ("GET", "/oauth/datev/login/{customer_id}"): "operator",
    ("GET", "/oauth/datev/callback"): None,
    ("POST", "/hooks/looker/{pipeline}"): None,
    ("GET", "/onboarding/{customer_id}"): "viewer",
    ("POST", "/onboarding/{customer_id}/looker"): "operator",
    ("GET", "/onboarding/{customer_id}/datev"): "operator",
    ("GET", "/onboarding/{customer_id}/looks"): "operator",
}
RANK = {"viewer": 0, "operator": 1, "admin": 2}
PRINCIPALS = ("anonymous", "viewer", "operator", "admin", "read token", "operate token")
#: the role each principal acts with (tokens: the scope caps the admin who owns them)
ACTS_AS = {"viewer": "viewer", "operator": "operator", "admin": "admin",
           "read token": "viewer", "operate token": "operator"}  # fmt: skip
READ_TOKEN = "mlc_read-token-for-the-access-test-0000000000"
OPERATE_TOKEN = "mlc_operate-token-for-the-access-test-000000000"
FORM = {"pipeline": "gl-monthly", "period": "2026-11", "run_id": "run:x:2026-01",
        "name": "new-user", "role": "viewer", "password": "another long password",
        "label": "ci", "scope": "read", "username": "nobody"}  # fmt: skip
JSON = {"pipeline": "gl-monthly", "period": "2026-11", "only_failed": False}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(method, route.path) for route in app_routes(app) for method in sorted(route.methods)]


def _url(path: str, run_id: str) -> str:
    values = {"run_id": run_id, "filename": FILENAME, "name": "viewer", "token_id": "999",
              "customer_id": "meridian", "pipeline": "gl-monthly"}  # fmt: skip
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    return path


def test_the_table_names_every_route(app: FastAPI) -> None:
    assert sorted(_routes(app)) == sorted(LEAST_ROLE)


def _call(client: TestClient, method: str, url: str, principal: str, csrf: str | None) -> Any:
    headers = {}
    if principal == "read token":
        headers["authorization"] = f"Bearer {READ_TOKEN}"
    elif principal == "operate token":
        headers["authorization"] = f"Bearer {OPERATE_TOKEN}"
    if method == "GET":
        return client.get(url, headers=headers, follow_redirects=False)
    if url.startswith("/api/"):
        if csrf:
            headers["x-csrf-token"] = csrf
        return client.post(url, json=JSON, headers=headers, follow_redirects=False)
    return client.post(url, data={**FORM, "csrf_token": csrf or ""}, headers=headers,
                       follow_redirects=False)  # fmt: skip


def _expected_refusal(method: str, path: str, principal: str) -> int | None:
    """The refusal status ``principal`` gets on the route, or None if allowed."""
    least = LEAST_ROLE[(method, path)]
    if least is None:
        return None
    api = path.startswith("/api/")
    if principal == "anonymous" or (principal.endswith("token") and not api):
        return 401 if api else 303
    return 403 if RANK[ACTS_AS[principal]] < RANK[least] else None


def test_every_route_with_every_principal(
    app: FastAPI,
    as_role: dict[str, TestClient],
    recorded_run: str,
    web_engine: Engine,
) -> None:
    create_token(web_engine, "admin", "read", "read", READ_TOKEN)
    create_token(web_engine, "admin", "operate", "operate", OPERATE_TOKEN)
    clients = {**as_role, "read token": TestClient(app), "operate token": TestClient(app)}
    csrf = {role: page_csrf(as_role[role]) for role in ("viewer", "operator", "admin")}
    # logging out ends the session, so it goes last
    routes = sorted(_routes(app), key=lambda r: r == ("POST", "/logout"))
    secrets = [PASSWORD, READ_TOKEN, OPERATE_TOKEN, "$argon2", *csrf.values()]
    with web_engine.connect() as conn:
        secrets += list(conn.scalars(select(WEB_SESSIONS.c.token_hash)))
    secrets += [str(as_role[role].cookies.get("mlc_session")) for role in csrf]
    assert all(len(secret) > 20 for secret in secrets[4:])
    outcomes = []
    for principal in PRINCIPALS:
        for method, path in routes:
            url = _url(path, recorded_run)
            answer = _call(clients[principal], method, url, principal, csrf.get(principal))
            refusal = _expected_refusal(method, path, principal)
            got = answer.status_code
            if LEAST_ROLE[(method, path)] is None:
                ok = got < 500  # public: the login form checks its own CSRF cookie
            elif refusal is None:
                ok = got not in (401, 403) and not (
                    got == 303 and answer.headers["location"].startswith("/login?next=")
                )
            else:
                ok = got == refusal
            if refusal == 303:
                ok = ok and answer.headers["location"].startswith("/login?next=")
            outcomes.append((principal, method, path, got, ok))
            body = answer.text
            for secret in secrets:
                if secret in body and not (secret in csrf.values() and "csrf_token" in body):
                    outcomes.append((principal, method, path, f"leaks {secret[:8]}", False))
    failures = [o for o in outcomes if not o[-1]]
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("path", ["/actions/start", "/tokens", "/users"])
def test_a_post_without_the_csrf_token_is_refused(
    as_role: dict[str, TestClient], path: str
) -> None:
    answer = as_role["admin"].post(path, data={**FORM, "csrf_token": "not the token"})
    assert answer.status_code == 403
    assert "form expired" in answer.text


def test_an_api_post_from_a_session_needs_the_csrf_header(
    as_role: dict[str, TestClient], recorded_run: str
) -> None:
    client = as_role["operator"]
    url = f"/api/v1/runs/{recorded_run}/cancel"
    assert client.post(url).status_code == 403
    answer = client.post(url, headers={"x-csrf-token": page_csrf(client)})
    assert answer.status_code == 400  # past the checks: the run is not in the queue
    assert "not waiting in the queue" in answer.json()["error"]


def test_a_revoked_or_unknown_token_is_refused(app: FastAPI, web_engine: Engine) -> None:
    from ml_connector.store.web import list_tokens, revoke_token

    create_token(web_engine, "operator", "ci", "operate", OPERATE_TOKEN)
    client = TestClient(app)
    auth = {"authorization": f"Bearer {OPERATE_TOKEN}"}
    assert client.get("/api/v1/ping", headers=auth).json()["role"] == "operator"
    revoke_token(web_engine, list_tokens(web_engine, "operator")[0].id)
    assert client.get("/api/v1/ping", headers=auth).status_code == 401
    assert client.get("/api/v1/ping", headers={"authorization": "Bearer nope"}).status_code == 401


def test_a_token_is_shown_once_and_stored_hashed(
    as_role: dict[str, TestClient], web_engine: Engine
) -> None:
    from ml_connector.store.web import WEB_API_TOKENS

    client = as_role["viewer"]
    page = client.post("/tokens", data={"label": "laptop", "scope": "read",
                                        "csrf_token": page_csrf(client)}).text  # fmt: skip
    token = page.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert token.startswith("mlc_")
    assert token not in client.get("/tokens").text
    with web_engine.connect() as conn:
        stored = list(conn.execute(select(WEB_API_TOKENS)))
    assert all(token not in str(tuple(row)) for row in stored)
    api = TestClient(client.app)
    assert api.get("/api/v1/ping", headers={"authorization": f"Bearer {token}"}).json() == {
        "status": "ok", "user": "viewer", "role": "viewer", "via": "token"}  # fmt: skip
    refused = client.post("/tokens", data={"label": "x", "scope": "operate",
                                           "csrf_token": page_csrf(client)})  # fmt: skip
    assert refused.status_code == 400


def test_openapi_document_lists_the_api(as_role: dict[str, TestClient]) -> None:
    document = as_role["viewer"].get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/runs/{run_id}/replay" in document["paths"]
    assert not any(path.startswith("/runs") for path in document["paths"])
