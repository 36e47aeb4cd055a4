"""Run the benchmarks and print ONE table: measure, figure, baseline, ratio, goal, met.

Every baseline is measured in the same invocation, on the same machine and load, by
the benchmark scripts next to this one (each in its own process):

* mapping + validation + EXTF files vs a hand-written loop and vs a pandas script
  writing byte-identical lines (``mapping_baselines.py``);
* end to end, Looker rows -> accepted DATEV jobs, vs the extract alone, emulators at
  20 ms per call (``engine_e2e.py``), at two sizes for the peak-RSS check;
* the per-row audit trail vs SQLite ``executemany`` (``audit_trail.py``);
* CLI start-up: ``ml-connector run --help`` vs ``python -c pass`` (import overhead),
  and a real ``ml-connector run`` of a 2,000-row month against both emulators: its wall
  time minus the run's own work (the store's start to finish of the run) and minus
  ``python -c pass`` (``engine_e2e.py --only cli``);
* the Looker extract vs calls x latency / concurrency + parse (``looker_extract.py``);
* ``--full`` only: scale-out 1 vs 4 workers on PostgreSQL (``engine_scaleout.py``)
  and the DATEV emulator's memory at many bookings (``datev_emulator_upload.py``).

``--quick`` (the default) uses small row counts (a few minutes on 2 cores); ``--full``
the goal sizes (1M rows; long). Usage: ``.venv/bin/python benchmarks/run_all.py
[--quick | --full] [--skip NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mapping_baselines  # noqa: E402


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    measure: str
    figure: str
    baseline: str
    ratio: float | None
    goal: str
    met: bool | None


@dataclass(frozen=True)
class Sizes:
    """Row counts of one mode."""

    mapping: int
    e2e: tuple[int, int]
    e2e_months: int
    audit: int
    looker: int
    full: bool


QUICK = Sizes(
    mapping=20_000, e2e=(24_000, 48_000), e2e_months=2, audit=20_000, looker=20_000, full=False
)
FULL = Sizes(
    mapping=1_000_000,
    e2e=(100_000, 1_000_000),
    e2e_months=24,
    audit=1_000_000,
    looker=1_000_000,
    full=True,
)


def _script(name: str, *args: str, timeout: float = 7200) -> str:
    """Run ``benchmarks/<name>`` with this interpreter; its stdout."""
    done = subprocess.run(
        [sys.executable, str(HERE / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in the output:\n{text}")
    return float(match.group(1).replace(",", ""))


def mapping_rows(sizes: Sizes) -> list[Row]:
    """Product vs hand-written loop and vs pandas (same bytes, checked)."""
    n = sizes.mapping
    product = mapping_baselines.measure("product", n)
    hand = mapping_baselines.measure("hand", n)
    rows = []
    same = product["lines_sha256"] == hand["lines_sha256"]
    ratio = product["seconds"] / hand["seconds"]
    rows.append(
        Row(
            f"mapping+validation+EXTF, {n:,} rows",
            f"{product['seconds']:.2f} s",
            f"hand loop {hand['seconds']:.2f} s (CPU {product['cpu_s'] / hand['cpu_s']:.1f}x)"
            + ("" if same else " (BYTES DIFFER)"),
            ratio,
            "<= 3x",
            same and ratio <= 3,
        )
    )
    if not mapping_baselines.pandas_available():
        rows.append(Row("same vs pandas", "-", "pandas not installed", None, "faster", None))
        return rows
    pandas = mapping_baselines.measure("pandas", n)
    same = product["lines_sha256"] == pandas["lines_sha256"]
    ratio = product["seconds"] / pandas["seconds"]
    rows.append(
        Row(
            f"same vs pandas, time, {n:,} rows",
            f"{product['seconds']:.2f} s",
            f"pandas {pandas['seconds']:.2f} s" + ("" if same else " (BYTES DIFFER)"),
            ratio,
            "< 1x",
            same and ratio < 1,
        )
    )
    ratio = product["peak_rss_mb"] / pandas["peak_rss_mb"]
    rows.append(
        Row(
            f"same vs pandas, peak RSS, {n:,} rows",
            f"{product['peak_rss_mb']:.0f} MB",
            f"pandas {pandas['peak_rss_mb']:.0f} MB",
            ratio,
            "< 0.2x",
            ratio < 0.2,
        )
    )
    return rows


def e2e_rows(sizes: Sizes) -> list[Row]:
    """Engine vs extract alone at two sizes; peak RSS of the engine at both."""
    rss = []
    rows = []
    for n in sizes.e2e:
        out = _script(
            "engine_e2e.py",
            "--rows",
            str(n),
            "--months",
            str(sizes.e2e_months),
            "--only",
            "extract",
            "--only",
            "engine",
        )
        if '"states": ["succeeded"]' not in out:
            raise RuntimeError(f"engine_e2e: not every run succeeded:\n{out}")
        extract = _number(r"extract\s+([\d.]+) s", out)
        engine = _number(r"engine\s+([\d.]+) s", out)
        rss.append(_number(r"engine\s+[\d.]+ s.*?peak RSS\s+([\d.]+) MB", out))
        per_run = n * sizes.e2e_months // 24
        rows.append(
            Row(
                f"end to end, {per_run:,} of {n:,} rows, 20 ms",
                f"{engine:.1f} s",
                f"extract {extract:.1f} s",
                engine / extract,
                "<= 1.2x",
                engine / extract <= 1.2,
            )
        )
    rows.append(
        Row(
            "end to end, engine peak RSS",
            f"{rss[1]:.0f} MB",
            f"{rss[0]:.0f} MB at 1/{sizes.e2e[1] // sizes.e2e[0]} of the rows",
            rss[1] / rss[0],
            "< 150 MB, flat",
            rss[1] < 150 and rss[1] / rss[0] < 1.15,
        )
    )
    return rows


def audit_rows(sizes: Sizes) -> list[Row]:
    """Audit trail vs sqlite3 executemany."""
    result = json.loads(_script("audit_trail.py", "--rows", str(sizes.audit)))
    return [
        Row(
            f"audit trail, {sizes.audit:,} row events",
            f"{result['product_s']:.2f} s",
            f"sqlite executemany {result['sqlite_s']:.2f} s (best of 3)",
            result["ratio"],
            "<= 2x",
            result["ratio"] <= 2,
        )
    ]


def _best_of(command: list[str], times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def startup_rows(sizes: Sizes) -> list[Row]:
    """CLI start-up: ``ml-connector run --help``, and a real ``run`` of a 2,000-row month
    (median of 3 months), against ``python -c pass`` (+ the run's own work)."""
    cli = str(Path(sys.executable).with_name("ml-connector"))
    bare = _best_of([sys.executable, "-c", "pass"])
    run = _best_of([cli, "run", "--help"])
    out = _script("engine_e2e.py", "--rows", "48000", "--months", "3", "--only", "cli")
    overhead = _number(r'"overhead_median_s": ([\d.]+)', out) - bare
    work = _number(r'"work_s": ([\d.]+)', out) / 3
    return [
        Row(
            "CLI start-up (run --help), overhead",
            f"{run - bare:.2f} s",
            f"python -c pass {bare:.2f} s",
            run / bare,
            "< 1 s overhead",
            run - bare < 1,
        ),
        Row(
            "ml-connector run, 2,000-row month, overhead",
            f"{overhead:.2f} s",
            f"python -c pass {bare:.2f} s + run {work:.1f} s",
            (overhead + bare + work) / (bare + work),
            "< 1 s overhead",
            overhead < 1,
        ),
    ]


def looker_rows(sizes: Sizes) -> list[Row]:
    """Looker extract vs its floor (calls x latency / concurrency + parse)."""
    out = _script("looker_extract.py", "--rows", str(sizes.looker))
    elapsed = _number(r"elapsed\s+([\d.]+) s", out)
    floor = _number(r"floor\s+([\d.]+) s", out)
    return [
        Row(
            f"Looker extract, {sizes.looker:,} rows, 20 ms",
            f"{elapsed:.2f} s",
            f"floor {floor:.2f} s",
            elapsed / floor,
            "<= 1.3x",
            elapsed / floor <= 1.3,
        )
    ]


def scaleout_rows(sizes: Sizes) -> list[Row]:
    """1 vs 4 workers on PostgreSQL (``--full`` only)."""
    if not sizes.full:
        return [Row("scale-out 1,000 clients", "-", "--full only", None, "4 workers >= 3.5x", None)]
    out = _script("engine_scaleout.py", "--workers", "1,4")
    ratio = _number(r"workers=4:.*?ratio vs 1 worker\(s\): ([\d.]+)x", out)
    exclusive = "exclusivity violated" not in out
    return [
        Row(
            "scale-out 1,000 clients, PostgreSQL",
            "4 workers",
            "1 worker",
            ratio,
            ">= 3.5x, exclusive",
            ratio >= 3.5 and exclusive,
        )
    ]


def datev_emulator_rows(sizes: Sizes) -> list[Row]:
    """The DATEV emulator's peak memory after many uploaded bookings."""
    files, lines = (20, 50_000) if sizes.full else (5, 2_000)
    out = _script("datev_emulator_upload.py", "--full" if sizes.full else "--quick")
    rss = _number(r"peak memory: ([\d.]+) MB", out)
    return [
        Row(
            f"DATEV emulator, {files * lines:,} bookings",
            f"{rss:.0f} MB",
            "-",
            None,
            "< 200 MB",
            rss < 200,
        )
    ]


SECTIONS: dict[str, Callable[[Sizes], list[Row]]] = {
    "mapping": mapping_rows,
    "e2e": e2e_rows,
    "audit": audit_rows,
    "startup": startup_rows,
    "looker": looker_rows,
    "scaleout": scaleout_rows,
    "datev": datev_emulator_rows,
}


def _cell(row: Row) -> list[str]:
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
    met = "-" if row.met is None else ("yes" if row.met else "NO")
    return [row.measure, row.figure, row.baseline, ratio, row.goal, met]


def print_table(rows: list[Row]) -> None:
    """The one table, as Markdown (pastes into docs/performance.md)."""
    head = ["measure", "figure", "baseline (same run)", "ratio", "goal", "met"]
    cells = [head] + [_cell(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for i, line in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small row counts (default)")
    mode.add_argument("--full", action="store_true", help="the goal sizes (1M rows)")
    parser.add_argument("--skip", nargs="*", default=[], choices=tuple(SECTIONS))
    args = parser.parse_args()
    sizes = FULL if args.full else QUICK
    rows: list[Row] = []
    for name, section in SECTIONS.items():
        if name in args.skip:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(section(sizes))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            rows.append(Row(name, "failed", str(exc).splitlines()[0][:60], None, "-", False))
    load = os.getloadavg()
    print(f"\n{'full' if sizes.full else 'quick'} run, {os.cpu_count()} CPUs, load {load[0]:.2f}")
    print_table(rows)


if __name__ == "__main__":
    main()
