"""Benchmark: the engine's peak memory against the number of rows in a run.

One run per size, each in its own process (so ``ru_maxrss`` is the run's own), on
SQLite (default) or PostgreSQL (``--postgres``, a fresh database per size, dropped
afterwards). The steps stream generated rows straight into the records file (no
Looker, mapping or DATEV: this measures the engine and the store alone): ``prepare``
writes ``rows`` records over ``--files`` files, DATEV accepts every file at the first
poll. The engine then records the audit trail of every row, submits, polls and
records the posted bookings of every file.

Printed per size: wall time, rows/s, peak RSS, and the peak's ratio to the smallest
size's (the baseline, measured in the same invocation); flat memory means ~1.0.

Usage: ``.venv/bin/python benchmarks/engine_bench_memory.py [--rows 1000,100000,400000]
[--files 5] [--postgres]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

from engine_bench_common import peak_rss_mb, pg_database, processes, python_command
from ml_connector.engine.ports import (
    JobStatus,
    Prepared,
    PreparedFile,
    RowRecord,
    RunSpec,
    write_records,
)
from ml_connector.engine.runtime import Engine, EngineSettings
from ml_connector.http.polling import PollPolicy


class StreamingSteps:
    """``rows`` generated records over ``files`` files, never held in memory at once."""

    def __init__(self, rows: int, files: int) -> None:
        self.rows = rows
        self.files = files

    def _records(self, per_file: int) -> Iterator[RowRecord]:
        for part in range(1, self.files + 1):
            filename = f"EXTF_bench_{part:03d}.csv"
            for i in range(per_file):
                key = f"{part}/{i}"
                amount = f"{(i * 7919) % 100000 / 100:.2f}"
                yield RowRecord(
                    row_key=key,
                    source={"row_id": key, "amount_eur": amount, "description": "Honorare"},
                    booking={"umsatz": amount, "konto": "1200", "gegenkonto": "8400"},
                    filename=filename,
                    line=i + 1,
                )

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        per_file = self.rows // self.files
        records = workdir / "records.jsonl"
        await asyncio.to_thread(write_records, records, self._records(per_file))
        files = []
        for part in range(1, self.files + 1):
            path = workdir / f"EXTF_bench_{part:03d}.csv"
            path.write_bytes(b"EXTF")
            files.append(
                PreparedFile(part, str(path), path.name, "0" * 64, f"ref-{part}", per_file)
            )
        total = per_file * self.files
        return Prepared(tuple(files), str(records), total, total, 0)

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        return None

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        return f"job-{file.part}"

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        return JobStatus("succeeded")


def run_one(rows: int, files: int, url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = EngineSettings(
            data_dir=Path(tmp),
            store_url=url,
            system_database_url=url,
            queue_polling_interval=0.05,
            poll=PollPolicy(base=0.01, cap=0.02, floor=0.0, max_polls=200),
            application_version="bench-memory",
        )
        start = time.perf_counter()
        with Engine(settings, StreamingSteps(rows, files)) as engine:
            outcome = engine.wait(engine.enqueue(RunSpec("bench", "c", "1-1", "2026-10")))
        seconds = time.perf_counter() - start
    if outcome.state != "succeeded":
        raise SystemExit(f"run ended {outcome.state}: {outcome.error}")
    return {"seconds": seconds, "rows": outcome.rows_read, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,100000,400000")
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.files, args.url)))
        return
    sizes = [int(n) for n in args.rows.split(",")]
    print(
        f"one run per size, {args.files} files, "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}, {os.cpu_count()} CPUs",
        flush=True,
    )
    base: float | None = None
    for rows in sizes:
        db = pg_database(f"mlc_bench_memory_{os.getpid()}") if args.postgres else nullcontext()
        with db as url:
            cmd = python_command(Path(__file__).resolve(), "--one", str(rows))
            cmd += ["--files", str(args.files)] + (["--url", url] if url else [])
            with processes([cmd]) as [proc]:
                out, _ = proc.communicate()
            if proc.returncode != 0:
                sys.exit(f"the run of {rows} rows failed")
        r = json.loads(out.strip().splitlines()[-1])
        base = base or r["peak_rss_mb"]
        print(
            f"{rows:>9,} rows: {r['seconds']:7.1f} s  {rows / r['seconds']:8,.0f} rows/s  "
            f"peak RSS {r['peak_rss_mb']:5.0f} MB  ratio to {sizes[0]:,} rows: "
            f"{r['peak_rss_mb'] / base:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
