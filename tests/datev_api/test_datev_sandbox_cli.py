"""``ml-connector sandbox datev`` and the emulator over a real socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from datev_api_support import APP_CLIENT_ID, FakeTokens, emulator_config, make_extf

from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.client import DatevClient
from ml_connector.interfaces.cli import main
from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.datev.app import create_app, emulator_state
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker


def test_cli_builds_emulator_with_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: dict[str, Any] = {}

    def fake_run(app: Any, *, host: str, port: int, log_level: str) -> None:
        started.update(app=app, host=host, port=port)

    monkeypatch.setattr("uvicorn.run", fake_run)
    result = CliRunner().invoke(
        main,
        [
            "sandbox",
            "datev",
            "--port",
            "9123",
            "--error-rate",
            "0.25",
            "--job-pending-reads",
            "3",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert started["port"] == 9123
    state = emulator_state(started["app"])
    assert state.faults.config.error_rate == 0.25
    assert state.config.job_pending_reads == 3
    assert state.idp is not None
    assert "455148-1" in result.output


async def test_client_over_a_real_socket() -> None:
    checker = StaticTokenChecker(["t"], client_id=APP_CLIENT_ID)
    app = create_app(emulator_config(), checker=checker)
    with serve_in_thread(app) as server:
        async with DatevClient(
            FakeTokens(["t"]), app_client_id=APP_CLIENT_ID, endpoints=Endpoints.emulator(server.url)
        ) as client:
            upload = await client.upload_extf(
                "455148-1", make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]), "EXTF_a.csv"
            )
            assert upload.location.startswith(server.url + "/accounting-extf-files/platform/v3/")
            job = await client.get_extf_job("455148-1", upload.job_id)
            assert job.result == "pending"
    assert len(emulator_state(app).ledger.bookings()) == 1
