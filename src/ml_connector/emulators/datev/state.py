"""Mutable state of one emulator instance: jobs, documents, ledger, faults."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.routing import BaseRoute

from ml_connector.emulators.datev.config import EmulatorConfig
from ml_connector.emulators.datev.faults import FaultInjector
from ml_connector.emulators.datev.grants import AccessTokenChecker
from ml_connector.emulators.datev.ledger import Ledger

__all__ = ["DxsoJobState", "EmulatorState", "ExtfJobState", "IdentityProviderLike"]


class IdentityProviderLike(AccessTokenChecker, Protocol):
    """What the emulator needs from its identity provider."""

    def routes(self) -> list[BaseRoute]:
        """OAuth/OIDC routes to mount next to the APIs."""
        ...

    def revoke_all_tokens(self) -> object:
        """Fault: every access and refresh token stops working."""
        ...

    def expire_refresh_tokens(self) -> object:
        """Fault: refresh tokens expire (the next refresh fails with invalid_grant)."""
        ...


@dataclass
class ExtfJobState:
    """One extf-files job; ``final`` is revealed after enough reads."""

    client_id: str
    job: dict[str, Any]
    final: dict[str, Any]
    reads: int = 0


@dataclass
class DxsoJobState:
    """One dxso job and its files."""

    client_id: str
    id: str
    import_type: str
    accounting_month: str
    status: int = 0
    files: list[tuple[str, bytes]] = field(default_factory=list)
    protocol: list[dict[str, Any]] = field(default_factory=list)
    final_status: int | None = None
    reads: int = 0


@dataclass
class EmulatorState:
    """Everything one emulator instance remembers (guarded by ``lock``)."""

    config: EmulatorConfig
    checker: AccessTokenChecker
    idp: IdentityProviderLike | None = None
    ledger: Ledger = field(default_factory=Ledger)
    faults: FaultInjector = field(default_factory=FaultInjector)
    extf_jobs: dict[str, ExtfJobState] = field(default_factory=dict)
    dxso_jobs: dict[str, DxsoJobState] = field(default_factory=dict)
    documents: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        """Forget all jobs, documents and ledger entries."""
        with self.lock:
            self.extf_jobs.clear()
            self.dxso_jobs.clear()
            self.documents.clear()
            self.ledger.reset()
