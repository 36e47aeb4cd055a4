"""The DATEV emulator as one Starlette app: identity provider, four APIs, admin routes.

URL layout on one port (each DATEV host becomes a path prefix)::

    /accounting-clients/platform/v2/...      accounting-clients 2.0
    /accounting-extf-files/platform/v3/...   extf-files 3.0.1
    /accounting-dxso-jobs/platform/v2/...    dxso-jobs 2.1.7
    /accounting-documents/platform/v2/...    documents 2.1.12
    /admin/...                               ledger, faults, token faults, reset
    (identity provider routes, as the IdentityProvider defines them)

``Endpoints.emulator(url)`` in :mod:`ml_connector.datev.api.endpoints` points the
client at these prefixes.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from ml_connector.datev.api.endpoints import EMULATOR_PREFIXES, DatevApi
from ml_connector_sandbox.emulators.datev.api_admin import admin_routes
from ml_connector_sandbox.emulators.datev.api_clients import clients_routes
from ml_connector_sandbox.emulators.datev.api_documents import documents_routes
from ml_connector_sandbox.emulators.datev.api_dxso import dxso_routes
from ml_connector_sandbox.emulators.datev.api_extf import extf_routes
from ml_connector_sandbox.emulators.datev.config import EmulatorConfig
from ml_connector_sandbox.emulators.datev.faults import FaultInjector
from ml_connector_sandbox.emulators.datev.grants import AccessTokenChecker
from ml_connector_sandbox.emulators.datev.state import EmulatorState, IdentityProviderLike
from ml_connector_sandbox.emulators.datev.store import EmulatorStore
from ml_connector_sandbox.emulators.datev.validation import spec_for

__all__ = ["create_app", "emulator_state"]


def create_app(
    config: EmulatorConfig | None = None,
    idp: IdentityProviderLike | None = None,
    *,
    checker: AccessTokenChecker | None = None,
    store: EmulatorStore | None = None,
) -> Starlette:
    """Build the emulator.

    ``idp`` supplies the OAuth routes and checks bearer tokens; without one, pass a
    ``checker`` (e.g. :class:`.static_tokens.StaticTokenChecker`).
    ``store`` keeps ledger, jobs and documents (give the identity provider the same
    store to keep its grants); without one, a temporary store is used.
    """
    config = config or EmulatorConfig()
    token_checker = checker or idp
    if token_checker is None:
        raise ValueError("create_app needs an identity provider or a token checker")
    for api in DatevApi:
        spec_for(api)  # load and check the specs once, at start-up
    state = EmulatorState.open(
        config=config,
        checker=token_checker,
        idp=idp,
        faults=FaultInjector(config.faults),
        store=store or EmulatorStore(),
    )
    routes: list[BaseRoute] = [
        Mount(EMULATOR_PREFIXES[DatevApi.CLIENTS], routes=clients_routes()),
        Mount(EMULATOR_PREFIXES[DatevApi.EXTF], routes=extf_routes()),
        Mount(EMULATOR_PREFIXES[DatevApi.DXSO], routes=dxso_routes()),
        Mount(EMULATOR_PREFIXES[DatevApi.DOCUMENTS], routes=documents_routes()),
        Mount("/admin", routes=admin_routes()),
    ]
    if idp is not None:
        routes.extend(idp.routes())
    app = Starlette(routes=routes)
    app.state.datev = state
    return app


def emulator_state(app: Starlette) -> EmulatorState:
    """The state (ledger, faults, jobs) of an app made by :func:`create_app`."""
    state: EmulatorState = app.state.datev
    return state
