"""Every booking the emulator accepted, so tests can prove "nothing lost, nothing twice".

A transfer is one accepted upload (EXTF file or dxso job). A file whose name and
content equal an earlier successful transfer of the same client is recorded as a
*duplicate transfer*: DATEV itself does not reject it (no such check is documented),
but its bookings are not added again here, and :meth:`Ledger.duplicates` lists it,
so a test that expects exactly-once delivery fails loudly.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

__all__ = ["Booking", "Ledger", "StoredDocument", "Transfer"]


@dataclass(frozen=True, slots=True)
class Booking:
    """One accepted booking line."""

    client_id: str
    job_id: str
    source: str
    line: int
    amount: Decimal
    debit_credit: str
    account: str
    contra_account: str
    date: str
    document_field: str
    text: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """One accepted upload and what came of it."""

    kind: str
    client_id: str
    job_id: str
    filename: str
    sha256: str
    reference_id: str | None
    received_at: str
    succeeded: bool
    bookings: int
    duplicate_of: str | None = None
    protocol: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document stored in the emulated Belege online."""

    client_id: str
    id: str
    filename: str
    document_type: str
    size: int
    sha256: str


def _json(value: Any) -> Any:
    data = asdict(value)
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in data.items()}


class Ledger:
    """Thread-safe record of transfers, bookings and documents."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transfers: list[Transfer] = []
        self._bookings: list[Booking] = []
        self._documents: list[StoredDocument] = []

    def find_original(self, client_id: str, filename: str, sha256: str) -> Transfer | None:
        """The earlier successful transfer with this name and content, if any."""
        with self._lock:
            return next(
                (
                    t
                    for t in self._transfers
                    if t.succeeded
                    and t.duplicate_of is None
                    and (t.client_id, t.filename, t.sha256) == (client_id, filename, sha256)
                ),
                None,
            )

    def record(self, transfer: Transfer, bookings: list[Booking]) -> Transfer:
        """Record a transfer; bookings count only for successful non-duplicates."""
        with self._lock:
            self._transfers.append(transfer)
            if transfer.succeeded and transfer.duplicate_of is None:
                self._bookings.extend(bookings)
        return transfer

    def add_document(self, document: StoredDocument) -> None:
        """Record a stored document."""
        with self._lock:
            self._documents.append(document)

    def transfers(self, client_id: str | None = None) -> list[Transfer]:
        """All transfers (optionally of one client), oldest first."""
        with self._lock:
            return [t for t in self._transfers if client_id in (None, t.client_id)]

    def bookings(self, client_id: str | None = None) -> list[Booking]:
        """All accepted bookings (optionally of one client)."""
        with self._lock:
            return [b for b in self._bookings if client_id in (None, b.client_id)]

    def duplicates(self) -> list[Transfer]:
        """Transfers that repeated an earlier successful one."""
        with self._lock:
            return [t for t in self._transfers if t.duplicate_of is not None]

    def documents(self, client_id: str | None = None) -> list[StoredDocument]:
        """Stored documents (optionally of one client)."""
        with self._lock:
            return [d for d in self._documents if client_id in (None, d.client_id)]

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            self._transfers.clear()
            self._bookings.clear()
            self._documents.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready view for the admin endpoint."""
        with self._lock:
            return {
                "transfers": [_json(t) for t in self._transfers],
                "bookings": [_json(b) for b in self._bookings],
                "duplicates": [_json(t) for t in self._transfers if t.duplicate_of],
                "documents": [_json(d) for d in self._documents],
            }


def now_iso() -> str:
    """UTC now as DATEV writes timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
