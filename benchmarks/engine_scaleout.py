"""Benchmark: many DATEV clients, one small pipeline each, on 1 and then N worker processes.

Every DATEV client (``--clients``, default 1,000) has one pipeline that runs for
``--periods`` months (default 2, so two runs of each client compete for the client's
partition). All runs are queued first (``enqueue_remote``, as the CLI does), then the
worker processes start (``run_worker`` on a shared PostgreSQL system database and
store; each configuration gets fresh databases, dropped afterwards).

The runs' I/O is simulated: each Looker or DATEV call awaits ``--latency-ms``
(default 20 ms): two calls to prepare (login, query), then find-submission, submit
and the polls; DATEV takes ``--job-ms`` (default 1,000 ms, as the DATEV emulator's
default "pending once, Retry-After: 1") to process a file, so a run waits for its job
(a durable sleep honouring Retry-After). Everything else is real: DBOS checkpoints,
the queue, the store and the hash-chained audit trail (``--rows`` row events per run).
Each worker runs at most ``--concurrency`` runs at once (``worker_concurrency``) and
polls the queue every ``--polling`` seconds.

Printed per worker count: wall time (gate opened to last run finished; all workers
are launched and wait at a common start line first), runs/s over that window, mean
run time, the workers' CPU time, the local PostgreSQL server's CPU time (its
processes, ended backends included; other clients of the server count too), the
machine's CPU busy share and load average, and the ratio against
the first worker count (the baseline, measured in the same invocation). Then the
exclusivity check: for every DATEV client, its runs' [started, finished] intervals
(from the store) must not overlap; every pair of runs of a client was runnable at
the same time, because all were queued up front.

Usage: ``.venv/bin/python benchmarks/engine_scaleout.py [--clients 1000] [--periods 2]
[--workers 1,4] [--latency-ms 20] [--job-ms 1000] [--concurrency 8] [--polling 0.25]
[--rows 20]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from engine_bench_common import SimulatedSteps, pg_database, processes, python_command
from ml_connector.engine.ports import RunSpec
from ml_connector.engine.runtime import (
    Engine,
    EngineSettings,
    enqueue_remote,
    run_worker,
)
from ml_connector.http.polling import PollPolicy
from ml_connector.store.db import make_engine
from ml_connector.store.tables import EXECUTORS, RUNS

VERSION = "bench-scaleout"


def settings(url: str, data_dir: Path, concurrency: int, polling: float) -> EngineSettings:
    return EngineSettings(
        data_dir=data_dir,
        store_url=url,
        system_database_url=url,
        queue_polling_interval=polling,
        worker_concurrency=concurrency,
        poll=PollPolicy(base=0.05, cap=0.1, floor=0.0, max_polls=200),
        application_version=VERSION,
    )


def worker_main(args: argparse.Namespace) -> None:
    """One worker process: run queued runs until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    steps = SimulatedSteps(
        args.latency_ms / 1000,
        rows=args.rows,
        gate=Path(args.gate),
        job_seconds=args.job_ms / 1000,
    )
    cfg = settings(args.db, Path(args.data_dir), args.concurrency, args.polling)
    if args.role == "setup":  # create the store and DBOS system tables, run nothing
        Engine(cfg, steps).launch().shutdown()
        return
    run_worker(cfg, steps, stop=stop, tick=3600)


@dataclass(frozen=True)
class Result:
    workers: int
    runs: int
    enqueue_s: float
    wall_s: float
    active_s: float
    overlaps: int
    clients: int
    states: dict[str, int]
    cpu_s: float
    pg_cpu_s: float
    load: float
    mean_run_s: float
    machine_busy: float

    @property
    def rate(self) -> float:
        return self.runs / self.active_s


def specs(clients: int, periods: int) -> list[RunSpec]:
    months = [f"2026-{m:02d}" for m in range(1, periods + 1)]
    return [
        RunSpec(f"p{c:04d}", f"customer{c:04d}", f"455148-{10000 + c}", month)
        for month in months
        for c in range(clients)
    ]


def cpu_of(procs: list[subprocess.Popen[str]]) -> float:
    """CPU seconds (user + system) used so far by the running ``procs``."""
    total = 0
    for proc in procs:
        with open(f"/proc/{proc.pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds of the local PostgreSQL server so far: every ``postgres`` process,
    with the ended backends its postmaster reaped (0 when the server is elsewhere;
    other clients of the same server count too)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        name, fields = text.split("(", 1)[1].rsplit(")", 1)
        if name == "postgres":
            values = fields.split()
            total += sum(int(v) for v in values[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def measure(args: argparse.Namespace, workers: int) -> Result:
    script = Path(__file__).resolve()
    todo = specs(args.clients, args.periods)
    name = f"mlc_bench_scaleout_{os.getpid()}_{workers}"
    with pg_database(name) as url, tempfile.TemporaryDirectory() as tmp:
        gate = Path(tmp) / "go"
        common = [
            "--gate",
            str(gate),
            "--db",
            url,
            "--latency-ms",
            str(args.latency_ms),
            "--concurrency",
            str(args.concurrency),
            "--polling",
            str(args.polling),
            "--rows",
            str(args.rows),
            "--job-ms",
            str(args.job_ms),
        ]
        setup = python_command(script, "--role", "setup", "--data-dir", tmp, *common)
        with processes([setup], quiet=True) as [proc]:
            if proc.wait() != 0:
                raise SystemExit("worker setup failed")
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda s: enqueue_remote(url, s), todo))
        enqueue_s = time.monotonic() - t0
        commands = [
            python_command(script, "--role", "worker", "--data-dir", f"{tmp}/w{i}", *common)
            for i in range(workers)
        ]
        store = make_engine(url)
        try:
            with processes(commands, quiet=True) as procs:
                while True:  # every worker launched: its heartbeat row is there
                    with store.connect() as conn:
                        executors = len(conn.execute(select(EXECUTORS.c.executor_id)).all())
                    if executors >= workers + 1:  # + the setup process
                        break
                    if any(p.poll() is not None for p in procs):
                        raise SystemExit("a worker exited early")
                    time.sleep(0.1)
                cpu0 = cpu_of(procs)
                pg0 = postgres_cpu()
                busy0 = machine_busy()
                t0 = time.monotonic()
                start = time.time()
                gate.touch()
                finished = select(func.count()).where(RUNS.c.finished_at.is_not(None))
                while True:
                    with store.connect() as conn:
                        if conn.execute(finished).scalar_one() == len(todo):
                            break
                    if any(p.poll() is not None for p in procs):
                        raise SystemExit("a worker exited early")
                    time.sleep(0.2)
                wall_s = time.monotonic() - t0
                cpu_s = cpu_of(procs) - cpu0
                pg_cpu_s = postgres_cpu() - pg0
                load = os.getloadavg()[0]
                busy1 = machine_busy()
            with store.connect() as conn:
                rows = conn.execute(
                    select(RUNS.c.datev_client, RUNS.c.state, RUNS.c.started_at, RUNS.c.finished_at)
                ).all()
        finally:
            store.dispose()
    machine = (busy1[0] - busy0[0]) / (busy1[1] - busy0[1])
    end = max(ts(r.finished_at) for r in rows)
    by_client: dict[str, list[tuple[float, float]]] = {}
    states: dict[str, int] = {}
    for r in rows:
        by_client.setdefault(r.datev_client, []).append((ts(r.started_at), ts(r.finished_at)))
        states[r.state] = states.get(r.state, 0) + 1
    overlaps = 0
    for spans in by_client.values():
        spans.sort()
        overlaps += sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    mean_run = sum(ts(r.finished_at) - ts(r.started_at) for r in rows) / len(rows)
    return Result(
        workers,
        len(rows),
        enqueue_s,
        wall_s,
        end - start,
        overlaps,
        len(by_client),
        states,
        cpu_s,
        pg_cpu_s,
        load,
        mean_run,
        machine,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--periods", type=int, default=2)
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8, help="runs at once per worker")
    parser.add_argument("--polling", type=float, default=0.25, help="queue polling interval, s")
    parser.add_argument("--rows", type=int, default=20, help="Looker rows per run")
    parser.add_argument(
        "--job-ms", type=float, default=1000.0, help="DATEV's processing time per file, ms"
    )
    parser.add_argument("--role", choices=("setup", "worker"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--gate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        worker_main(args)
        return
    counts = [int(w) for w in args.workers.split(",")]
    print(
        f"{args.clients} DATEV clients x {args.periods} periods = "
        f"{args.clients * args.periods} runs; simulated I/O: {args.latency_ms:g} ms per call, "
        f"5+ calls per run, DATEV processes a file in {args.job_ms:g} ms; "
        f"{args.rows} rows per run; PostgreSQL; per worker: "
        f"{args.concurrency} runs at once, queue polled every {args.polling:g} s; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    results: list[Result] = []
    for workers in counts:
        result = measure(args, workers)
        results.append(result)
        base = results[0]
        print(
            f"workers={workers}: {result.runs} runs {result.states}, "
            f"enqueue {result.enqueue_s:.1f} s, wall {result.wall_s:.1f} s, "
            f"active {result.active_s:.1f} s, {result.rate:.1f} runs/s, "
            f"mean run {result.mean_run_s * 1000:.0f} ms, worker CPU {result.cpu_s:.1f} s "
            f"({result.cpu_s / result.runs * 1000:.0f} ms per run), "
            f"PostgreSQL CPU {result.pg_cpu_s:.1f} s "
            f"({result.pg_cpu_s / result.runs * 1000:.0f} ms per run), "
            f"machine CPU busy {result.machine_busy:.0%}, load {result.load:.1f}, "
            f"ratio vs {base.workers} worker(s): {result.rate / base.rate:.2f}x; "
            f"exclusivity: {result.overlaps} overlapping run pairs "
            f"over {result.clients} clients",
            flush=True,
        )
    if any(r.overlaps for r in results):
        sys.exit("exclusivity violated")


if __name__ == "__main__":
    main()
