"""Send one prepared dxso job folder to DATEV, one call per step, resumable.

Each function is one DATEV call (or one read) so the engine can checkpoint between them:
:func:`open_job` (create; the job id and ledger folder name are the checkpoint),
:func:`upload_next` (one file, ``document.xml`` last, rewritten with the folder name),
:func:`finalize`, :func:`poll_once`, :func:`read_outcome` (protocol entries, to be kept:
DATEV deletes them after about two months, dxso-jobs spec).

Resume: DATEV lists no jobs (dxso-jobs spec: no ``GET …/dxso-jobs``), so a job id is only
known once the create call returned and was checkpointed. A crash inside the create call
can leave an empty open job in DATEV; it holds no data and posts nothing. Which files an open
job already received is read from its protocol ("wurde empfangen", with the file name), so
an upload interrupted before its checkpoint is not sent twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ml_connector.datev.api.models import DxsoStatus, ProtocolEntry
from ml_connector.datev.api.problems import DatevConfigurationError, DatevRejectedError
from ml_connector.datev.client import DatevClient
from ml_connector.engine.ports import DxsoJob
from ml_connector.errors import ConfigurationError
from ml_connector.formats.dxso.jobs import DEFAULT_FOLDERS, read_manifest
from ml_connector.formats.dxso.models import Ledger
from ml_connector.formats.dxso.writer import DOCUMENT_FILE, with_folder_name

__all__ = [
    "DxsoOutcome",
    "finalize",
    "open_job",
    "poll_once",
    "read_outcome",
    "received_files",
    "upload_next",
]

NEW_BELEGE_ONLINE = "#DCO01301"


@dataclass(frozen=True, slots=True)
class DxsoOutcome:
    """A finished job: status, protocol (to store), and the row-level verdict."""

    status: DxsoStatus
    protocol: tuple[ProtocolEntry, ...]

    @property
    def accepted(self) -> bool:
        """Entries were imported (2, or 4 for the files without errors)."""
        return self.status in (DxsoStatus.SUCCEEDED, DxsoStatus.PARTIALLY_PROCESSED)

    def failed_files(self) -> frozenset[str]:
        """Files the protocol names with an error (status 3: all; 4: these only)."""
        return frozenset(e.filename for e in self.protocol if e.type == "error" and e.filename)

    def entry_outcomes(self, folder: Path) -> dict[int, str | None]:
        """Per entry position (within the job): ``None`` when DATEV imported it, else why
        not. Status 2 imports all, 4 all but the entries of the files with an error, any
        other status none (3 not processed, 5 cancelled, 6 cancellation refused: reported,
        to be checked in Belege online)."""
        files = read_manifest(folder)["files"]
        assert isinstance(files, list)
        failed = self.failed_files()
        outcomes: dict[int, str | None] = {}
        for item in files:
            for position in item.get("entries", []):
                if self.status is DxsoStatus.SUCCEEDED or (
                    self.status is DxsoStatus.PARTIALLY_PROCESSED and item["name"] not in failed
                ):
                    outcomes[int(position)] = None
                else:
                    outcomes[int(position)] = self._reason(str(item["name"]))
        return outcomes

    def _reason(self, name: str) -> str:
        texts = [e.text or "" for e in self.protocol if e.type == "error" and e.filename == name]
        return "; ".join(t for t in texts if t) or self.summary()

    def summary(self) -> str:
        """One line for the run report."""
        errors = [e for e in self.protocol if e.type == "error"]
        text = f"DATEV dxso status {int(self.status)} ({self.status.name.lower()})"
        if errors:
            text += ": " + "; ".join(f"{e.filename or 'job'}: {e.text}" for e in errors[:5])
        return text


def _manifest_files(folder: Path) -> list[str]:
    files = read_manifest(folder)["files"]
    assert isinstance(files, list)
    return [str(item["name"]) for item in files]


async def open_job(datev: DatevClient, client_id: str, folder: Path) -> DxsoJob:
    """Create the job for the folder's ledger and month.

    ``#DCO01301`` (the client uses the new Belege online) stops with what to use instead.
    """
    manifest = read_manifest(folder)
    ledger = Ledger(str(manifest["ledger"]))
    try:
        job = await datev.create_dxso_job(
            client_id,
            import_type=str(manifest["import_type"]),
            accounting_month=str(manifest["accounting_month"]),
        )
    except (DatevRejectedError, DatevConfigurationError) as exc:
        problem = exc.problem
        if problem is not None and problem.code == NEW_BELEGE_ONLINE:
            raise ConfigurationError(
                f"DATEV client {client_id} uses the new Belege online, which no longer "
                "accepts DXSO booking suggestions (Rechnungsdatenservice 1.0, #DCO01301)",
                hint='set channel = "extf" for this pipeline to post booking batches instead',
            ) from None
        raise
    names = job.cash_ledger_names if ledger is Ledger.CASH else job.ledger_folder_names
    return DxsoJob(job.id, names[0] if names else DEFAULT_FOLDERS[ledger])


async def received_files(datev: DatevClient, client_id: str, job_id: str) -> frozenset[str]:
    """Files the open job already received, from its protocol."""
    entries = await datev.dxso_protocol(client_id, job_id)
    return frozenset(e.filename for e in entries if e.filename and e.type != "error")


def _content(folder: Path, name: str, opened: DxsoJob) -> bytes:
    content = (folder / name).read_bytes()
    return with_folder_name(content, opened.folder_name) if name == DOCUMENT_FILE else content


def _media_type(folder: Path, name: str) -> str:
    for item in json.loads((folder / "manifest.json").read_text("utf-8"))["files"]:
        if item["name"] == name:
            return str(item["media_type"])
    raise KeyError(name)


async def upload_next(
    datev: DatevClient,
    client_id: str,
    folder: Path,
    opened: DxsoJob,
    uploaded: frozenset[str],
) -> str | None:
    """Upload the first file of the manifest not in ``uploaded``; its name, or ``None``
    when every file is in. ``uploaded`` is what the engine recorded plus
    :func:`received_files` after a crash."""
    for name in _manifest_files(folder):
        if name in uploaded:
            continue
        await datev.upload_dxso_file(
            client_id,
            opened.job_id,
            name,
            _content(folder, name, opened),
            media_type=_media_type(folder, name),
        )
        return name
    return None


async def finalize(datev: DatevClient, client_id: str, job_id: str) -> None:
    """Mark the job ready; an already finalized job (a retry after a lost answer) is fine."""
    status = await datev.get_dxso_job_status(client_id, job_id)
    if status.status is DxsoStatus.OPEN:
        await datev.finalize_dxso_job(client_id, job_id)


async def poll_once(datev: DatevClient, client_id: str, job_id: str) -> DxsoStatus:
    """One status read."""
    return (await datev.get_dxso_job_status(client_id, job_id)).status


async def read_outcome(
    datev: DatevClient, client_id: str, job_id: str, status: DxsoStatus
) -> DxsoOutcome:
    """The finished job's protocol entries with its status."""
    entries = await datev.dxso_protocol(client_id, job_id)
    return DxsoOutcome(status, tuple(entries))
