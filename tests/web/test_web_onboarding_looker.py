"""Picking a Look on the onboarding page and previewing it, against the Looker emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from web_datev_support import config
from web_support import PASSWORD, TestClient, login

from ml_connector.interfaces.web import WebSettings, create_app
from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.looker import create_app as looker_app


@pytest.fixture
def users(
    web_engine: Engine, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, TestClient]]:
    monkeypatch.setenv("ML_CONNECTOR_LOOKER_CLIENT_ID", "cid")
    monkeypatch.setenv("ML_CONNECTOR_LOOKER_CLIENT_SECRET", "api3-secret")
    with serve_in_thread(looker_app(client_id="cid", client_secret="api3-secret")) as looker:
        path = config(tmp_path / "cfg", "http://127.0.0.1:9", looker_url=looker.url)
        settings = WebSettings(data_dir=data_dir, config_path=path)
        app: FastAPI = create_app(settings, engine=web_engine)
        clients = {role: TestClient(app) for role in ("viewer", "operator")}
        for role, client in clients.items():
            assert login(client, role, PASSWORD) == 303
        yield clients
        for client in clients.values():
            client.close()


def test_operator_previews_the_pipelines_look_as_booking_lines(
    users: dict[str, TestClient],
) -> None:
    onboarding = users["operator"].get("/onboarding/meridian").text
    assert 'href="/onboarding/meridian/looks"' in onboarding
    listing = users["operator"].get("/onboarding/meridian/looks").text
    assert "GL monthly for DATEV" in listing
    assert 'href="/onboarding/meridian/looks?look=1"' in listing

    page = (
        users["operator"]
        .get("/onboarding/meridian/looks", params={"look": "1", "period": "2025-12"})
        .text
    )
    assert "Look 1: pipeline gl-monthly, 2025-12, first 20 rows" in page
    assert page.count("<tr><td>2025-12|") == 20
    assert "nothing sent" in page
    first = '<tr><td>2025-12|IT|OPS-300|BER-IT</td><td class="num">21,441.72</td><td>H</td>'
    assert first + "<td>1590</td><td>4210</td><td>2025-12-31</td>" in page  # the demo's mapping
    assert users["viewer"].get("/onboarding/meridian/looks").status_code == 403


def test_a_look_no_pipeline_reads_offers_the_suggested_mapping(
    users: dict[str, TestClient],
) -> None:
    page = users["operator"].get("/onboarding/meridian/looks", params={"look": "2"}).text
    assert "Look 2: no pipeline reads it yet" in page
    assert "[pipelines.look-2]" in page
    assert "# REVIEW:" in page


def test_failures_are_one_clear_line(
    users: dict[str, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = users["operator"].get("/onboarding/meridian/looks", params={"look": "999"}).text
    assert "Look 999 does not exist" in missing
    bad = (
        users["operator"]
        .get("/onboarding/meridian/looks", params={"look": "1", "period": "2025-13"})
        .text
    )
    assert "period &#39;2025-13&#39; is not YYYY-MM" in bad
    monkeypatch.delenv("ML_CONNECTOR_LOOKER_CLIENT_SECRET")
    no_key = users["operator"].get("/onboarding/meridian/looks").text
    assert "ML_CONNECTOR_LOOKER_CLIENT_SECRET" in no_key
    assert "Traceback" not in missing + bad + no_key


def test_a_row_the_mapping_cannot_book_shows_why_it_is_held(
    users: dict[str, TestClient], tmp_path: Path
) -> None:
    accounts = tmp_path / "cfg" / "accounts.csv"
    kept = [line for line in accounts.read_text("utf-8").splitlines() if "OPS-300" not in line]
    accounts.write_text("\n".join(kept) + "\n", "utf-8")
    page = (
        users["operator"]
        .get("/onboarding/meridian/looks", params={"look": "1", "period": "2025-12"})
        .text
    )
    held = '<tr><td>2025-12|IT|OPS-300|BER-IT</td><td colspan="6" class="error">held: '
    assert held in page
    assert "OPS-300" in page.split(held)[1].split("</td>")[0]  # the reason names the account
    assert (
        '<tr><td>2025-12|IT|OPS-310|BER-IT</td><td class="num">13,258.35</td>' in page
    )  # the rest maps
