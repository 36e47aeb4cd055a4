"""Benchmark: the bundled pipeline end to end (Looker -> mapping -> EXTF -> DATEV) per month.

Runs the demo installation (both emulators in this process, the real DATEV login,
the durable engine on SQLite) for every month of the demo dataset, twice: without
latency (the baseline, measured in the same run) and with ``--latency-ms`` added to
every API call of both emulators. Prints wall time, rows/s, runs/s, the peak RSS of
the process and the ratio latency run / baseline.

Usage: ``.venv/bin/python benchmarks/e2e_demo.py [--latency-ms 20] [--months 24]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from engine_bench_common import peak_rss_mb
from ml_connector_sandbox.demo import run_demo
from ml_connector_sandbox.demo.emulators import running_emulators


def _months(count: int) -> list[str]:
    months = []
    year, month = 2026, 10  # the dataset's last month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(months)


def _once(months: list[str], latency: float) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp, running_emulators(latency_seconds=latency) as emu:
        start = time.perf_counter()
        summary = run_demo(
            Path(tmp) / "demo", months=months, progress=None, print_summary=False, emulators=emu
        )
        elapsed = time.perf_counter() - start
    if not summary.ok:
        raise SystemExit(f"the demo failed: {summary.render()}")
    return elapsed, summary.rows_read, summary.bookings_posted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    months = _months(args.months)
    base, rows, posted = _once(months, 0.0)
    slow, _, _ = _once(months, args.latency_ms / 1000)
    peak_mb = peak_rss_mb()
    print(f"months {len(months)}, rows {rows}, bookings posted {posted}")
    print(
        f"baseline (0 ms):    {base:6.2f} s  {rows / base:8.0f} rows/s  "
        f"{len(months) / base:5.2f} runs/s"
    )
    print(
        f"latency ({args.latency_ms:g} ms):  {slow:6.2f} s  {rows / slow:8.0f} rows/s  "
        f"{len(months) / slow:5.2f} runs/s"
    )
    print(f"ratio latency / baseline: {slow / base:.2f}")
    print(f"peak RSS of the process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
