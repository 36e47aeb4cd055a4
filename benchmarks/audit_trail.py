"""Benchmark: the per-row audit trail against a plain SQLite ``executemany``.

Both write N row events (the payload a run records per row: row key, booking) into a
fresh SQLite file in one transaction:

* ``product``: :func:`ml_connector.store.audit.append_events` on a migrated store
  (canonical JSON, hash chain, chain head update);
* ``sqlite``: :mod:`sqlite3` ``executemany`` of the same ten columns (``json.dumps``
  of the payload, no hashing) into a table of the same shape: the floor.

Each side runs ``--repeat`` times (alternating) and the best time counts.

Usage: ``.venv/bin/python benchmarks/audit_trail.py [--rows 100000] [--repeat 3]``;
prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _payload(i: int) -> dict[str, Any]:
    return {
        "row_key": f"2025-12|IT|OPS-300|BER-IT|{i}",
        "booking": {
            "content_digest": f"{i:032x}",
            "lines": [
                {
                    "umsatz": "21441.72",
                    "soll_haben": "H",
                    "konto": 1590,
                    "gegenkonto": 4210,
                    "belegdatum": "2025-12-31",
                    "belegfeld_1": f"2025-12/IT/OPS-300/BER-IT/{i}",
                    "buchungstext": "Miete und Nebenkosten Dezember 2025",
                    "kost1": "310",
                    "kost2": "IT",
                }
            ],
        },
    }


def product(n: int, work: Path) -> float:
    """Seconds for ``append_events`` of ``n`` row events (store migrated beforehand)."""
    from ml_connector.store.audit import AuditEvent, append_events
    from ml_connector.store.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{work / 'store.db'}")
    migrate(engine)

    def events() -> Iterator[AuditEvent]:
        for i in range(n):
            payload = _payload(i)
            yield AuditEvent("row", "run-1", payload, row_key=payload["row_key"])

    start = time.perf_counter()
    append_events(engine, "pipeline:gl-monthly", events())
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def floor(n: int, work: Path) -> float:
    """Seconds for sqlite3 ``executemany`` of the same events in one transaction."""
    db = sqlite3.connect(work / "plain.db")
    db.execute(
        "CREATE TABLE events (chain TEXT, seq INTEGER, recorded_at TEXT, run_id TEXT, "
        "kind TEXT, row_key TEXT, filename TEXT, payload TEXT, prev_hash TEXT, row_hash TEXT, "
        "PRIMARY KEY (chain, seq))"
    )
    db.commit()
    now = datetime.now(UTC).isoformat()

    def rows() -> Iterator[tuple[object, ...]]:
        for i in range(n):
            payload = _payload(i)
            text = json.dumps(payload, sort_keys=True)
            yield ("c", i, now, "run-1", "row", payload["row_key"], None, text, "", "")

    start = time.perf_counter()
    with db:
        db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows())
    seconds = time.perf_counter() - start
    db.close()
    return seconds


def _timed(run: Callable[[int, Path], float], n: int) -> tuple[float, float]:
    """``run``'s own wall seconds and this process's CPU seconds for it (fresh directory)."""
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        cpu = time.process_time()
        seconds = run(n, Path(tmp))
        return seconds, time.process_time() - cpu


def measure(n: int, repeat: int = 3) -> dict[str, float]:
    """Both figures for ``n`` events, alternating, the best of ``repeat`` runs each
    (a shared machine's load only ever adds time). ``*_cpu_s`` include the setup."""
    product_runs, floor_runs = [], []
    for _ in range(repeat):
        product_runs.append(_timed(product, n))
        floor_runs.append(_timed(floor, n))
    seconds = min(r[0] for r in product_runs)
    base = min(r[0] for r in floor_runs)
    return {
        "rows": n,
        "product_s": seconds,
        "sqlite_s": base,
        "ratio": seconds / base,
        "product_cpu_s": min(r[1] for r in product_runs),
        "sqlite_cpu_s": min(r[1] for r in floor_runs),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.rows, args.repeat)))
