"""The OAuth scopes each DATEV API needs (exact strings from DATEV's OpenAPI specs)."""

from __future__ import annotations

from collections.abc import Iterable

from ml_connector.errors import ConfigurationError

__all__ = ["API_SCOPES", "BASE_SCOPES", "CHANNEL_APIS", "apis_for", "scope_for"]

#: always requested: OpenID Connect, the user's name (shown as who gave consent), and
#: a long-lived refresh token for scheduled runs
BASE_SCOPES: tuple[str, ...] = ("openid", "profile", "offline_access")

API_SCOPES: dict[str, tuple[str, ...]] = {
    "clients": ("datev:accounting:clients",),
    "extf-files": ("datev:accounting:clients", "datev:accounting:extf-files-import"),
    "dxso-jobs": ("accounting:clients:read", "accounting:dxso-jobs"),
    "documents": ("accounting:clients:read", "accounting:documents"),
}

#: the DATEV API a channel sends through (``documents``: supporting documents, Belege online)
CHANNEL_APIS: dict[str, str] = {"extf": "extf-files", "dxso": "dxso-jobs", "documents": "documents"}


def apis_for(channels: Iterable[str]) -> tuple[str, ...]:
    """The APIs a login needs for pipelines sending through ``channels`` (EXTF when none)."""
    apis = tuple(dict.fromkeys(CHANNEL_APIS[c] for c in channels if c in CHANNEL_APIS))
    return apis or ("extf-files",)


def scope_for(apis: Iterable[str], *, extra: Iterable[str] = ()) -> str:
    """The space-separated scope for ``apis`` (keys of :data:`API_SCOPES`), no duplicates."""
    scopes: list[str] = list(BASE_SCOPES)
    for api in apis:
        if api not in API_SCOPES:
            raise ConfigurationError(
                f"unknown DATEV API {api!r}", hint=f"use one of {', '.join(API_SCOPES)}"
            )
        scopes.extend(API_SCOPES[api])
    scopes.extend(extra)
    return " ".join(dict.fromkeys(scopes))
