"""``ml-connector credentials``: secrets stored encrypted, listed without values, rotated."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from ml_connector.interfaces.cli import main


def test_set_list_rotate(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = Fernet.generate_key().decode()
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", old)
    runner = CliRunner()
    result = runner.invoke(
        main, ["credentials", "set", "looker:acme", "looker_client_secret"], input="s3cr3t-value\n"
    )
    assert result.exit_code == 0, result.output
    assert "s3cr3t-value" not in result.output

    listed = runner.invoke(main, ["credentials", "list", "looker:acme"])
    assert listed.exit_code == 0
    assert "looker:acme/looker_client_secret" in listed.output
    assert "s3cr3t" not in listed.output

    raw = (data_dir / "ml-connector.sqlite3").read_bytes()
    assert b"s3cr3t-value" not in raw

    new = Fernet.generate_key().decode()
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", f"{new},{old}")
    rotated = runner.invoke(main, ["credentials", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "Re-encrypted 1 secret" in rotated.output

    # After rotation the newest key alone decrypts it.
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", new)
    from ml_connector.interfaces.cli._store import open_cli_credential_store

    secret = open_cli_credential_store(None).get("looker:acme", "looker_client_secret")
    assert secret.get_secret_value() == "s3cr3t-value"


def test_empty_secret_is_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", Fernet.generate_key().decode())
    result = CliRunner().invoke(
        main, ["credentials", "set", "x", "looker_client_secret"], input=" \n \n"
    )
    assert result.exit_code != 0


def _one_line_error(output: str, *needles: str) -> None:
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], output


def test_set_refuses_an_unknown_kind_and_lists_the_valid_ones(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", Fernet.generate_key().decode())
    result = CliRunner().invoke(main, ["credentials", "set", "acme", "lookr_secret"], input="x\n")
    assert result.exit_code == 1
    _one_line_error(result.output, "'lookr_secret'", "looker_client_secret", "smtp_password")
    assert "looker_client_id" in CliRunner().invoke(main, ["credentials", "set", "-h"]).output


@pytest.mark.parametrize("command", [["list", "acme"], ["rotate"]])
def test_a_wrong_key_is_one_line(
    command: list[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", Fernet.generate_key().decode())
    stored = runner.invoke(main, ["credentials", "set", "acme", "smtp_password"], input="pw\n")
    assert stored.exit_code == 0, stored.output
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", "not-a-key")
    result = runner.invoke(main, ["credentials", *command])
    assert result.exit_code == 1
    _one_line_error(result.output, "ML_CONNECTOR_SECRET_KEYS", "fix:")
    if command == ["rotate"]:
        monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", Fernet.generate_key().decode())
        result = runner.invoke(main, ["credentials", *command])
        assert result.exit_code == 1
        _one_line_error(result.output, "cannot be decrypted", "fix:")


@pytest.mark.parametrize("content", [None, "schl\u00fcssel".encode()])
def test_an_unreadable_key_file_is_one_line(
    content: bytes | None, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml_connector.credentials.keys import KEY_FILE_NAME

    monkeypatch.delenv("ML_CONNECTOR_SECRET_KEYS", raising=False)
    key_file = data_dir / KEY_FILE_NAME
    if content is None:
        key_file.mkdir(parents=True)
    else:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_bytes(content)
        key_file.chmod(0o600)
    result = CliRunner().invoke(main, ["credentials", "list", "acme"])
    assert result.exit_code == 1
    _one_line_error(result.output, str(key_file), "fix:")
