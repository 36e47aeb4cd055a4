"""A fixed-token checker, for running the emulator's APIs without its identity provider."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ml_connector_sandbox.emulators.datev.grants import AccessGrant

__all__ = ["ALL_SCOPES", "StaticTokenChecker"]

ALL_SCOPES = frozenset(
    {
        "datev:accounting:clients",
        "datev:accounting:extf-files-import",
        "accounting:clients:read",
        "accounting:dxso-jobs",
        "accounting:documents",
    }
)


class StaticTokenChecker:
    """Accepts the given tokens for one OAuth client id; :meth:`revoke` removes one."""

    def __init__(
        self, tokens: Iterable[str], *, client_id: str, scopes: Iterable[str] = ALL_SCOPES
    ) -> None:
        self._tokens = set(tokens)
        self._client_id = client_id
        self._scopes = frozenset(scopes)

    def add(self, token: str) -> None:
        """Accept ``token`` from now on."""
        self._tokens.add(token)

    def revoke(self, token: str) -> None:
        """Stop accepting ``token``."""
        self._tokens.discard(token)

    def check_access_token(self, token: str) -> AccessGrant | None:
        """The grant for a known token."""
        if token not in self._tokens:
            return None
        return AccessGrant(
            client_id=self._client_id,
            scopes=self._scopes,
            subject="static",
            expires_at=time.time() + 900,
        )
