"""Fakes for the engine tests: a file-backed DATEV that survives a killed worker, and steps.

The fake DATEV keeps its ledger in SQLite, so a worker process can be SIGKILLed and
another process can still see what was submitted.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ml_connector.engine.ports import (
    JobStatus,
    Prepared,
    PreparedDocument,
    PreparedFile,
    RowRecord,
    RunSpec,
    write_records,
)
from ml_connector.errors import ReconsentRequiredError


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
