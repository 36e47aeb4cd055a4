"""Datasets the Looker emulator serves: models, explores with fields, rows, saved Looks.

A dataset is a directory::

    models.json   {"models": [{"name", "label", "explores": [{"name", "label",
                   "data": "<file>.csv|.json", "fields": [{"name": "view.field",
                   "category": "dimension"|"measure", "type", "label", ...}]}]}]}
    <view>.csv    one column per dimension (short name ``field`` or full ``view.field``);
                  an empty cell is NULL
    <view>.json   alternatively: a JSON array of row objects (numbers stay exact)
    looks.json    {"looks": [{"id", "title", "description", "query": {Query body}}]}

Dimension types understood: ``string``, ``number``, ``date``, ``yesno``. Measure
types: ``count``, ``sum``, ``min``, ``max``, ``average`` (over ``sql_field``).
Besides files, an explore can be *generated* (:func:`bench_explore`): rows are
computed from their index on demand and never held in memory.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = [
    "Dataset",
    "DatasetError",
    "Explore",
    "Field",
    "GeneratedSource",
    "Look",
    "TableSource",
    "Value",
    "bench_explore",
    "demo_dataset_dir",
    "load_dataset",
]

Value = str | Decimal | int | date | bool | None
Row = dict[str, Value]


_MONTH_VALUE = re.compile(r"\d{4}-\d{2}")


def json_text(v: Value) -> str:
    """A value as Looker's ``json`` format writes it (numbers exact, dates ISO)."""
    if v is None:
        return "null"
    if v is True:
        return '"Yes"'
    if v is False:
        return '"No"'
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, date):
        return f'"{v.isoformat()}"'
    return str(v)


MEASURE_TYPES = frozenset({"count", "sum", "min", "max", "average"})


def demo_dataset_dir() -> Path:
    """Directory of the bundled demo dataset (model ``finance``, explore ``gl_monthly``)."""
    return Path(__file__).with_name("demo_data")


@dataclass(frozen=True, slots=True)
class Field:
    """One LookML field of an explore."""

    name: str
    category: str
    type: str
    label: str
    description: str | None = None
    primary_key: bool = False
    sql_field: str | None = None
    value_format_name: str | None = None

    @property
    def view(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def is_measure(self) -> bool:
        return self.category == "measure"

    @property
    def is_numeric(self) -> bool:
        return self.type in {"number", "count", "sum", "min", "max", "average"}


class TableSource:
    """Rows loaded from a CSV or JSON file, with an index per filtered string field.

    An equality filter (``exact``: field -> literal values) is answered from the
    field's index, built on first use, instead of a scan of every row; rows keep
    their file order, so results are the same as a full scan's.
    """

    natural_order: str | None = None

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self._index: dict[str, dict[str, list[int]] | None] = {}

    def _field_index(self, name: str) -> dict[str, list[int]] | None:
        """Row positions per value of ``name``; ``None`` if it holds non-strings."""
        if name not in self._index:
            index: dict[str, list[int]] = {}
            for pos, row in enumerate(self.rows):
                value = row.get(name)
                if value is None:
                    continue
                if not isinstance(value, str):
                    self._index[name] = None
                    return None
                index.setdefault(value, []).append(pos)
            self._index[name] = index
        return self._index[name]

    def scan(
        self,
        needed: Sequence[str],
        filters: Mapping[str, str],
        exact: Mapping[str, Sequence[str]] | None = None,
    ) -> Iterator[Row]:
        del needed, filters
        positions: set[int] | None = None
        for name, values in (exact or {}).items():
            index = self._field_index(name)
            if index is None:
                continue
            hits = {pos for value in values for pos in index.get(value, ())}
            positions = hits if positions is None else positions & hits
        if positions is None:
            return iter(self.rows)
        return (self.rows[pos] for pos in sorted(positions))


@dataclass
class GeneratedSource:
    """``n`` synthetic GL rows computed from their index; nothing is materialised.

    A filter on ``<view>.bucket`` that lists whole numbers is pushed down to an index
    range, so one bucket costs only its own rows.
    """

    view: str
    n: int
    bucket_size: int = 4000
    natural_order: str | None = None
    _template_cache: dict[tuple[str, ...], tuple[int, list[str]]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        self.natural_order = f"{self.view}.row_id"

    _MONTHS = tuple(f"{2024 + (m + 10) // 12}-{(m + 10) % 12 + 1:02d}" for m in range(24))
    _ACCOUNTS = ("REV-100", "PER-200", "OPS-300", "OPS-310", "OPS-320", "OPS-330")
    _CENTERS = ("MUC-BER", "FRA-BER", "CGN-PST", "HAM-PST", "MUC-IT", "BER-IT", None)
    _TEXTS = ("Honorare Prüfung", "Gehälter", "Raumkosten", "Reisekosten", "Gebühren")

    @staticmethod
    def _cents(i: int) -> int:
        return (i * 7919) % 2_000_000 - 1_000_000

    def _columns(self) -> dict[str, Callable[[int], Value]]:
        v = self.view
        size = self.bucket_size
        months, accounts, centers, texts = self._MONTHS, self._ACCOUNTS, self._CENTERS, self._TEXTS
        cents = self._cents
        return {
            f"{v}.row_id": lambda i: i,
            f"{v}.bucket": lambda i: i // size,
            f"{v}.period_month": lambda i: months[i % 24],
            f"{v}.account": lambda i: accounts[i % 6],
            f"{v}.cost_center": lambda i: centers[i % 7],
            f"{v}.description": lambda i: texts[i % 5],
            f"{v}.amount_eur": lambda i: Decimal(cents(i)).scaleb(-2),
        }

    def _json_columns(self) -> dict[str, tuple[Sequence[str], Callable[[int], str] | None]]:
        """Per field: pre-encoded JSON texts cycling with the row index, or a function."""
        v = self.view
        size = self.bucket_size
        cents = self._cents

        def amount(i: int) -> str:
            c = cents(i)
            # %-formatting: the fastest way to write cents as an exact decimal here
            return "-%d.%02d" % divmod(-c, 100) if c < 0 else "%d.%02d" % divmod(c, 100)  # noqa: UP031

        def cyclic(values: Sequence[str | None]) -> tuple[Sequence[str], None]:
            return [json_text(x) for x in values], None

        return {
            f"{v}.row_id": ((), str),
            f"{v}.bucket": ((), lambda i: str(i // size)),
            f"{v}.period_month": cyclic(self._MONTHS),
            f"{v}.account": cyclic(self._ACCOUNTS),
            f"{v}.cost_center": cyclic(self._CENTERS),
            f"{v}.description": cyclic(self._TEXTS),
            f"{v}.amount_eur": ((), amount),
        }

    def fast_counts(
        self, dims: Sequence[str], count_measures: Sequence[str], filters: Mapping[str, str]
    ) -> list[Row] | None:
        """Row counts per ``bucket`` (or in total) computed from the indices, not scanned.

        ``None`` unless the query groups by nothing or by ``bucket`` only and filters on
        nothing but an integer list of buckets.
        """
        bucket = f"{self.view}.bucket"
        if set(dims) - {bucket} or set(filters) - {bucket}:
            return None
        expr = filters.get(bucket)
        if expr is not None and not all(p.strip().isdigit() for p in expr.split(",")):
            return None
        wanted: Sequence[int] = (
            range((self.n + self.bucket_size - 1) // self.bucket_size)
            if expr is None
            else sorted({int(p) for p in expr.split(",")})
        )
        sizes = {b: len(self._indices({bucket: str(b)})) for b in wanted}
        sizes = {b: n for b, n in sizes.items() if n}
        if not dims:
            total = sum(sizes.values())
            return [dict.fromkeys(count_measures, total)]
        return [{bucket: b, **dict.fromkeys(count_measures, n)} for b, n in sizes.items()]

    def _templates(
        self,
        names: tuple[str, ...],
        columns: dict[str, tuple[Sequence[str], Callable[[int], str] | None]],
    ) -> tuple[int, list[str]]:
        """Row templates, one per residue of the cyclic columns' common period (cached).

        The cyclic columns are written into the template; the others stay ``%s``.
        """
        cached = self._template_cache.get(names)
        if cached is not None:
            return cached
        period = math.lcm(*(len(columns[n][0]) for n in names if columns[n][1] is None))

        def cell(name: str, residue: int) -> str:
            texts, func = columns[name]
            value = "%s" if func is not None else texts[residue % len(texts)].replace("%", "%%")
            return json.dumps(name).replace("%", "%%") + ":" + value

        templates = ["{" + ",".join(cell(n, r) for n in names) + "}" for r in range(period)]
        self._template_cache[names] = (period, templates)
        return period, templates

    def fast_json(
        self,
        fields: Sequence[str],
        filters: Mapping[str, str],
        sorts: Sequence[str],
        limit: int | None,
    ) -> bytes | None:
        """The ``json`` result of a plain row query, rendered straight from the indices.

        Only for queries the generic engine would answer identically without grouping
        or sorting: the primary key among the fields, no measures, no filter but an
        integer list on ``bucket`` and a list of months on ``period_month``, sorted by
        the key ascending (explicitly, or by default as the first field). Otherwise
        ``None``.
        """
        key = f"{self.view}.row_id"
        columns = self._json_columns()
        if key not in fields or any(f not in columns for f in fields):
            return None
        if set(filters) - {f"{self.view}.bucket", f"{self.view}.period_month"}:
            return None
        if f"{self.view}.period_month" in filters and self._month_residues(filters) is None:
            return None
        if [s.lower() for s in sorts] not in ([], [key], [f"{key} asc"]):
            return None
        if not sorts and fields[0] != key:
            return None  # Looker's default sort is the first field
        expr = filters.get(f"{self.view}.bucket")
        if expr is not None and not all(p.strip().isdigit() for p in expr.split(",")):
            return None
        indices = self._indices(filters)
        if limit is not None:
            indices = indices[:limit]
        names = tuple(dict.fromkeys(fields))
        period, templates = self._templates(names, columns)
        funcs = [f for n in names if (f := columns[n][1]) is not None]
        if len(funcs) == 1:
            only = funcs[0]
            rows = [templates[i % period] % only(i) for i in indices]
        elif len(funcs) == 2:
            f0, f1 = funcs
            rows = [templates[i % period] % (f0(i), f1(i)) for i in indices]
        else:
            rows = [templates[i % period] % tuple(f(i) for f in funcs) for i in indices]
        body = ",\n".join(rows)
        return ("[" + body + "]").encode()

    def _indices(self, filters: Mapping[str, str]) -> range | list[int]:
        """The rows a ``bucket`` and a ``period_month`` filter can select (an index on
        each: rows of one month are every 24th row); the other filters are the engine's."""
        spans = self._bucket_spans(filters)
        residues = self._month_residues(filters)
        if residues is not None:
            spans = [
                range(span.start + (r - span.start) % 24, span.stop, 24)
                for span in spans
                for r in residues
            ]
            if len(residues) > 1:
                return sorted(i for span in spans for i in span)
        if len(spans) == 1:
            return spans[0]
        return [i for span in spans for i in span]

    def _bucket_spans(self, filters: Mapping[str, str]) -> list[range]:
        expr = filters.get(f"{self.view}.bucket")
        if expr is None:
            return [range(self.n)]
        try:
            buckets = sorted({int(part.strip()) for part in expr.split(",")})
        except ValueError:
            return [range(self.n)]
        return [
            range(max(b * self.bucket_size, 0), min((b + 1) * self.bucket_size, self.n))
            for b in buckets
        ]

    def _month_residues(self, filters: Mapping[str, str]) -> list[int] | None:
        """Row index residues (mod 24) of a ``period_month`` filter listing months, else
        ``None`` (no such filter, or one the index cannot answer exactly).

        In a Looker string filter expression a plain value matches that value and commas
        separate alternatives (Looker's "Filter expressions" reference); values shaped
        ``YYYY-MM`` carry no wildcard, escape, negation or keyword, so they match exactly.
        """
        expr = filters.get(f"{self.view}.period_month")
        if expr is None:
            return None
        parts = expr.split(",")
        if not all(_MONTH_VALUE.fullmatch(part) for part in parts):
            return None
        return sorted({self._MONTHS.index(p) for p in parts if p in self._MONTHS})

    def scan(
        self,
        needed: Sequence[str],
        filters: Mapping[str, str],
        exact: Mapping[str, Sequence[str]] | None = None,
    ) -> Iterator[Row]:
        del exact  # only ``bucket`` is pushed down, from ``filters``
        columns = self._columns()
        getters = [(name, columns[name]) for name in needed if name in columns]
        for i in self._indices(filters):
            yield {name: get(i) for name, get in getters}


Source = TableSource | GeneratedSource


@dataclass
class Explore:
    """An explore of a model, with its fields and where its rows come from."""

    model: str
    name: str
    label: str
    fields: dict[str, Field]
    source: Source
    description: str | None = None


@dataclass
class Look:
    """A saved Look: a title and a query."""

    id: str
    title: str
    query: dict[str, Any]
    description: str | None = None


@dataclass
class Dataset:
    """Everything the emulator serves."""

    models: dict[str, dict[str, Explore]] = field(default_factory=dict)
    model_labels: dict[str, str] = field(default_factory=dict)
    looks: dict[str, Look] = field(default_factory=dict)

    def explore(self, model: str, name: str) -> Explore | None:
        return self.models.get(model, {}).get(name)

    def add(self, explore: Explore, model_label: str | None = None) -> None:
        self.models.setdefault(explore.model, {})[explore.name] = explore
        self.model_labels.setdefault(explore.model, model_label or explore.model.title())


def _typed(raw: object, ftype: str, where: str) -> Value:
    if raw is None or raw == "":
        return None
    try:
        if ftype == "number":
            if isinstance(raw, bool):
                raise ValueError(raw)
            return Decimal(str(raw))
        if ftype == "date":
            return raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        if ftype == "yesno":
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in {"yes", "true"}
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{where}: {raw!r} is not a valid {ftype}") from exc
    return str(raw)


def _load_rows(path: Path, fields: dict[str, Field], view: str) -> list[Row]:
    dims = [f for f in fields.values() if not f.is_measure]
    if path.suffix == ".json":
        records = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            records = list(csv.DictReader(fh))
    rows: list[Row] = []
    for n, rec in enumerate(records, start=1):
        row: Row = {}
        for f in dims:
            short = f.name.split(".", 1)[1]
            raw = rec.get(f.name, rec.get(short))
            row[f.name] = _typed(raw, f.type, f"{path.name} row {n} {f.name}")
        rows.append(row)
    return rows


class DatasetError(ValueError):
    """The dataset directory is incomplete or inconsistent (the message says where)."""


DIMENSION_TYPES = frozenset({"string", "number", "date", "yesno"})


def _field(spec: Mapping[str, Any], where: str) -> Field:
    name = str(spec.get("name", ""))
    if "." not in name:
        raise DatasetError(f"{where}: field name {name!r} must be 'view.field'")
    category = str(spec.get("category", "dimension"))
    ftype = str(spec.get("type", "string"))
    if category == "dimension" and ftype not in DIMENSION_TYPES:
        raise DatasetError(f"{where}: {name} has unsupported dimension type {ftype!r}")
    if category == "measure" and ftype not in MEASURE_TYPES:
        raise DatasetError(f"{where}: {name} has unsupported measure type {ftype!r}")
    if category not in {"dimension", "measure"}:
        raise DatasetError(f"{where}: {name} has unknown category {category!r}")
    if category == "measure" and ftype != "count" and not spec.get("sql_field"):
        raise DatasetError(f"{where}: measure {name} needs 'sql_field' (the dimension it sums)")
    return Field(
        name=name,
        category=category,
        type=ftype,
        label=str(spec.get("label", name.split(".", 1)[1])),
        description=spec.get("description"),
        primary_key=bool(spec.get("primary_key", False)),
        sql_field=spec.get("sql_field"),
        value_format_name=spec.get("value_format_name"),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing") from None
    except ValueError as exc:
        raise DatasetError(f"{path} is not valid JSON: {exc}") from None


def load_dataset(directory: Path | str) -> Dataset:
    """Read a dataset directory (see the module docstring); :class:`DatasetError` if bad."""
    root = Path(directory)
    spec = _read_json(root / "models.json")
    dataset = Dataset()
    try:
        for model in spec["models"]:
            for ex in model.get("explores", []):
                where = f"models.json {model['name']}/{ex['name']}"
                fields = {f["name"]: _field(f, where) for f in ex["fields"]}
                data = root / ex["data"]
                if not data.exists():
                    raise DatasetError(f"{where}: data file {data} is missing")
                explore = Explore(
                    model=model["name"],
                    name=ex["name"],
                    label=ex.get("label", ex["name"]),
                    fields=fields,
                    source=TableSource(_load_rows(data, fields, ex["name"])),
                    description=ex.get("description"),
                )
                dataset.add(explore, model.get("label"))
        looks_file = root / "looks.json"
        if looks_file.exists():
            for look in _read_json(looks_file).get("looks", []):
                dataset.looks[str(look["id"])] = Look(
                    id=str(look["id"]),
                    title=look["title"],
                    query=look["query"],
                    description=look.get("description"),
                )
    except (KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f"{root}: missing or malformed entry {exc}") from None
    except ValueError as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(str(exc)) from None
    for look in dataset.looks.values():
        model, view = look.query.get("model"), look.query.get("view")
        if dataset.explore(str(model), str(view)) is None:
            raise DatasetError(f"looks.json: Look {look.id} uses unknown explore {model}/{view}")
    return dataset


def bench_explore(n_rows: int, *, bucket_size: int = 4000) -> Explore:
    """Generated explore ``bench`` / ``rows`` with ``n_rows`` rows (for benchmarks)."""
    v = "rows"
    specs = [
        ("row_id", "dimension", "number", True),
        ("bucket", "dimension", "number", False),
        ("period_month", "dimension", "string", False),
        ("account", "dimension", "string", False),
        ("cost_center", "dimension", "string", False),
        ("description", "dimension", "string", False),
        ("amount_eur", "dimension", "number", False),
    ]
    fields = {
        f"{v}.{name}": Field(
            f"{v}.{name}", cat, typ, name.replace("_", " ").title(), primary_key=pk
        )
        for name, cat, typ, pk in specs
    }
    fields[f"{v}.row_count"] = Field(f"{v}.row_count", "measure", "count", "Row Count")
    fields[f"{v}.total_amount_eur"] = Field(
        f"{v}.total_amount_eur", "measure", "sum", "Total Amount EUR", sql_field=f"{v}.amount_eur"
    )
    source = GeneratedSource(view=v, n=n_rows, bucket_size=bucket_size)
    return Explore("bench", v, "Benchmark rows", fields, source)
