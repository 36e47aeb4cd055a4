"""Every booking the emulator accepted, so tests can prove "nothing lost, nothing twice".

A transfer is one accepted upload (EXTF file or dxso job). A file whose name and
content equal an earlier successful transfer of the same client is recorded as a
*duplicate transfer*: DATEV itself does not reject it (no such check is documented),
but its bookings are not added again here, and :meth:`Ledger.duplicates` lists it,
so a test that expects exactly-once delivery fails loudly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ml_connector_sandbox.emulators.datev.store import EmulatorStore

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
    currency: str = ""
    """WKZ Umsatz (empty: the batch currency)"""
    rate: Decimal | None = None
    """Kurs, foreign units per unit of the batch currency"""
    base_amount: Decimal | None = None
    """Basis-Umsatz, the amount in ``base_currency``"""
    base_currency: str = ""
    """WKZ Basis-Umsatz"""


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


_TRANSFER_COLUMNS = (
    "kind, client_id, job_id, filename, sha256, reference_id, received_at, succeeded,"
    " bookings, duplicate_of, protocol"
)
_BOOKING_COLUMNS = (
    "client_id, job_id, source, line, amount, debit_credit, account, contra_account, date,"
    " document_field, text, currency, rate, base_amount, base_currency"
)
_BOOKING_DECIMALS = ("amount", "rate", "base_amount")
_DOCUMENT_COLUMNS = "client_id, id, filename, document_type, size, sha256"


def _transfer(row: Any) -> Transfer:
    return Transfer(
        kind=row["kind"],
        client_id=row["client_id"],
        job_id=row["job_id"],
        filename=row["filename"],
        sha256=row["sha256"],
        reference_id=row["reference_id"],
        received_at=row["received_at"],
        succeeded=bool(row["succeeded"]),
        bookings=row["bookings"],
        duplicate_of=row["duplicate_of"],
        protocol=tuple(json.loads(row["protocol"])),
    )


def _booking(row: Any) -> Booking:
    values = dict(row)
    values.pop("seq", None)
    for name in _BOOKING_DECIMALS:
        text = values[name]
        values[name] = Decimal(text) if text is not None else None
    values["currency"] = values["currency"] or ""
    values["base_currency"] = values["base_currency"] or ""
    return Booking(**values)


def _booking_row(booking: Booking) -> list[Any]:
    """The stored column values of ``booking`` (decimals as text)."""
    out: list[Any] = []
    for column in _BOOKING_COLUMNS.split(","):
        value = getattr(booking, column.strip())
        out.append(str(value) if isinstance(value, Decimal) else value)
    return out


def _document(row: Any) -> StoredDocument:
    values = dict(row)
    values.pop("seq", None)
    return StoredDocument(**values)


def _where_client(client_id: str | None) -> tuple[str, list[str]]:
    return ("WHERE client_id = ?", [client_id]) if client_id is not None else ("", [])


class Ledger:
    """Transfers, bookings and documents, kept in the emulator's SQLite store.

    Bookings are streamed into the database, so memory stays flat; reads come back
    in the order things were accepted. Without a store, a temporary one is used.
    """

    def __init__(self, store: EmulatorStore | None = None) -> None:
        self._store = store or EmulatorStore()

    def _original(self, db: Any, transfer: Transfer) -> str | None:
        """Job id of an earlier successful transfer with this name and content, if any."""
        row = db.execute(
            "SELECT job_id FROM transfers WHERE client_id = ? AND filename = ? AND sha256 = ?"
            " AND succeeded AND duplicate_of IS NULL ORDER BY seq LIMIT 1",
            (transfer.client_id, transfer.filename, transfer.sha256),
        ).fetchone()
        return str(row[0]) if row else None

    def record(self, transfer: Transfer, bookings: Iterable[Booking]) -> Transfer:
        """Record a transfer and, if it succeeded and is no duplicate, its bookings.

        A successful transfer whose name and content equal an earlier successful one
        of the same client is stored as its duplicate (``duplicate_of``, no bookings);
        the check and the write are one transaction. Returns what was stored.
        """
        with self._store.transaction() as db:
            original = self._original(db, transfer) if transfer.succeeded else None
            if original is not None:
                transfer = replace(transfer, duplicate_of=original, bookings=0)
            row = _json(transfer) | {"protocol": json.dumps(list(transfer.protocol))}
            db.execute(
                f"INSERT INTO transfers ({_TRANSFER_COLUMNS}) VALUES ({_marks(11)})",  # noqa: S608
                [row[c.strip()] for c in _TRANSFER_COLUMNS.split(",")],
            )
            if transfer.succeeded and original is None:
                db.executemany(
                    f"INSERT INTO bookings ({_BOOKING_COLUMNS}) VALUES ({_marks(15)})",  # noqa: S608
                    (_booking_row(b) for b in bookings),
                )
        return transfer

    def add_document(self, document: StoredDocument) -> None:
        """Record a stored document."""
        with self._store.transaction() as db:
            db.execute(
                f"INSERT INTO documents ({_DOCUMENT_COLUMNS}) VALUES ({_marks(6)})",  # noqa: S608
                [getattr(document, c.strip()) for c in _DOCUMENT_COLUMNS.split(",")],
            )

    def transfers(self, client_id: str | None = None) -> list[Transfer]:
        """All transfers (optionally of one client), oldest first."""
        where, params = _where_client(client_id)
        sql = f"SELECT {_TRANSFER_COLUMNS} FROM transfers {where} ORDER BY seq"  # noqa: S608
        return [_transfer(r) for r in self._store.rows(sql, params)]

    def bookings(
        self, client_id: str | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[Booking]:
        """Accepted bookings (optionally of one client), a page after position ``after``."""
        return [b for _, b in self.booking_page(client_id, after=after, limit=limit)]

    def booking_page(
        self, client_id: str | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[tuple[int, Booking]]:
        """Bookings with their position (for paging with ``after``)."""
        where, params = _where_client(client_id)
        where = f"{where} AND seq > ?" if where else "WHERE seq > ?"
        sql = f"SELECT seq, {_BOOKING_COLUMNS} FROM bookings {where} ORDER BY seq"  # noqa: S608
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [(r["seq"], _booking(r)) for r in self._store.rows(sql, [*params, after])]

    def count_bookings(self) -> int:
        """How many bookings were accepted."""
        return int(self._store.rows("SELECT COUNT(*) AS n FROM bookings")[0]["n"])

    def duplicates(self) -> list[Transfer]:
        """Transfers that repeated an earlier successful one."""
        sql = (
            f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE duplicate_of IS NOT NULL ORDER BY seq"  # noqa: S608
        )
        return [_transfer(r) for r in self._store.rows(sql)]

    def documents(self, client_id: str | None = None) -> list[StoredDocument]:
        """Stored documents (optionally of one client)."""
        where, params = _where_client(client_id)
        sql = f"SELECT {_DOCUMENT_COLUMNS} FROM documents {where} ORDER BY seq"  # noqa: S608
        return [_document(r) for r in self._store.rows(sql, params)]

    def reset(self) -> None:
        """Forget everything."""
        with self._store.transaction() as db:
            for table in ("transfers", "bookings", "documents"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)

    def snapshot(self, *, after: int = 0, limit: int | None = None) -> dict[str, Any]:
        """JSON-ready view for the admin endpoint; bookings paged by ``after``/``limit``."""
        page = self.booking_page(after=after, limit=limit)
        view: dict[str, Any] = {
            "transfers": [_json(t) for t in self.transfers()],
            "bookings": [_json(b) for _, b in page],
            "duplicates": [_json(t) for t in self.duplicates()],
            "documents": [_json(d) for d in self.documents()],
            "total_bookings": self.count_bookings(),
        }
        if limit is not None and len(page) == limit:
            view["next_after"] = page[-1][0]
        return view


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def now_iso() -> str:
    """UTC now as DATEV writes timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
