"""What the DATEV, Looker-hook and onboarding pages share: configuration and stores."""

from __future__ import annotations

from fastapi import Request

from ml_connector.config import LoadedConfig, find_config, load_config
from ml_connector.config.models import Customer
from ml_connector.credentials import CredentialStore, open_credential_store
from ml_connector.datev.oauth.connection_store import ConnectionStore
from ml_connector.errors import ConfigurationError
from ml_connector.interfaces.web.deps import store
from ml_connector.interfaces.web.settings import WebSettings
from ml_connector.runs.connect import SyncSettings

__all__ = ["config", "connections", "credentials", "customer", "public_url", "sync_settings"]


def settings(request: Request) -> WebSettings:
    """The settings the app was started with."""
    found: WebSettings = request.app.state.settings
    return found


def config(request: Request) -> LoadedConfig:
    """The configuration file, read again on each request (edits apply at once)."""
    return load_config(find_config(settings(request).config_path))


def customer(request: Request, customer_id: str) -> Customer:
    """Customer ``customer_id`` of the configuration; a clear error when unknown."""
    loaded = config(request)
    found = loaded.model.customers.get(customer_id)
    if found is None:
        known = ", ".join(sorted(loaded.model.customers)) or "(none)"
        raise ConfigurationError(
            f"no customer {customer_id!r} in {loaded.path}", hint=f"use one of: {known}"
        )
    return found


def credentials(request: Request) -> CredentialStore:
    """The encrypted credential store on the app's database."""
    return open_credential_store(store(request), settings(request).data_dir)


def connections(request: Request) -> ConnectionStore:
    """The DATEV connections on the app's database."""
    return ConnectionStore(store(request), credentials(request))


def public_url(request: Request) -> str:
    """The address users reach the app at (``--public-url``, else this request's)."""
    return settings(request).public_url or str(request.base_url).rstrip("/")


def sync_settings(request: Request) -> SyncSettings:
    """The settings a run launched from the app uses (same data, store, configuration)."""
    web = settings(request)
    return SyncSettings(
        data_dir=web.data_dir,
        store_url=web.store_url,
        config_path=web.config_path,
        looker_url=web.looker_url,
        datev_api_url=web.datev_url,
    )
