"""The official looker-sdk logs in to the emulator and runs a Look."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ml_connector_sandbox.emulators._server import ServerHandle, serve_in_thread
from ml_connector_sandbox.emulators.looker import create_app
from ml_connector_sandbox.emulators.looker.faults import ENDPOINTS

looker_sdk = pytest.importorskip("looker_sdk")
from looker_sdk.rtl import api_settings  # noqa: E402


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerHandle, Any]]:
    app = create_app(client_id="sdk-id", client_secret="sdk-secret")
    handle = serve_in_thread(app)
    yield handle, app
    handle.stop()


def _sdk(url: str, secret: str = "sdk-secret") -> Any:
    class Settings(api_settings.ApiSettings):  # type: ignore[misc]
        def __init__(self) -> None:
            self.values = {
                "base_url": url,
                "client_id": "sdk-id",
                "client_secret": secret,
                "verify_ssl": "false",
                "timeout": "30",
            }
            super().__init__()

        def read_config(self) -> dict[str, str]:
            return dict(self.values)

    return looker_sdk.init40(config_settings=Settings())


def test_sdk_logs_in_and_runs_a_look(server: tuple[ServerHandle, Any]) -> None:
    handle, app = server
    sdk = _sdk(handle.url)
    me_looks = sdk.all_looks()
    assert {look.id for look in me_looks} >= {"1", "2"}
    body = sdk.run_look(look_id="2", result_format="json", limit=10)
    rows = json.loads(body)
    assert len(rows) == 10
    assert set(rows[0]) == {
        "gl_monthly.period_month",
        "gl_monthly.gl_account_number",
        "gl_monthly.total_amount_eur",
        "gl_monthly.row_count",
    }
    explore = sdk.lookml_model_explore(lookml_model_name="finance", explore_name="gl_monthly")
    assert explore.fields.measures[0].name.startswith("gl_monthly.")
    sdk.auth.logout()
    assert app.state.looker.logins >= 1


def test_sdk_with_wrong_secret_fails(server: tuple[ServerHandle, Any]) -> None:
    handle, _ = server
    sdk = _sdk(handle.url, secret="nope")
    with pytest.raises(looker_sdk.error.SDKError):
        sdk.all_looks()


def test_sdk_runs_queries_tasks_and_discovery(server: tuple[ServerHandle, Any]) -> None:
    """Every endpoint the product or the emulator serves, through the official SDK."""
    handle, app = server
    sdk = _sdk(handle.url)
    models = looker_sdk.models40
    assert sdk.all_looks()
    assert json.loads(sdk.run_look(look_id="1", result_format="json", limit=1))
    assert sdk.lookml_model_explore(lookml_model_name="finance", explore_name="gl_monthly").fields
    assert sdk.versions().current_version.version == "4.0"
    assert sdk.me().credentials_api3[0].client_id == "sdk-id"
    assert sdk.look(look_id="2").query_id
    assert "finance" in {m.name for m in sdk.all_lookml_models()}
    assert sdk.lookml_model(lookml_model_name="finance").explores[0].name == "gl_monthly"
    body = models.WriteQuery(
        model="finance",
        view="gl_monthly",
        fields=["gl_monthly.period_month", "gl_monthly.row_count"],
        filters={"gl_monthly.period_month": "2026-01"},
        limit="5",
    )
    inline = json.loads(sdk.run_inline_query(result_format="json", body=body))
    assert inline[0]["gl_monthly.period_month"] == "2026-01"
    created = sdk.create_query(body=body)
    assert sdk.query(query_id=created.id).view == "gl_monthly"
    assert sdk.query_for_slug(slug=created.slug).id == created.id
    assert json.loads(sdk.run_query(query_id=created.id, result_format="json")) == inline
    assert json.loads(sdk.run_query(query_id=created.id, result_format="json_bi"))["rows"] == inline
    assert isinstance(json.loads(sdk.run_url_encoded_query("finance", "gl_monthly", "json")), list)
    task = sdk.create_query_task(
        body=models.WriteCreateQueryTask(
            query_id=created.id, result_format=models.ResultFormat.json
        )
    )
    assert task.id in {r.query_task_id for r in sdk.all_running_queries()}
    while sdk.query_task(query_task_id=task.id).status != "complete":
        pass
    assert json.loads(sdk.query_task_results(query_task_id=task.id)) == inline
    multi = sdk.query_task_multi_results(query_task_ids=models.DelimSequence([task.id]))
    assert multi[task.id]["data"] == inline
    to_kill = sdk.create_query_task(
        body=models.WriteCreateQueryTask(query_id=created.id, result_format=models.ResultFormat.csv)
    )
    sdk.kill_query(query_task_id=to_kill.id)
    assert sdk.query_task(query_task_id=to_kill.id).status == "killed"
    destination = models.ScheduledPlanDestination(
        type="webhook", format="json", address="https://hooks.invalid/looker"
    )
    plan = sdk.create_scheduled_plan(
        body=models.WriteScheduledPlan(
            name="monthly", look_id="1", crontab="0 6 1 * *",
            scheduled_plan_destination=[destination],
        )
    )  # fmt: skip
    assert plan.id is not None
    assert sdk.scheduled_plan(scheduled_plan_id=plan.id).look_id == "1"
    assert sdk.scheduled_plan_run_once_by_id(scheduled_plan_id=plan.id).id != plan.id
    once = models.WriteScheduledPlan(
        name="now", look_id="1", scheduled_plan_destination=[destination]
    )
    assert sdk.scheduled_plan_run_once(body=once).id is not None
    render = sdk.create_dashboard_render_task(
        dashboard_id="1", result_format="pdf", width=800, height=600,
        body=models.CreateDashboardRenderTask(
            dashboard_filters="Period=2025-12", dashboard_style="tiled"
        ),
    )  # fmt: skip
    assert render.id is not None
    while sdk.render_task(render_task_id=render.id).status != "success":
        pass
    assert sdk.render_task_results(render_task_id=render.id)[:5] == b"%PDF-"
    sdk.auth.logout()
    assert set(ENDPOINTS) <= set(app.state.looker.calls)


def test_sdk_raises_its_error_on_a_validation_failure(server: tuple[ServerHandle, Any]) -> None:
    handle, _ = server
    sdk = _sdk(handle.url)
    with pytest.raises(looker_sdk.error.SDKError) as raised:
        sdk.create_query(body=looker_sdk.models40.WriteQuery(model="", view=""))
    assert raised.value.message == "Validation Failed"
    assert {e.field for e in raised.value.errors} == {"model", "view"}
