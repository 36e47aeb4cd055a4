"""Render tasks: a dashboard rendered to PDF for a period (client and emulator, spec-checked)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from looker_testkit import CLIENT_ID, SECRET
from pypdf import PdfReader

from ml_connector.errors import DataError, RemoteRejectedError
from ml_connector.looker import DashboardRender, LookerClient, render_dashboard_pdf

MakeClient = Callable[..., LookerClient]
MakeApp = Callable[..., Any]


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _board(period: str) -> DashboardRender:
    return DashboardRender("1", {"Period": period})


async def test_dashboard_pdf_shows_the_period_data(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app()
    async with make_client(app) as looker:
        pdf = await render_dashboard_pdf(looker, DashboardRender("1", {"Period": "2024-11"}))
    text = _text(pdf)
    assert "P&L by month" in text
    assert "Period: 2024-11" in text
    assert "Raumkosten" in text
    calls = app.state.looker.calls
    assert calls["create_dashboard_render_task"] == 1
    assert calls["render_task"] >= 4  # walked through the spec's statuses to success
    assert calls["render_task_results"] == 1


async def test_filters_change_the_rendered_data(make_app: MakeApp, make_client: MakeClient) -> None:
    app = make_app()
    async with make_client(app) as looker:
        nov = _text(await render_dashboard_pdf(looker, DashboardRender("1", {"Period": "2024-11"})))
        none = _text(
            await render_dashboard_pdf(looker, DashboardRender("1", {"Period": "1999-01"}))
        )
    assert "Raumkosten" in nov
    assert "Raumkosten" not in none
    assert "(no rows)" in none


async def test_unknown_dashboard_is_a_clear_error(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async with make_client(make_app()) as looker:
        with pytest.raises((DataError, RemoteRejectedError)) as err:
            await render_dashboard_pdf(looker, DashboardRender("404"))
    assert "create_dashboard_render_task" in str(err.value) or "404" in str(err.value)


async def test_results_before_success_are_202_with_retry_after(make_app: MakeApp) -> None:
    app = make_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://l") as http:
        login = await http.post(
            "/api/4.0/login", data={"client_id": CLIENT_ID, "client_secret": SECRET}
        )
        token = login.json()["access_token"]
        auth = {"Authorization": f"token {token}"}
        task = await http.post(
            "/api/4.0/render_tasks/dashboards/1/pdf?width=800&height=600",
            json={"dashboard_filters": "Period=2024-11"},
            headers=auth,
        )
        assert task.status_code == 200
        assert task.json()["status"] == "enqueued_for_query"
        early = await http.get(f"/api/4.0/render_tasks/{task.json()['id']}/results", headers=auth)
        assert early.status_code == 202
        assert early.headers["retry-after"] == "1"
        png = await http.post(
            "/api/4.0/render_tasks/dashboards/1/png?width=800&height=600", json={}, headers=auth
        )
        assert png.status_code == 400
