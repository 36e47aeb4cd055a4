"""``ml-connector ping`` against both emulators: what works, what not, and the fix."""

from __future__ import annotations

from click.testing import CliRunner, Result
from pydantic import SecretStr

from ml_connector.credentials import open_credential_store
from ml_connector.datev.oauth.connection_store import ConnectionStore
from ml_connector.interfaces.cli import main
from ml_connector.runs.connect import open_sync_store, store_looker_credentials
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import LOOKER_OWNER, DemoInstall


def _ping(installed: DemoInstall, emulators: DemoEmulators) -> Result:
    return CliRunner().invoke(
        main,
        [
            "ping",
            "meridian",
            "--config",
            str(installed.config_path),
            "--datev-url",
            emulators.datev_url,
        ],
        env={"COLUMNS": "300"},
    )


def _row(output: str, check: str) -> str:
    return next(line for line in output.splitlines() if f" {check} " in line)


def test_ping_passes_when_both_sides_work(installed: DemoInstall, emulators: DemoEmulators) -> None:
    result = _ping(installed, emulators)
    assert result.exit_code == 0, result.output
    for check in (
        "Looker credentials",
        "Looker login",
        "Looker query",
        "Looker fields",
        "DATEV token",
        "DATEV client",
        "DATEV service",
    ):
        assert "OK" in _row(result.output, check), check
    assert "document types" not in result.output  # an EXTF pipeline uploads no documents
    assert "29098-55003 Meridian Consulting GmbH" in result.output
    assert "all checks passed" in result.output


def test_ping_names_a_wrong_looker_secret(installed: DemoInstall, emulators: DemoEmulators) -> None:
    engine = open_sync_store(installed.settings)
    try:
        credentials = open_credential_store(engine, installed.settings.data_dir)
        store_looker_credentials(
            credentials, LOOKER_OWNER, emulators.looker_client_id, SecretStr("wrong-secret")
        )
    finally:
        engine.dispose()
    result = _ping(installed, emulators)
    assert result.exit_code == 1
    login = _row(result.output, "Looker login")
    assert "FAIL" in login
    assert "check the client id and secret" in login
    assert "not checked" in _row(result.output, "Looker query")
    assert "OK" in _row(result.output, "DATEV client")  # the other side is still checked
    assert "wrong-secret" not in result.output


def test_ping_asks_for_reconsent_when_the_grant_is_revoked(
    installed: DemoInstall, emulators: DemoEmulators
) -> None:
    emulators.idp.revoke_all_tokens()
    result = _ping(installed, emulators)
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if "FAIL" in line and "DATEV" in line]
    assert failed
    assert "datev login --customer meridian" in failed[0]
    assert "OK" in _row(result.output, "Looker query")


def test_ping_reports_a_client_that_is_not_visible(
    installed: DemoInstall, emulators: DemoEmulators
) -> None:
    text = installed.config_path.read_text("utf-8")
    installed.config_path.write_text(
        text.replace("client_number = 55003", "client_number = 55004"), "utf-8"
    )
    result = _ping(installed, emulators)
    assert result.exit_code == 1
    row = _row(result.output, "DATEV client")
    assert "FAIL" in row
    assert "Mandant 55004 not visible" in row
    assert "check the Berater/Mandant numbers" in row
    assert "not checked" in _row(result.output, "DATEV service")


def test_ping_without_a_datev_login_says_how_to_log_in(
    installed: DemoInstall, emulators: DemoEmulators
) -> None:
    engine = open_sync_store(installed.settings)
    try:
        credentials = open_credential_store(engine, installed.settings.data_dir)
        assert ConnectionStore(engine, credentials).delete("meridian")
    finally:
        engine.dispose()
    result = _ping(installed, emulators)
    assert result.exit_code == 1
    token = _row(result.output, "DATEV token")
    assert "FAIL" in token
    assert "no DATEV login stored" in token
    assert "datev login --customer meridian" in token
    assert "not checked" in _row(result.output, "DATEV client")


def test_ping_names_a_misspelled_period_field(
    installed: DemoInstall, emulators: DemoEmulators
) -> None:
    text = installed.config_path.read_text("utf-8")
    installed.config_path.write_text(
        text.replace(
            'period_field = "gl_monthly.period_month"\n',
            'period_field = "gl_monthly.period_mnth"\n',
            1,
        ),
        "utf-8",
    )
    result = _ping(installed, emulators)
    assert result.exit_code == 1
    fields = _row(result.output, "Looker fields")
    assert "FAIL" in fields
    assert "pipelines.gl-monthly.source.period_field" in fields
    assert "'gl_monthly.period_mnth' is not among the fields of Look 1" in fields
    assert "did you mean 'gl_monthly.period_month'?" in fields
    assert "OK" in _row(result.output, "DATEV client")
