"""Passwords, random tokens, the login rate limit and the security headers."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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
    """At most ``attempts`` failed logins per key (client address, user name) per window.

    Kept in the process: one ``serve`` process answers logins (see docs/web.md).
    """

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def blocked(self, *keys: str) -> bool:
        """Whether any of ``keys`` used up its attempts."""
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= self.attempts for key in keys)

    def failed(self, *keys: str) -> None:
        """Count one failed login against each of ``keys``."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of ``keys``."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
