"""Benchmark: end-to-end time and peak memory against the number of Looker rows.

Runs ``engine_e2e.py --rows N --only extract --only engine`` (all 24 months, one run a
month, both emulators at ``--latency-ms``) for each size, then prints one table (rows,
extract and engine seconds, their ratio, rows/s, each process's peak RSS) and draws
``e2e_scale.png`` (time and peak RSS against rows) into ``--out``, beside the figures
as ``e2e_scale.json``. The extract alone is the baseline, measured in the same
invocation for each size.

Usage: ``.venv/bin/python benchmarks/e2e_scale.py [--sizes 100000,250000,500000,1000000]
[--latency-ms 20] [--out docs/figures]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: a role's line as ``engine_e2e.py`` prints it
ROLE_LINE = re.compile(
    r"^(?P<role>extract|engine)\s+(?P<seconds>[\d.]+) s\s+(?P<rate>[\d,]+) rows/s\s+"
    r"peak RSS\s+(?P<rss>\d+) MB"
)


def measure(rows: int, latency_ms: float) -> dict[str, Any]:
    """Extract and engine figures for ``rows`` generated rows."""
    cmd = [sys.executable, str(HERE / "engine_e2e.py"), "--rows", str(rows)]
    cmd += ["--latency-ms", str(latency_ms), "--only", "extract", "--only", "engine"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    figures: dict[str, Any] = {"rows": rows, "load": os.getloadavg()[0]}
    for line in out.splitlines():
        if match := ROLE_LINE.match(line):
            role = match["role"]
            figures[f"{role}_s"] = float(match["seconds"])
            figures[f"{role}_rss_mb"] = int(match["rss"])
    if "engine_s" not in figures or "extract_s" not in figures:
        raise SystemExit(f"engine_e2e.py printed no figures for {rows:,} rows:\n{out}")
    return figures


def table(results: list[dict[str, Any]]) -> list[str]:
    """The figures as a Markdown table."""
    lines = [
        "| rows | extract | engine | engine / extract | engine rows/s "
        "| engine peak RSS | extract peak RSS | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['extract_s']:.1f} s | {r['engine_s']:.1f} s "
            f"| {r['engine_s'] / r['extract_s']:.1f}x | {r['rows'] / r['engine_s']:,.0f} "
            f"| {r['engine_rss_mb']} MB | {r['extract_rss_mb']} MB | {r['load']:.1f} |"
        )
    return lines


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Time and peak RSS against rows, extract and engine, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [r["rows"] / 1000 for r in results]
    fig, (times, memory) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for role, style in (("engine", "o-"), ("extract", "s--")):
        times.plot(rows, [r[f"{role}_s"] for r in results], style, label=role)
        memory.plot(rows, [r[f"{role}_rss_mb"] for r in results], style, label=role)
    memory.axhline(150, color="grey", linewidth=0.8, linestyle=":", label="goal: 150 MB")
    times.set(xlabel="Looker rows (thousands)", ylabel="wall time (s)", title="time")
    memory.set(xlabel="Looker rows (thousands)", ylabel="peak RSS (MB)", title="memory")
    memory.set_ylim(bottom=0)
    for axes in (times, memory):
        axes.grid(alpha=0.3)
        axes.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,250000,500000,1000000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    results = []
    for rows in (int(size) for size in args.sizes.split(",")):
        print(f"{rows:,} rows ...", flush=True)
        results.append(measure(rows, args.latency_ms))
        print("\n".join(table(results[-1:])[2:]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "e2e_scale.json").write_text(json.dumps(results, indent=1) + "\n", "utf-8")
    plot(results, args.out / "e2e_scale.png")
    print("\n".join(table(results)))
    print(f"plot: {args.out / 'e2e_scale.png'}")


if __name__ == "__main__":
    main()
