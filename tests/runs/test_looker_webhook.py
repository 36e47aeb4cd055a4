"""A Looker webhook delivery queues one run of the pipeline's period, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from dbos import DBOSClient
from pydantic import ValidationError

from ml_connector.config import load_config
from ml_connector.config.models import PipelineWebhook
from ml_connector.engine.runtime import Engine, system_database_url
from ml_connector.errors import ConfigurationError, DataError
from ml_connector.runs.hooks import WebhookAuthError, accept_looker_delivery
from ml_connector.runs.launch import EngineOptions, engine_settings
from ml_connector.runs.steps import LiveRunSteps
from ml_connector.schedule import month_period
from ml_connector_sandbox.demo.setup import DemoInstall

SECRET = "hook-secret-0123456789"
#: 1 October 2026, 00:30 in Berlin, still 30 September in UTC
DELIVERED = datetime(2026, 9, 30, 22, 30, tzinfo=UTC).timestamp()


def _body(plan_id: str = "7") -> bytes:
    plan = {"scheduled_plan_id": plan_id, "title": "GL", "type": "Look", "query_id": "1"}
    return json.dumps({"type": "query", "scheduled_plan": plan, "attachment": None}).encode()


@pytest.fixture
def hooked(installed: DemoInstall, monkeypatch: pytest.MonkeyPatch) -> DemoInstall:
    """The demo with a webhook on gl-monthly and the run queue created (no worker runs)."""
    with installed.config_path.open("a", encoding="utf-8") as config:
        config.write('\n[pipelines.gl-monthly.webhook]\nsecret = "env:GL_HOOK"\n')
    monkeypatch.setenv("GL_HOOK", SECRET)
    settings = installed.settings
    steps = LiveRunSteps(settings)
    try:
        Engine(engine_settings(settings, EngineOptions()), steps).launch().shutdown()
    finally:
        steps.close()
    return installed


def _queued(install: DemoInstall) -> list[str]:
    client = DBOSClient(system_database_url=system_database_url(install.settings.data_dir))
    try:
        return [w.workflow_id for w in client.list_workflows()]
    finally:
        client.destroy()


def test_month_period_follows_the_rule_in_the_local_time_zone() -> None:
    moment = datetime.fromtimestamp(DELIVERED, UTC)
    assert month_period("previous_month", moment, "Europe/Berlin") == "2026-09"
    assert month_period("current_month", moment, "Europe/Berlin") == "2026-10"
    assert month_period("previous_month", moment, "UTC") == "2026-08"
    january = datetime(2027, 1, 5, tzinfo=UTC)
    assert month_period("previous_month", january, "Europe/Berlin") == "2026-12"
    with pytest.raises(ValueError, match="unknown period rule"):
        month_period("last_quarter", moment, "UTC")


def test_webhook_settings_refuse_a_plain_secret_a_bad_rule_and_zone() -> None:
    assert PipelineWebhook(secret="store:gl-hook").period == "previous_month"
    for bad in (
        {"secret": "hunter2"},
        {"secret": "env:X", "period": "last_quarter"},
        {"secret": "env:X", "tz": "Mars/Olympus"},
    ):
        with pytest.raises(ValidationError):
            PipelineWebhook.model_validate(bad)


def test_a_delivery_queues_one_run_and_a_repeated_one_nothing(hooked: DemoInstall) -> None:
    settings = hooked.settings
    first = accept_looker_delivery(settings, "gl-monthly", SECRET, _body(), now=DELIVERED)
    assert (first.period, first.run_id, first.queued) == ("2026-09", "run:gl-monthly:2026-09", True)
    again = accept_looker_delivery(settings, "gl-monthly", SECRET, _body(), now=DELIVERED)
    assert again.run_id == first.run_id
    assert again.queued is False
    other_plan = accept_looker_delivery(settings, "gl-monthly", SECRET, _body("8"), now=DELIVERED)
    assert other_plan.run_id == first.run_id  # one run per pipeline and period
    assert _queued(hooked) == ["run:gl-monthly:2026-09"]


@pytest.mark.parametrize("token", [None, "", "hook-secret-012345678", SECRET + "x"])
def test_a_wrong_secret_is_refused_and_queues_nothing(
    hooked: DemoInstall, token: str | None
) -> None:
    with pytest.raises(WebhookAuthError, match="wrong secret"):
        accept_looker_delivery(hooked.settings, "gl-monthly", token, _body(), now=DELIVERED)
    assert _queued(hooked) == []


def test_what_looker_would_not_send_is_refused_in_one_line(hooked: DemoInstall) -> None:
    for body, message in ((b"<html>", "not JSON"), (b"[]", "no scheduled_plan")):
        with pytest.raises(DataError, match=message):
            accept_looker_delivery(hooked.settings, "gl-monthly", SECRET, body)
    with pytest.raises(ConfigurationError, match="accepts no Looker webhook"):
        accept_looker_delivery(hooked.settings, "nope", SECRET, _body())
    assert _queued(hooked) == []


def test_the_secret_can_live_in_the_credential_store(installed: DemoInstall) -> None:
    from pydantic import SecretStr

    from ml_connector.credentials import open_credential_store
    from ml_connector.runs.connect import open_sync_store

    with installed.config_path.open("a", encoding="utf-8") as config:
        config.write('\n[pipelines.gl-monthly.webhook]\nsecret = "store:gl-hook"\n')
    assert load_config(installed.config_path).model.pipelines["gl-monthly"].webhook is not None
    engine = open_sync_store(installed.settings)
    open_credential_store(engine, installed.settings.data_dir).put(
        "gl-hook", "looker_webhook_secret", SecretStr(SECRET)
    )
    engine.dispose()
    with pytest.raises(WebhookAuthError):
        accept_looker_delivery(installed.settings, "gl-monthly", "wrong", _body())
    with pytest.raises(ConfigurationError, match="cannot queue the run"):  # no queue yet
        accept_looker_delivery(installed.settings, "gl-monthly", SECRET, _body())
