"""Shared pieces of the engine benchmarks: PostgreSQL databases, processes, memory.

Not a benchmark on its own; imported by ``engine_scaleout.py`` and ``engine_e2e.py``
(run from the repository root, the script's directory is on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ml_connector.engine.ports import (
    JobStatus,
    Prepared,
    PreparedFile,
    RowRecord,
    RunSpec,
    write_records,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def sqlalchemy_url(name: str) -> str:
    """SQLAlchemy URL of database ``name`` on the local PostgreSQL server."""
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@contextmanager
def pg_database(name: str) -> Iterator[str]:
    """Create database ``name`` (dropped first if left over), yield its URL, drop it."""
    import psycopg

    def admin(sql: str) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield sqlalchemy_url(name)
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    Linux's ``VmHWM`` (this process image's own peak): ``ru_maxrss`` of a process
    started with fork and exec also counts the parent's RSS at the fork, so a child
    of a large benchmark process would report the parent's size instead of its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def processes(
    commands: Sequence[Sequence[str]], *, quiet: bool = False
) -> Iterator[list[subprocess.Popen[str]]]:
    """Start ``commands``; on exit SIGTERM each, then SIGKILL what is still alive after 20 s.

    Their stdout is a pipe, or with ``quiet`` (servers) discarded with their stderr.
    """
    started: list[subprocess.Popen[str]] = []
    out = subprocess.DEVNULL if quiet else subprocess.PIPE
    err = subprocess.DEVNULL if quiet else None
    try:
        for cmd in commands:
            started.append(
                subprocess.Popen(list(cmd), stdout=out, stderr=err, text=True, env=os.environ)
            )
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in started:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def python_command(script: Path, *args: str) -> list[str]:
    """Run ``script`` with this interpreter."""
    return [sys.executable, str(script), *args]


class SimulatedSteps:
    """Run steps whose API calls are simulated by awaiting ``latency`` seconds each.

    ``prepare`` stands for a Looker login and query (``prepare_calls`` calls) and
    writes ``rows`` booking lines into one file plus the row records; DATEV answers
    ``find_submission``, ``submit`` and each ``poll`` with one call each. DATEV needs
    ``job_seconds`` to process a file: until then a poll answers "pending" with a
    ``Retry-After`` of the time left (the job id carries the submission time, so
    this works across processes).
    """

    def __init__(
        self,
        latency: float,
        rows: int = 20,
        prepare_calls: int = 2,
        gate: Path | None = None,
        job_seconds: float = 0.0,
    ) -> None:
        self.latency = latency
        self.rows = rows
        self.prepare_calls = prepare_calls
        self.job_seconds = job_seconds
        #: ``prepare`` waits until this file exists (a common start line for all workers)
        self.gate = gate

    async def _call(self) -> None:
        await asyncio.sleep(self.latency)

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        while self.gate is not None and not self.gate.exists():  # noqa: ASYNC110 - a file
            await asyncio.sleep(0.01)
        for _ in range(self.prepare_calls):
            await self._call()
        filename = f"EXTF_{spec.pipeline}_{spec.period}_001.csv"
        lines = [f"{i + 1}.00;1200;8400;{spec.period}/{i}" for i in range(self.rows)]
        content = ("\n".join(lines) + "\n").encode()
        path = workdir / filename
        path.write_bytes(content)
        records = (
            RowRecord(
                row_key=f"{spec.period}/{i}",
                source={"id": i, "amount": f"{i + 1}.00"},
                booking={"Umsatz": f"{i + 1}.00", "Konto": "1200", "Gegenkonto": "8400"},
                filename=filename,
                line=i + 1,
            )
            for i in range(self.rows)
        )
        records_path = workdir / "records.jsonl"
        write_records(records_path, records)
        file = PreparedFile(
            part=1,
            path=str(path),
            filename=filename,
            sha256=hashlib.sha256(content).hexdigest(),
            reference_id=f"{spec.datev_client}:{spec.pipeline}:{spec.period}:1",
            lines=self.rows,
        )
        return Prepared((file,), str(records_path), self.rows, self.rows, 0)

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        await self._call()
        return None

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        await self._call()
        return f"job-{file.reference_id}@{time.time():.6f}"

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        await self._call()
        left = float(job_id.rsplit("@", 1)[1]) + self.job_seconds - time.time()
        if left > 0:
            return JobStatus("pending", retry_after=left)
        return JobStatus("succeeded")
