"""Counting what a run changed in the rows' data, and Belegfeld 1 collisions.

Each :class:`~ml_connector.mapping.text.DataChange` of a mapped row is counted by kind;
two different source values that clean to the same Belegfeld 1 (the open-item matching
key) are a *collision*: both rows are booked, and the report names them so nobody
finds out at payment matching time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ml_connector.mapping.text import DataChange, DataChangeKind

__all__ = [
    "COLLISIONS",
    "MAX_LISTED_COLLISIONS",
    "DataChangeFacts",
    "DataChangeTally",
    "DocumentCollision",
    "describe_counts",
    "document_source",
]

#: collisions listed in ``report.json`` (all are counted)
MAX_LISTED_COLLISIONS = 100
#: the key of the collision count among the stored counts
COLLISIONS = "document_number_collisions"


def describe_counts(counts: Mapping[str, int]) -> str:
    """``12 texts shortened, 3 document numbers cleaned`` (unknown keys by name)."""
    labels = {kind.value: kind.label for kind in DataChangeKind}
    labels[COLLISIONS] = "document number collisions"
    ordered = [k for k in labels if k in counts] + sorted(k for k in counts if k not in labels)
    return ", ".join(
        f"{counts[k]} {labels.get(k, k.replace('_', ' '))}" for k in ordered if counts[k]
    )


@dataclass(frozen=True, slots=True)
class DocumentCollision:
    """Row ``row`` (1-based) has a different source value than ``first_row`` but the
    same cleaned Belegfeld 1."""

    row: int
    row_key: str
    document_number: str
    source: str
    first_row: int
    first_source: str

    def describe(self) -> str:
        return (
            f"row {self.row} [{self.row_key}]: {self.source!r} and row {self.first_row}'s "
            f"{self.first_source!r} both became Belegfeld 1 {self.document_number!r}"
        )


@dataclass(frozen=True, slots=True)
class DataChangeFacts:
    """Data changes of a run's booked rows, counted by kind, and Belegfeld 1 collisions."""

    counts: Mapping[str, int] = field(default_factory=dict)
    """Changes per :class:`DataChangeKind` value."""
    rows_changed: int = 0
    collisions: int = 0
    collision_examples: tuple[DocumentCollision, ...] = ()

    def counted(self) -> dict[str, int]:
        """The non-zero counts, collisions as ``document_number_collisions`` (run store)."""
        counts = {kind: n for kind, n in self.counts.items() if n}
        if self.collisions:
            counts[COLLISIONS] = self.collisions
        return counts

    def report(self) -> dict[str, object]:
        """The ``data_changes`` part of ``report.json``."""
        return {
            "rows_changed": self.rows_changed,
            "counts": {kind.value: self.counts.get(kind.value, 0) for kind in DataChangeKind},
            "document_number_collisions": self.collisions,
            "collisions": [
                {
                    "row": c.row,
                    "row_key": c.row_key,
                    "document_number": c.document_number,
                    "source": c.source,
                    "first_row": c.first_row,
                    "first_source": c.first_source,
                }
                for c in self.collision_examples
            ],
        }

    def summary_lines(self, listed: int = 5) -> list[str]:
        """Lines for ``report.txt``: ``data changes: 12 texts shortened, ...``."""
        lines = []
        if any(self.counts.values()):
            text = describe_counts(self.counts)
            lines.append(f"  data changes: {text} ({self.rows_changed} rows)")
        if self.collisions:
            lines.append(
                f"  document numbers: {self.collisions} rows share a cleaned Belegfeld 1 "
                "with a different source value"
            )
            lines += [f"    - {c.describe()}" for c in self.collision_examples[:listed]]
        return lines


class DataChangeTally:
    """Counts the changes of each booked row as the run streams by."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.rows_changed = 0
        self.collisions = 0
        self.examples: list[DocumentCollision] = []

    def add(self, changes: Iterable[DataChange]) -> None:
        """Count the changes of one booked row."""
        found = False
        for change in changes:
            found = True
            self.counts[change.kind.value] = self.counts.get(change.kind.value, 0) + 1
        self.rows_changed += found

    def collision(self, collision: DocumentCollision) -> None:
        self.collisions += 1
        if len(self.examples) < MAX_LISTED_COLLISIONS:
            self.examples.append(collision)

    def facts(self) -> DataChangeFacts:
        return DataChangeFacts(
            dict(self.counts), self.rows_changed, self.collisions, tuple(self.examples)
        )


def document_source(cleaned: str, changes: Iterable[DataChange]) -> str:
    """The source value of Belegfeld 1 ``cleaned``: the value before cleaning, if any."""
    for change in changes:
        if change.field == "belegfeld_1" and change.before is not None:
            return change.before
    return cleaned
