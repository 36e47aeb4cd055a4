"""Export the audit trail for the tax advisor, as CSV or JSON.

One line per Looker row: run, DATEV client, its source values and the booking line
it became (or why it was rejected), the file and line it went into, and the DATEV
job and its outcome, plus the event's sequence number and hash so every line can be
traced back to the chain. The JSON export also carries every raw event with its
hashes and the chain heads, which is enough to re-verify the chain elsewhere
(GoBD: the original content stays determinable).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

from sqlalchemy import Engine, select

from ml_connector.csvsafe import csv_writer
from ml_connector.errors import ConfigurationError
from ml_connector.formats.extf.models import COLUMN_ATTRS
from ml_connector.store.audit import iter_events, verify
from ml_connector.store.tables import AUDIT_EVENTS

__all__ = ["ROW_COLUMNS", "export_trail", "iter_row_view"]

ROW_COLUMNS = (
    "run_id",
    "datev_client",
    "seq",
    "recorded_at",
    "row_key",
    "source",
    "booking",
    "rejection",
    "filename",
    "line",
    "datev_job_id",
    "job_outcome",
    "row_hash",
)


def _jobs(
    engine: Engine, chain: str | None, run_id: str | None
) -> dict[tuple[str, str], dict[str, Any]]:
    table = AUDIT_EVENTS
    query = (
        select(table.c.run_id, table.c.filename, table.c.kind, table.c.payload)
        .where(table.c.kind.in_(("file_submitted", "job_outcome")))
        .order_by(table.c.chain, table.c.seq)
    )
    if chain is not None:
        query = query.where(table.c.chain == chain)
    if run_id is not None:
        query = query.where(table.c.run_id == run_id)
    jobs: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            entry = jobs.setdefault((row.run_id, row.filename), {})
            payload = json.loads(row.payload)
            entry["datev_job_id"] = payload.get("datev_job_id", entry.get("datev_job_id"))
            if row.kind == "job_outcome":
                entry["job_outcome"] = payload.get("outcome")
    return jobs


def iter_row_view(
    engine: Engine, *, chain: str | None = None, run_id: str | None = None
) -> Iterator[dict[str, Any]]:
    """One dict per Looker row (``row`` event), joined with its file's DATEV job."""
    jobs = _jobs(engine, chain, run_id)
    for event in iter_events(engine, chain=chain, run_id=run_id):
        if event.kind != "row":
            continue
        payload = json.loads(event.payload)
        job = jobs.get((event.run_id, event.filename or ""), {})
        yield {
            "run_id": event.run_id,
            "datev_client": event.chain,
            "seq": event.seq,
            "recorded_at": event.recorded_at,
            "row_key": event.row_key,
            "source": payload.get("source"),
            "booking": payload.get("booking"),
            "rejection": payload.get("rejection"),
            "filename": event.filename,
            "line": payload.get("line"),
            "datev_job_id": job.get("datev_job_id"),
            "job_outcome": job.get("job_outcome"),
            "row_hash": event.row_hash,
        }


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "" if value is None else value


def _write_csv(engine: Engine, out: TextIO, chain: str | None, run_id: str | None) -> int:
    writer = csv_writer(out, lineterminator="\r\n")
    writer.writerow(ROW_COLUMNS)
    count = 0
    for row in iter_row_view(engine, chain=chain, run_id=run_id):
        writer.writerow([_csv_cell(row[c]) for c in ROW_COLUMNS])
        count += 1
    return count


#: the columns of a row view that are not JSON (kept as they are in the flat export)
_PLAIN = ("run_id", "datev_client", "seq", "recorded_at", "row_key")
_TAIL = ("rejection", "filename", "line", "datev_job_id", "job_outcome", "row_hash")


def _lines(booking: Any, part: str) -> list[dict[str, Any]]:
    items = booking.get(part) if isinstance(booking, dict) else None
    return [item for item in items or () if isinstance(item, dict)]


def _change_text(booking: Any) -> str:
    changes = booking.get("changes") if isinstance(booking, dict) else None
    return "; ".join(
        f"{c.get('kind')} {c.get('field')}: {c.get('before')!s} -> {c.get('after')!s}"
        for c in changes or ()
        if isinstance(c, dict)
    )


def _flat_columns(
    engine: Engine, chain: str | None, run_id: str | None
) -> tuple[list[str], list[str], list[str]]:
    """Source fields, booking-line and reversal-line columns seen in the trail (a first
    pass that keeps only the names)."""
    source: dict[str, None] = {}
    booking: set[str] = set()
    reversal: set[str] = set()
    for row in iter_row_view(engine, chain=chain, run_id=run_id):
        if isinstance(row["source"], dict):
            source.update(dict.fromkeys(row["source"]))
        for line in _lines(row["booking"], "lines"):
            booking.update(line)
        for line in _lines(row["booking"], "reversal"):
            reversal.update(line)
    order = {attr: index for index, attr in enumerate(COLUMN_ATTRS)}

    def ordered(names: set[str]) -> list[str]:
        return sorted(names, key=lambda name: (order.get(name, len(order)), name))

    return list(source), ordered(booking), ordered(reversal)


def _write_flat_csv(engine: Engine, out: TextIO, chain: str | None, run_id: str | None) -> int:
    """German Excel: ``;``, decimal comma, one column per value (no JSON in a cell); a
    row with several booking lines gets one CSV line per booking line."""
    source_cols, booking_cols, reversal_cols = _flat_columns(engine, chain, run_id)
    writer = csv_writer(out, decimal_comma=True, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            *_PLAIN,
            *(f"source.{c}" for c in source_cols),
            "content_digest",
            *(f"booking.{c}" for c in booking_cols),
            *(f"reversal.{c}" for c in reversal_cols),
            "changes",
            *_TAIL,
        ]
    )
    count = 0
    for row in iter_row_view(engine, chain=chain, run_id=run_id):
        source = row["source"] if isinstance(row["source"], dict) else {}
        booking = row["booking"]
        digest = booking.get("content_digest") if isinstance(booking, dict) else None
        lines, reversal = _lines(booking, "lines"), _lines(booking, "reversal")
        head = [_csv_cell(row[c]) for c in _PLAIN] + [_csv_cell(source.get(c)) for c in source_cols]
        tail = [_change_text(booking)] + [_csv_cell(row[c]) for c in _TAIL]
        for index in range(max(1, len(lines), len(reversal))):
            line = lines[index] if index < len(lines) else {}
            back = reversal[index] if index < len(reversal) else {}
            writer.writerow(
                [
                    *head,
                    _csv_cell(digest),
                    *(_csv_cell(line.get(c)) for c in booking_cols),
                    *(_csv_cell(back.get(c)) for c in reversal_cols),
                    *tail,
                ]
            )
        count += 1
    return count


def _write_json(engine: Engine, out: TextIO, chain: str | None, run_id: str | None) -> int:
    reports = verify(engine, chain=chain)
    heads = [
        {"chain": r.chain, "seq": r.head_seq, "head_hash": r.head_hash, "verified": r.ok}
        for r in reports
    ]
    out.write('{"format":"ml-connector-audit/1","chains":')
    out.write(json.dumps(heads, ensure_ascii=False))
    out.write(',"rows":[')
    count = 0
    for row in iter_row_view(engine, chain=chain, run_id=run_id):
        out.write(("," if count else "") + "\n" + json.dumps(row, ensure_ascii=False))
        count += 1
    out.write('],"events":[')
    for index, event in enumerate(iter_events(engine, chain=chain, run_id=run_id)):
        raw = {
            "chain": event.chain,
            "seq": event.seq,
            "recorded_at": event.recorded_at,
            "run_id": event.run_id,
            "kind": event.kind,
            "row_key": event.row_key,
            "filename": event.filename,
            "payload": event.payload,
            "prev_hash": event.prev_hash,
            "row_hash": event.row_hash,
        }
        out.write(("," if index else "") + "\n" + json.dumps(raw, ensure_ascii=False))
    out.write("]}\n")
    return count


def export_trail(
    engine: Engine,
    out: Path,
    *,
    fmt: Literal["csv", "json"],
    chain: str | None = None,
    run_id: str | None = None,
    overwrite: bool = False,
    excel: bool = False,
) -> int:
    """Write the trail (optionally one chain or run) to ``out``; returns the row count.

    ``excel`` (CSV only) writes for German Excel: UTF-8 with BOM, ``;``, decimal comma,
    JSON values flattened to columns. An existing ``out`` is kept
    (:class:`ConfigurationError`) unless ``overwrite``.
    """
    if excel and fmt != "csv":
        raise ConfigurationError(
            "the Excel layout is a CSV layout", hint="use --format csv with --excel"
        )
    writer = _write_flat_csv if excel else _write_csv if fmt == "csv" else _write_json
    out.parent.mkdir(parents=True, exist_ok=True)
    encoding = "utf-8-sig" if excel else "utf-8"
    try:
        handle = out.open("w" if overwrite else "x", encoding=encoding, newline="")
    except FileExistsError:
        raise ConfigurationError(
            f"{out} exists already; the export does not overwrite it",
            hint="choose another --out, or add --force to replace the file",
        ) from None
    with handle:
        return writer(engine, handle, chain, run_id)
