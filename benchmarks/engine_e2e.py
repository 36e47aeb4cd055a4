"""Benchmark: N Looker rows (default 1,000,000) to accepted DATEV jobs, end to end.

Both emulators run as their own processes (``ml-connector sandbox looker`` with the
generated ``bench``/``rows`` explore of ``--rows`` rows, ``ml-connector sandbox
datev`` with one client), each adding ``--latency-ms`` (default 20 ms) to every call.
The data directory gets a configuration for the bench explore, the Looker API3 key
(encrypted store) and a DATEV login through the emulator's consent step.

The generated rows spread evenly over 24 months, so the pipeline runs once per month
(24 runs of about N/24 rows each, one DATEV client, so one after another). Every
measurement runs in its own process, so its peak RSS is its own:

* ``extract``: the Looker extract alone (``LiveRunSteps.fetch`` of every month);
* ``prepare``: extract + map + validate + EXTF files + row records
  (``LiveRunSteps.prepare`` of every month), no engine, no DATEV;
* ``engine``: the real thing: the durable engine (SQLite store and system database by
  default, ``--postgres`` for PostgreSQL) with ``LiveRunSteps``: extract, map, files,
  audit trail of every row, upload, job polling, posted records; also its CPU seconds
  and the seconds from each file's submission to its job's outcome (audit events);
* ``cli`` (only when asked for): ``ml-connector run bench-gl --period M`` per month, a
  process each: wall time, the run's own work (its ``started_at`` to ``finished_at``
  in the store) and the difference, the start-up overhead.

Printed: wall time, rows/s and peak RSS of each, the ratios engine / extract and
engine / prepare (baselines measured in the same invocation), what DATEV's ledger
holds afterwards, and the emulators' peak RSS. Run it at two sizes (``--rows``) to
see how peak memory depends on the number of rows.

Usage: ``.venv/bin/python benchmarks/engine_e2e.py [--rows 1000000] [--latency-ms 20]
[--months 24] [--postgres] [--only engine]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from engine_bench_common import peak_rss_mb, pg_database, processes, python_command
from ml_connector_sandbox.emulators._server import free_port

LOOKER_ID = "bench-looker-id"
LOOKER_SECRET = "bench-looker-secret"  # noqa: S105 - sandbox credential
OAUTH_CLIENT = "ml-connector-bench"
OAUTH_SECRET = "bench-oauth-secret"  # noqa: S105 - sandbox credential
CUSTOMER = "bench"
PIPELINE = "bench-gl"
BERATER, MANDANT = 29098, 55003
#: the bench explore's months (row i belongs to month i % 24)
MONTHS = tuple(f"{2024 + (m + 10) // 12}-{(m + 10) % 12 + 1:02d}" for m in range(24))

CONFIG = """\
version = 1

[customers.bench]
name = "Benchmark GmbH"
emulator = true

[customers.bench.looker]
base_url = "{looker_url}"
credential = "store:bench-looker"

[customers.bench.datev]
consultant_number = {berater}
client_number = {mandant}
chart_of_accounts = "SKR03"
account_length = 4
fiscal_year_start_month = 1
festschreibung = false
environment = "sandbox"

[lookups.accounts]
kind = "account"
values = {{ "REV-100" = "8400", "PER-200" = "4120", "OPS-300" = "4210", "OPS-310" = "4240", \
"OPS-320" = "4660", "OPS-330" = "4970" }}

[lookups.cost_centers]
kind = "cost_center"
values = {{ "MUC-BER" = "100", "FRA-BER" = "110", "CGN-PST" = "200", "HAM-PST" = "210", \
"MUC-IT" = "300", "BER-IT" = "310" }}

[pipelines.bench-gl]
customer = "bench"
description = "Generated GL rows (benchmark)"
channel = "extf"
reject_policy = "hold_rejected"
batch_label = "Bench GL"

[pipelines.bench-gl.source]
period_field = "rows.period_month"
partition_by = ["rows.bucket"]
count_measure = "rows.row_count"

[pipelines.bench-gl.source.query]
model = "bench"
view = "rows"
fields = ["rows.row_id", "rows.bucket", "rows.period_month", "rows.account", \
"rows.cost_center", "rows.description", "rows.amount_eur"]
filters = {{ "rows.period_month" = "{{period}}" }}
sorts = ["rows.row_id"]
limit = 5000

[pipelines.bench-gl.mapping]
row_key = ["rows.row_id"]
amount = "rows.amount_eur"
sign = "debit_positive"
amount_account = "gegenkonto"

[pipelines.bench-gl.mapping.fields]
konto = 1200
gegenkonto = {{ lookup = "accounts", key = "rows.account" }}
belegdatum = "date(rows.period_month + '-15')"
belegfeld_1 = {{ template = "B{{rows.row_id}}" }}
buchungstext = {{ template = "{{rows.description}}" }}
kost1 = "'' if is_null(rows.cost_center) else lookup('cost_centers', rows.cost_center)"
"""


# ------------------------------------------------------------------ set-up


def wait_http(url: str, proc: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the {what} emulator exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"the {what} emulator did not start")


def emulator_commands(
    work: Path, rows: int, latency_ms: float, retry_after: int | None = None
) -> tuple[list[list[str]], str, str]:
    looker_port, datev_port = free_port(), free_port()
    datev_config = work / "datev-emulator.json"
    tuning = {} if retry_after is None else {"retry_after_seconds": retry_after}
    datev_config.write_text(
        json.dumps(
            {
                **tuning,
                "clients": [
                    {
                        "consultant_number": BERATER,
                        "client_number": MANDANT,
                        "name": "Benchmark GmbH",
                        "fiscal_years": [2024, 2025, 2026],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    py = [sys.executable, "-m", "ml_connector", "sandbox"]
    looker = [
        *py,
        "looker",
        "--port",
        str(looker_port),
        "--client-id",
        LOOKER_ID,
        "--client-secret",
        LOOKER_SECRET,
        "--bench-rows",
        str(rows),
        "--latency-ms",
        str(latency_ms),
    ]
    datev = [
        *py,
        "datev",
        "--port",
        str(datev_port),
        "--config",
        str(datev_config),
        "--oauth-client-id",
        OAUTH_CLIENT,
        "--oauth-client-secret",
        OAUTH_SECRET,
        "--data-dir",
        str(work / "datev-emulator"),
        "--auto-consent",
        "--latency",
        str(latency_ms / 1000),
    ]
    return (
        [looker, datev],
        f"http://127.0.0.1:{looker_port}",
        f"http://127.0.0.1:{datev_port}",
    )


def install(work: Path, looker_url: str, datev_url: str, store_url: str | None) -> None:
    """Configuration, encrypted Looker key and DATEV login in ``work``."""
    from ml_connector.credentials import open_credential_store
    from ml_connector.datev.oauth.connection_store import ConnectionStore
    from ml_connector.runs.connect import open_sync_store, store_looker_credentials
    from ml_connector_sandbox.demo.login import login_unattended

    (work / "ml-connector.toml").write_text(
        CONFIG.format(looker_url=looker_url, berater=BERATER, mandant=MANDANT), encoding="utf-8"
    )
    settings = sync_settings(work, datev_url, store_url)
    engine = open_sync_store(settings)
    try:
        credentials = open_credential_store(engine, settings.data_dir)
        store_looker_credentials(credentials, "bench-looker", LOOKER_ID, SecretStr(LOOKER_SECRET))
        asyncio.run(
            login_unattended(
                ConnectionStore(engine, credentials),
                CUSTOMER,
                issuer=datev_url + "/openid",
                client_id=OAUTH_CLIENT,
                client_secret=SecretStr(OAUTH_SECRET),
            )
        )
    finally:
        engine.dispose()


def sync_settings(work: Path, datev_url: str, store_url: str | None) -> Any:
    from ml_connector.runs.connect import SyncSettings

    return SyncSettings(
        data_dir=work / "data",
        store_url=store_url,
        config_path=work / "ml-connector.toml",
        datev_api_url=datev_url,
    )


# ------------------------------------------------------------------ measured roles


def role_extract(args: argparse.Namespace) -> dict[str, Any]:
    from ml_connector.runs.steps import LiveRunSteps

    steps = LiveRunSteps(sync_settings(Path(args.work), args.datev_url, args.store_url))

    async def go() -> int:
        config = steps.config()
        total = 0
        for month in args.months_list:
            rows, _totals = await steps.fetch(config, steps.spec_for(PIPELINE, month))
            total += len(rows)
            del rows
        return total

    start = time.perf_counter()
    rows = asyncio.run(go())
    return {"seconds": time.perf_counter() - start, "rows": rows}


def role_prepare(args: argparse.Namespace) -> dict[str, Any]:
    from ml_connector.runs.steps import LiveRunSteps

    steps = LiveRunSteps(sync_settings(Path(args.work), args.datev_url, args.store_url))
    out = Path(args.work) / "prepare-only"

    async def go() -> tuple[int, int, int]:
        read = mapped = files = 0
        for month in args.months_list:
            prepared = await steps.prepare(steps.spec_for(PIPELINE, month), out / month)
            read += prepared.rows_read
            mapped += prepared.rows_mapped
            files += len(prepared.files)
        return read, mapped, files

    start = time.perf_counter()
    read, mapped, files = asyncio.run(go())
    return {"seconds": time.perf_counter() - start, "rows": read, "mapped": mapped, "files": files}


def role_engine(args: argparse.Namespace) -> dict[str, Any]:
    from ml_connector.engine.runtime import Engine
    from ml_connector.http.polling import PollPolicy
    from ml_connector.runs.launch import EngineOptions, engine_settings
    from ml_connector.runs.steps import LiveRunSteps

    settings = sync_settings(Path(args.work), args.datev_url, args.store_url)
    steps = LiveRunSteps(settings)
    options = EngineOptions(
        system_database_url=args.store_url,
        queue_polling_interval=0.1,
        poll=PollPolicy(base=1.0, cap=5.0, floor=0.5, max_polls=200),
        application_version="bench-e2e",
    )
    start, cpu = time.perf_counter(), time.process_time()
    with Engine(engine_settings(settings, options), steps) as engine:
        run_ids = [engine.enqueue(steps.spec_for(PIPELINE, m)) for m in args.months_list]
        outcomes = [engine.wait(r, timeout=3600) for r in run_ids]
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        datev_wait = _submitted_to_outcome(engine.store)
    steps.close()
    return {
        "seconds": seconds,
        "cpu_s": round(cpu, 1),
        "submitted_to_outcome_s": round(datev_wait, 1),
        "rows": sum(o.rows_read for o in outcomes),
        "mapped": sum(o.rows_mapped for o in outcomes),
        "rejected": sum(o.rows_rejected for o in outcomes),
        "states": sorted({o.state for o in outcomes}),
        "errors": sorted({o.error for o in outcomes if o.error}),
        "jobs": sum(o.jobs_succeeded for o in outcomes),
        "jobs_failed": sum(o.jobs_failed for o in outcomes),
    }


def _submitted_to_outcome(store: Any) -> float:
    """Seconds from each file's ``file_submitted`` audit event to its ``job_outcome``
    event, summed: DATEV checking and booking the file, the polls' waits (its
    ``Retry-After`` honoured) and the outcome step recording the posted rows."""
    from datetime import datetime

    from ml_connector.store.audit import iter_events

    submitted: dict[tuple[str, str | None], datetime] = {}
    total = 0.0
    for event in iter_events(store):
        at = datetime.fromisoformat(event.recorded_at)
        if event.kind == "file_submitted":
            submitted[(event.run_id, event.filename)] = at
        elif event.kind == "job_outcome":
            start = submitted.pop((event.run_id, event.filename), at)
            total += (at - start).total_seconds()
    return total


def role_cli(args: argparse.Namespace) -> dict[str, Any]:
    """``ml-connector run bench-gl --period M`` per month, each a fresh process: its wall
    time, the run's own work (the store's ``started_at`` to ``finished_at``) and the
    difference, the start-up overhead (imports, store, engine launch, queue pick-up,
    shutdown), with the package's bytecode compiled as an installation has it; also
    the time from the spawn to ``started_at`` and the process's CPU seconds (steadier
    than wall time on a shared machine)."""
    from datetime import UTC, datetime

    from ml_connector.runs.connect import open_sync_store
    from ml_connector.store import runs as run_store

    work = Path(args.work)
    settings = sync_settings(work, args.datev_url, args.store_url)
    cli = str(Path(sys.executable).with_name("ml-connector"))
    env = dict(os.environ)
    env.update(
        ML_CONNECTOR_HOME=str(settings.data_dir),
        ML_CONNECTOR_CONFIG=str(settings.config_path),
        ML_CONNECTOR_DATEV_API_URL=args.datev_url,
    )
    store_args = ["--store-url", args.store_url] if args.store_url else []
    _installed_bytecode(env)
    walls, works, befores, cpus = [], [], [], []
    for month in args.months_list:
        start, spawned = time.perf_counter(), datetime.now(UTC)
        cpu = _children_cpu()
        subprocess.run(
            [cli, "run", PIPELINE, "--period", month, "--json", *store_args],
            env=env,
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu)
        store = open_sync_store(settings)
        try:
            run = run_store.get_run(store, f"run:{PIPELINE}:{month}")
        finally:
            store.dispose()
        if run is None or run.started_at is None or run.finished_at is None:
            raise SystemExit(f"the run of {month} did not finish")
        took = datetime.fromisoformat(run.finished_at) - datetime.fromisoformat(run.started_at)
        works.append(took.total_seconds())
        befores.append((datetime.fromisoformat(run.started_at) - spawned).total_seconds())
    overheads = sorted(w - k for w, k in zip(walls, works, strict=True))
    return {
        "seconds": sum(walls),
        "rows": 0,
        "work_s": sum(works),
        "overhead_median_s": overheads[len(overheads) // 2],
        "overheads_s": [round(o, 2) for o in overheads],
        "before_start_median_s": sorted(befores)[len(befores) // 2],
        "cpu_median_s": sorted(cpus)[len(cpus) // 2],
    }


def _installed_bytecode(env: dict[str, str]) -> None:
    """Run the CLI as an installation runs it: with the package's bytecode compiled
    (pip compiles it when installing; an editable checkout caches it at the first
    import), also where this shell sets ``PYTHONDONTWRITEBYTECODE``."""
    import compileall

    import ml_connector

    env.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(Path(ml_connector.__file__).parent, quiet=1)


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


ROLES = {
    "extract": role_extract,
    "prepare": role_prepare,
    "engine": role_engine,
    "cli": role_cli,
}


def run_role(role: str, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    cmd = python_command(Path(__file__).resolve(), "--role", role, *extra)
    with processes([cmd]) as [proc]:
        out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{role} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ledger_bookings(datev_url: str) -> Any:
    resp = httpx.get(f"{datev_url}/admin/ledger", timeout=60)
    resp.raise_for_status()
    return resp.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--months", type=int, default=24, help="months to run (1-24)")
    parser.add_argument(
        "--datev-retry-after",
        type=int,
        default=None,
        help="the DATEV emulator's Retry-After seconds (default: its own, 1; DATEV's "
        "documentation shows 5): 0 shows how much of a run is waiting for DATEV's job",
    )
    parser.add_argument("--postgres", action="store_true", help="store and queue on PostgreSQL")
    parser.add_argument("--only", choices=tuple(ROLES), action="append")
    parser.add_argument("--role", choices=tuple(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--datev-url", help=argparse.SUPPRESS)
    parser.add_argument("--store-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.months_list = list(MONTHS[-args.months :])
    if args.role:
        result = ROLES[args.role](args)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return

    roles = args.only or [r for r in ROLES if r != "cli"]
    print(
        f"{args.rows:,} generated Looker rows over 24 months; running {len(args.months_list)} "
        f"months (one run each, about {args.rows // 24:,} rows per run); "
        f"real steps (LiveRunSteps) against both emulators, each in its own process, "
        f"{args.latency_ms:g} ms latency on every call; "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}; {os.cpu_count()} CPUs",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="mlc-e2e-") as tmp:
        work = Path(tmp)
        commands, looker_url, datev_url = emulator_commands(
            work, args.rows, args.latency_ms, args.datev_retry_after
        )
        with processes(commands, quiet=True) as (looker, datev):
            wait_http(f"{looker_url}/versions", looker, "Looker")
            wait_http(f"{datev_url}/openid/.well-known/openid-configuration", datev, "DATEV")
            results: dict[str, dict[str, Any]] = {}
            db_name = f"mlc_bench_e2e_{os.getpid()}"
            with pg_database(db_name) if args.postgres else _NoDatabase() as store_url:
                install(work, looker_url, datev_url, store_url)
                extra = [
                    "--work",
                    str(work),
                    "--datev-url",
                    datev_url,
                    "--months",
                    str(args.months),
                ]
                if store_url:
                    extra += ["--store-url", store_url]
                for role in roles:
                    results[role] = run_role(role, args, extra)
                    r = results[role]
                    rest = {k: v for k, v in r.items() if k not in ("seconds", "peak_rss_mb")}
                    print(
                        f"{role:8s} {r['seconds']:8.1f} s  {r['rows'] / r['seconds']:9,.0f} "
                        f"rows/s  peak RSS {r['peak_rss_mb']:6.0f} MB  {json.dumps(rest)}",
                        flush=True,
                    )
            emulator_rss = (vm_hwm_mb(looker.pid), vm_hwm_mb(datev.pid))
            ledger = ledger_bookings(datev_url) if "engine" in results else None
    if "engine" in results:
        e = results["engine"]
        for base in ("extract", "prepare"):
            if base in results:
                print(f"ratio engine / {base}: {e['seconds'] / results[base]['seconds']:.2f}")
        print("DATEV ledger:", _ledger_summary(ledger))
    print(f"emulators' peak RSS: Looker {emulator_rss[0]:.0f} MB, DATEV {emulator_rss[1]:.0f} MB")


def _ledger_summary(ledger: Any) -> str:
    if isinstance(ledger, dict):
        return json.dumps({k: (len(v) if isinstance(v, list) else v) for k, v in ledger.items()})
    return str(type(ledger))


class _NoDatabase:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
