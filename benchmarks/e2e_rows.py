"""Benchmark: N Looker rows -> accepted DATEV jobs, end to end through the engine.

The Looker emulator runs as a separate process (``ml-connector sandbox looker``) with
its generated explore ``bench/rows`` and ``--latency-ms`` added to every call; the
DATEV emulator runs in this process with the same latency. A pipeline maps every row
(partitioned extract by ``rows.bucket``), the engine writes the EXTF files (99,999
bookings each), records the audit trail, submits and polls. Two passes in the same
run: N/5 rows (the baseline) and N rows. Printed: wall time, rows/s, files and jobs,
DATEV ledger bookings, peak RSS growth of this process, and the ratios full / baseline
for time (linear: ~5) and memory (flat: ~1).

The DATEV emulator runs in this process and keeps its ledger in memory, so the peak
RSS printed here includes the emulator's ledger; ``benchmarks/engine_e2e.py`` runs both
emulators in their own processes and is the one to read for the engine's memory.

Usage: ``.venv/bin/python benchmarks/e2e_rows.py [--rows 95000] [--latency-ms 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pydantic import SecretStr

from engine_bench_common import peak_rss_mb
from ml_connector.credentials import open_credential_store
from ml_connector.datev.oauth.connection_store import ConnectionStore
from ml_connector.http.polling import PollPolicy
from ml_connector.runs.connect import SyncSettings, open_sync_store, store_looker_credentials
from ml_connector.runs.launch import EngineOptions, run_pipeline
from ml_connector_sandbox.demo.emulators import DEMO_OAUTH_CLIENT, DemoEmulators, running_emulators
from ml_connector_sandbox.demo.login import login_unattended
from ml_connector_sandbox.emulators._server import free_port

CONFIG = """
version = 1
[customers.bench]
name = "Benchmark GmbH"
emulator = true
[customers.bench.looker]
base_url = "{looker_url}"
credential = "store:bench-looker"
[customers.bench.datev]
consultant_number = 29098
client_number = 55003
chart_of_accounts = "SKR03"
account_length = 4
[lookups.accounts]
kind = "account"
[lookups.accounts.values]
"REV-100" = "8400"
"PER-200" = "4120"
"OPS-300" = "4210"
"OPS-310" = "4660"
"OPS-320" = "4964"
"OPS-330" = "4900"

[pipelines.bench]
customer = "bench"
reject_policy = "hold_rejected"
restatement = "append_only"
batch_label = "Benchmark"
[pipelines.bench.source]
partition_by = ["rows.bucket"]
count_measure = "rows.row_count"
[pipelines.bench.source.query]
model = "bench"
view = "rows"
fields = ["rows.row_id", "rows.bucket", "rows.account", "rows.description", "rows.amount_eur"]
sorts = ["rows.row_id"]
[pipelines.bench.mapping]
row_key = ["rows.row_id"]
amount = "rows.amount_eur"
amount_account = "gegenkonto"
[pipelines.bench.mapping.fields]
konto = 1590
gegenkonto = {{ lookup = "accounts", key = "rows.account" }}
belegdatum = {{ constant = "2026-10-31" }}
belegfeld_1 = {{ template = "B{{rows.row_id}}" }}
buchungstext = {{ template = "{{rows.description}}" }}
"""

ID, SECRET = "bench-client", "bench-secret-for-the-emulator"


def _rss_mb() -> float:
    return peak_rss_mb()


def _looker(rows: int, latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ml_connector", "sandbox", "looker", "--port", str(port),
         "--bench-rows", str(rows), "--latency-ms", str(latency_ms),
         "--client-id", ID, "--client-secret", SECRET],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/versions", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the Looker emulator did not start")


async def _install(work: Path, looker_url: str, emulators: DemoEmulators) -> SyncSettings:
    data = work / "data"
    data.mkdir(parents=True)
    config = work / "ml-connector.toml"
    config.write_text(CONFIG.format(looker_url=looker_url), "utf-8")
    settings = SyncSettings(data_dir=data, config_path=config, datev_api_url=emulators.datev_url)
    engine = open_sync_store(settings)
    try:
        credentials = open_credential_store(engine, data)
        store_looker_credentials(credentials, "bench-looker", ID, SecretStr(SECRET))
        await login_unattended(
            ConnectionStore(engine, credentials),
            "bench",
            issuer=emulators.issuer,
            client_id=DEMO_OAUTH_CLIENT,
            client_secret=emulators.datev_client_secret,
        )
    finally:
        engine.dispose()
    return settings


def _pass(rows: int, latency_ms: float) -> dict[str, float]:
    proc, url = _looker(rows, latency_ms)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_emulators(latency_seconds=latency_ms / 1000) as emulators,
        ):
            settings = asyncio.run(_install(Path(tmp), url, emulators))
            before = _rss_mb()
            start = time.perf_counter()
            outcome = run_pipeline(
                settings,
                "bench",
                "2026-10",
                options=EngineOptions(
                    queue_polling_interval=0.05,
                    poll=PollPolicy(base=0.2, cap=1.0, floor=0.0, max_polls=50),
                ),
                progress=None,
                timeout=3600,
            )
            elapsed = time.perf_counter() - start
            ledger = len(emulators.ledger.bookings("29098-55003"))
    finally:
        proc.terminate()
        proc.wait(10)
    if outcome.state != "succeeded":
        raise SystemExit(f"run {outcome.state}: {outcome.error}")
    return {
        "rows": outcome.rows_read,
        "files": len(outcome.files),
        "jobs": outcome.jobs_succeeded,
        "ledger": ledger,
        "seconds": elapsed,
        "rss_growth_mb": _rss_mb() - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=95_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    os.environ.pop("ML_CONNECTOR_LOOKER_CLIENT_ID", None)
    os.environ.pop("ML_CONNECTOR_LOOKER_CLIENT_SECRET", None)
    results = []
    for rows in (args.rows // 5, args.rows):
        r = _pass(rows, args.latency_ms)
        results.append(r)
        print(
            f"{int(r['rows']):>9} rows: {r['seconds']:7.1f} s, "
            f"{r['rows'] / r['seconds']:7.0f} rows/s, "
            f"{int(r['files'])} files, {int(r['jobs'])} jobs accepted, "
            f"{int(r['ledger'])} bookings in the DATEV ledger, "
            f"peak RSS growth {r['rss_growth_mb']:.0f} MB",
            flush=True,
        )
    base, full = results
    print(f"time ratio full / baseline: {full['seconds'] / base['seconds']:.2f} (linear: 5)")
    grow_base = max(base["rss_growth_mb"], 1.0)
    print(f"memory ratio full / baseline: {full['rss_growth_mb'] / grow_base:.2f} (flat: 1)")


if __name__ == "__main__":
    main()
