"""The seam between DATEV's OAuth session and the API client.

The API client asks an :class:`AccessTokenSource` for a token before each call
and reports a 401 through :meth:`AccessTokenSource.invalidate`; how tokens are
obtained, refreshed, rotated and stored is the OAuth layer's business.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr

__all__ = ["AccessTokenSource"]


class AccessTokenSource(Protocol):
    """Hands out a DATEV access token that is valid for at least a little while."""

    async def get_access_token(self) -> SecretStr:
        """A current access token, refreshing first when it is about to expire.

        Raises :class:`~ml_connector.errors.ReconsentRequiredError` when the grant is gone.
        """
        ...

    async def invalidate(self, token: SecretStr) -> None:
        """The API rejected ``token`` (401); the next :meth:`get_access_token` must refresh."""
        ...
