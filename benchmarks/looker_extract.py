"""Benchmark: extract N rows (default 1,000,000) through the Looker client.

The emulator runs as a separate process (``ml-connector sandbox looker``) with 20 ms
of latency added to every call and the generated explore ``bench/rows``. The client
extracts every row partitioned by ``rows.bucket`` (4,000 rows each, below the
5,000-row cap) with its bounded pool, and the run prints:

- rows/s, API calls, peak memory growth (RSS) for a 20 % pass and the full pass;
- the floor measured in the same run: ``calls x latency / concurrency`` plus the
  time the client spent parsing and typing the result bytes during this run;
- where the time goes: the client's CPU (parsing vs the HTTP client and the extract's
  bookkeeping), the emulator's CPU (rendering the JSON, its HTTP server: not in the
  floor) and the time the client is off the CPU;
- the ratio elapsed / floor (target <= 1.3) and the memory ratio full / 20 % (flat: ~1).

Usage: ``.venv/bin/python benchmarks/looker_extract.py [--rows N] [--latency-ms 20]
[--concurrency 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import httpx

from ml_connector.looker import InlineQuery, LookerClient
from ml_connector.looker.rows import RowTyper, parse_rows
from ml_connector_sandbox.emulators._server import free_port

CLIENT_ID = "bench-id"
SECRET = "bench-secret"  # noqa: S105 - sandbox credential
FIELDS = (
    "rows.row_id",
    "rows.period_month",
    "rows.account",
    "rows.cost_center",
    "rows.description",
    "rows.amount_eur",
)
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Resident set size of this process in bytes."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * PAGE_SIZE


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        parts = fh.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def start_emulator(rows: int, latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "ml_connector",
        "sandbox",
        "looker",
        "--port",
        str(port),
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        SECRET,
        "--bench-rows",
        str(rows),
        "--latency-ms",
        str(latency_ms),
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/versions", timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("emulator did not start")


async def extract(
    client: LookerClient, filters: dict[str, str], per_row: bool
) -> tuple[int, float, int, dict[str, Any]]:
    query = InlineQuery("bench", "rows", fields=FIELDS, filters=filters)
    base = rss()
    peak = base
    calls_before = client.stats.calls
    parse_before = client.stats.parse_seconds
    parse_cpu_before = client.stats.parse_cpu_seconds
    start = time.perf_counter()
    cpu = time.process_time()
    extraction = client.extract(query, partition_by=["rows.bucket"], count_measure="rows.row_count")
    n = 0
    if per_row:
        async for _row in extraction:
            n += 1
            if n % 4000 == 0:
                peak = max(peak, rss())
    else:
        async for batch in extraction.batches():
            n += len(batch)
            peak = max(peak, rss())
    elapsed = time.perf_counter() - start
    summary = extraction.summary()
    summary["cpu"] = time.process_time() - cpu
    summary["parse"] = client.stats.parse_seconds - parse_before
    summary["parse_cpu"] = client.stats.parse_cpu_seconds - parse_cpu_before
    summary["calls"] = client.stats.calls - calls_before
    return n, elapsed, peak - base, summary


async def parse_seconds_per_row(url: str, client: LookerClient) -> float:
    """Time the client's own parsing of one typical page, per row."""
    token = await client._tokens.get()
    body = {
        "model": "bench",
        "view": "rows",
        "fields": list(FIELDS),
        "filters": {"rows.bucket": "0"},
        "limit": "5000",
    }
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{url}/api/4.0/queries/run/json",
            json=body,
            headers={"Authorization": f"token {token}"},
            params={"limit": "5000"},
        )
    content = resp.content
    typer = RowTyper(list(FIELDS), await client.field_types("bench", "rows"))
    best = float("inf")
    for _ in range(10):
        t = time.perf_counter()
        rows = parse_rows(content, typer)
        best = min(best, time.perf_counter() - t)
    return best / len(rows)


async def main(rows: int, latency_ms: float, concurrency: int, per_row: bool) -> None:
    proc, url = start_emulator(rows, latency_ms)
    try:
        async with LookerClient(
            url, CLIENT_ID, SECRET, max_concurrency=concurrency, timeout=300
        ) as client:
            await client.login()
            buckets = max(1, (rows + 3999) // 4000)
            small = max(1, buckets // 5)
            n_small, t_small, mem_small, _ = await extract(
                client, {"rows.bucket": ",".join(str(b) for b in range(small))}, per_row
            )
            server_before = cpu_seconds(proc.pid)
            n, elapsed, mem_full, summary = await extract(client, {}, per_row)
            server_cpu = cpu_seconds(proc.pid) - server_before
            parse_per_row = await parse_seconds_per_row(url, client)
    finally:
        proc.terminate()
        proc.wait(10)
    if not (summary["complete"] and n == rows):
        raise SystemExit(f"incomplete extract: {summary}")
    calls = summary["calls"]
    latency_floor = calls * (latency_ms / 1000) / concurrency
    parse_floor = summary["parse"]
    floor = latency_floor + parse_floor
    mib = 1024 * 1024
    mode = "single rows" if per_row else "batches (one list per partition)"
    print(f"consumed as           {mode}")
    print(f"rows extracted        {n:>12,}  (complete: {summary['complete']})")
    print(f"partitions            {summary['partitions']:>12,}")
    print(f"API calls             {calls:>12,}  (incl. count + plan)")
    print(f"elapsed               {elapsed:>12.2f} s")
    print(f"rows/s                {n / elapsed:>12,.0f}")
    print(
        f"client CPU            {summary['cpu']:>12.2f} s  = parse {summary['parse_cpu']:.2f} s"
        f" + HTTP client and extract bookkeeping {summary['cpu'] - summary['parse_cpu']:.2f} s"
    )
    print(
        f"emulator CPU          {server_cpu:>12.2f} s  (separate process: rendering the JSON"
        " and its HTTP server; not in the floor)"
    )
    print(
        f"client off CPU        {elapsed - summary['cpu']:>12.2f} s  (waiting for answers,"
        " or runnable while other processes hold the CPUs)"
    )
    print(f"load average          {os.getloadavg()[0]:>12.2f}  ({os.cpu_count()} CPUs)")
    print(
        f"floor                 {floor:>12.2f} s  = calls x {latency_ms:g} ms / {concurrency}"
        f" ({latency_floor:.2f} s) + parse ({parse_floor:.2f} s, {parse_floor / n * 1e6:.2f}"
        " us/row, timed inside this run)"
    )
    quiet_floor = latency_floor + parse_per_row * n
    print(
        f"  (one page parsed alone: {parse_per_row * 1e6:.2f} us/row; with that floor of"
        f" {quiet_floor:.2f} s the ratio is {elapsed / quiet_floor:.2f})"
    )
    print(f"ratio elapsed/floor   {elapsed / floor:>12.2f}  (target <= 1.3)")
    print(f"peak RSS growth       {mem_full / mib:>12.1f} MiB for {n:,} rows")
    print(f"peak RSS growth       {mem_small / mib:>12.1f} MiB for {n_small:,} rows (20 %)")
    print(f"  ({t_small:.2f} s for the 20 % pass; flat memory = growth independent of rows)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--per-row",
        action="store_true",
        help="consume single rows (async for row in extraction) instead of batches",
    )
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.latency_ms, args.concurrency, args.per_row))
