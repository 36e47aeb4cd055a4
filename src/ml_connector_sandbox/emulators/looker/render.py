"""Result formats of the run endpoints and query tasks.

``json`` (array of objects keyed ``view.field``), ``json_detail`` (cells ``{value}``
plus field metadata), ``json_bi`` (``{metadata, rows}``), ``csv`` and ``txt`` (label
header; comma / tab separated), ``xlsx`` (a workbook, needs openpyxl from the
``sandbox`` extra) and ``sql`` (the generated SQL, nothing run). Row formats are
produced as a stream of byte chunks so a large result never sits in memory.
Numbers are written exactly (``Decimal`` text), dates ISO, NULL as ``null`` / empty.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ml_connector_sandbox.emulators.looker.dataset import Field, Row, Value, json_text

__all__ = [
    "CONTENT_TYPES",
    "SUPPORTED_FORMATS",
    "FormatUnavailableError",
    "field_body",
    "render",
]

CONTENT_TYPES = {
    "json": "application/json",
    "json_detail": "application/json",
    "json_bi": "application/json",
    "csv": "text/csv",
    "txt": "text/plain",
    "sql": "text/plain",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SUPPORTED_FORMATS = frozenset(CONTENT_TYPES)
_CHUNK = 1000


@dataclass(frozen=True)
class _Context:
    """What a format needs besides the rows: labels, the SQL, the filters."""

    view_label: str
    sql: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)


def field_body(f: Field, view_label: str) -> dict[str, Any]:
    """A field as ``LookmlModelExploreField`` (and the field lists of result metadata)."""
    return {
        "name": f.name,
        "label": f"{view_label} {f.label}",
        "label_short": f.label,
        "view": f.view,
        "view_label": view_label,
        "category": f.category,
        "type": f.type,
        "description": f.description,
        "primary_key": f.primary_key,
        "measure": f.is_measure,
        "is_numeric": f.is_numeric,
        "is_filter": False,
        "is_timeframe": f.type == "date",
        "can_time_filter": f.type == "date",
        "dimension_group": None,
        "original_view": f.view,
        "hidden": False,
        "sortable": True,
        "can_filter": True,
        "suggestable": not f.is_measure,
        "value_format_name": f.value_format_name,
        "sql": None,
        "enumerations": None,
        "dynamic": False,
        "permanent": None,
        "scope": f.view,
        "tags": [],
    }


def _json_rows(
    fields: list[Field], rows: Iterator[Row], cell: Callable[[Value], str]
) -> Iterator[str]:
    """The rows as JSON object texts, joined in chunks."""
    keys = [(f.name, json.dumps(f.name) + ":") for f in fields]
    first = True
    buf: list[str] = []
    for row in rows:
        body = ",".join(k + cell(row.get(name)) for name, k in keys)
        buf.append(("{" if first else ",\n{") + body + "}")
        first = False
        if len(buf) >= _CHUNK:
            yield "".join(buf)
            buf = []
    yield "".join(buf)


def _json(fields: list[Field], rows: Iterator[Row]) -> Iterator[bytes]:
    yield b"["
    for text in _json_rows(fields, rows, json_text):
        yield text.encode()
    yield b"]"


def _split_fields(fields: list[Field], ctx: _Context) -> dict[str, list[dict[str, Any]]]:
    return {
        "dimensions": [field_body(f, ctx.view_label) for f in fields if not f.is_measure],
        "measures": [field_body(f, ctx.view_label) for f in fields if f.is_measure],
        "pivots": [],
        "table_calculations": [],
    }


def _json_detail(fields: list[Field], rows: Iterator[Row], ctx: _Context) -> Iterator[bytes]:
    head = {
        "fields": _split_fields(fields, ctx),
        "pivots": [],
        "has_totals": False,
        "has_subtotals": False,
        "filter_expression": None,
        "null_sql": None,
        "sql": ctx.sql,
    }
    yield json.dumps(head)[:-1].encode() + b', "data": ['
    for text in _json_rows(fields, rows, lambda v: '{"value":' + json_text(v) + "}"):
        yield text.encode()
    yield b"]}"


def _json_bi(fields: list[Field], rows: Iterator[Row], ctx: _Context) -> Iterator[bytes]:
    bi_fields = _split_fields(fields, ctx)
    keep = ("sql", "view", "category", "name", "type", "view_label", "label", "hidden")
    for group in ("dimensions", "measures"):
        bi_fields[group] = [
            {
                **{k: f[k] for k in keep},
                "description": f["description"] or "",
                "dimension_group": None,
                "field_group_label": None,
                "field_group_variant": f["label_short"],
            }
            for f in bi_fields[group]
        ]
    metadata = {
        "big_query_metadata": {},
        "fields": bi_fields,
        "pivots": [],
        "has_subtotals": False,
        "has_totals": False,
        "columns_truncated": "false",
        "filter_expression": None,
        "filters": dict(ctx.filters),
        "sql": ctx.sql,
    }
    yield b'{"metadata": ' + json.dumps(metadata).encode() + b', "rows": ['
    for text in _json_rows(fields, rows, json_text):
        yield text.encode()
    yield b"]}"


def csv_label(field: Field, view_label: str) -> str:
    """Header of a CSV column: view label and field label, as Looker writes them."""
    return f"{view_label} {field.label}"


def _cell(v: Value) -> str:
    if v is None:
        return ""
    if v is True:
        return "Yes"
    if v is False:
        return "No"
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def _delimited(
    fields: list[Field], rows: Iterator[Row], view_label: str, delimiter: str
) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", delimiter=delimiter)
    writer.writerow([csv_label(f, view_label) for f in fields])
    for n, row in enumerate(rows, start=1):
        writer.writerow([_cell(row.get(f.name)) for f in fields])
        if n % _CHUNK == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def _xlsx_value(v: Value) -> object:
    if isinstance(v, bool):
        return "Yes" if v else "No"
    return v


def _xlsx(fields: list[Field], rows: Iterator[Row], view_label: str) -> Iterator[bytes]:
    """One workbook (written at the end: the format cannot be streamed)."""
    try:
        from openpyxl import Workbook
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise FormatUnavailableError(
            "the xlsx format needs openpyxl: pip install 'ml-connector[sandbox]'"
        ) from exc
    return _workbook(Workbook(write_only=True), fields, rows, view_label)


def _workbook(
    book: Any, fields: list[Field], rows: Iterator[Row], view_label: str
) -> Iterator[bytes]:
    sheet = book.create_sheet("Sheet1")
    sheet.append([csv_label(f, view_label) for f in fields])
    for row in rows:
        sheet.append([_xlsx_value(row.get(f.name)) for f in fields])
    out = io.BytesIO()
    book.save(out)
    yield out.getvalue()


class FormatUnavailableError(RuntimeError):
    """The result format needs an optional package that is not installed."""


def render(
    fmt: str,
    fields: list[Field],
    rows: Iterator[Row],
    view_label: str,
    *,
    sql: str = "",
    filters: Mapping[str, str] | None = None,
) -> Iterator[bytes]:
    """Byte chunks of the result in ``fmt`` (one of :data:`SUPPORTED_FORMATS`)."""
    ctx = _Context(view_label, sql, filters or {})
    if fmt == "csv":
        return _delimited(fields, rows, ctx.view_label, ",")
    if fmt == "txt":
        return _delimited(fields, rows, ctx.view_label, "\t")
    if fmt == "xlsx":
        return _xlsx(fields, rows, ctx.view_label)
    if fmt == "sql":
        return iter([ctx.sql.encode()])
    if fmt == "json_detail":
        return _json_detail(fields, rows, ctx)
    if fmt == "json_bi":
        return _json_bi(fields, rows, ctx)
    return _json(fields, rows)
