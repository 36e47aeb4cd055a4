"""Looker's field metadata (``LookmlModelExploreField``) and what a field can hold.

``GET /lookml_models/{model}/explores/{explore}`` lists an explore's fields under
``fields.dimensions``, ``fields.measures``, ``fields.filters`` and ``fields.parameters``,
each with ``name`` (``view.field``), ``category``, ``type`` (the LookML type; a
dimension group's timeframes are ``date_date``, ``date_month``, ...), ``is_numeric``
and ``is_timeframe``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LookerField", "closest", "explore_fields"]

_GROUPS = ("dimensions", "measures", "filters", "parameters")
_NUMERIC_TYPES = frozenset(
    {"number", "count", "count_distinct", "sum", "sum_distinct", "average", "average_distinct",
     "min", "max", "median", "median_distinct", "percentile", "percentile_distinct", "int"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LookerField:
    """One field of an explore as Looker describes it."""

    name: str
    category: str
    type: str
    label: str = ""
    description: str = ""
    is_numeric: bool = False
    is_timeframe: bool = False
    primary_key: bool = False

    @property
    def is_measure(self) -> bool:
        return self.category == "measure"

    @property
    def is_date(self) -> bool:
        """A date or timeframe (``date``, ``date_month``, ``time``, ...)."""
        return (
            self.is_timeframe
            or self.type in {"date", "time", "date_time"}
            or (self.type.startswith("date_"))
        )

    @property
    def is_number(self) -> bool:
        return self.is_numeric or self.type in _NUMERIC_TYPES

    @property
    def period_problem(self) -> str | None:
        """Why this field cannot be a ``period_field`` (a date/month dimension or a
        string), or ``None``."""
        if self.is_measure:
            return f"is a measure ({self.type}), not a dimension"
        if self.type in {"string", "zipcode", "tier"} or self.is_date:
            return None
        return f"has type {self.type}; a period field must be a date or month dimension or text"


def _field(raw: Mapping[str, Any], category: str) -> LookerField | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        return None
    return LookerField(
        name=name,
        category=str(raw.get("category") or category),
        type=str(raw.get("type") or "string"),
        label=str(raw.get("label_short") or raw.get("label") or ""),
        description=str(raw.get("description") or ""),
        is_numeric=raw.get("is_numeric") is True,
        is_timeframe=raw.get("is_timeframe") is True,
        primary_key=raw.get("primary_key") is True,
    )


def explore_fields(explore: Mapping[str, Any]) -> dict[str, LookerField]:
    """``view.field`` -> :class:`LookerField` of an explore body (unreadable entries left out)."""
    groups = explore.get("fields")
    if not isinstance(groups, Mapping):
        return {}
    found: dict[str, LookerField] = {}
    for group in _GROUPS:
        entries = groups.get(group)
        for raw in entries if isinstance(entries, list) else ():
            field = _field(raw, group.rstrip("s")) if isinstance(raw, Mapping) else None
            if field is not None:
                found.setdefault(field.name, field)
    return found


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The names in ``candidates`` closest to ``name``, compared by the part after the
    view (``view.field``), then as a whole for a misspelled view."""
    names = list(candidates)
    by_short: dict[str, list[str]] = {}
    for candidate in names:
        by_short.setdefault(candidate.rsplit(".", 1)[-1], []).append(candidate)
    short = name.rsplit(".", 1)[-1]
    hits = [
        full
        for hit in difflib.get_close_matches(short, list(by_short), n=n, cutoff=0.6)
        for full in by_short[hit]
    ]
    for hit in difflib.get_close_matches(name, names, n=n, cutoff=0.85):
        if hit not in hits:
            hits.append(hit)
    return hits[:n]
