"""Where the encryption keys for stored credentials come from.

Keys never sit in the database. In order of precedence:

1. ``ML_CONNECTOR_SECRET_KEYS``: comma-separated Fernet keys, newest first;
2. the OS keyring (optional extra ``keyring``), service ``ml-connector``;
3. a key file ``secret.key`` in the data directory (mode 0600), generated on
   first use only when nothing else is configured (demo and development default).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from ml_connector.errors import ConfigurationError
from ml_connector.paths import ensure_data_dir

__all__ = [
    "ENV_SECRET_KEYS",
    "KEYRING_SERVICE",
    "KEYRING_USERNAME",
    "KEY_FILE_NAME",
    "KeyMaterial",
    "generate_key",
    "load_keys",
    "parse_keys",
]

#: environment variable holding comma-separated Fernet keys, newest first
ENV_SECRET_KEYS = "ML_CONNECTOR_SECRET_KEYS"  # noqa: S105 - a variable name
#: keyring service and entry holding the same comma-separated list
KEYRING_SERVICE = "ml-connector"
KEYRING_USERNAME = "secret-keys"
#: the generated development key file inside the data directory
KEY_FILE_NAME = "secret.key"


@dataclass(frozen=True)
class KeyMaterial:
    """Fernet keys (newest first) and a human-readable note on where they came from."""

    keys: tuple[bytes, ...] = field(repr=False)
    source: str


def generate_key() -> str:
    """A fresh Fernet key (url-safe base64 text)."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str, *, source: str) -> tuple[bytes, ...]:
    """Split and check a comma-separated key list; the message never shows a key."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ConfigurationError(
            f"no encryption key in {source}",
            hint="set it to one or more Fernet keys, newest first, separated by commas",
        )
    keys: list[bytes] = []
    for position, part in enumerate(parts, start=1):
        try:
            # a non-ASCII key fails here too (UnicodeEncodeError would quote a character)
            keys.append(part.encode("ascii"))
            Fernet(keys[-1])
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"encryption key #{position} in {source} is not a valid Fernet key",
                hint="generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`",
            ) from None
    return tuple(keys)


def _from_keyring() -> str | None:
    """The key list stored in the OS keyring, or ``None`` when there is no usable keyring."""
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
        if type(backend).__name__ in {"FailKeyring", "NullKeyring"} or (
            getattr(backend, "priority", 1) <= 0
        ):
            return None
        value = keyring.get_password(KEYRING_SERVICE, KEYRING_USERNAME)
    except (KeyringError, RuntimeError):
        return None
    return str(value) if value else None


def _key_file(path: Path, *, create: bool) -> str | None:
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ConfigurationError(
                f"key file {path} is readable by other users",
                hint=f"run `chmod 600 {path}`",
            )
        try:
            return path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not an ASCII Fernet key"
            raise ConfigurationError(
                f"cannot read key file {path}: {reason}",
                hint=f"make {path} a readable file holding the Fernet key, or set "
                f"{ENV_SECRET_KEYS}",
            ) from None
    if not create:
        return None
    ensure_data_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(generate_key() + "\n")
    return path.read_text(encoding="ascii")


def load_keys(
    data_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    use_keyring: bool = True,
    create_key_file: bool = True,
) -> KeyMaterial:
    """The configured keys: environment, then keyring, then the data-directory key file.

    The key file is generated (mode 0600) only when no other source is configured
    and ``create_key_file`` is true; otherwise a missing key is a
    :class:`~ml_connector.errors.ConfigurationError`.
    """
    env = os.environ if environ is None else environ
    configured = env.get(ENV_SECRET_KEYS, "").strip()
    if configured:
        return KeyMaterial(parse_keys(configured, source=ENV_SECRET_KEYS), ENV_SECRET_KEYS)
    if use_keyring:
        stored = _from_keyring()
        if stored:
            source = f"OS keyring ({KEYRING_SERVICE}/{KEYRING_USERNAME})"
            return KeyMaterial(parse_keys(stored, source=source), source)
    path = data_dir / KEY_FILE_NAME
    text = _key_file(path, create=create_key_file)
    if text is None:
        raise ConfigurationError(
            "no encryption key for stored credentials is configured",
            hint=f"set {ENV_SECRET_KEYS} to a Fernet key (newest first, comma-separated), "
            f"store it in the OS keyring as {KEYRING_SERVICE}/{KEYRING_USERNAME}, "
            f"or let ml-connector create {path}",
        )
    return KeyMaterial(parse_keys(text, source=str(path)), f"key file {path}")


def key_list(keys: Sequence[str | bytes]) -> tuple[bytes, ...]:
    """Normalise keys given as text or bytes."""
    return tuple(k.encode("ascii") if isinstance(k, str) else k for k in keys)
