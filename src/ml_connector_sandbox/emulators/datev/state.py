"""Mutable state of one emulator instance: jobs, documents, ledger, faults.

Jobs and documents live in memory for quick access and are written through to the
emulator's :class:`~ml_connector_sandbox.emulators.datev.store.EmulatorStore` on every
change (call :meth:`EmulatorState.save_extf` / ``save_dxso`` / ``save_document``
with ``lock`` held); :meth:`EmulatorState.open` reads them back after a restart.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from starlette.routing import BaseRoute

from ml_connector_sandbox.emulators.datev.config import EmulatorConfig
from ml_connector_sandbox.emulators.datev.faults import FaultInjector
from ml_connector_sandbox.emulators.datev.grants import AccessTokenChecker
from ml_connector_sandbox.emulators.datev.ledger import Ledger
from ml_connector_sandbox.emulators.datev.store import EmulatorStore

__all__ = ["DxsoJobState", "EmulatorState", "ExtfJobState", "IdentityProviderLike"]

_EXTF, _DXSO, _DOCUMENT = "extf_job", "dxso_job", "document"


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
    """One extf-files job; ``final`` is set once processed and revealed after enough reads."""

    client_id: str
    job: dict[str, Any]
    final: dict[str, Any] | None = None
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

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (file contents base64)."""
        data = asdict(self)
        data["files"] = [[n, base64.b64encode(c).decode("ascii")] for n, c in self.files]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DxsoJobState:
        """Inverse of :meth:`to_json`."""
        files = [(n, base64.b64decode(c)) for n, c in data.pop("files")]
        return cls(**data, files=files)


def _interrupted(job: ExtfJobState) -> ExtfJobState:
    """A job whose processing a stop cut short fails as DATEV's internal error does."""
    details = {"type": "http://www.datev.de/hilfe/1008837", "title": "Try again"}
    details["detail"] = "An internal error occurred. Job failed. Try again"
    return ExtfJobState(
        job.client_id, job.job, dict(job.job, result="failed", validation_details=details)
    )


@dataclass
class EmulatorState:
    """Everything one emulator instance remembers (guarded by ``lock``)."""

    config: EmulatorConfig
    checker: AccessTokenChecker
    idp: IdentityProviderLike | None = None
    store: EmulatorStore = field(default_factory=EmulatorStore)
    ledger: Ledger = field(init=False)
    faults: FaultInjector = field(default_factory=FaultInjector)
    extf_jobs: dict[str, ExtfJobState] = field(default_factory=dict)
    dxso_jobs: dict[str, DxsoJobState] = field(default_factory=dict)
    documents: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: jobs being processed off the event loop
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.store)

    @classmethod
    def open(cls, **kwargs: Any) -> EmulatorState:
        """A state with the jobs and documents its store already holds."""
        state = cls(**kwargs)
        for key, data in state.store.objects(_EXTF):
            job = ExtfJobState(**data)
            state.extf_jobs[key] = job if job.final is not None else _interrupted(job)
            state.save_extf(key)
        for key, data in state.store.objects(_DXSO):
            state.dxso_jobs[key] = DxsoJobState.from_json(data)
        for key, data in state.store.objects(_DOCUMENT):
            client_id, _, document_id = key.partition("/")
            state.documents[(client_id, document_id)] = data
        return state

    def save_extf(self, job_id: str) -> None:
        """Write extf job ``job_id`` through to the store."""
        self.store.put(_EXTF, job_id, asdict(self.extf_jobs[job_id]))

    def save_dxso(self, job_id: str) -> None:
        """Write dxso job ``job_id`` through (or its removal, once cancelled)."""
        job = self.dxso_jobs.get(job_id)
        if job is None:
            self.store.delete(_DXSO, job_id)
        else:
            self.store.put(_DXSO, job_id, job.to_json())

    def save_document(self, client_id: str, document_id: str) -> None:
        """Write a stored document's metadata through."""
        self.store.put(
            _DOCUMENT, f"{client_id}/{document_id}", self.documents[(client_id, document_id)]
        )

    def reset(self) -> None:
        """Forget all jobs, documents and ledger entries."""
        with self.lock:
            self.extf_jobs.clear()
            self.dxso_jobs.clear()
            self.documents.clear()
            for kind in (_EXTF, _DXSO, _DOCUMENT):
                self.store.delete(kind)
            self.ledger.reset()
