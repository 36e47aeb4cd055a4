"""Picking the DATEV client on the onboarding page, against the DATEV emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from web_datev_support import CALLBACK, CLIENT_SECRET, browse_to_callback, config, idp_server
from web_support import PASSWORD, TestClient, login

from ml_connector.interfaces.web import WebSettings, create_app


@pytest.fixture
def users(
    web_engine: Engine, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, TestClient]]:
    monkeypatch.setenv("MLC_WEB_CLIENT_SECRET", CLIENT_SECRET)
    with idp_server(apis=True) as datev:
        path = config(tmp_path / "cfg", datev.url)
        app: FastAPI = create_app(
            WebSettings(data_dir=data_dir, config_path=path), engine=web_engine
        )
        clients = {role: TestClient(app) for role in ("viewer", "operator")}
        for role, client in clients.items():
            assert login(client, role, PASSWORD) == 303
        yield clients
        for client in clients.values():
            client.close()


def _connect(operator: TestClient) -> None:
    started = operator.get("/oauth/datev/login/meridian", follow_redirects=False)
    assert started.status_code == 303, started.text
    done = operator.get(
        "/oauth/datev/callback", params=browse_to_callback(started.headers["location"], CALLBACK)
    )
    assert done.status_code == 200, done.text


def _choose_link(page: str, name: str) -> str:
    row = page[page.index(f"<td>{name}</td>") :]
    start = row.index('href="') + len('href="')
    return row[start : row.index('"', start)].replace("&amp;", "&")


def test_not_connected_is_one_clear_line(users: dict[str, TestClient]) -> None:
    page = users["operator"].get("/onboarding/meridian/datev")
    assert page.status_code == 200
    assert "The DATEV client list could not be read: no DATEV login stored" in page.text
    assert 'href="/oauth/datev/login/meridian"' in page.text
    assert "Traceback" not in page.text


def test_operator_lists_clients_and_picks_one_with_services_and_document_types(
    users: dict[str, TestClient],
) -> None:
    _connect(users["operator"])
    onboarding = users["operator"].get("/onboarding/meridian").text
    assert 'href="/onboarding/meridian/datev"' in onboarding
    assert (
        'href="/onboarding/meridian/datev"' not in users["viewer"].get("/onboarding/meridian").text
    )
    listing = users["operator"].get("/onboarding/meridian/datev").text
    assert "<td>455148</td><td>1</td><td>Muster GmbH 1</td>" in listing
    assert "Muster GmbH 2" in listing

    full = users["operator"].get(_choose_link(listing, "Muster GmbH 1")).text
    assert "[customers.meridian.datev]\nconsultant_number = 455148" in full
    assert "client_number = 1   # Mandantennummer: Muster GmbH 1" in full
    assert '<td>documents</td><td>Belegbilderservice</td><td class="ok">yes</td>' in full
    # the demo pipeline uploads documents: the web login asked for their scope too
    assert "Document types: Rechnungseingang (invoices_received), Rechnungsausgang" in full

    only_extf = users["operator"].get(_choose_link(listing, "Muster GmbH 2")).text
    assert '<td>extf</td><td>Buchungsdatenservice</td><td class="ok">yes</td>' in only_extf
    assert '<td>dxso</td><td>Rechnungsdatenservice 1.0</td><td class="error">no</td>' in only_extf
    assert "Document types: Belege online is not booked" in only_extf
    assert "client_number = 2" in only_extf

    unknown = users["operator"].get("/onboarding/meridian/datev", params={"client": "nope"}).text
    assert "does not see the chosen client" in unknown
    assert users["viewer"].get("/onboarding/meridian/datev").status_code == 403
