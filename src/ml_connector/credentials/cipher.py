"""Encrypt secrets bound to their owner and kind.

Each secret is Fernet-encrypted (AES-128-CBC + HMAC-SHA256, authenticated) together
with its owner and kind; decryption checks both, so a ciphertext copied to another
owner's or kind's row is refused instead of silently handing one tenant's secret to
another. Several keys (newest first) form a :class:`~cryptography.fernet.MultiFernet`:
the newest encrypts, all decrypt, and :meth:`SecretCipher.rotate` re-encrypts with
the newest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from ml_connector.credentials.keys import KeyMaterial, key_list
from ml_connector.errors import ConfigurationError

__all__ = ["CredentialBindingError", "CredentialDecryptError", "SecretCipher"]

_FORMAT = 1


class CredentialDecryptError(ConfigurationError):
    """A stored secret cannot be decrypted with any configured key."""


class CredentialBindingError(ConfigurationError):
    """A stored secret belongs to another owner or kind (swapped or copied ciphertext)."""


class SecretCipher:
    """Encrypts and decrypts secrets bound to ``(owner, kind)``."""

    def __init__(self, keys: Sequence[str | bytes] | KeyMaterial) -> None:
        raw = keys.keys if isinstance(keys, KeyMaterial) else key_list(keys)
        if not raw:
            raise ConfigurationError("no encryption key given")
        self._fernet = MultiFernet([Fernet(k) for k in raw])

    def __repr__(self) -> str:
        return "SecretCipher(<keys hidden>)"

    def encrypt(self, owner: str, kind: str, secret: SecretStr) -> bytes:
        """Ciphertext of ``secret``, bound to ``owner`` and ``kind``."""
        payload = {"f": _FORMAT, "o": owner, "k": kind, "s": secret.get_secret_value()}
        return self._fernet.encrypt(json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    def decrypt(self, owner: str, kind: str, ciphertext: bytes) -> SecretStr:
        """The secret, after checking that it was stored for ``owner`` and ``kind``."""
        try:
            plain = self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise CredentialDecryptError(
                f"stored {kind} of {owner!r} cannot be decrypted with the configured keys",
                hint="configure the key it was encrypted with (keep old keys after the new "
                "one until `rotate` has run), or store the secret again",
            ) from None
        payload = json.loads(plain)
        if payload.get("o") != owner or payload.get("k") != kind:
            raise CredentialBindingError(
                f"stored {kind} of {owner!r} was encrypted for another owner or kind",
                hint="the row was copied or swapped; store the secret again for this owner",
            )
        return SecretStr(str(payload["s"]))

    def rotate(self, owner: str, kind: str, ciphertext: bytes) -> bytes:
        """Re-encrypt with the newest key (after checking the binding)."""
        self.decrypt(owner, kind, ciphertext)
        return self._fernet.rotate(ciphertext)
