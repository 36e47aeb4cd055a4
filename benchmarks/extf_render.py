"""Benchmark: render N EXTF booking lines, streaming, against Python's csv.writer.

Every measurement runs in its own subprocess, so its peak memory (``ru_maxrss``) is
its own.  All runs stream the same N lines to a file on disk from an iterator that
cycles over a pool of distinct lines (``--pool``), so no run ever holds N lines.

Measurements:

* ``csv.writer (EXTF bytes)``: ``csv.writer`` writing the 125 already-formatted fields
  of each line (text fields already in quotes, ``QUOTE_NONE``): the same bytes as the
  EXTF writer produces.
* ``csv.writer (minimal quoting)``: ``csv.writer`` with its default quoting on the
  formatted values without EXTF quotes (fewer bytes, not a valid EXTF file; the
  cheapest thing csv.writer can do with these fields).
* ``extf write_batch, pre-validated``: ``write_batch(..., validate=False)`` from
  ``BookingLine`` models (the hot path for lines that were validated already).
* ``extf write_batch, validating``: the default, every line checked before writing.
* ``extf write_split, validating``: as used in production: validated, split into
  files of at most 99,999 bookings, content digests, atomic renames.

Usage: ``python benchmarks/extf_render.py [--lines N] [--pool P] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from engine_bench_common import peak_rss_mb

MODES = ("csv-extf", "csv-minimal", "extf-trusted", "extf-validated", "extf-split")
LABELS = {
    "csv-extf": "csv.writer (EXTF bytes)",
    "csv-minimal": "csv.writer (minimal quoting)",
    "extf-trusted": "extf write_batch, pre-validated",
    "extf-validated": "extf write_batch, validating",
    "extf-split": "extf write_split, validating",
}

TEXTS = [
    "Beratung März Müller GmbH",
    "Wareneinkauf Schulz KG",
    "Bürobedarf Schreibwaren",
    "Miete Büro",
    "Telekom Rechnung",
    'Bewirtung Kunde "Schmidt & Söhne"',
    "Gehälter",
    "Kontoführungsgebühr",
]


def _pool(size: int) -> list[object]:
    from ml_connector.formats.extf.models import BookingLine

    lines: list[object] = []
    for i in range(size):
        day = date(2024, 3, 1 + i % 31)
        lines.append(
            BookingLine(
                umsatz=Decimal(f"{(i * 7919) % 250000 + 1}.{i % 100:02d}"),
                soll_haben="S" if i % 2 else "H",
                konto=10000 + i % 5000 if i % 3 else 1200,
                gegenkonto=(8400, 4930, 4210, 3400, 1000)[i % 5],
                bu_schluessel="9" if i % 5 == 1 else None,
                belegdatum=day,
                belegfeld_1=f"AR2024-{i:06d}",
                buchungstext=f"{TEXTS[i % len(TEXTS)]} {i}",
                kost1=f"{100 + i % 7}" if i % 2 else None,
                leistungsdatum=day if i % 10 == 0 else None,
                datum_zuord_steuerperiode=day if i % 10 == 0 else None,
                festschreibung=False,
            )
        )
    return lines


def _header() -> object:
    from ml_connector.formats.extf.models import BatchHeader

    return BatchHeader(
        beraternummer=29098,
        mandantennummer=55003,
        wj_beginn=date(2024, 1, 1),
        sachkontenlaenge=4,
        datum_vom=date(2024, 3, 1),
        datum_bis=date(2024, 3, 31),
        festschreibung=False,
        skr="03",
        erzeugt_am=datetime(2024, 4, 2, 9, 30),
        bezeichnung="Benchmark",
    )


def _measure(mode: str, lines: int, pool_size: int, workdir: Path) -> dict[str, object]:
    """Run one measurement in this process; return figures."""
    from ml_connector.formats.extf.render import line_fields
    from ml_connector.formats.extf.split import write_split
    from ml_connector.formats.extf.writer import write_batch

    header = _header()
    pool = _pool(pool_size)
    target = workdir / f"{mode}.csv"
    rss_before = round(peak_rss_mb() * 1024)
    size = 0
    if mode.startswith("csv"):
        rows = [line_fields(b) for b in pool]  # type: ignore[arg-type]
        if mode == "csv-minimal":
            rows = [
                [f[1:-1].replace('""', '"') if f.startswith('"') else f for f in r] for r in rows
            ]
        rows_iter: Iterator[list[str]] = itertools.islice(itertools.cycle(rows), lines)
        start = time.perf_counter()
        with target.open("w", encoding="utf-8-sig", newline="") as handle:
            if mode == "csv-extf":
                writer = csv.writer(
                    handle,
                    delimiter=";",
                    quoting=csv.QUOTE_NONE,
                    quotechar=None,
                    lineterminator="\r\n",
                )
            else:
                writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
            writer.writerows(rows_iter)
        elapsed = time.perf_counter() - start
        size = target.stat().st_size
    elif mode == "extf-split":
        out = workdir / "split"
        start = time.perf_counter()
        written = write_split(
            header,  # type: ignore[arg-type]
            itertools.islice(itertools.cycle(pool), lines),  # type: ignore[arg-type]
            out,
            pipeline="bench",
        )
        elapsed = time.perf_counter() - start
        size = sum(w.size for w in written)
    else:
        start = time.perf_counter()
        with target.open("wb") as handle:
            write_batch(
                header,  # type: ignore[arg-type]
                itertools.islice(itertools.cycle(pool), lines),  # type: ignore[arg-type]
                handle,
                validate=mode == "extf-validated",
                max_bookings=None,
            )
        elapsed = time.perf_counter() - start
        size = target.stat().st_size
    peak_kib = round(peak_rss_mb() * 1024)
    return {
        "mode": mode,
        "lines": lines,
        "seconds": elapsed,
        "lines_per_second": lines / elapsed,
        "bytes": size,
        "peak_rss_mib": peak_kib / 1024,
        "rss_before_write_mib": rss_before / 1024,
    }


def _child(mode: str, lines: int, pool: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="extf-bench-") as tmp:
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                mode,
                "--lines",
                str(lines),
                "--pool",
                str(pool),
                "--dir",
                tmp,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    figures: dict[str, object] = json.loads(result.stdout)
    return figures


def _best(runs: list[dict[str, object]]) -> dict[str, float]:
    speeds = [float(str(r["lines_per_second"])) for r in runs]
    best = runs[speeds.index(max(speeds))]
    return {
        "lines_per_second": max(speeds),
        "median_lines_per_second": statistics.median(speeds),
        "seconds": float(str(best["seconds"])),
        "bytes": float(str(best["bytes"])),
        "peak_rss_mib": max(float(str(r["peak_rss_mib"])) for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000, help="booking lines per run")
    parser.add_argument("--pool", type=int, default=1000, help="distinct lines cycled through")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per measurement")
    parser.add_argument("--only", nargs="*", choices=MODES, help="run only these measurements")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.lines, args.pool, Path(args.dir))))
        return
    modes = args.only or list(MODES)
    runs: dict[str, list[dict[str, object]]] = {mode: [] for mode in modes}
    for _ in range(args.repeat):  # interleaved: a load change hits every measurement alike
        for mode in modes:
            runs[mode].append(_child(mode, args.lines, args.pool))
    results = {mode: _best(rs) for mode, rs in runs.items()}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"EXTF render benchmark: {args.lines:,} lines, pool of {args.pool} distinct lines, "
        f"best of {args.repeat} interleaved runs, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPU(s)"
    )
    print(
        f"{'measurement':34} {'best lines/s':>12} {'median':>9} {'seconds':>8} {'MB out':>7} "
        f"{'peak RSS MiB':>12}"
    )
    for mode, r in results.items():
        print(
            f"{LABELS[mode]:34} {r['lines_per_second']:>12,.0f} "
            f"{r['median_lines_per_second']:>9,.0f} {r['seconds']:>8.2f} "
            f"{r['bytes'] / 1e6:>7.1f} {r['peak_rss_mib']:>12.1f}"
        )
    for base in ("csv-extf", "csv-minimal"):
        if base not in results:
            continue
        for mode in ("extf-trusted", "extf-validated", "extf-split"):
            if mode in results:
                ratio = results[mode]["lines_per_second"] / results[base]["lines_per_second"]
                print(f"ratio {LABELS[mode]} / {LABELS[base]}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
