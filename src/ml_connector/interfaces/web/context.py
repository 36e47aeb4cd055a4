"""What the areas of the web app share: run settings, the configuration, the queue URL."""

from __future__ import annotations

from fastapi import Request

from ml_connector.config import LoadedConfig
from ml_connector.config.models import Customer
from ml_connector.credentials import CredentialStore
from ml_connector.datev.oauth.connection_store import ConnectionStore
from ml_connector.errors import MlConnectorError
from ml_connector.interfaces.web.settings import WebSettings
from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.launch import EngineOptions

__all__ = [
    "connections",
    "credentials",
    "customer",
    "engine_options",
    "load_web_config",
    "public_url",
    "queue_url",
    "settings_of",
    "sync_settings",
]


def settings_of(request: Request) -> WebSettings:
    """The settings the app was created with."""
    settings: WebSettings = request.app.state.settings
    return settings


def sync_settings(request: Request) -> SyncSettings:
    """The settings runs are started with: the same data directory, store and configuration
    as ``ml-connector run``."""
    web = settings_of(request)
    return SyncSettings(
        data_dir=web.data_dir,
        store_url=web.store_url,
        config_path=web.config_path,
        looker_url=web.looker_url,
        datev_api_url=web.datev_url,
    )


def engine_options(request: Request) -> EngineOptions:
    """The engine options (the queue's system database) of this app."""
    return EngineOptions(system_database_url=settings_of(request).system_db_url)


def queue_url(request: Request) -> str:
    """The system database URL the workers take runs from."""
    from ml_connector.engine.runtime import system_database_url

    web = settings_of(request)
    return system_database_url(web.data_dir, web.system_db_url)


def load_web_config(request: Request) -> tuple[LoadedConfig | None, str | None]:
    """The configuration, or None and the one-line reason it cannot be loaded."""
    from ml_connector.config import find_config, load_config

    try:
        return load_config(find_config(settings_of(request).config_path)), None
    except MlConnectorError as exc:
        return None, str(exc)


def customer(request: Request, customer_id: str) -> Customer:
    """Customer ``customer_id`` of the configuration (read again); a clear error if unknown."""
    from ml_connector.config import find_config, load_config
    from ml_connector.errors import ConfigurationError

    loaded = load_config(find_config(settings_of(request).config_path))
    found = loaded.model.customers.get(customer_id)
    if found is None:
        known = ", ".join(sorted(loaded.model.customers)) or "(none)"
        raise ConfigurationError(
            f"no customer {customer_id!r} in {loaded.path}", hint=f"use one of: {known}"
        )
    return found


def credentials(request: Request) -> CredentialStore:
    """The encrypted credential store on the app's database."""
    from ml_connector.credentials import open_credential_store

    return open_credential_store(request.app.state.engine, settings_of(request).data_dir)


def connections(request: Request) -> ConnectionStore:
    """The DATEV connections on the app's database."""
    return ConnectionStore(request.app.state.engine, credentials(request))


def public_url(request: Request) -> str:
    """The address users reach the app at (``--public-url``, else this request's)."""
    return settings_of(request).public_url or str(request.base_url).rstrip("/")
