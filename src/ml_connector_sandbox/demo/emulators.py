"""Both emulators on loopback, set up for the bundled demo configuration.

The DATEV emulator serves one client matching the demo configuration (Berater
29098, Mandant 55003, Meridian Consulting GmbH, SKR03 with 4-digit accounts) and
an identity provider whose consent step completes without a person
(``auto_consent``, an option of the emulator only). The Looker emulator serves the
demo dataset with a fresh random API3 secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from starlette.applications import Starlette

from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.datev.app import create_app as create_datev_app
from ml_connector_sandbox.emulators.datev.app import emulator_state
from ml_connector_sandbox.emulators.datev.config import EmulatedClient, EmulatorConfig
from ml_connector_sandbox.emulators.datev.idp import IdentityProvider, OAuthClientRegistration
from ml_connector_sandbox.emulators.datev.ledger import Ledger
from ml_connector_sandbox.emulators.datev.store import EmulatorStore
from ml_connector_sandbox.emulators.looker import EndpointFaults, Faults
from ml_connector_sandbox.emulators.looker import create_app as create_looker_app

__all__ = [
    "DEMO_BERATER",
    "DEMO_MANDANT",
    "DEMO_OAUTH_CLIENT",
    "EMULATOR_DIR",
    "DemoEmulators",
    "demo_datev_config",
    "running_emulators",
]

DEMO_BERATER = 29098
DEMO_MANDANT = 55003
DEMO_OAUTH_CLIENT = "ml-connector-demo"
DEMO_LOOKER_CLIENT_ID = "ml-connector-demo"
#: the DATEV emulator's state directory in a demo's data directory
EMULATOR_DIR = "sandbox-datev"


def demo_datev_config(*, fast: bool = True) -> EmulatorConfig:
    """The DATEV emulator's configuration for the demo client.

    ``fast`` answers jobs on the first read with ``Retry-After: 0`` (demo and tests);
    otherwise jobs stay pending for one read, as the emulator's default.
    """
    client = EmulatedClient(
        consultant_number=DEMO_BERATER,
        client_number=DEMO_MANDANT,
        name="Meridian Consulting GmbH",
        fiscal_years=(2024, 2025, 2026),
    )
    if fast:
        return EmulatorConfig(clients=(client,), job_pending_reads=0, retry_after_seconds=0)
    return EmulatorConfig(clients=(client,))


@dataclass(frozen=True)
class DemoEmulators:
    """The running emulators and what a test or the demo needs from them."""

    looker_url: str
    looker_app: Starlette
    looker_client_id: str
    looker_client_secret: SecretStr
    datev_url: str
    datev_app: Starlette
    idp: IdentityProvider
    #: the demo OAuth client is confidential, as DATEV's clients are
    datev_client_secret: SecretStr

    @property
    def issuer(self) -> str:
        """The DATEV emulator's OpenID Connect issuer."""
        return self.datev_url + "/openid"

    @property
    def ledger(self) -> Ledger:
        """Every booking the DATEV emulator accepted."""
        return emulator_state(self.datev_app).ledger


@contextmanager
def running_emulators(
    datev_config: EmulatorConfig | None = None,
    *,
    looker_secret: str | None = None,
    latency_seconds: float = 0.0,
    datev_dir: Path | None = None,
) -> Iterator[DemoEmulators]:
    """Start both emulators on free loopback ports; stop them on exit.

    ``latency_seconds`` is added to every API call of both (benchmarks).
    ``datev_dir`` keeps the DATEV emulator's ledger, jobs, documents and grants
    (started again on it, it continues); without it they go to a temporary
    directory removed on exit.
    """
    secret = SecretStr(looker_secret or secrets.token_urlsafe(24))
    datev_secret = SecretStr(secrets.token_urlsafe(24))
    store = EmulatorStore(datev_dir)
    idp = IdentityProvider(
        oauth_clients=[OAuthClientRegistration(DEMO_OAUTH_CLIENT, datev_secret)],
        auto_consent=True,
        store=store,
    )
    config = datev_config or demo_datev_config()
    faults = None
    if latency_seconds:
        config.faults.latency_seconds = latency_seconds
        faults = Faults(endpoints={"*": EndpointFaults(latency_ms=latency_seconds * 1000)})
    datev_app = create_datev_app(config, idp, store=store)
    looker_app = create_looker_app(
        client_id=DEMO_LOOKER_CLIENT_ID, client_secret=secret, faults=faults
    )
    with ExitStack() as stack:
        stack.callback(store.close)
        datev = stack.enter_context(serve_in_thread(datev_app))
        idp.set_issuer(datev.url + "/openid")
        looker = stack.enter_context(serve_in_thread(looker_app))
        yield DemoEmulators(
            looker_url=looker.url,
            looker_app=looker_app,
            looker_client_id=DEMO_LOOKER_CLIENT_ID,
            looker_client_secret=secret,
            datev_url=datev.url,
            datev_app=datev_app,
            idp=idp,
            datev_client_secret=datev_secret,
        )
