"""Fakes for the engine tests: a file-backed DATEV that survives a killed worker, and steps.

The fake DATEV keeps its ledger in SQLite, so a worker process can be SIGKILLed and
another process can still see what was submitted.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from ml_connector.datev.api.models import ProtocolEntry
from ml_connector.engine.ports import (
    DxsoJob,
    DxsoResult,
    JobStatus,
    Prepared,
    PreparedDocument,
    PreparedFile,
    RowRecord,
    RunSpec,
    iter_records,
    write_records,
)
from ml_connector.errors import ConfigurationError, DataError, ReconsentRequiredError


class FakeDatev:
    """Records submissions by Reference-Id; a job succeeds on its ``polls_needed``-th poll."""

    def __init__(
        self, path: Path, *, polls_needed: int = 2, failing: frozenset[str] = frozenset()
    ) -> None:
        self.path = path
        self.polls_needed = polls_needed
        self.failing = failing
        self._lock = threading.Lock()
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS ledger (job_id TEXT PRIMARY KEY, reference_id TEXT,"
                " filename TEXT, sha256 TEXT, polls INTEGER DEFAULT 0, state TEXT)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS documents (document_id TEXT PRIMARY KEY,"
                " filename TEXT, sha256 TEXT, attempts INTEGER DEFAULT 1)"
            )

    def upload_document(self, document: PreparedDocument) -> bool:
        """Store the document under its id; ``False`` (DATEV's 409) when the id exists."""
        with self._lock, self._db() as db:
            found = db.execute(
                "UPDATE documents SET attempts = attempts + 1 WHERE document_id = ?",
                (document.document_id,),
            ).rowcount
            if found:
                return False
            db.execute(
                "INSERT INTO documents (document_id, filename, sha256) VALUES (?,?,?)",
                (document.document_id, document.filename, document.sha256),
            )
            return True

    def documents(self) -> list[tuple[str, str, int]]:
        """(document_id, filename, upload attempts) of every stored document."""
        with self._db() as db:
            rows = db.execute("SELECT document_id, filename, attempts FROM documents ORDER BY 1")
            return [tuple(r) for r in rows]  # type: ignore[misc]

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def submit(self, file: PreparedFile) -> str:
        with self._lock, self._db() as db:
            count = db.execute("SELECT count(*) FROM ledger").fetchone()[0]
            job_id = f"job-{count + 1}"
            state = "failed" if file.filename in self.failing else "pending"
            db.execute(
                "INSERT INTO ledger (job_id, reference_id, filename, sha256, state)"
                " VALUES (?,?,?,?,?)",
                (job_id, file.reference_id, file.filename, file.sha256, state),
            )
            return job_id

    def find(self, reference_id: str) -> str | None:
        with self._db() as db:
            row = db.execute(
                "SELECT job_id FROM ledger WHERE reference_id = ? AND state != 'failed'"
                " ORDER BY rowid DESC LIMIT 1",
                (reference_id,),
            ).fetchone()
        return None if row is None else str(row[0])

    def poll(self, job_id: str) -> JobStatus:
        with self._lock, self._db() as db:
            db.execute("UPDATE ledger SET polls = polls + 1 WHERE job_id = ?", (job_id,))
            polls, state = db.execute(
                "SELECT polls, state FROM ledger WHERE job_id = ?", (job_id,)
            ).fetchone()
            if state == "pending" and polls >= self.polls_needed:
                state = "succeeded"
                db.execute("UPDATE ledger SET state = ? WHERE job_id = ?", (state, job_id))
        detail = "Buchungsstapel abgelehnt" if state == "failed" else None
        return JobStatus(state, detail=detail)

    def ledger(self) -> list[tuple[str, str, str]]:
        """(job_id, reference_id, state) of every submission, in order."""
        with self._db() as db:
            rows = db.execute("SELECT job_id, reference_id, state FROM ledger ORDER BY rowid")
            return [tuple(r) for r in rows]  # type: ignore[misc]


def _document_id(n: int) -> str:
    return f"00000000-0000-5000-8000-{n:012d}"


@dataclass
class FakeSteps:
    """Deterministic prepare (``files`` parts of ``rows_per_file`` rows, ``rejected`` rows)."""

    datev: FakeDatev
    files: int = 2
    rows_per_file: int = 3
    reconsent: bool = False
    rejected: int = 1
    documents: int = 0
    #: per-row documents: document ``n`` belongs to the rows of file part ``n`` (linked)
    row_documents: bool = False
    prepared: list[str] = field(default_factory=list)

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        if self.reconsent:
            raise ReconsentRequiredError(
                "DATEV grant revoked", hint="run 'ml-connector datev login'"
            )
        self.prepared.append(spec.period)
        records: list[RowRecord] = []
        files: list[PreparedFile] = []
        for part in range(1, self.files + 1):
            filename = f"EXTF_{spec.pipeline}_{spec.period}_{part:03d}.csv"
            lines = []
            for i in range(self.rows_per_file):
                key = f"{spec.period}/{part}/{i}"
                amount = Decimal(f"{part}{i}.50")
                lines.append(f"{amount};1200;8400")
                booking: dict[str, object] = {"Umsatz": amount, "Konto": "1200"}
                booking["Gegenkonto"] = "8400"
                if self.row_documents and part <= self.documents:
                    booking["beleglink"] = f'BEDI "{_document_id(part)}"'
                records.append(
                    RowRecord(
                        row_key=key,
                        source={"id": key, "amount": amount},
                        booking=booking,
                        filename=filename,
                        line=i + 1,
                    )
                )
            path = workdir / filename
            content = "\n".join(lines).encode()
            path.write_bytes(content)
            files.append(
                PreparedFile(
                    part=part,
                    path=str(path),
                    filename=filename,
                    sha256=hashlib.sha256(content).hexdigest(),
                    reference_id=f"{spec.datev_client}:{spec.pipeline}:{spec.period}:{part}",
                    lines=len(lines),
                )
            )
        records.extend(
            RowRecord(
                row_key=f"{spec.period}/bad" + (f"-{n}" if n else ""),
                source={"amount": "n/a"},
                rejection="amount is not a number",
            )
            for n in range(self.rejected)
        )
        records_path = workdir / "records.jsonl"
        write_records(records_path, records)
        mapped = self.files * self.rows_per_file
        return Prepared(
            tuple(files),
            str(records_path),
            mapped + self.rejected,
            mapped,
            self.rejected,
            documents=self._documents(spec, workdir),
        )

    def _documents(self, spec: RunSpec, workdir: Path) -> tuple[PreparedDocument, ...]:
        made = []
        for n in range(1, self.documents + 1):
            content = f"%PDF-1.4 document {n} of {spec.period}".encode()
            path = workdir / f"doc-{n}.pdf"
            path.write_bytes(content)
            rows = [f"{spec.period}/{n}/{i}" for i in range(self.rows_per_file)]
            made.append(
                PreparedDocument(
                    document_id=_document_id(n),
                    filename=path.name,
                    path=str(path),
                    sha256=hashlib.sha256(content).hexdigest(),
                    document_type="Sonstige",
                    source=f"row:receipts/{n}.pdf" if self.row_documents else f"render:{n}",
                    size=len(content),
                    row_keys=tuple(rows) if self.row_documents else None,
                )
            )
        return tuple(made)

    async def upload_document(self, spec: RunSpec, document: PreparedDocument) -> bool:
        return self.datev.upload_document(document)

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        return self.datev.find(file.reference_id)

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        return self.datev.submit(file)

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        return self.datev.poll(job_id)


class FakeDxso:
    """dxso-jobs in SQLite (survives a killed worker): jobs with DATEV's integer status
    and the files each received, in order. A finalized job ends on its ``polls_needed``-th
    poll: 2, or 4 when it holds a file of ``refused``, or 3 when all of its data files are."""

    def __init__(
        self, path: Path, *, polls_needed: int = 2, refused: frozenset[str] = frozenset()
    ) -> None:
        self.path = path
        self.polls_needed = polls_needed
        self.refused = refused
        self.failing_uploads: set[str] = set()
        self.failing_cancels = 0
        self.calls: list[str] = []
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS dxso_jobs (job_id TEXT PRIMARY KEY,"
                " status INTEGER DEFAULT 0, polls INTEGER DEFAULT 0, deleted INTEGER DEFAULT 0)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS dxso_files (job_id TEXT, name TEXT)")

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def create(self) -> str:
        with self._db() as db:
            count = db.execute("SELECT count(*) FROM dxso_jobs").fetchone()[0]
            job_id = f"dxso-{count + 1}"
            db.execute("INSERT INTO dxso_jobs (job_id) VALUES (?)", (job_id,))
        self.calls.append(f"create {job_id}")
        return job_id

    def status(self, job_id: str) -> int:
        with self._db() as db:
            return int(
                db.execute("SELECT status FROM dxso_jobs WHERE job_id = ?", (job_id,)).fetchone()[0]
            )

    def files(self, job_id: str) -> list[str]:
        with self._db() as db:
            rows = db.execute(
                "SELECT name FROM dxso_files WHERE job_id = ? ORDER BY rowid", (job_id,)
            )
            return [str(r[0]) for r in rows]

    def upload(self, job_id: str, name: str) -> None:
        assert self.status(job_id) == 0, f"upload into job {job_id} that is not open"
        if name in self.failing_uploads:
            raise DataError("file refused by DATEV", location=name)
        with self._db() as db:
            db.execute("INSERT INTO dxso_files VALUES (?, ?)", (job_id, name))
        self.calls.append(f"upload {job_id} {name}")

    def finalize(self, job_id: str) -> None:
        if self.status(job_id) == 0:
            with self._db() as db:
                db.execute("UPDATE dxso_jobs SET status = 1 WHERE job_id = ?", (job_id,))
            self.calls.append(f"finalize {job_id}")

    def poll(self, job_id: str) -> int:
        with self._db() as db:
            db.execute("UPDATE dxso_jobs SET polls = polls + 1 WHERE job_id = ?", (job_id,))
            status, polls = db.execute(
                "SELECT status, polls FROM dxso_jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        if status == 1 and polls >= self.polls_needed:
            data = [n for n in self.files(job_id) if n != "document.xml"]
            bad = [n for n in data if n in self.refused]
            status = 2 if not bad else (3 if len(bad) == len(data) else 4)
            with self._db() as db:
                db.execute("UPDATE dxso_jobs SET status = ? WHERE job_id = ?", (status, job_id))
            self.calls.append(f"ended {job_id}")
        return int(status)

    def cancel(self, job_id: str) -> bool:
        if self.failing_cancels:
            self.failing_cancels -= 1
            raise OSError("DATEV unreachable")
        if self.status(job_id) != 0:
            return False
        with self._db() as db:
            db.execute("UPDATE dxso_jobs SET status = 5, deleted = 1 WHERE job_id = ?", (job_id,))
        self.calls.append(f"delete {job_id}")
        return True

    def jobs(self) -> list[tuple[str, int, list[str]]]:
        """(job id, status, received files) of every job, in order (5: deleted)."""
        with self._db() as db:
            rows = db.execute("SELECT job_id, status FROM dxso_jobs ORDER BY rowid").fetchall()
        return [(str(j), int(s), self.files(str(j))) for j, s in rows]

    def protocol(self, job_id: str) -> tuple[ProtocolEntry, ...]:
        entries = [
            ProtocolEntry("2026-11-01T10:00:00", "info", f"{n} wurde empfangen", filename=n)
            for n in self.files(job_id)
        ]
        entries += [
            ProtocolEntry("2026-11-01T10:01:00", "error", "Belegnummer doppelt", filename=n)
            for n in self.files(job_id)
            if n in self.refused
        ]
        return tuple(entries)


@dataclass
class FakeDxsoSteps(FakeSteps):
    """Steps of a dxso pipeline: ``files`` job folders of ``rows_per_file`` entries, one
    data file per entry (``E<n>.xml``) and ``document.xml`` last."""

    dxso: FakeDxso | None = None

    def _dx(self) -> FakeDxso:
        assert self.dxso is not None
        return self.dxso

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        prepared = await super().prepare(spec, workdir)
        names = {
            f.filename: f"DXSO_AR_{spec.period}_{f.part:02d}_{f.part:016x}" for f in prepared.files
        }
        files = []
        for f in prepared.files:
            folder = workdir / names[f.filename]
            folder.mkdir(exist_ok=True)
            (folder / "manifest.json").write_text(f.sha256, encoding="utf-8")
            files.append(
                PreparedFile(f.part, str(folder), folder.name, f.sha256, f"dxso:{f.part}", f.lines)
            )
        records = [
            replace(r, filename=names[r.filename]) if r.filename is not None else r
            for r in iter_records(Path(prepared.records_path))
        ]
        write_records(Path(prepared.records_path), records)
        return Prepared(
            tuple(files),
            prepared.records_path,
            prepared.rows_read,
            prepared.rows_mapped,
            prepared.rows_rejected,
        )

    def _names(self, file: PreparedFile) -> list[str]:
        return [f"E{file.part}{n}.xml" for n in range(1, file.lines + 1)] + ["document.xml"]

    async def dxso_create(self, spec: RunSpec, file: PreparedFile) -> DxsoJob:
        if spec.datev_client == NEW_BELEGE_ONLINE_CLIENT:
            raise ConfigurationError(
                "DATEV client uses the new Belege online (#DCO01301)",
                hint='set channel = "extf" for this pipeline',
            )
        return DxsoJob(self._dx().create(), "Ausgangsrechnungen")

    async def dxso_received(self, spec: RunSpec, job_id: str) -> frozenset[str]:
        self._dx().calls.append(f"protocol {job_id}")
        return frozenset(self._dx().files(job_id))

    async def dxso_upload(
        self, spec: RunSpec, file: PreparedFile, job: DxsoJob, received: frozenset[str]
    ) -> str | None:
        for name in self._names(file):
            if name not in received:
                self._dx().upload(job.job_id, name)
                return name
        return None

    async def dxso_finalize(self, spec: RunSpec, job_id: str) -> None:
        self._dx().finalize(job_id)

    async def dxso_poll(self, spec: RunSpec, job_id: str) -> JobStatus:
        status = self._dx().poll(job_id)
        if status < 2:
            return JobStatus("pending")
        return JobStatus("succeeded" if status in (2, 4) else "failed")

    async def dxso_result(self, spec: RunSpec, file: PreparedFile, job_id: str) -> DxsoResult:
        status = self._dx().poll(job_id)
        protocol = self._dx().protocol(job_id)
        names = self._names(file)[:-1]
        refused = tuple(
            (line, "Belegnummer doppelt")
            for line, name in enumerate(names, start=1)
            if name in self._dx().refused
        )
        ok = status == 2 or (status == 4 and len(refused) < len(names))
        detail = f"DATEV dxso status {status}"
        return DxsoResult(
            JobStatus("succeeded" if ok else "failed", detail=detail),
            status,
            protocol,
            refused if status == 4 else (),
        )

    async def dxso_cancel(self, spec: RunSpec, job_id: str) -> bool:
        return self._dx().cancel(job_id)


#: a DATEV client on the new Belege online: creating a dxso job fails (#DCO01301)
NEW_BELEGE_ONLINE_CLIENT = "100-4"
