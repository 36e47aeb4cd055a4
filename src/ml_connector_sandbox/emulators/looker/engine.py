"""Run a Looker ``Query`` body against an explore: filter, group, aggregate, sort, limit.

Like Looker, a query always groups by its dimensions (a query of dimensions only
returns distinct rows) unless it contains the explore's primary key. Unknown
fields are dropped, as Looker does; rows are produced lazily where possible.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ml_connector_sandbox.emulators.looker.dataset import (
    Explore,
    Field,
    GeneratedSource,
    Row,
    Value,
)
from ml_connector_sandbox.emulators.looker.filters import compile_filter, exact_strings

__all__ = ["QuerySpec", "ResultSet", "execute", "take", "to_sql"]


@dataclass(frozen=True)
class QuerySpec:
    """The parts of a Looker ``Query`` body the emulator honours."""

    model: str
    view: str
    fields: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    sorts: tuple[str, ...] = ()
    limit: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> QuerySpec:
        filters = body.get("filters") or {}
        limit = body.get("limit")
        return cls(
            model=str(body.get("model") or ""),
            view=str(body.get("view") or ""),
            fields=tuple(str(f) for f in body.get("fields") or ()),
            filters=tuple(sorted((str(k), str(v)) for k, v in filters.items() if v is not None)),
            sorts=tuple(str(s) for s in body.get("sorts") or ()),
            limit=None if limit is None else str(limit),
        )

    def to_body(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "view": self.view,
            "fields": list(self.fields),
            "filters": dict(self.filters),
            "sorts": list(self.sorts),
            "limit": self.limit,
        }


@dataclass
class ResultSet:
    """The fields of a result (in query order) and its rows, lazily."""

    fields: list[Field]
    rows: Iterator[Row]
    sql: str = field(default="")


class _Key:
    """Sort key wrapper: NULLs first ascending (last descending), like most dialects."""

    __slots__ = ("desc", "value")

    def __init__(self, value: Value, desc: bool) -> None:
        self.value = value
        self.desc = desc

    def __lt__(self, other: _Key) -> bool:
        a, b = (other.value, self.value) if self.desc else (self.value, other.value)
        if a is None or b is None:
            return a is None and b is not None
        return bool(a < b)  # type: ignore[operator]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self.value == other.value


class _Acc:
    """Running aggregate of one measure over one group (constant memory)."""

    __slots__ = ("count", "field", "nonnull", "total", "value")

    def __init__(self, measure: Field) -> None:
        self.field = measure
        self.count = 0
        self.nonnull = 0
        self.total = Decimal(0)
        self.value: Value = None

    def add(self, row: Row) -> None:
        self.count += 1
        m = self.field
        if m.type == "count":
            return
        v = row.get(m.sql_field or "")
        if v is None:
            return
        self.nonnull += 1
        if m.type in {"sum", "average"}:
            self.total += _as_dec(v)
        elif m.type == "min":
            self.value = v if self.value is None or v < self.value else self.value  # type: ignore[operator]
        elif m.type == "max":
            self.value = v if self.value is None or v > self.value else self.value  # type: ignore[operator]

    def result(self) -> Value:
        m = self.field
        if m.type == "count":
            return self.count
        if not self.nonnull:
            return None
        if m.type == "sum":
            return self.total
        if m.type == "average":
            return self.total / self.nonnull
        return self.value


def _as_dec(v: Value) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v))


def _sort_spec(sorts: Sequence[str], selected: list[Field]) -> list[tuple[str, bool]]:
    names = {f.name for f in selected}
    if list(sorts) == ["__UNSORTED__"]:
        return []
    spec: list[tuple[str, bool]] = []
    for s in sorts:
        parts = s.split()
        if parts and parts[0] in names:
            spec.append((parts[0], len(parts) > 1 and parts[1].lower() == "desc"))
    if spec or sorts:
        return spec
    measures = [f for f in selected if f.is_measure]
    if measures:
        return [(measures[0].name, True)]
    dates = [f for f in selected if f.type == "date"]
    if dates:
        return [(dates[0].name, True)]
    return [(selected[0].name, False)] if selected else []


def _sort_key(name: str, desc: bool) -> Callable[[Row], _Key]:
    return lambda r: _Key(r.get(name), desc)


def execute(explore: Explore, spec: QuerySpec, *, today: date | None = None) -> ResultSet:
    """Run ``spec`` on ``explore``; ``limit`` is applied by the caller."""
    selected = [explore.fields[f] for f in dict.fromkeys(spec.fields) if f in explore.fields]
    filters = {k: v for k, v in spec.filters if k in explore.fields and v != ""}
    predicates = [
        (name, compile_filter(expr, explore.fields[name].type, today=today))
        for name, expr in filters.items()
        if not explore.fields[name].is_measure
    ]
    measure_filters = [
        (name, compile_filter(expr, explore.fields[name].type, today=today))
        for name, expr in filters.items()
        if explore.fields[name].is_measure
    ]
    dims = [f for f in selected if not f.is_measure]
    measures = [f for f in selected if f.is_measure]
    for name, _ in measure_filters:
        if explore.fields[name] not in measures:
            measures.append(explore.fields[name])
    needed = list(
        dict.fromkeys(
            [f.name for f in dims]
            + [name for name, _ in predicates]
            + [m.sql_field for m in measures if m.sql_field]
        )
    )
    source = explore.source
    if (
        measures
        and not measure_filters
        and all(m.type == "count" for m in measures)
        and isinstance(source, GeneratedSource)
    ):
        quick = source.fast_counts([d.name for d in dims], [m.name for m in measures], filters)
        if quick is not None:
            order = _sort_spec(spec.sorts, selected)
            for name, desc in reversed(order):
                quick.sort(key=_sort_key(name, desc))
            return ResultSet(fields=selected, rows=iter(quick))
    exact = {
        name: values
        for name, expr in filters.items()
        if explore.fields[name].type == "string"
        and not explore.fields[name].is_measure
        and (values := exact_strings(expr)) is not None
    }
    scanned = source.scan(needed, filters, exact)
    if predicates:
        scanned = (r for r in scanned if all(p(r.get(n)) for n, p in predicates))
    pk_selected = any(f.primary_key for f in dims)
    rows: Iterator[Row]
    if measures:
        groups: dict[tuple[Value, ...], list[_Acc]] = {}
        for r in scanned:
            key = tuple(r.get(d.name) for d in dims)
            accs = groups.get(key)
            if accs is None:
                accs = groups[key] = [_Acc(m) for m in measures]
            for acc in accs:
                acc.add(r)
        if not dims and not groups:
            groups[()] = [_Acc(m) for m in measures]
        out: list[Row] = []
        for key, accs in groups.items():
            row: Row = dict(zip((d.name for d in dims), key, strict=True))
            for acc in accs:
                row[acc.field.name] = acc.result()
            if all(p(row.get(n)) for n, p in measure_filters):
                out.append({f.name: row.get(f.name) for f in selected})
        rows = iter(out)
    elif pk_selected:
        rows = ({d.name: r.get(d.name) for d in dims} for r in scanned)
    else:
        seen = dict.fromkeys(tuple(r.get(d.name) for d in dims) for r in scanned)
        rows = (dict(zip((d.name for d in dims), key, strict=True)) for key in seen)
    order = _sort_spec(spec.sorts, selected)
    natural = explore.source.natural_order
    if order and not (len(order) == 1 and order[0] == (natural, False) and not measures):
        materialised = list(rows)
        for name, desc in reversed(order):
            materialised.sort(key=_sort_key(name, desc))
        rows = iter(materialised)
    return ResultSet(fields=selected, rows=rows)


def take(rows: Iterator[Row], limit: int | None) -> Iterator[Row]:
    """At most ``limit`` rows (all when ``None``)."""
    return rows if limit is None else itertools.islice(rows, limit)


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def to_sql(explore: Explore, spec: QuerySpec, limit: int | None) -> str:
    """The SQL Looker would send for ``spec`` (format ``sql``: shown, never run)."""
    table = explore.name
    selected = [explore.fields[f] for f in dict.fromkeys(spec.fields) if f in explore.fields]
    dims = [f for f in selected if not f.is_measure]
    columns = []
    for f in selected:
        column = f"{table}.{f.name.split('.', 1)[1]}"
        if f.is_measure:
            source = f"{table}.{(f.sql_field or '').split('.', 1)[-1]}"
            column = "COUNT(*)" if f.type == "count" else f"{f.type.upper()}({source})"
            column = column.replace("AVERAGE(", "AVG(")
        columns.append(f'{column} AS "{f.name}"')
    lines = [
        "SELECT",
        "    " + (",\n    ".join(columns) or "1"),
        f"FROM {table} AS {table}",
    ]
    wheres = [
        f"({table}.{name.split('.', 1)[1]} = {_sql_literal(expr)})"
        for name, expr in spec.filters
        if name in explore.fields and not explore.fields[name].is_measure
    ]
    if wheres:
        lines.append("WHERE " + " AND ".join(wheres))
    if dims and any(f.is_measure for f in selected):
        lines.append("GROUP BY " + ",".join(str(n) for n in range(1, len(dims) + 1)))
    order = _sort_spec(spec.sorts, selected)
    if order:
        positions = {f.name: n for n, f in enumerate(selected, start=1)}
        lines.append(
            "ORDER BY "
            + ", ".join(f"{positions[name]}{' DESC' if desc else ''}" for name, desc in order)
        )
    if limit is not None:
        lines.append(f"LIMIT {limit}")
    return "\n".join(lines)
