"""The seam between the emulator's identity provider and its API routes.

The identity provider issues access tokens; the API routes only need to ask
whether a presented bearer token is valid right now and what it may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["AccessGrant", "AccessTokenChecker"]


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a valid access token stands for."""

    client_id: str
    scopes: frozenset[str]
    subject: str
    expires_at: float


class AccessTokenChecker(Protocol):
    """Answers whether a bearer token is valid now (unexpired, not revoked)."""

    def check_access_token(self, token: str) -> AccessGrant | None:
        """The grant behind ``token``, or ``None`` when it is unknown, expired or revoked."""
        ...
