"""Encryption of stored secrets: binding to owner and kind, key rotation, no leaks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from ml_connector.credentials import (
    CredentialBindingError,
    CredentialDecryptError,
    SecretCipher,
    generate_key,
)

KEY_A = generate_key()
KEY_B = generate_key()


@given(owner=st.text(min_size=1), kind=st.text(min_size=1), secret=st.text())
def test_round_trip_returns_the_secret(owner: str, kind: str, secret: str) -> None:
    cipher = SecretCipher([KEY_A])
    token = cipher.encrypt(owner, kind, SecretStr(secret))
    assert cipher.decrypt(owner, kind, token).get_secret_value() == secret


def test_ciphertext_does_not_contain_the_secret() -> None:
    token = SecretCipher([KEY_A]).encrypt("acme", "refresh_token", SecretStr("plain-secret-value"))
    assert b"plain-secret-value" not in token
    assert b"acme" not in token


@pytest.mark.parametrize(("owner", "kind"), [("globex", "refresh_token"), ("acme", "access_token")])
def test_ciphertext_moved_to_another_owner_or_kind_is_refused(owner: str, kind: str) -> None:
    cipher = SecretCipher([KEY_A])
    token = cipher.encrypt("acme", "refresh_token", SecretStr("acme-secret"))
    with pytest.raises(CredentialBindingError) as info:
        cipher.decrypt(owner, kind, token)
    assert "acme-secret" not in str(info.value)


def test_wrong_key_is_a_clear_error_without_the_secret() -> None:
    token = SecretCipher([KEY_A]).encrypt("acme", "k", SecretStr("acme-secret"))
    with pytest.raises(CredentialDecryptError) as info:
        SecretCipher([KEY_B]).decrypt("acme", "k", token)
    assert "acme-secret" not in str(info.value)
    assert KEY_A not in str(info.value)
    assert KEY_B not in str(info.value)


def test_rotation_re_encrypts_with_the_newest_key() -> None:
    old = SecretCipher([KEY_A]).encrypt("acme", "k", SecretStr("s"))
    both = SecretCipher([KEY_B, KEY_A])
    assert both.decrypt("acme", "k", old).get_secret_value() == "s"
    rotated = both.rotate("acme", "k", old)
    assert SecretCipher([KEY_B]).decrypt("acme", "k", rotated).get_secret_value() == "s"
    with pytest.raises(CredentialDecryptError):
        SecretCipher([KEY_A]).decrypt("acme", "k", rotated)


def test_rotation_refuses_a_swapped_ciphertext() -> None:
    cipher = SecretCipher([KEY_B, KEY_A])
    token = cipher.encrypt("acme", "k", SecretStr("s"))
    with pytest.raises(CredentialBindingError):
        cipher.rotate("globex", "k", token)


def test_repr_hides_the_keys() -> None:
    assert KEY_A not in repr(SecretCipher([KEY_A]))
