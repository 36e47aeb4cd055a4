"""Inline queries, the body of ``POST /queries`` and ``POST /queries/run/{format}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["InlineQuery"]


@dataclass(frozen=True)
class InlineQuery:
    """A Looker query: ``model``, ``view`` (the explore), fields, filters, sorts, limit.

    ``limit=None`` means "the client's row cap"; ``-1`` asks for all rows (honoured by
    Looker only for users allowed to download without limit, on streaming queries).
    """

    model: str
    view: str
    fields: tuple[str, ...]
    filters: Mapping[str, str] = field(default_factory=dict)
    sorts: tuple[str, ...] = ()
    limit: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "sorts", tuple(self.sorts))
        object.__setattr__(self, "filters", dict(self.filters))

    def with_filters(self, extra: Mapping[str, str]) -> InlineQuery:
        """The same query with ``extra`` filters added (replacing same-named ones)."""
        return replace(self, filters={**self.filters, **extra})

    def with_fields(self, fields: Sequence[str], sorts: Sequence[str] = ()) -> InlineQuery:
        return replace(self, fields=tuple(fields), sorts=tuple(sorts))

    def body(self, limit: int) -> dict[str, Any]:
        """JSON body; ``limit`` is a string in the API (as the spec says)."""
        return {
            "model": self.model,
            "view": self.view,
            "fields": list(self.fields),
            "filters": dict(self.filters),
            "sorts": list(self.sorts),
            "limit": str(limit),
        }
