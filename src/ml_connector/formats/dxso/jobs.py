"""Write the dxso jobs of one ledger and month into a directory, one folder per job.

Each folder holds the job's files exactly as they are uploaded (ledger XMLs, receipts,
``document.xml``) and ``manifest.json`` with the upload order, media types, digests, the
entry count and their signed total; each data file lists the positions (within the job)
of its entries.
Jobs split at 5,000 entries (:func:`~.writer.split_jobs`).  The ledger folder name in
``document.xml`` is DATEV's default until the job creation answers with the client's own
(:data:`DEFAULT_FOLDERS`); the run rewrites ``document.xml`` then.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ml_connector.formats.dxso.models import DxsoFile, Ledger, LedgerEntry, Receipt
from ml_connector.formats.dxso.writer import build_package, split_jobs

__all__ = [
    "DEFAULT_FOLDERS",
    "JOB_PREFIX",
    "MANIFEST",
    "DxsoJobFolder",
    "read_manifest",
    "remove_stale_jobs",
    "write_jobs",
]

MANIFEST = "manifest.json"
JOB_PREFIX = "DXSO_"
#: DATEV's example folder names (dxso-jobs spec, DXSoJob example; Kasse for cash)
DEFAULT_FOLDERS = {
    Ledger.ACCOUNTS_RECEIVABLE: "Ausgangsrechnungen",
    Ledger.ACCOUNTS_PAYABLE: "Eingangsrechnungen",
    Ledger.CASH: "Kasse",
}


@dataclass(frozen=True, slots=True)
class DxsoJobFolder:
    """One prepared job: its folder, entry count, bytes and a digest over its files."""

    path: Path
    part: int
    entries: int
    size: int
    digest: str
    amount: str
    """The signed total of the job's entries (consolidated amounts summed)."""


def remove_stale_jobs(out_dir: Path) -> None:
    """Remove job folders of an earlier attempt in ``out_dir`` (they are rewritten)."""
    for stale in out_dir.glob(f"{JOB_PREFIX}*"):
        if stale.is_dir():
            shutil.rmtree(stale)


def _digest(files: Sequence[DxsoFile]) -> str:
    digest = hashlib.sha256()
    for file in files:
        if file.name != "document.xml":  # carries the creation time and folder name
            digest.update(file.name.encode() + b"\0" + file.content)
    return digest.hexdigest()[:16]


def write_jobs(
    entries: Sequence[LedgerEntry],
    ledger: Ledger,
    out_dir: Path,
    *,
    period: str,
    created: datetime,
    generator_info: str,
    receipts: Sequence[Receipt] = (),
    folder_name: str | None = None,
) -> list[DxsoJobFolder]:
    """Write every job of ``entries`` (one ledger, one month ``period``) below ``out_dir``."""
    folders: list[DxsoJobFolder] = []
    for part, positions in enumerate(split_jobs(entries), start=1):
        chunk = [entries[i] for i in positions]
        invoices = {e.invoice_id for e in chunk}
        mine = [
            r for r in receipts if r.invoice_id in invoices or (r.invoice_id is None and part == 1)
        ]
        files = build_package(
            chunk,
            ledger,
            period=period,
            folder_name=folder_name or DEFAULT_FOLDERS[ledger],
            created=created,
            generator_info=generator_info,
            receipts=mine,
        )
        digest = _digest(files)
        folder = out_dir / f"{JOB_PREFIX}{ledger.short}_{period}_{part:02d}_{digest}"
        folder.mkdir(parents=True)
        for file in files:
            (folder / file.name).write_bytes(file.content)
        amount = sum((e.amount for e in chunk), start=chunk[0].amount * 0)
        manifest = {
            "ledger": ledger.value,
            "import_type": ledger.import_type,
            "accounting_month": period,
            "entries": len(chunk),
            "amount": f"{amount:.2f}",
            "files": [
                {
                    "name": f.name,
                    "media_type": f.media_type,
                    "sha256": hashlib.sha256(f.content).hexdigest(),
                    "entries": list(f.entries),
                }
                for f in files
            ],
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        size = sum(len(f.content) for f in files)
        folders.append(DxsoJobFolder(folder, part, len(chunk), size, digest, f"{amount:.2f}"))
    return folders


def read_manifest(folder: Path) -> dict[str, object]:
    """The ``manifest.json`` of a job folder."""
    data: dict[str, object] = json.loads((folder / MANIFEST).read_text("utf-8"))
    return data
