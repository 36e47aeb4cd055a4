"""The DATEV login through the web app, end to end against the emulator's identity provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy import Engine
from web_datev_support import CALLBACK, CLIENT_SECRET, browse_to_callback, config, idp_server
from web_support import PASSWORD, ROLES, TestClient, login, page_csrf

from ml_connector.credentials import open_credential_store
from ml_connector.datev.oauth.connection_store import ConnectionStore
from ml_connector.interfaces.web import WebSettings, create_app
from ml_connector.store.tables import OAUTH_PENDING_LOGINS
from ml_connector.store.web import list_web_audit


@pytest.fixture
def datev_app(
    web_engine: Engine, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FastAPI]:
    monkeypatch.setenv("MLC_WEB_CLIENT_SECRET", CLIENT_SECRET)
    with idp_server() as idp:
        path = config(tmp_path / "cfg", idp.url)
        yield create_app(WebSettings(data_dir=data_dir, config_path=path), engine=web_engine)


@pytest.fixture
def users(datev_app: FastAPI) -> Iterator[dict[str, TestClient]]:
    clients = {"anonymous": TestClient(datev_app)}
    for role in ROLES:
        clients[role] = TestClient(datev_app)
        assert login(clients[role], role, PASSWORD) == 303
    yield clients
    for client in clients.values():
        client.close()


def _consent(client: TestClient) -> dict[str, str]:
    """Start the login as ``client`` and play the browser at DATEV; the callback's query."""
    started = client.get("/oauth/datev/login/meridian", follow_redirects=False)
    assert started.status_code == 303, started.text
    return browse_to_callback(started.headers["location"], CALLBACK)


def _connections(engine: Engine, data_dir: Path) -> ConnectionStore:
    return ConnectionStore(engine, open_credential_store(engine, data_dir))


def test_operator_connects_datev_and_the_audit_names_them(
    users: dict[str, TestClient], web_engine: Engine, data_dir: Path
) -> None:
    params = _consent(users["operator"])
    done = users["operator"].get("/oauth/datev/callback", params=params)
    assert done.status_code == 200
    assert "DATEV connected" in done.text
    info = _connections(web_engine, data_dir).info("meridian")
    assert info is not None
    assert info.status == "connected"
    assert "datev:accounting:extf-files-import" in info.scope
    actions = [(e.user_name, e.action, e.target) for e in list_web_audit(web_engine)]
    assert ("operator", "datev.login.started", "meridian") in actions
    assert ("operator", "datev.login.completed", "meridian") in actions
    again = users["operator"].get("/oauth/datev/callback", params=params)
    assert again.status_code == 400
    assert "already completed" in again.text


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"state": "forged-state-0123456789abcdefghij"}, "unknown, expired or already completed"),
        ({"iss": "https://evil.example/openid"}, "possible mix-up attack"),
        ({"error": "access_denied", "code": ""}, "consent was refused"),
    ],
    ids=["state", "iss", "denied"],
)
def test_a_tampered_callback_is_a_clear_page_and_connects_nothing(
    users: dict[str, TestClient],
    web_engine: Engine,
    data_dir: Path,
    tamper: dict[str, str],
    message: str,
) -> None:
    params = {**_consent(users["operator"]), **tamper}
    answer = users["operator"].get("/oauth/datev/callback", params=params)
    assert answer.status_code == 400
    assert message in answer.text
    assert "Traceback" not in answer.text
    assert _connections(web_engine, data_dir).info("meridian") is None
    audit = [(e.user_name, e.action) for e in list_web_audit(web_engine)]
    assert ("operator", "datev.login.failed") in audit


def test_an_id_token_for_another_nonce_is_refused(
    users: dict[str, TestClient], web_engine: Engine, data_dir: Path
) -> None:
    params = _consent(users["operator"])
    with web_engine.begin() as conn:
        conn.execute(sa.update(OAUTH_PENDING_LOGINS).values(nonce="n" * 43))
    answer = users["operator"].get("/oauth/datev/callback", params=params)
    assert answer.status_code == 400
    assert "another login" in answer.text
    assert _connections(web_engine, data_dir).info("meridian") is None


def test_only_the_user_who_began_the_login_completes_it(users: dict[str, TestClient]) -> None:
    params = _consent(users["operator"])
    stolen = users["admin"].get("/oauth/datev/callback", params=params)
    assert stolen.status_code == 400
    assert "started by another user" in stolen.text
    anonymous = _consent(users["operator"])
    answer = users["anonymous"].get("/oauth/datev/callback", params=anonymous)
    assert answer.status_code == 400
    assert "log in to ml-connector first" in answer.text


def test_viewer_and_anonymous_cannot_start_a_login(users: dict[str, TestClient]) -> None:
    assert users["viewer"].get("/oauth/datev/login/meridian").status_code == 403
    anonymous = users["anonymous"].get("/oauth/datev/login/meridian", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")


def test_unknown_customer_and_production_over_http_are_clear_pages(
    users: dict[str, TestClient], datev_app: FastAPI, tmp_path: Path
) -> None:
    unknown = users["operator"].get("/oauth/datev/login/nobody")
    assert unknown.status_code == 400
    assert "no customer &#39;nobody&#39;" in unknown.text
    path = datev_app.state.settings.config_path
    text = path.read_text("utf-8")
    start = text.index('environment = "emulator"')
    end = text.index("[customers.meridian.datev.oauth]")
    path.write_text(text[:start] + 'environment = "production"\n\n' + text[end:], "utf-8")
    production = users["operator"].get("/oauth/datev/login/meridian")
    assert production.status_code == 400
    assert "DATEV production accepts only HTTPS redirect URIs" in production.text


def test_reconsent_banner_offers_the_login_until_datev_is_connected(
    users: dict[str, TestClient], web_engine: Engine, data_dir: Path
) -> None:
    page = users["operator"].get("/").text
    assert "DATEV for customer <strong>meridian</strong>" in page
    assert "not connected yet" in page
    assert 'href="/oauth/datev/login/meridian"' in page
    viewer = users["viewer"].get("/").text
    assert "Ask an operator to connect DATEV again" in viewer
    assert 'href="/oauth/datev/login/meridian"' not in viewer

    users["operator"].get("/oauth/datev/callback", params=_consent(users["operator"]))
    assert "DATEV for customer" not in users["operator"].get("/").text

    locked = _connections(web_engine, data_dir).lock("meridian")
    locked.mark_reconsent("DATEV refused the token refresh (invalid_grant)")
    locked.commit()
    page = users["operator"].get("/").text
    assert "DATEV refused the token refresh (invalid_grant)" in page
    assert 'href="/oauth/datev/login/meridian"' in page


def test_onboarding_shows_the_connection_the_checks_with_fixes_and_the_hook_snippet(
    users: dict[str, TestClient],
) -> None:
    page = users["operator"].get("/onboarding/meridian").text
    assert "DATEV needs a person to log in" in page
    assert 'href="/oauth/datev/login/meridian"' in page
    assert "[pipelines.gl-monthly.webhook]" in page
    assert "http://testserver/hooks/looker/gl-monthly?token=" in page
    assert (
        'href="/oauth/datev/login/meridian"' not in users["viewer"].get("/onboarding/meridian").text
    )
    users["operator"].get("/oauth/datev/callback", params=_consent(users["operator"]))
    checked = users["operator"].get("/onboarding/meridian", params={"check": "true"}).text
    assert "DATEV is connected." in checked
    assert "Looker API3 key" in checked or "Looker login" in checked
    assert "failed" in checked  # this Looker is unreachable: the failure carries its fix
    assert "Traceback" not in checked
    unknown = users["operator"].get("/onboarding/nobody")
    assert unknown.status_code == 400


def test_onboarding_stores_the_looker_key_encrypted_and_tests_it(
    users: dict[str, TestClient], web_engine: Engine, data_dir: Path
) -> None:
    from ml_connector_sandbox.emulators._server import serve_in_thread
    from ml_connector_sandbox.emulators.looker import create_app as looker_app

    with serve_in_thread(looker_app(client_id="cid", client_secret="api3-secret")) as looker:
        csrf = page_csrf(users["operator"], "/onboarding/meridian")
        form = {"base_url": looker.url, "client_id": "cid", "csrf_token": csrf}
        good = users["operator"].post(
            "/onboarding/meridian/looker", data={**form, "client_secret": "api3-secret"}
        )
        bad = users["operator"].post(
            "/onboarding/meridian/looker", data={**form, "client_secret": "wrong-secret"}
        )
        viewer_csrf = page_csrf(users["viewer"], "/onboarding/meridian")
        viewer = users["viewer"].post(
            "/onboarding/meridian/looker",
            data={**form, "client_secret": "x", "csrf_token": viewer_csrf},
        )
    assert good.status_code == 200
    assert f"logged in at {looker.url}" in good.text
    assert "credential = &#34;store:meridian-looker&#34;" in good.text
    assert "api3-secret" not in good.text
    assert "the login failed" in bad.text
    assert viewer.status_code == 403
    stored = open_credential_store(web_engine, data_dir).find(
        "meridian-looker", "looker_client_secret"
    )
    assert stored is not None
    assert stored.get_secret_value() == "wrong-secret"  # the last key entered is kept


def test_the_login_of_an_emulator_customer_goes_to_the_apps_datev_emulator(
    web_engine: Engine, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``demo --serve`` points the app (and its runs) at an emulator the configuration
    does not name: "Connect DATEV" must send the browser there too, not elsewhere."""
    monkeypatch.setenv("MLC_WEB_CLIENT_SECRET", CLIENT_SECRET)
    with idp_server() as idp:
        path = config(tmp_path / "cfg", "http://127.0.0.1:9")  # nothing listens there
        settings = WebSettings(data_dir=data_dir, config_path=path, datev_url=idp.url)
        with TestClient(create_app(settings, engine=web_engine)) as client:
            assert login(client, "operator", PASSWORD) == 303
            started = client.get("/oauth/datev/login/meridian", follow_redirects=False)
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith(f"{idp.url}/")
