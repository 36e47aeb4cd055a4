"""How fast the DATEV emulator accepts EXTF uploads, against its own checks alone.

Uploads N files of R booking lines through the DATEV client into the in-process
emulator (ASGI transport, no sockets; ledger in a SQLite file in a temporary data
dir) until every job is processed, and prints files/s, lines/s, the ratio to running
the emulator's EXTF checks on the same bytes (its floor: it checks every upload)
and the peak memory of the process. Usage::

    python benchmarks/datev_emulator_upload.py [FILES] [LINES]
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pydantic import SecretStr

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


async def main(files: int, lines: int) -> None:
    content = make_file(lines)
    started = time.perf_counter()
    for _ in range(files):
        check_extf(content, consultant_number=455148, client_number=1)
    baseline = time.perf_counter() - started

    data_dir = tempfile.TemporaryDirectory(prefix="datev-bench-")
    store = EmulatorStore(Path(data_dir.name))
    checker = StaticTokenChecker(["bench"], client_id="bench")
    app = create_app(EmulatorConfig(), checker=checker, store=store)
    async with DatevClient(
        _Token(),
        app_client_id="bench",
        endpoints=Endpoints.emulator("http://bench"),
        transport=httpx.ASGITransport(app=app),
    ) as client:
        started = time.perf_counter()
        for n in range(files):
            await client.upload_extf("455148-1", content, f"EXTF_bench_{n}.csv")
        await asyncio.gather(*emulator_state(app).background)
        elapsed = time.perf_counter() - started
    booked = emulator_state(app).ledger.count_bookings()
    store.close()
    data_dir.cleanup()
    assert booked == files * lines, booked
    print(f"files={files} lines/file={lines} bytes/file={len(content)}")
    print(f"checks alone: {baseline:.3f} s ({files * lines / baseline:,.0f} lines/s)")
    print(
        f"upload via emulator: {elapsed:.3f} s ({files / elapsed:.1f} files/s, "
        f"{files * lines / elapsed:,.0f} lines/s)"
    )
    print(f"ratio emulator/checks: {elapsed / baseline:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB for {booked:,} bookings")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [20, 1000][len(args) :])))
