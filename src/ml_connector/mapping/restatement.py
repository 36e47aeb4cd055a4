"""Restatement planning: what to post when a period is run again.

DATEV bookings cannot be changed or read back, so ml-connector remembers what it posted
per stable row key (:class:`PostedRecord`).  Comparing the current mapped rows with those
records gives, per key, one of:

* ``new``: never posted -> post its lines;
* ``unchanged``: same content digest -> post nothing;
* ``changed``: different digest -> in ``corrections`` mode post a reversal (the old lines
  with Generalumkehr) and the new lines; in ``append_only`` mode post nothing, report it;
* ``gone``: posted before, absent now -> in ``corrections`` mode post a reversal;
* ``held``: posted before, rejected now -> nothing (it is held for correction, not gone).

The planner is pure; the caller persists ``records_to_store`` / ``keys_to_retire`` in the
same transaction that records a successful submission.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from ml_connector.extf.models import COLUMN_ATTRS, BookingLine
from ml_connector.mapping.mapper import FIELD_TYPES, MappedRow
from ml_connector.mapping.period import Period

__all__ = [
    "ChangeKind",
    "InMemoryLedger",
    "PlannedChange",
    "PostedLedger",
    "PostedRecord",
    "RestatementPlan",
    "line_from_json",
    "line_to_json",
    "plan_restatement",
    "reversal_of",
]

_STORNO = "Storno "
_ALL_VALUES = operator.attrgetter(*COLUMN_ATTRS)


@dataclass(frozen=True, slots=True)
class PostedRecord:
    """What was posted for one row key of one pipeline and period."""

    row_key: str
    content_digest: str
    lines: tuple[BookingLine, ...]

    def to_json(self) -> dict[str, object]:
        """JSON-ready form (only the filled columns; money as exact text, dates ISO)."""
        return {
            "row_key": self.row_key,
            "content_digest": self.content_digest,
            "lines": [line_to_json(line) for line in self.lines],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> PostedRecord:
        """Inverse of :meth:`to_json`."""
        lines = data.get("lines")
        if not isinstance(lines, list):
            raise ValueError("a posted record needs a list of lines")
        return cls(
            row_key=str(data["row_key"]),
            content_digest=str(data["content_digest"]),
            lines=tuple(line_from_json(item) for item in lines),
        )


def line_to_json(line: BookingLine) -> dict[str, object]:
    """The filled columns of ``line`` as JSON values (Decimal as text, dates ISO)."""
    out: dict[str, object] = {}
    for attr, value in zip(COLUMN_ATTRS, _ALL_VALUES(line), strict=True):
        if value is None:
            continue
        if isinstance(value, Decimal):
            out[attr] = str(value)
        elif isinstance(value, date):
            out[attr] = value.isoformat()
        else:
            out[attr] = value
    return out


def line_from_json(data: object) -> BookingLine:
    """Inverse of :func:`line_to_json`."""
    if not isinstance(data, Mapping):
        raise ValueError("a booking line must be a JSON object")
    values: dict[str, object] = {}
    for attr, value in data.items():
        kind = FIELD_TYPES.get(str(attr))
        if kind is None:
            raise ValueError(f"{attr!r} is not a booking column")
        if value is not None and kind == "Decimal":
            value = Decimal(str(value))
        elif value is not None and kind == "date":
            value = date.fromisoformat(str(value))
        values[str(attr)] = value
    return BookingLine(**values)  # type: ignore[arg-type]


class PostedLedger(Protocol):
    """Where posted records live (the engine keeps them in SQL)."""

    def posted(self, pipeline: str, period: Period) -> Iterable[PostedRecord]: ...


class InMemoryLedger:
    """A :class:`PostedLedger` in memory (tests, demos); the worker keeps it in SQL."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], dict[str, PostedRecord]] = {}

    def posted(self, pipeline: str, period: Period) -> list[PostedRecord]:
        return list(self._records.get((pipeline, str(period)), {}).values())

    def apply(self, pipeline: str, period: Period, plan: RestatementPlan) -> None:
        """Record what a successfully submitted ``plan`` posted."""
        records = self._records.setdefault((pipeline, str(period)), {})
        for record in plan.records_to_store:
            records[record.row_key] = record
        for key in plan.keys_to_retire:
            records.pop(key, None)


class ChangeKind(StrEnum):
    NEW = "new"
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    GONE = "gone"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """The decision for one row key; ``reversal`` and ``booking`` are the lines to post."""

    kind: ChangeKind
    row_key: str
    reversal: tuple[BookingLine, ...] = ()
    booking: tuple[BookingLine, ...] = ()
    applied: bool = True
    """False when the mode leaves a change unposted (append-only)."""


@dataclass(frozen=True, slots=True)
class RestatementPlan:
    mode: str
    changes: tuple[PlannedChange, ...]
    records_to_store: tuple[PostedRecord, ...]
    """Records to insert or replace once the batch is accepted."""
    keys_to_retire: tuple[str, ...]
    """Row keys whose bookings are fully reversed by this batch."""

    @property
    def lines(self) -> tuple[BookingLine, ...]:
        """All lines to post: reversals first, then new and corrected bookings."""
        reversals = [line for c in self.changes if c.applied for line in c.reversal]
        bookings = [line for c in self.changes if c.applied for line in c.booking]
        return (*reversals, *bookings)

    def count(self, kind: ChangeKind, *, applied: bool | None = None) -> int:
        return sum(
            1 for c in self.changes if c.kind is kind and (applied is None or c.applied is applied)
        )


def reversal_of(line: BookingLine) -> BookingLine:
    """The Generalumkehr of ``line``: same booking, GU flag set, text prefixed ``Storno``."""
    text = line.buchungstext or ""
    if not text.startswith(_STORNO):
        text = (_STORNO + text)[:60].rstrip()
    return dataclasses.replace(line, generalumkehr=True, buchungstext=text)


def plan_restatement(
    current: Sequence[MappedRow],
    posted: Iterable[PostedRecord],
    *,
    mode: str,
    held_keys: Collection[str] = (),
) -> RestatementPlan:
    """Decide per row key what to post, for ``mode`` ``corrections`` or ``append_only``."""
    if mode not in ("corrections", "append_only"):
        raise ValueError(f"unknown restatement mode {mode!r}")
    corrections = mode == "corrections"
    before = {record.row_key: record for record in posted}
    changes: list[PlannedChange] = []
    store: list[PostedRecord] = []
    retire: list[str] = []
    seen: set[str] = set()
    for row in current:
        seen.add(row.row_key)
        record = PostedRecord(row.row_key, row.content_digest, row.lines)
        old = before.get(row.row_key)
        if old is None:
            changes.append(PlannedChange(ChangeKind.NEW, row.row_key, booking=row.lines))
            store.append(record)
        elif old.content_digest == row.content_digest:
            changes.append(PlannedChange(ChangeKind.UNCHANGED, row.row_key))
        else:
            reversal = tuple(reversal_of(line) for line in old.lines)
            changes.append(
                PlannedChange(
                    ChangeKind.CHANGED,
                    row.row_key,
                    reversal=reversal,
                    booking=row.lines,
                    applied=corrections,
                )
            )
            if corrections:
                store.append(record)
    held = set(held_keys)
    for key, old in before.items():
        if key in seen:
            continue
        if key in held:
            changes.append(PlannedChange(ChangeKind.HELD, key))
            continue
        reversal = tuple(reversal_of(line) for line in old.lines)
        changes.append(PlannedChange(ChangeKind.GONE, key, reversal=reversal, applied=corrections))
        if corrections:
            retire.append(key)
    return RestatementPlan(
        mode=mode,
        changes=tuple(changes),
        records_to_store=tuple(store),
        keys_to_retire=tuple(retire),
    )
