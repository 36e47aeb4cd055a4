"""Result formats: ``json`` (array of objects keyed ``view.field``), ``csv`` (label header).

Both are produced as a stream of byte chunks so a large result never sits in memory.
Numbers are written exactly (``Decimal`` text), dates ISO, NULL as ``null`` / empty.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import date

from ml_connector.emulators.looker.dataset import Field, Row, Value, json_text

__all__ = ["CONTENT_TYPES", "SUPPORTED_FORMATS", "render"]

SUPPORTED_FORMATS = frozenset({"json", "csv"})
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv"}
_CHUNK = 1000


def _json(fields: list[Field], rows: Iterator[Row]) -> Iterator[bytes]:
    keys = [(f.name, json.dumps(f.name) + ":") for f in fields]
    enc: Callable[[Value], str] = json_text
    yield b"["
    first = True
    buf: list[str] = []
    for row in rows:
        body = ",".join(k + enc(row.get(name)) for name, k in keys)
        buf.append(("{" if first else ",\n{") + body + "}")
        first = False
        if len(buf) >= _CHUNK:
            yield "".join(buf).encode()
            buf = []
    buf.append("]")
    yield "".join(buf).encode()


def csv_label(field: Field, view_label: str) -> str:
    """Header of a CSV column: view label and field label, as Looker writes them."""
    return f"{view_label} {field.label}"


def _csv_value(v: Value) -> str:
    if v is None:
        return ""
    if v is True:
        return "Yes"
    if v is False:
        return "No"
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def _csv(fields: list[Field], rows: Iterator[Row], view_label: str) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_label(f, view_label) for f in fields])
    for n, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(row.get(f.name)) for f in fields])
        if n % _CHUNK == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def render(fmt: str, fields: list[Field], rows: Iterator[Row], view_label: str) -> Iterator[bytes]:
    """Byte chunks of the result in ``fmt`` (one of :data:`SUPPORTED_FORMATS`)."""
    if fmt == "csv":
        return _csv(fields, rows, view_label)
    return _json(fields, rows)
