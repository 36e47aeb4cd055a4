"""API3 login: one token per client, single-flight login, re-login before expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["AccessToken", "TokenCache"]


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A Looker access token and when (monotonic seconds) to stop using it."""

    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"AccessToken(value='***', expires_at={self.expires_at:.0f})"


class TokenCache:
    """Holds the current token; only one login runs at a time, however many callers wait.

    A token is renewed ``margin`` seconds before ``expires_in`` runs out (at most 10 %
    of its lifetime, so short-lived tokens still get used).
    """

    def __init__(
        self,
        login: Callable[[], Awaitable[tuple[str, int]]],
        *,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._login = login
        self._margin = margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: AccessToken | None = None
        self.logins = 0

    def __repr__(self) -> str:
        return f"TokenCache(logins={self.logins}, token={'set' if self._token else 'none'})"

    @property
    def current(self) -> AccessToken | None:
        return self._token

    def _fresh(self, token: AccessToken | None) -> bool:
        return token is not None and self._clock() < token.expires_at

    async def get(self) -> str:
        """A valid token, logging in first when there is none or it is about to expire."""
        token = self._token
        if token is not None and self._fresh(token):
            return token.value
        async with self._lock:
            token = self._token
            if token is not None and self._fresh(token):
                return token.value
            value, expires_in = await self._login()
            self.logins += 1
            lifetime = max(float(expires_in), 0.0)
            margin = min(self._margin, lifetime * 0.1)
            self._token = AccessToken(value, self._clock() + lifetime - margin)
            return value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` after a 401 (unless another caller already replaced it)."""
        if self._token is not None and self._token.value == value:
            self._token = None

    def take(self) -> AccessToken | None:
        """Remove and return the current token (for logout)."""
        token, self._token = self._token, None
        return token
