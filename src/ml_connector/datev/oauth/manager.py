"""The token manager: a valid DATEV access token on demand, refreshed exactly once.

Implements :class:`ml_connector.datev.tokens.AccessTokenSource`. DATEV's refresh
tokens are single-use and rotate, and redeeming one twice kills the whole grant,
so a refresh is serialised on three levels: an :class:`asyncio.Lock` per manager
(coroutines), and the connection's row lock in the database (threads, processes,
machines). After taking the lock the stored state is read again: when another
holder has refreshed meanwhile, its token is used and no second refresh happens.
The new refresh token is committed before the new access token is handed out.
``invalid_grant`` marks the connection "re-consent needed" and raises
:class:`~ml_connector.errors.ReconsentRequiredError`; it is never retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from ml_connector.datev.oauth.client import InvalidGrantError, TokenEndpointClient
from ml_connector.datev.oauth.connection_store import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    ConnectionStore,
    LockedConnection,
    relogin_hint,
)
from ml_connector.errors import ReconsentRequiredError

__all__ = ["DEFAULT_LEEWAY", "TokenManager"]

log = logging.getLogger(__name__)

#: refresh when the access token has less than this many seconds left
DEFAULT_LEEWAY = 60.0


def _fingerprint(token: SecretStr) -> str:
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()


class TokenManager:
    """Access tokens for one stored DATEV connection (an ``AccessTokenSource``)."""

    def __init__(
        self,
        store: ConnectionStore,
        name: str,
        *,
        http: httpx.AsyncClient,
        leeway: float = DEFAULT_LEEWAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.name = name
        self.leeway = leeway
        self._http = http
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: tuple[SecretStr, float] | None = None
        self._rejected: set[str] = set()
        #: how many refresh requests this manager sent (for status output and tests)
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"TokenManager(connection={self.name!r})"

    def _usable(self, token: SecretStr | None, expires_at: float | None) -> bool:
        return (
            token is not None
            and expires_at is not None
            and expires_at - self.leeway > self._clock()
            and _fingerprint(token) not in self._rejected
        )

    async def get_access_token(self) -> SecretStr:
        """A token valid for at least ``leeway`` seconds; refreshes first when needed."""
        cached = self._cached
        if cached is not None and self._usable(*cached):
            return cached[0]
        async with self._lock:
            loaded = await asyncio.to_thread(self.store.access_token, self.name)
            if loaded is None:
                raise ReconsentRequiredError(
                    f"no DATEV connection named {self.name!r} is stored",
                    hint=relogin_hint(self.name),
                )
            info, token = loaded
            if info.reconsent_required:
                raise info.reconsent_error()
            if self._usable(token, info.access_expires_at):
                assert token is not None
                assert info.access_expires_at is not None
                self._cached = (token, info.access_expires_at)
                return token
            return await self._refresh()

    async def invalidate(self, token: SecretStr) -> None:
        """The API refused ``token``: never hand it out again; the next get refreshes."""
        self._rejected.add(_fingerprint(token))
        self._cached = None

    async def _refresh(self) -> SecretStr:
        locked = await asyncio.to_thread(self.store.lock, self.name)
        try:
            outcome = await self._refresh_locked(locked)
            if isinstance(outcome, _GiveUp):
                await asyncio.to_thread(locked.mark_reconsent, outcome.detail)
        except BaseException:
            await asyncio.to_thread(locked.rollback)
            raise
        await asyncio.to_thread(locked.commit)
        if isinstance(outcome, _GiveUp):
            self._cached = None
            log.warning("DATEV connection %r needs consent again: %s", self.name, outcome.detail)
            raise ReconsentRequiredError(
                f"DATEV connection {self.name!r} needs consent again: {outcome.detail}",
                hint=relogin_hint(self.name),
            )
        return outcome

    async def _refresh_locked(self, locked: LockedConnection) -> SecretStr | _GiveUp:
        info = locked.info
        if info is None:
            raise ReconsentRequiredError(
                f"the DATEV connection {self.name!r} was removed",
                hint=relogin_hint(self.name),
            )
        if info.reconsent_required:
            raise info.reconsent_error()
        current = await asyncio.to_thread(locked.secret, ACCESS_TOKEN)
        if self._usable(current, info.access_expires_at):
            # Another coroutine, process or machine refreshed while we waited.
            assert current is not None
            assert info.access_expires_at is not None
            self._cached = (current, info.access_expires_at)
            return current
        refresh_token = await asyncio.to_thread(locked.secret, REFRESH_TOKEN)
        if refresh_token is None:
            return _GiveUp("no refresh token is stored")
        client = await asyncio.to_thread(self.store.client, info, locked)
        token_client = TokenEndpointClient(info.endpoints, client, self._http, clock=self._clock)
        self.refresh_count += 1
        try:
            tokens = await token_client.refresh(refresh_token)
        except InvalidGrantError as exc:
            return _GiveUp(exc.message)
        await asyncio.to_thread(locked.save_tokens, tokens, clock=self._clock())
        log.info("refreshed the DATEV access token of connection %r", self.name)
        self._cached = (tokens.access_token, tokens.expires_at)
        return tokens.access_token


@dataclass(frozen=True)
class _GiveUp:
    """The grant is gone; ``detail`` says why (never a secret)."""

    detail: str
