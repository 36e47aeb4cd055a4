"""What the DATEV emulator serves: clients, their services and document types, timing, faults.

Load from a JSON or TOML file with :meth:`EmulatorConfig.from_file`, or build in code.
The defaults mirror DATEV's sandbox: consultant 455148 with clients 1 to 3.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SERVICE_SCOPES",
    "EmulatedClient",
    "EmulatedDocumentType",
    "EmulatorConfig",
    "FaultConfig",
]

#: DATEV service names and the scopes accounting-clients lists for them
SERVICE_SCOPES: dict[str, tuple[str, ...]] = {
    "Buchungsdatenservice": ("datev:accounting:extf-files-import",),
    "Belegbilderservice": ("accounting:documents",),
    "Rechnungsdatenservice 1.0": ("accounting:dxso-jobs",),
}


class EmulatedDocumentType(BaseModel):
    """A document type of one client."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    category: str = "other_documents"
    debit_credit_identifier: str | None = None


def _default_document_types() -> list[EmulatedDocumentType]:
    return [
        EmulatedDocumentType(
            name="Rechnungseingang", category="invoices_received", debit_credit_identifier="debit"
        ),
        EmulatedDocumentType(
            name="Rechnungsausgang", category="outgoing_invoices", debit_credit_identifier="credit"
        ),
        EmulatedDocumentType(name="Kasse", category="other_documents"),
        EmulatedDocumentType(name="Sonstige", category="other_documents"),
    ]


class EmulatedClient(BaseModel):
    """One DATEV client (Mandant) of one consultant (Berater)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consultant_number: int = Field(ge=1001, le=9999999)
    client_number: int = Field(ge=1, le=99999)
    name: str
    services: tuple[str, ...] = tuple(SERVICE_SCOPES)
    document_types: tuple[EmulatedDocumentType, ...] = Field(
        default_factory=lambda: tuple(_default_document_types())
    )
    account_length: int = Field(default=4, ge=4, le=8)
    #: the client uses the new Belege online: dxso-jobs answers #DCO01301
    #: (dxso-jobs spec 2.1.7, error table: RDS1UploadNotSupportedFault)
    new_belege_online: bool = False
    #: fiscal years start on 1 January; these years exist
    fiscal_years: tuple[int, ...] = Field(
        default_factory=lambda: tuple(range(date.today().year - 2, date.today().year + 1))
    )
    is_document_management_available: bool = True

    @property
    def id(self) -> str:
        """DATEV's client id: ``<consultant>-<client>`` without leading zeros."""
        return f"{self.consultant_number}-{self.client_number}"


class FaultConfig(BaseModel):
    """Faults the emulator injects into API requests (admin routes are never affected)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    #: share of API requests answered 503 (0..1)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: share of API requests answered 429 with Retry-After (0..1)
    rate_limit_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    rate_limit_retry_after: int = Field(default=1, ge=0)
    #: seconds added to every API request
    latency_seconds: float = Field(default=0.0, ge=0.0)
    #: share of API requests processed but answered 504, as if the answer got lost (0..1)
    lost_response_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: share of EXTF/dxso jobs that fail with an internal error (0..1)
    job_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: share of dxso jobs with two or more data files whose last data file is refused,
    #: ending in status 4 (partially processed) (0..1)
    dxso_partial_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: random seed, for reproducible fault sequences
    seed: int | None = None


class EmulatorConfig(BaseModel):
    """Everything the emulator serves."""

    model_config = ConfigDict(extra="forbid")

    clients: tuple[EmulatedClient, ...] = Field(
        default_factory=lambda: (
            EmulatedClient(consultant_number=455148, client_number=1, name="Muster GmbH 1"),
            EmulatedClient(
                consultant_number=455148,
                client_number=2,
                name="Muster GmbH 2",
                services=("Buchungsdatenservice",),
            ),
            EmulatedClient(
                consultant_number=455148,
                client_number=3,
                name="Muster GmbH 3",
                services=("Belegbilderservice", "Rechnungsdatenservice 1.0"),
            ),
        )
    )
    #: status reads a job stays pending/processing before its result shows
    job_pending_reads: int = Field(default=1, ge=0)
    #: ``Retry-After`` seconds sent with 202 and with pending job reads (DATEV's example: 5)
    retry_after_seconds: int = Field(default=1, ge=0)
    #: seconds an EXTF upload's answer waits for the file's check before answering 202
    #: with the job still pending (the check goes on in a worker thread)
    inline_processing_seconds: float = Field(default=2.0, ge=0.0)
    max_extf_bytes: int = 50 * 1024 * 1024
    max_document_bytes: int = 20 * 1024 * 1024
    faults: FaultConfig = Field(default_factory=FaultConfig)

    def client(self, client_id: str) -> EmulatedClient | None:
        """The configured client with this id."""
        return next((c for c in self.clients if c.id == client_id), None)

    @classmethod
    def from_file(cls, path: Path) -> EmulatorConfig:
        """Load from ``.json`` or ``.toml``."""
        text = path.read_text("utf-8")
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        return cls.model_validate(data)
