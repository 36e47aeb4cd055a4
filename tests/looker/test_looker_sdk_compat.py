"""The official looker-sdk logs in to the emulator and runs a Look."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ml_connector.emulators._server import ServerHandle, serve_in_thread
from ml_connector.emulators.looker import create_app

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
