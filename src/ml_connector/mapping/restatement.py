"""Restatement: what to post when a period is run again.

DATEV bookings cannot be changed or read back, so ml-connector remembers what it posted
per stable row key (the store's posted records).  Comparing the current mapped rows with those
records gives, per key, one of:

* ``new``: never posted -> post its lines;
* ``unchanged``: same content digest -> post nothing;
* ``changed``: different digest -> in ``corrections`` mode post a reversal (the old lines
  with Generalumkehr) and the new lines; in ``append_only`` mode post nothing, report it;
* ``gone``: posted before, absent now -> in ``corrections`` mode post a reversal;
* ``held``: posted before, rejected now -> nothing (it is held for correction, not gone).

The planning itself happens row by row in the streaming run
(:class:`~ml_connector.mapping.stream.RunStream`), against an on-disk index of the
posted records; the engine stores each row's new posted state once DATEV accepted
the file that carries it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from ml_connector.formats.extf.models import BookingLine
from ml_connector.mapping.mapper import FIELD_TYPES

__all__ = [
    "ChangeKind",
    "PlannedChange",
    "line_from_json",
    "reversal_of",
]

_STORNO = "Storno "


def line_from_json(data: object) -> BookingLine:
    """Inverse of :func:`~ml_connector.formats.extf.models.line_to_json`."""
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


def reversal_of(line: BookingLine) -> BookingLine:
    """The Generalumkehr of ``line``: same booking, GU flag set, text prefixed ``Storno``."""
    text = line.buchungstext or ""
    if not text.startswith(_STORNO):
        text = (_STORNO + text)[:60].rstrip()
    return dataclasses.replace(line, generalumkehr=True, buchungstext=text)
