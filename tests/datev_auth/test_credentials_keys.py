"""Where the credential keys come from: environment, keyring, generated key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ml_connector.credentials import ENV_SECRET_KEYS, generate_key, load_keys
from ml_connector.errors import ConfigurationError


def test_environment_keys_come_newest_first(tmp_path: Path) -> None:
    new, old = generate_key(), generate_key()
    material = load_keys(tmp_path, environ={ENV_SECRET_KEYS: f"{new}, {old}"})
    assert material.keys == (new.encode(), old.encode())
    assert material.source == ENV_SECRET_KEYS
    assert not (tmp_path / "secret.key").exists()


def test_invalid_environment_key_is_reported_without_showing_it(tmp_path: Path) -> None:
    bad = "not-a-fernet-key-but-secret"
    with pytest.raises(ConfigurationError) as info:
        load_keys(tmp_path, environ={ENV_SECRET_KEYS: f"{generate_key()},{bad}"})
    assert "#2" in str(info.value)
    assert bad not in str(info.value)


def test_non_ascii_environment_key_is_reported_without_showing_it(tmp_path: Path) -> None:
    bad = "geheimer-schlüssel"
    with pytest.raises(ConfigurationError) as info:
        load_keys(tmp_path, environ={ENV_SECRET_KEYS: f"{generate_key()},{bad}"})
    assert "#2" in str(info.value)
    assert "ü" not in str(info.value)
    assert info.value.__cause__ is None


def test_key_file_is_generated_private_only_when_nothing_is_configured(tmp_path: Path) -> None:
    first = load_keys(tmp_path, environ={}, use_keyring=False)
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keys(tmp_path, environ={}, use_keyring=False).keys == first.keys
    assert "key file" in first.source


def test_without_key_file_creation_a_missing_key_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=ENV_SECRET_KEYS):
        load_keys(tmp_path, environ={}, use_keyring=False, create_key_file=False)


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text(generate_key())
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_keys(tmp_path, environ={}, use_keyring=False)


def test_headless_machine_without_keyring_falls_back_to_the_key_file(tmp_path: Path) -> None:
    material = load_keys(tmp_path, environ={})
    assert material.keys
    assert (tmp_path / "secret.key").exists()
