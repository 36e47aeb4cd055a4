"""Benchmark: one streamed pipeline run of N generated rows; memory flat in N.

Rows are the demo dataset's December 2025 rows (the bundled demo configuration),
repeated with unique ``line_id`` values, generated on the fly (no network, never a
list). Each measurement runs in a fresh child process, so its peak RSS
(``ru_maxrss``) belongs to that measurement alone:

* ``stream``: :class:`~ml_connector.mapping.stream.RunStream` with a working
  directory: map, validate, tie out against the totals, plan restatements, write the
  split EXTF files, report, ``held.jsonl`` and one row trace per row (what the
  engine turns into row records);
* ``restate``: the same rows run again against the first run's posted state, every
  100th amount changed (reversal + corrected booking for those);
* ``extf``: the baseline, the EXTF writer alone (``write_split``) on the same number
  of ready-made booking lines.

Printed per size: wall time, rows/s, files, peak RSS and its growth over the child's
RSS after imports; then the ratios large / small (time ~ linear, memory ~ 1).

Usage: ``.venv/bin/python benchmarks/mapping_stream.py [--sizes 100000 1000000]
[--modes stream extf]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from engine_bench_common import peak_rss_mb

PERIOD = "2025-12"
PIPELINE = "gl-monthly"
_CHANGE_EVERY = 100


def _stored_postings(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(row_key, booking JSON)`` as the store holds each key's newest posting."""
    for text in lines:
        key, booking = json.loads(text)
        yield key, json.dumps(booking)


def _current_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _template_rows() -> list[dict[str, object]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "mapping"))
    from mapping_support import load_demo_rows

    # the demo's one unmapped account stays in: every 64th row is held, as in the demo
    return [r for r in load_demo_rows() if r["gl_monthly.period_month"] == PERIOD]


def generate(n: int, *, changed: bool = False) -> Iterator[dict[str, object]]:
    """``n`` demo-shaped rows with unique keys (every 100th amount +1.00 if ``changed``)."""
    template = _template_rows()
    for i in range(n):
        row = dict(template[i % len(template)])
        row["gl_monthly.line_id"] = f"{row['gl_monthly.line_id']}|{i}"
        if changed and i % _CHANGE_EVERY == 0:
            amount = row["gl_monthly.amount_eur"]
            assert isinstance(amount, Decimal)
            row["gl_monthly.amount_eur"] = amount + 1
        yield row


def totals(n: int, *, changed: bool = False) -> list[dict[str, object]]:
    """The Looker control totals of :func:`generate` (one pass, bounded by groups)."""
    sums: dict[tuple[str, str], list[Decimal]] = {}
    for row in generate(n, changed=changed):
        key = (str(row["gl_monthly.period_month"]), str(row["gl_monthly.gl_account_number"]))
        entry = sums.setdefault(key, [Decimal("0.00"), Decimal(0)])
        amount = row["gl_monthly.amount_eur"]
        assert isinstance(amount, Decimal)
        entry[0] += amount
        entry[1] += 1
    return [
        {
            "gl_monthly.period_month": p,
            "gl_monthly.gl_account_number": a,
            "gl_monthly.total_amount_eur": s,
            "gl_monthly.row_count": c,
        }
        for (p, a), (s, c) in sorted(sums.items())
    ]


def _child(mode: str, n: int) -> dict[str, object]:
    from datetime import UTC, datetime

    from ml_connector.config import load_config
    from ml_connector.examples import demo_config_path
    from ml_connector.mapping.stream import RunStream

    config = load_config(demo_config_path())
    now = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = Path(tmp)
        if mode == "restate":
            # the first run's posted state, as the engine would have stored it
            posted = work / "posted.jsonl"
            with RunStream(
                config, PIPELINE, PERIOD, work / "first", now=now, trace_rows=True
            ) as run:
                run.add_many(generate(n))
                run.finish(totals(n), write=False)
                with posted.open("w", encoding="utf-8") as handle:
                    for trace in run.traces():
                        if trace.booking is not None:
                            handle.write(json.dumps([trace.row_key, trace.booking]) + "\n")
        control = totals(n, changed=mode == "restate")
        base_rss = _current_rss_mb()
        start = time.perf_counter()
        if mode == "extf":
            files = _extf_only(config, n, work / "out", now)
        else:
            with RunStream(config, PIPELINE, PERIOD, work / "out", now=now, trace_rows=True) as run:
                if mode == "restate":
                    with posted.open(encoding="utf-8") as handle:
                        run.load_posted(_stored_postings(handle))
                run.add_many(generate(n, changed=mode == "restate"))
                done = run.finish(control)
                assert done.ready, done.facts.blockers
                traces = sum(1 for _ in run.traces())
                assert traces >= done.facts.rows_mapped
                files = [item.bookings for item in done.files]
        seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "rows": n,
        "seconds": seconds,
        "rows_per_s": n / seconds,
        "files": len(files),
        "bookings": sum(files),
        "peak_rss_mb": peak_rss_mb(),
        "growth_mb": peak_rss_mb() - base_rss,
    }


def _extf_only(config: object, n: int, out: Path, now: object) -> list[int]:
    """Baseline: ``write_split`` of ``n`` ready lines (one mapped demo line, renumbered)."""
    from ml_connector.formats.extf.split import write_split
    from ml_connector.mapping.mapper import MappedRow
    from ml_connector.mapping.stream import RunStream

    assert hasattr(config, "pipeline")
    with RunStream(config, PIPELINE, PERIOD, out / "sample", now=now) as sample:  # type: ignore[arg-type]
        outcomes = [sample.mapper.map_row(row) for row in generate(64)]
        lines = [line for o in outcomes if isinstance(o, MappedRow) for line in o.lines]
    header = sample.header

    def all_lines() -> Iterator[object]:
        for i in range(n):
            line = lines[i % len(lines)]
            yield dataclasses.replace(line, belegfeld_1=f"B{i}")

    written = write_split(
        dataclasses.replace(header, erzeugt_am=now),  # type: ignore[arg-type]
        all_lines(),  # type: ignore[arg-type]
        out,
        pipeline=PIPELINE,
        expected_client_id=header.client_id,
    )
    return [item.bookings for item in written]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--modes", nargs="+", default=["extf", "stream", "restate"])
    parser.add_argument("--child", nargs=2, metavar=("MODE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], int(args.child[1]))))
        return
    results: dict[tuple[str, int], dict[str, float]] = {}
    print(f"{'mode':8} {'rows':>9} {'s':>8} {'rows/s':>9} {'files':>5} {'peak MB':>8} {'+MB':>7}")
    for mode in args.modes:
        for n in args.sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(n)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            results[(mode, n)] = r
            print(
                f"{mode:8} {n:>9} {r['seconds']:>8.1f} {r['rows_per_s']:>9.0f} "
                f"{r['files']:>5} {r['peak_rss_mb']:>8.1f} {r['growth_mb']:>7.1f}",
                flush=True,
            )
    small, large = min(args.sizes), max(args.sizes)
    if small != large:
        print(f"ratios {large} / {small} rows (time linear ~{large / small:.0f}, memory flat ~1):")
        for mode in args.modes:
            a, b = results[(mode, small)], results[(mode, large)]
            print(
                f"  {mode:8} time x{b['seconds'] / a['seconds']:.1f}, "
                f"peak RSS x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}"
            )
    if "extf" in args.modes and "stream" in args.modes:
        for n in args.sizes:
            base, run = results[("extf", n)], results[("stream", n)]
            print(
                f"stream / extf writer alone at {n} rows: time x"
                f"{run['seconds'] / base['seconds']:.1f}, "
                f"peak RSS x{run['peak_rss_mb'] / base['peak_rss_mb']:.2f}"
            )


if __name__ == "__main__":
    main()
