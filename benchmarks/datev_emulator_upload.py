"""How fast the DATEV emulator accepts EXTF uploads, and its memory with the ledger on disk.

Uploads N files of R booking lines through the DATEV client into the in-process
emulator (ASGI transport, no sockets; ledger in a SQLite file in a temporary state
dir) until every job is processed, and prints files/s, lines/s, the ratio to running
the emulator's EXTF checks on the same bytes (its floor: it checks every upload),
the resident memory (RSS) after each tenth of the files and the peak. Then it stops
the emulator and starts it again on the same state dir: every booking must still be
there (counted, and the last page of ``/admin/ledger`` read). Usage::

    python benchmarks/datev_emulator_upload.py --full    # 20 files x 50,000 = 1M bookings
    python benchmarks/datev_emulator_upload.py --quick   # 5 files x 2,000
    python benchmarks/datev_emulator_upload.py FILES LINES
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette

from engine_bench_common import peak_rss_mb
from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.client import DatevClient
from ml_connector_sandbox.emulators.datev.app import create_app, emulator_state
from ml_connector_sandbox.emulators.datev.config import EmulatorConfig
from ml_connector_sandbox.emulators.datev.extf_check import check_extf
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker
from ml_connector_sandbox.emulators.datev.store import EmulatorStore

SAMPLE = Path(__file__).parents[1] / "tests/data/extf/handmade/minimal_fv13_cp1252_crlf.csv"


class _Token:
    async def get_access_token(self) -> SecretStr:
        return SecretStr("bench")

    async def invalidate(self, token: SecretStr) -> None:
        return None


def make_file(lines: int) -> bytes:
    header = (
        '"EXTF";700;21;"Buchungsstapel";13;20260105120000000;;"RE";"";"";455148;1;'
        '20260101;4;20260101;20260131;"Bench";"";1;0;0;"EUR";;"";;;"03";;;"";""'
    )
    columns = SAMPLE.read_bytes().decode("cp1252").split("\r\n")[1]
    width = columns.count(";") + 1
    rows = []
    for n in range(1, lines + 1):
        fields = f'{n},00;"S";"EUR";;;;1000;8400;"";0501;"B{n}";;;"Text"'
        rows.append(fields + ";" * (width - 1 - fields.count(";")))
    return ("\r\n".join([header, columns, *rows]) + "\r\n").encode("cp1252")


def rss_mb() -> float:
    """Resident set size of this process now, MB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def start(state_dir: Path) -> tuple[EmulatorStore, Starlette]:
    """The emulator on ``state_dir`` (what it holds there is read back)."""
    store = EmulatorStore(state_dir)
    checker = StaticTokenChecker(["bench"], client_id="bench")
    return store, create_app(EmulatorConfig(), checker=checker, store=store)


def client_for(app: Starlette) -> DatevClient:
    return DatevClient(
        _Token(),
        app_client_id="bench",
        endpoints=Endpoints.emulator("http://bench"),
        transport=httpx.ASGITransport(app=app),
    )


async def upload(app: Starlette, content: bytes, files: int) -> tuple[float, list[float]]:
    """Upload ``files`` copies (distinct names); seconds taken and RSS after each tenth."""
    samples: list[float] = []
    async with client_for(app) as client:
        started = time.perf_counter()
        for n in range(files):
            await client.upload_extf("455148-1", content, f"EXTF_bench_{n}.csv")
            await asyncio.gather(*emulator_state(app).background)
            if (n + 1) % max(1, files // 10) == 0:
                samples.append(rss_mb())
        return time.perf_counter() - started, samples


async def last_page(app: Starlette, total: int) -> int:
    """Bookings on the last ``/admin/ledger`` page (read by position)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        page = await http.get("/admin/ledger", params={"after": str(total - 10)})
        page.raise_for_status()
        return len(page.json()["bookings"])


async def main(files: int, lines: int) -> None:
    content = make_file(lines)
    started = time.perf_counter()
    for _ in range(files):
        check_extf(content, consultant_number=455148, client_number=1)
    baseline = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="datev-bench-") as state_dir:
        store, app = start(Path(state_dir))
        elapsed, samples = await upload(app, content, files)
        booked = emulator_state(app).ledger.count_bookings()
        store.close()
        before_restart = rss_mb()
        store, app = start(Path(state_dir))  # the same state dir: a restart
        kept = emulator_state(app).ledger.count_bookings()
        tail = await last_page(app, kept)
        after_restart = rss_mb()
        store.close()
    assert booked == kept == files * lines, (booked, kept)
    assert tail == 10, tail
    print(f"files={files} lines/file={lines} bytes/file={len(content)}")
    print(f"checks alone: {baseline:.3f} s ({files * lines / baseline:,.0f} lines/s)")
    print(
        f"upload via emulator: {elapsed:.3f} s ({files / elapsed:.1f} files/s, "
        f"{files * lines / elapsed:,.0f} lines/s)"
    )
    print(f"ratio emulator/checks: {elapsed / baseline:.2f}")
    print("RSS after each tenth of the files (MB): " + ", ".join(f"{m:.0f}" for m in samples))
    print(
        f"restart on the same state dir: {kept:,} bookings kept; RSS {before_restart:.0f} MB "
        f"before, {after_restart:.0f} MB after reopening and reading the last ledger page"
    )
    peak = peak_rss_mb()
    print(f"peak memory: {peak:.0f} MB for {booked:,} bookings")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="20 files x 50,000 = 1M bookings")
    size.add_argument("--quick", action="store_true", help="5 files x 2,000 bookings")
    parser.add_argument("files", type=int, nargs="?", default=20)
    parser.add_argument("lines", type=int, nargs="?", default=1000)
    args = parser.parse_args()
    if args.full:
        args.files, args.lines = 20, 50_000
    elif args.quick:
        args.files, args.lines = 5, 2_000
    asyncio.run(main(args.files, args.lines))
