"""Building the clients a run needs from the configuration and the stores.

* Looker: the customer's ``base_url`` and the API3 key from its own credential
  reference (:func:`ml_connector.credentials.resolve.resolve_secret`): ``env:PREFIX``
  reads ``PREFIX_CLIENT_ID`` / ``PREFIX_CLIENT_SECRET``, ``store:OWNER`` the encrypted
  credential store entries ``(OWNER, "looker_client_id")`` and
  ``(OWNER, "looker_client_secret")``.
* DATEV: the stored OAuth connection named after the customer (what
  ``ml-connector datev login --customer NAME`` stores) gives the token manager and the
  app's client id; the API hosts follow the customer's ``environment`` (production,
  sandbox, or an emulator at its ``api_url``). Its tokens go only to the APIs of the
  issuer that granted them.

A DATEV emulator URL (argument or ``ML_CONNECTOR_DATEV_API_URL``) or a Looker URL
override applies only to a customer marked ``emulator = true``
(:mod:`ml_connector.config.access`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine

from ml_connector.config.access import check_issuer, emulator_override
from ml_connector.config.models import Customer, LookerConnection
from ml_connector.credentials import CredentialStore, open_credential_store
from ml_connector.credentials.kinds import LOOKER_CLIENT_ID, LOOKER_CLIENT_SECRET
from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.api.httplog import HttpLog
from ml_connector.datev.client import DatevClient, datev_http_client
from ml_connector.datev.oauth.connection_store import ConnectionStore, relogin_hint
from ml_connector.datev.oauth.manager import TokenManager
from ml_connector.errors import ReconsentRequiredError
from ml_connector.http.clients import ClientPool, tls_context
from ml_connector.runs.extract import LookerCredentials, resolve_looker_credentials
from ml_connector.store.open import open_store

__all__ = [
    "ENV_DATEV_API_URL",
    "LOOKER_CLIENT_ID",
    "LOOKER_CLIENT_SECRET",
    "DatevConnections",
    "SyncSettings",
    "datev_api_url",
    "datev_endpoints",
    "looker_credentials",
    "open_sync_store",
    "store_looker_credentials",
]

#: base URL of a DATEV emulator to use instead of DATEV's hosts
ENV_DATEV_API_URL = "ML_CONNECTOR_DATEV_API_URL"


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """Where a run's inputs live and which endpoints to use.

    ``config_path`` ``None`` means the usual search (``$ML_CONNECTOR_CONFIG``,
    ``./ml-connector.toml``, the data directory). ``looker_url`` and ``datev_api_url``
    (default: ``$ML_CONNECTOR_DATEV_API_URL``) point emulator customers at emulators;
    any other customer refuses them.
    """

    data_dir: Path
    store_url: str | None = None
    config_path: Path | None = None
    looker_url: str | None = None
    datev_api_url: str | None = None

    @property
    def http_log_dir(self) -> Path:
        return self.data_dir / "logs" / "datev-http"


def open_sync_store(settings: SyncSettings) -> Engine:
    """The migrated ml-connector store of ``settings``."""
    return open_store(settings.store_url, data_dir=settings.data_dir)


def store_looker_credentials(
    credentials: CredentialStore, owner: str, client_id: str, client_secret: SecretStr
) -> None:
    """Keep a Looker API3 key encrypted under ``owner`` (reference ``store:OWNER``)."""
    credentials.put(owner, LOOKER_CLIENT_ID, SecretStr(client_id))
    credentials.put(owner, LOOKER_CLIENT_SECRET, client_secret)


def looker_credentials(
    connection: LookerConnection,
    credentials: CredentialStore | None,
    environ: Mapping[str, str] | None = None,
) -> LookerCredentials:
    """The API3 key of ``connection`` from its own reference (environment or store)."""
    return resolve_looker_credentials(connection, environ, store=credentials)


def datev_api_url(customer_id: str, customer: Customer, api_url: str | None = None) -> str | None:
    """The DATEV emulator URL this customer uses (argument, else
    ``$ML_CONNECTOR_DATEV_API_URL``, else its configured ``datev.api_url``); ``None``
    for DATEV's own hosts."""
    url = api_url or os.environ.get(ENV_DATEV_API_URL)
    override = emulator_override(customer_id, customer, what="the DATEV API URL", url=url)
    return override or customer.datev.api_url


def datev_endpoints(customer_id: str, customer: Customer, api_url: str | None = None) -> Endpoints:
    """DATEV's hosts for the customer's environment, or its emulator."""
    url = datev_api_url(customer_id, customer, api_url)
    if url:
        return Endpoints.emulator(url)
    if customer.datev.environment == "production":
        return Endpoints.production()
    return Endpoints.sandbox()


class DatevConnections:
    """Opens a DATEV client per customer, from the stored OAuth connection.

    Without a ``pool`` the HTTP clients live for one step (``async with
    connections.client(...)``). With one (the engine hands its own in, see
    :meth:`use_client_pool`) the DATEV API and token endpoint clients are kept per
    customer, remote and event loop, and reused by the following steps and runs; the
    token goes into each request, never into the kept client.
    """

    def __init__(
        self,
        settings: SyncSettings,
        connections: ConnectionStore,
        pool: ClientPool | None = None,
    ) -> None:
        self.settings = settings
        self.connections = connections
        self.pool = pool

    @asynccontextmanager
    async def _http(
        self, key: tuple[str, ...], build: Callable[[], httpx.AsyncClient]
    ) -> AsyncIterator[httpx.AsyncClient]:
        """The pool's client for ``key``, else a new one closed after the step."""
        if self.pool is not None:
            yield self.pool.client(key, build)
            return
        async with build() as http:
            yield http

    @asynccontextmanager
    async def client(self, customer_id: str, customer: Customer) -> AsyncIterator[DatevClient]:
        """The DATEV client of ``customer`` (connection named after the customer)."""
        info = await asyncio.to_thread(self.connections.info, customer_id)
        if info is None:
            raise ReconsentRequiredError(
                f"no DATEV login stored for customer {customer_id!r}",
                hint=relogin_hint(customer_id),
            )
        api_url = datev_api_url(customer_id, customer, self.settings.datev_api_url)
        check_issuer(customer_id, customer, info.endpoints.issuer, api_url)
        endpoints = datev_endpoints(customer_id, customer, api_url)
        token_key = (customer_id, "datev-token", info.endpoints.token_endpoint)
        api_key = (customer_id, "datev-api", *dataclasses.astuple(endpoints))
        async with (
            self._http(token_key, _token_http_client) as token_http,
            self._http(api_key, datev_http_client) as api_http,
            DatevClient(
                TokenManager(self.connections, customer_id, http=token_http),
                app_client_id=info.client_id,
                endpoints=endpoints,
                http_log=HttpLog(self.settings.http_log_dir),
                http=api_http,
            ) as client,
        ):
            yield client


def _token_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30.0, verify=tls_context())


def open_connections(settings: SyncSettings, engine: Engine) -> DatevConnections:
    """DATEV connections on ``engine`` with the credential keys of ``settings.data_dir``."""
    credentials = open_credential_store(engine, settings.data_dir)
    return DatevConnections(settings, ConnectionStore(engine, credentials))
