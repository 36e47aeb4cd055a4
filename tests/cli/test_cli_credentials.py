"""``ml-connector credentials``: secrets stored encrypted, listed without values, rotated."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from ml_connector.cli import main


def test_set_list_rotate(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = Fernet.generate_key().decode()
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", old)
    runner = CliRunner()
    result = runner.invoke(
        main, ["credentials", "set", "looker:acme", "client_secret"], input="s3cr3t-value\n"
    )
    assert result.exit_code == 0, result.output
    assert "s3cr3t-value" not in result.output

    listed = runner.invoke(main, ["credentials", "list", "looker:acme"])
    assert listed.exit_code == 0
    assert "looker:acme/client_secret" in listed.output
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
    from ml_connector.cli._store import open_cli_credential_store

    secret = open_cli_credential_store(None).get("looker:acme", "client_secret")
    assert secret.get_secret_value() == "s3cr3t-value"


def test_empty_secret_is_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ML_CONNECTOR_SECRET_KEYS", Fernet.generate_key().decode())
    result = CliRunner().invoke(main, ["credentials", "set", "x", "y"], input=" \n \n")
    assert result.exit_code != 0
