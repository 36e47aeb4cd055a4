"""``ml-connector datev login / status / logout`` against the emulator's identity provider."""

from __future__ import annotations

import shutil
import threading
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from datev_auth_support import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, browse_to_callback

import ml_connector
from ml_connector.interfaces.cli import main
from ml_connector_sandbox.emulators._server import ServerHandle
from ml_connector_sandbox.emulators.datev.idp import IdentityProvider


@pytest.fixture
def fake_browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the web browser by a thread that completes the consent and calls back."""
    opened: list[str] = []

    def open_url(url: str, *args: object, **kwargs: object) -> bool:
        opened.append(url)
        redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]

        def user() -> None:
            params = browse_to_callback(url, redirect_uri)
            httpx.get(f"{redirect_uri}?{urlencode(params)}", timeout=10)

        threading.Thread(target=user, daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", open_url)
    return opened


def test_login_status_logout(
    idp: IdentityProvider,
    idp_server: ServerHandle,
    data_dir: Path,
    fake_browser: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ML_CONNECTOR_SECRET_KEYS", raising=False)
    monkeypatch.setenv("TEST_DATEV_SECRET", CONFIDENTIAL_SECRET)
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "datev",
            "login",
            "--connection",
            "acme",
            "--environment",
            f"{idp_server.url}/openid",
            "--client-id",
            CONFIDENTIAL_CLIENT,
            "--client-secret-env",
            "TEST_DATEV_SECRET",
            "--api",
            "extf-files",
            "--api",
            "documents",
            "--port",
            "0",
            "--timeout",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Connected 'acme'" in result.output
    assert "accounting:documents" in result.output
    assert (data_dir / "secret.key").exists()
    assert "secret.key" in result.output  # the generated key file is announced
    assert len(fake_browser) == 1
    assert idp.counts["authorization_code"] == 1
    assert CONFIDENTIAL_SECRET not in result.output

    status = runner.invoke(main, ["datev", "status"])
    assert status.exit_code == 0, status.output
    assert "acme: connected" in status.output
    assert "confidential" in status.output
    assert "user:          Demo Berater" in status.output

    idp.revoke_all_tokens()
    logout = runner.invoke(main, ["datev", "logout", "acme"])
    assert logout.exit_code == 0, logout.output
    assert idp.counts["revocation"] == 2
    after = runner.invoke(main, ["datev", "status", "acme"])
    assert after.exit_code == 1
    assert "not connected" in after.output


def test_login_without_browser_prints_the_url_and_times_out(
    idp_server: ServerHandle, data_dir: Path
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "datev",
            "login",
            "--environment",
            f"{idp_server.url}/openid",
            "--client-id",
            "mlc-public",
            "--port",
            "0",
            "--no-browser",
            "--timeout",
            "1",
        ],
    )
    assert result.exit_code == 1
    assert f"{idp_server.url}/openid/authorize?" in result.output
    assert "code_challenge_method=S256" in result.output
    assert "no login arrived" in result.output


def test_login_needs_a_client_id(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["datev", "login", "--environment", "sandbox"])
    assert result.exit_code == 1
    assert "--client-id" in result.output


def test_unknown_environment_is_explained(data_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["datev", "login", "--environment", "staging", "--client-id", "x"]
    )
    assert result.exit_code == 1
    assert "production, sandbox, or the issuer URL" in result.output


def test_login_for_a_configured_customer_uses_its_oauth_section(
    idp: IdentityProvider,
    idp_server: ServerHandle,
    data_dir: Path,
    tmp_path: Path,
    fake_browser: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo = Path(ml_connector.__file__).parent / "examples" / "demo"
    config_dir = tmp_path / "config"
    shutil.copytree(demo, config_dir)
    config = config_dir / "ml-connector.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("[customers.meridian]\n", "[customers.meridian]\nemulator = true\n", 1)
    text = text.replace(
        'environment = "sandbox"\n',
        'environment = "sandbox"\n\n[customers.meridian.datev.oauth]\n'
        f'client_id = "{CONFIDENTIAL_CLIENT}"\nclient_secret = "env:TEST_DATEV"\n'
        'redirect_uri = "http://127.0.0.1:8765/callback"\n',
        1,
    )
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TEST_DATEV_CLIENT_SECRET", CONFIDENTIAL_SECRET)
    result = CliRunner().invoke(
        main,
        [
            "datev",
            "login",
            "--customer",
            "meridian",
            "--config",
            str(config),
            "--environment",
            f"{idp_server.url}/openid",
            "--port",
            "0",
            "--timeout",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Connected 'meridian' to {idp_server.url}/openid" in result.output
    assert f"client {CONFIDENTIAL_CLIENT}, confidential" in result.output
    assert idp.counts["authorization_code"] == 1
