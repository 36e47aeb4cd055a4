"""The audit trail: append-only events, hash-chained per DATEV client.

Every event stores ``seq`` (1, 2, 3, ... within its chain), ``prev_hash`` (the
previous event's ``row_hash``, 64 zeros for the first) and
``row_hash = SHA-256(prev_hash || canonical JSON of the event)``, where the event is
the object ``{chain, seq, recorded_at, run_id, kind, row_key, filename, payload}``
with ``payload`` as its stored canonical JSON text. Changing, inserting or removing
any event breaks the chain at that point; :func:`verify` recomputes every chain and
names the first broken link. The chain head (``audit_chain_heads``) also detects a
cut-off tail; the database lets it move only forward, onto an existing event. A
chain head kept outside the database (an *anchor*, :func:`anchor`, carried by each
run's report and notification) proves that no event up to it was removed or changed,
even after a rewrite by someone with database access. ``verify`` also checks the
``posted_records`` and ``runs`` rows against the events that vouch for them
(:mod:`ml_connector.store.integrity`).

Appends to one chain are serialised: PostgreSQL locks the chain's head row (an
upsert that returns it; the lock lasts until commit), SQLite writes under
``BEGIN IMMEDIATE``. The database refuses UPDATE and DELETE on ``audit_events``
(triggers installed by the migration).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ml_connector.canonical import canonical_json, canonical_text, sha256_hex
from ml_connector.errors import ConfigurationError
from ml_connector.store.integrity import ChainFacts, check_posted, check_runs
from ml_connector.store.tables import AUDIT_EVENTS, CHAIN_HEADS, RUNS
from ml_connector.store.transactions import utc_now, write_transaction

__all__ = [
    "ANCHOR_FORMAT",
    "GENESIS_HASH",
    "AuditEvent",
    "ChainHead",
    "ChainReport",
    "StoredEvent",
    "anchor",
    "anchor_document",
    "append_events",
    "append_in",
    "chain_heads",
    "chains",
    "event_hash",
    "event_payload",
    "file_bookings",
    "has_event",
    "head_in",
    "iter_events",
    "read_anchor",
    "recorded_row_sources",
    "verify",
]

#: ``prev_hash`` of the first event of every chain
GENESIS_HASH = "0" * 64
#: ``format`` of an anchor document
ANCHOR_FORMAT = "ml-connector-audit-anchor/1"
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a chain ends: its last sequence number and that event's hash."""

    chain: str
    seq: int
    head_hash: str

    def as_json(self) -> dict[str, Any]:
        """The head as stored in an anchor."""
        return {"chain": self.chain, "seq": self.seq, "head_hash": self.head_hash}


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """An event to append; ``payload`` must be JSON-serialisable (Decimal allowed).

    ``payload_json``, when given, is the payload's canonical JSON, stored as it is
    (``payload`` is then ignored): for callers that hold the text already.
    """

    kind: str
    run_id: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    row_key: str | None = None
    filename: str | None = None
    payload_json: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored, with its position in the chain and its hashes."""

    id: int
    chain: str
    seq: int
    recorded_at: str
    run_id: str
    kind: str
    row_key: str | None
    filename: str | None
    payload: str
    prev_hash: str
    row_hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of verifying one chain; ``ok`` False names the first broken link."""

    chain: str
    events: int
    head_seq: int | None
    head_hash: str | None
    ok: bool
    broken_seq: int | None = None
    broken_event_id: int | None = None
    reason: str | None = None


def event_hash(
    prev_hash: str,
    *,
    chain: str,
    seq: int,
    recorded_at: str,
    run_id: str,
    kind: str,
    row_key: str | None,
    filename: str | None,
    payload: str,
) -> str:
    """``row_hash`` of an event: SHA-256 over ``prev_hash`` and the event's canonical JSON.

    The canonical JSON of the event object (keys sorted) is written field by field:
    the same text as :func:`canonical_json` of the object, without building it.
    """
    text = canonical_text
    body = (
        f'{{"chain":{text(chain)},"filename":{text(filename)},"kind":{text(kind)},'
        f'"payload":{text(payload)},"recorded_at":{text(recorded_at)},'
        f'"row_key":{text(row_key)},"run_id":{text(run_id)},"seq":{int(seq)}}}'
    )
    return sha256_hex(prev_hash + body)


def _lock_head(conn: Connection, chain: str) -> tuple[int, str]:
    table = CHAIN_HEADS
    values = {"chain": chain, "seq": 0, "head_hash": GENESIS_HASH}
    if conn.dialect.name == "postgresql":
        # one round trip: the upsert creates the head if missing, locks its row until the
        # transaction ends (as SELECT ... FOR UPDATE would) and returns it
        upsert = postgresql.insert(table).values(values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.chain], set_={"chain": upsert.excluded.chain}
        )
        row = conn.execute(upsert.returning(table.c.seq, table.c.head_hash)).one()
    else:
        conn.execute(sqlite.insert(table).values(values).on_conflict_do_nothing())
        row = conn.execute(
            select(table.c.seq, table.c.head_hash).where(table.c.chain == chain)
        ).one()
    return int(row.seq), str(row.head_hash)


def append_in(conn: Connection, chain: str, events: Iterable[AuditEvent]) -> int:
    """Append ``events`` to ``chain`` inside the caller's write transaction.

    Returns the chain's last sequence number afterwards. Use
    :func:`~ml_connector.store.transactions.write_transaction` to open the transaction.
    """
    seq, prev = _lock_head(conn, chain)
    batch: list[tuple[object, ...]] = []
    for event in events:
        seq += 1
        recorded_at = utc_now()
        payload = event.payload_json
        if payload is None:
            payload = canonical_json(dict(event.payload))
        row_hash = event_hash(
            prev,
            chain=chain,
            seq=seq,
            recorded_at=recorded_at,
            run_id=event.run_id,
            kind=event.kind,
            row_key=event.row_key,
            filename=event.filename,
            payload=payload,
        )
        row = (chain, seq, recorded_at, event.run_id, event.kind, event.row_key)
        batch.append((*row, event.filename, payload, prev, row_hash))
        prev = row_hash
        if len(batch) >= _BATCH:
            _insert(conn, batch)
            batch = []
    if batch:
        _insert(conn, batch)
    heads = CHAIN_HEADS
    conn.execute(update(heads).where(heads.c.chain == chain).values(seq=seq, head_hash=prev))
    return seq


_COLUMNS = (
    "chain",
    "seq",
    "recorded_at",
    "run_id",
    "kind",
    "row_key",
    "filename",
    "payload",
    "prev_hash",
    "row_hash",
)
_SQLITE_COMPILED = insert(AUDIT_EVENTS).compile(dialect=sqlite.dialect(), column_keys=_COLUMNS)
if tuple(_SQLITE_COMPILED.positiontup or ()) != _COLUMNS:  # pragma: no cover - guards the order
    raise RuntimeError("the audit insert binds its columns in another order")
_SQLITE_INSERT = str(_SQLITE_COMPILED)


def _insert(conn: Connection, rows: list[tuple[object, ...]]) -> None:
    """Insert a chunk of events (values in :data:`_COLUMNS` order) in one statement.

    SQLite gets the driver's ``executemany`` directly (binding a tuple per row costs a
    third of building the parameter dictionaries SQLAlchemy would); PostgreSQL the
    Core insert, which SQLAlchemy sends as multi-row ``INSERT ... VALUES`` pages.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_INSERT, rows)
    else:
        conn.execute(insert(AUDIT_EVENTS), [dict(zip(_COLUMNS, row, strict=True)) for row in rows])


def append_events(engine: Engine, chain: str, events: Iterable[AuditEvent]) -> int:
    """Append ``events`` to ``chain`` in one transaction; returns the last sequence number."""
    with write_transaction(engine) as conn:
        return append_in(conn, chain, events)


def has_event(
    conn: Connection,
    *,
    run_id: str,
    kind: str,
    filename: str | None = None,
    row_key: str | None = None,
) -> bool:
    """Whether an event of ``kind`` for ``run_id`` (and ``filename``, ``row_key``) exists."""
    table = AUDIT_EVENTS
    cond = and_(table.c.run_id == run_id, table.c.kind == kind)
    if filename is not None:
        cond = and_(cond, table.c.filename == filename)
    if row_key is not None:
        cond = and_(cond, table.c.row_key == row_key)
    return conn.execute(select(table.c.id).where(cond).limit(1)).first() is not None


def event_payload(
    conn: Connection, *, run_id: str, kind: str, filename: str
) -> dict[str, Any] | None:
    """The payload of the first ``kind`` event of ``run_id`` for ``filename``, or None."""
    table = AUDIT_EVENTS
    query = (
        select(table.c.payload)
        .where((table.c.run_id == run_id) & (table.c.kind == kind) & (table.c.filename == filename))
        .order_by(table.c.id)
        .limit(1)
    )
    payload = conn.execute(query).scalar()
    return None if payload is None else dict(json.loads(payload))


_BOOKING, _LINE = '{"booking":', ',"line":'
_DECODE = json.JSONDecoder().raw_decode


def booking_text(payload: str) -> tuple[str, object]:
    """The canonical JSON of a ``row`` event's booking and the event's file line, cut
    out of the payload's canonical text ``{"booking":B,"line":L,...}`` (the booking's
    keys are the product's, so ``,"line":`` first follows it); a payload of another
    shape is decoded and the booking encoded again."""
    end = payload.find(_LINE)
    if payload.startswith(_BOOKING) and end > 0:
        line, _ = _DECODE(payload, end + len(_LINE))
        return payload[len(_BOOKING) : end], line
    data = json.loads(payload)
    return canonical_json(data.get("booking")), data.get("line")


def file_bookings(
    conn: Connection, *, run_id: str, filename: str, skip_lines: frozenset[int] = frozenset()
) -> Iterator[tuple[str, str]]:
    """(row key, booking line as canonical JSON) of every accepted ``row`` event of one
    file of a run, but those at ``skip_lines`` (lines DATEV did not import)."""
    table = AUDIT_EVENTS
    query = (
        select(table.c.row_key, table.c.payload)
        .where(
            (table.c.run_id == run_id) & (table.c.kind == "row") & (table.c.filename == filename)
        )
        .order_by(table.c.id)
    )
    # streamed (a server-side cursor on PostgreSQL): a file may hold 99,999 lines
    for row in conn.execute(query, execution_options={"yield_per": _BATCH}):
        booking, line = booking_text(str(row.payload))
        if skip_lines and line in skip_lines:
            continue
        if booking != "null" and row.row_key is not None:
            yield str(row.row_key), booking


def recorded_row_sources(
    conn: Connection, *, chain: str, kind: str, pipeline: str, keys: Iterable[str]
) -> set[tuple[str, str]]:
    """(row key, canonical JSON of its ``source``) of the ``kind`` events any run of
    ``pipeline`` recorded in ``chain`` for ``keys``: what is already on the record."""
    table, runs = AUDIT_EVENTS, RUNS
    wanted = list(dict.fromkeys(keys))
    found: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), _BATCH):
        query = (
            select(table.c.row_key, table.c.payload)
            .join(runs, runs.c.id == table.c.run_id)
            .where(
                (table.c.chain == chain)
                & (table.c.kind == kind)
                & (runs.c.pipeline == pipeline)
                & table.c.row_key.in_(wanted[start : start + _BATCH])
            )
        )
        for row in conn.execute(query):
            source = json.loads(row.payload).get("source")
            found.add((str(row.row_key), canonical_json(source)))
    return found


def chains(engine: Engine) -> list[str]:
    """Every chain that has events or a head, sorted."""
    events = AUDIT_EVENTS
    heads = CHAIN_HEADS
    with engine.connect() as conn:
        names = set(conn.execute(select(events.c.chain).distinct()).scalars())
        names |= set(conn.execute(select(heads.c.chain)).scalars())
    return sorted(names)


def iter_events(
    engine: Engine, *, chain: str | None = None, run_id: str | None = None
) -> Generator[StoredEvent, None, None]:
    """Stored events in chain order (by chain, then seq), streamed."""
    table = AUDIT_EVENTS
    query = select(table).order_by(table.c.chain, table.c.seq)
    if chain is not None:
        query = query.where(table.c.chain == chain)
    if run_id is not None:
        query = query.where(table.c.run_id == run_id)
    with (
        engine.connect() as conn,
        conn.execution_options(yield_per=_BATCH).execute(query) as result,
    ):
        for row in result:
            yield StoredEvent(**row._asdict())


def chain_heads(engine: Engine, *, chain: str | None = None) -> list[ChainHead]:
    """The stored head of every chain (or one), sorted by chain."""
    heads = CHAIN_HEADS
    query = select(heads.c.chain, heads.c.seq, heads.c.head_hash).order_by(heads.c.chain)
    if chain is not None:
        query = query.where(heads.c.chain == chain)
    with engine.connect() as conn:
        return [ChainHead(str(r.chain), int(r.seq), str(r.head_hash)) for r in conn.execute(query)]


def anchor_document(heads: Iterable[ChainHead]) -> dict[str, Any]:
    """The anchor document of ``heads`` (as ``audit anchor`` prints it)."""
    return {
        "format": ANCHOR_FORMAT,
        "taken_at": utc_now(),
        "chains": [head.as_json() for head in heads],
    }


def anchor(engine: Engine, *, chain: str | None = None) -> dict[str, Any]:
    """An anchor document: every chain's head now, to keep outside the database."""
    return anchor_document(chain_heads(engine, chain=chain))


def head_in(conn: Connection, chain: str) -> ChainHead:
    """The head of ``chain`` inside the caller's transaction (the genesis if none)."""
    heads = CHAIN_HEADS
    row = conn.execute(select(heads.c.seq, heads.c.head_hash).where(heads.c.chain == chain)).first()
    if row is None:
        return ChainHead(chain, 0, GENESIS_HASH)
    return ChainHead(chain, int(row.seq), str(row.head_hash))


def read_anchor(text: str, *, source: str = "anchor") -> dict[str, ChainHead]:
    """The chain heads of an anchor document (as printed by ``audit anchor``)."""
    try:
        document = json.loads(text)
        if document.get("format") != ANCHOR_FORMAT:
            raise ValueError("format")
        heads = [
            ChainHead(str(h["chain"]), int(h["seq"]), str(h["head_hash"]))
            for h in document["chains"]
        ]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ConfigurationError(
            f"{source} is not an ml-connector audit anchor",
            hint="pass the JSON printed by `ml-connector audit anchor` or a run report's "
            "audit_anchor",
        ) from exc
    return {head.chain: head for head in heads}


@dataclass(slots=True)
class _Walk:
    """State of one chain's verification."""

    chain: str
    head: ChainHead | None
    pinned: ChainHead | None
    count: int = 0
    prev: str = GENESIS_HASH
    facts: ChainFacts = field(default_factory=ChainFacts)

    def report(
        self, *, seq: int | None = None, event: StoredEvent | None = None, reason: str | None = None
    ) -> ChainReport:
        return ChainReport(
            chain=self.chain,
            events=self.count,
            head_seq=None if self.head is None else self.head.seq,
            head_hash=None if self.head is None else self.head.head_hash,
            ok=reason is None,
            broken_seq=seq,
            broken_event_id=None if event is None else event.id,
            reason=reason,
        )

    def step(self, event: StoredEvent) -> str | None:
        """Check one event; the reason it breaks the chain, or None."""
        self.count += 1
        if event.seq != self.count:
            return f"expected seq {self.count}, found {event.seq}"
        if event.prev_hash != self.prev:
            return "prev_hash does not match the previous event"
        expected = event_hash(
            self.prev,
            chain=event.chain,
            seq=event.seq,
            recorded_at=event.recorded_at,
            run_id=event.run_id,
            kind=event.kind,
            row_key=event.row_key,
            filename=event.filename,
            payload=event.payload,
        )
        if event.row_hash != expected:
            return "content does not match row_hash"
        pinned = self.pinned
        if pinned is not None and pinned.seq == event.seq and pinned.head_hash != event.row_hash:
            return f"event differs from the anchor (seq {pinned.seq})"
        self.prev = event.row_hash
        self.facts.add(
            seq=event.seq,
            kind=event.kind,
            run_id=event.run_id,
            filename=event.filename,
            payload=event.payload,
        )
        return None

    def end(self) -> str | None:
        """Check the chain's end against its head and the anchor."""
        if self.head is None and self.count:
            return "chain head missing"
        if self.head is not None and (
            self.head.seq != self.count or self.head.head_hash != self.prev
        ):
            return f"chain head says seq {self.head.seq}, events end at seq {self.count}"
        if self.pinned is not None and self.pinned.seq > self.count:
            return (
                f"the anchor has events up to seq {self.pinned.seq}, the chain ends at {self.count}"
            )
        return None


def _verify_chain(engine: Engine, chain: str, pinned: ChainHead | None) -> ChainReport:
    heads = chain_heads(engine, chain=chain)
    walk = _Walk(chain, heads[0] if heads else None, pinned)
    with closing(iter_events(engine, chain=chain)) as stream:
        for event in stream:
            reason = walk.step(event)
            if reason is not None:
                return walk.report(seq=event.seq, event=event, reason=reason)
    reason = walk.end()
    if reason is not None:
        return walk.report(seq=walk.count + 1, reason=reason)
    with engine.connect() as conn:
        mismatch = check_posted(conn, chain, walk.facts) or check_runs(conn, chain, walk.facts)
    if mismatch is not None:
        return walk.report(seq=mismatch[0] or None, reason=mismatch[1])
    return walk.report()


def verify(
    engine: Engine, *, chain: str | None = None, anchor: Mapping[str, ChainHead] | None = None
) -> list[ChainReport]:
    """Recompute every chain (or one) and report the first broken link of each.

    With ``anchor`` (see :func:`read_anchor`), every anchored chain must still hold
    the anchored event unchanged, with every event before it.
    """
    pins = dict(anchor or {})
    names = set(chains(engine)) | set(pins)
    if chain is not None:
        names = {chain}
    return [_verify_chain(engine, name, pins.get(name)) for name in sorted(names)]
