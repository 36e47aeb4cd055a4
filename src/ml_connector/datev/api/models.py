"""What the DATEV APIs return, as small immutable values (parsed leniently)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = [
    "SERVICE_BY_CHANNEL",
    "Client",
    "ClientBasics",
    "Document",
    "DocumentType",
    "DxsoJob",
    "DxsoJobStatus",
    "DxsoStatus",
    "ExtfJob",
    "ExtfJobOutcome",
    "ExtfUpload",
    "ProtocolEntry",
    "Service",
]

#: the accounting-clients service (name, scope) each ml-connector channel needs
SERVICE_BY_CHANNEL: dict[str, tuple[str, str]] = {
    "extf": ("Buchungsdatenservice", "datev:accounting:extf-files-import"),
    "dxso": ("Rechnungsdatenservice 1.0", "accounting:dxso-jobs"),
    "documents": ("Belegbilderservice", "accounting:documents"),
}


def _s(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Service:
    """A DATEV data service booked for a client, with the scopes it grants."""

    name: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Client:
    """A DATEV client (Mandant) as accounting-clients returns it."""

    id: str
    consultant_number: int
    client_number: int
    name: str
    services: tuple[Service, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Client:
        """Parse an accounting-clients ``Client``."""
        return cls(
            id=str(data["id"]),
            consultant_number=int(data["consultant_number"]),
            client_number=int(data["client_number"]),
            name=str(data.get("name", "")),
            services=tuple(
                Service(str(s.get("name", "")), tuple(str(x) for x in s.get("scopes") or ()))
                for s in data.get("services") or ()
            ),
        )

    def has_service(self, channel: str) -> bool:
        """Whether the service that ``channel`` (extf, dxso, documents) needs is booked."""
        name, scope = SERVICE_BY_CHANNEL[channel]
        return any(s.name == name or scope in s.scopes for s in self.services)


@dataclass(frozen=True, slots=True)
class ClientBasics:
    """dxso-jobs/documents view of a client: document management and fiscal years."""

    id: str
    consultant_number: int
    client_number: int
    name: str
    is_document_management_available: bool | None = None
    basic_accounting_information: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientBasics:
        """Parse a ``ClientBasics``."""
        return cls(
            id=str(data["id"]),
            consultant_number=int(data.get("consultant_number", 0)),
            client_number=int(data.get("client_number", 0)),
            name=str(data.get("name", "")),
            is_document_management_available=data.get("is_document_management_available"),
            basic_accounting_information=tuple(data.get("basic_accounting_information") or ()),
        )


@dataclass(frozen=True, slots=True)
class DocumentType:
    """A Belege online document type of one client (``metadata.document_type`` is its name)."""

    name: str
    category: str | None = None
    debit_credit_identifier: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentType:
        """Parse a ``DocumentType``."""
        return cls(
            name=str(data["name"]),
            category=_s(data, "category"),
            debit_credit_identifier=_s(data, "debit_credit_identifier"),
        )


@dataclass(frozen=True, slots=True)
class ExtfJob:
    """An extf-files import job; ``result`` is ``pending``, ``succeeded`` or ``failed``."""

    id: str
    result: str
    filename: str | None = None
    reference_id: str | None = None
    timestamp: str | None = None
    data_category_id: int | None = None
    date_from: str | None = None
    date_to: str | None = None
    label: str | None = None
    number_of_accounting_records: int | None = None
    validation_title: str | None = None
    validation_detail: str | None = None
    validation_type: str | None = None
    affected_elements: tuple[tuple[str, str], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def finished(self) -> bool:
        """True once DATEV has decided (succeeded or failed)."""
        return self.result in ("succeeded", "failed")

    def protocol(self) -> list[str]:
        """The job's validation protocol as lines for the user (empty when none)."""
        lines = [x for x in (self.validation_title, self.validation_detail) if x]
        lines += [f"{name}: {reason}" for name, reason in self.affected_elements]
        if self.validation_type and lines:
            lines.append(f"help: {self.validation_type}")
        return lines

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExtfJob:
        """Parse an extf-files ``Job``."""
        details = data.get("validation_details") or {}
        records = data.get("number_of_accounting_records")
        category = data.get("data_category_id")
        return cls(
            id=str(data["id"]),
            result=str(data.get("result", "pending")),
            filename=_s(data, "filename"),
            reference_id=_s(data, "reference_id"),
            timestamp=_s(data, "timestamp"),
            data_category_id=int(category) if category is not None else None,
            date_from=_s(data, "date_from"),
            date_to=_s(data, "date_to"),
            label=_s(data, "label"),
            number_of_accounting_records=int(records) if records is not None else None,
            validation_title=_s(details, "title"),
            validation_detail=_s(details, "detail"),
            validation_type=_s(details, "type"),
            affected_elements=tuple(
                (str(e.get("name", "")), str(e.get("reason", "")))
                for e in details.get("affected_elements") or ()
            ),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class ExtfUpload:
    """DATEV accepted a file: the job to watch and when to look first."""

    client_id: str
    job_id: str
    location: str
    retry_after: float | None


@dataclass(frozen=True, slots=True)
class ExtfJobOutcome:
    """Result of waiting for a job within the read budget."""

    job: ExtfJob
    reads: int

    @property
    def still_running(self) -> bool:
        """The budget is spent and DATEV has not decided yet: come back later."""
        return not self.job.finished

    @property
    def succeeded(self) -> bool:
        """DATEV imported the file."""
        return self.job.result == "succeeded"


class DxsoStatus(IntEnum):
    """dxso-jobs integer job status."""

    OPEN = 0
    PROCESSING = 1
    SUCCEEDED = 2
    FAILED = 3
    PARTIALLY_PROCESSED = 4
    CANCELLED = 5
    CANCELLATION_REFUSED = 6

    @property
    def finished(self) -> bool:
        """Terminal states are 2 to 6."""
        return self >= DxsoStatus.SUCCEEDED


@dataclass(frozen=True, slots=True)
class DxsoJob:
    """A freshly created dxso job with the client's account length and ledger names."""

    id: str
    account_length: int | None = None
    ledger_folder_names: tuple[str, ...] = ()
    cash_ledger_names: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DxsoJob:
        """Parse a ``DXSoJob``."""
        length = data.get("account_length")
        return cls(
            id=str(data["id"]),
            account_length=int(length) if length is not None else None,
            ledger_folder_names=tuple(data.get("ledger_folder_names") or ()),
            cash_ledger_names=tuple(data.get("cash_ledger_names") or ()),
        )


@dataclass(frozen=True, slots=True)
class DxsoJobStatus:
    """A dxso job's status and how many reads it took to learn it."""

    id: str
    status: DxsoStatus
    reads: int = 1

    @property
    def still_running(self) -> bool:
        """Not in a terminal state yet."""
        return not self.status.finished


@dataclass(frozen=True, slots=True)
class ProtocolEntry:
    """One line of a dxso job protocol."""

    time: str | None
    type: str | None
    text: str | None
    context: str | None = None
    filename: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProtocolEntry:
        """Parse a ``ProtocolEntry``."""
        return cls(
            time=_s(data, "time"),
            type=_s(data, "type"),
            text=_s(data, "text"),
            context=_s(data, "context"),
            filename=_s(data, "filename"),
        )


@dataclass(frozen=True, slots=True)
class Document:
    """A document in Belege online; ``created`` is False when the GUID already existed."""

    id: str
    document_type: str | None = None
    note: str | None = None
    file_names: tuple[str, ...] = ()
    created: bool = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        """Parse a ``Document``."""
        return cls(
            id=str(data["id"]),
            document_type=_s(data, "document_type"),
            note=_s(data, "note"),
            file_names=tuple(str(f.get("name", "")) for f in data.get("files") or ()),
        )
