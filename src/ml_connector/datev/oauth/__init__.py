"""DATEV login and tokens: OAuth 2.0 Authorization Code + PKCE, refresh, encrypted storage.

- :mod:`.endpoints`: DATEV production / sandbox constants and OIDC discovery;
- :mod:`.flow`: ``begin_authorization`` -> (URL, pending) and ``complete_authorization``;
- :mod:`.client`: token endpoint calls (public or confidential client);
- :mod:`.connection_store`: persisted connections, tokens encrypted, row locks;
- :mod:`.manager`: :class:`TokenManager`, the ``AccessTokenSource`` the API client uses;
- :mod:`.loopback` and :mod:`.login`: the CLI's browser login.
"""

from __future__ import annotations

from ml_connector.datev.oauth.client import (
    InvalidGrantError,
    OAuthClient,
    TokenEndpointClient,
    TokenSet,
)
from ml_connector.datev.oauth.connection_store import (
    ConnectionInfo,
    ConnectionStore,
    open_connection_store,
)
from ml_connector.datev.oauth.endpoints import (
    DATEV_PRODUCTION,
    DATEV_SANDBOX,
    ProviderEndpoints,
    discover,
    resolve_endpoints,
)
from ml_connector.datev.oauth.flow import (
    CallbackRejectedError,
    PendingAuthorization,
    begin_authorization,
    complete_authorization,
)
from ml_connector.datev.oauth.manager import TokenManager
from ml_connector.datev.oauth.scopes import API_SCOPES, scope_for

__all__ = [
    "API_SCOPES",
    "DATEV_PRODUCTION",
    "DATEV_SANDBOX",
    "CallbackRejectedError",
    "ConnectionInfo",
    "ConnectionStore",
    "InvalidGrantError",
    "OAuthClient",
    "PendingAuthorization",
    "ProviderEndpoints",
    "TokenEndpointClient",
    "TokenManager",
    "TokenSet",
    "begin_authorization",
    "complete_authorization",
    "discover",
    "open_connection_store",
    "resolve_endpoints",
    "scope_for",
]
