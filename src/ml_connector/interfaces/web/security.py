"""Passwords, random tokens, the login rate limit and the security headers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine

from ml_connector.store.web import clear_failed_logins, failed_logins, record_failed_login

__all__ = [
    "LoginLimiter",
    "hash_password",
    "new_token",
    "security_headers",
    "verify_password",
]

_HASHER = PasswordHasher()
#: checked against when the user does not exist, so both cases take the same time
_DUMMY_HASH = _HASHER.hash("not a password of anyone")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def hash_password(password: str) -> str:
    """The argon2id hash to store for ``password``."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (None: no such user; still hashes)."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str = "") -> str:
    """A 256-bit random token, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def security_headers(*, https: bool) -> dict[str, str]:
    """Headers every answer carries: CSP without inline scripts, no framing, HSTS on HTTPS."""
    headers = {
        "content-security-policy": CSP,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    if https:
        headers["strict-transport-security"] = "max-age=63072000; includeSubDomains"
    return headers


class LoginLimiter:
    """At most ``attempts`` failed logins per user name and per client address in
    ``window`` seconds; then every login of that name or from that address waits.

    The failures are kept in the store (``web_login_attempts``), so every process of
    the app on the same store counts them together.
    """

    def __init__(
        self, engine: Engine, attempts: int, window: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.attempts = attempts
        self.window = window
        self.clock = clock

    def blocked(self, user: str, client: str) -> bool:
        """Whether ``user`` or ``client`` used up its attempts."""
        by_user, by_client = failed_logins(
            self.engine, user.lower(), client, self.clock() - self.window
        )
        return max(by_user, by_client) >= self.attempts

    def failed(self, user: str, client: str) -> None:
        """Count one failed login of ``user`` from ``client``."""
        record_failed_login(self.engine, user.lower(), client, self.clock(), self.window)

    def succeeded(self, user: str, client: str) -> None:
        """Forget the failures of ``user`` and of ``client``."""
        clear_failed_logins(self.engine, user.lower(), client)
