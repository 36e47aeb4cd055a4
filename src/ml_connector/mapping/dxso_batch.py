"""The DXSO side of a streaming run: spill the rows' entries, write the job folders.

:class:`~ml_connector.mapping.stream.RunStream` keeps one :class:`DxsoBatch` for a
``channel = "dxso"`` pipeline.  Entries are spilled in the order of the booking lines, so
reversals (a changed or gone row of an earlier run: the entry of the reversed line, sign
flipped, i.e. a credit note) come first and the row positions of the run's records map onto
the jobs as they do onto EXTF files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ml_connector.formats.dxso.jobs import remove_stale_jobs, write_jobs
from ml_connector.formats.dxso.models import LedgerEntry, Receipt, entry_from_json, entry_to_json
from ml_connector.formats.extf.models import BatchHeader, BookingLine
from ml_connector.formats.extf.split import WrittenFile
from ml_connector.mapping.dxso import CompiledDxso, DxsoEntryMaker
from ml_connector.mapping.scratch import JsonSpill

__all__ = ["DxsoBatch"]


class DxsoBatch:
    """Entries of one run's new bookings, and the writer of its jobs."""

    def __init__(self, compiled: CompiledDxso, currency: str, scratch: Path) -> None:
        self.compiled = compiled
        self.maker = DxsoEntryMaker(compiled, currency, "truncate")
        self._entries = JsonSpill(scratch / "dxso.jsonl")

    def add(self, entry: LedgerEntry) -> None:
        """Spill the entry of one new booking (in booking order)."""
        self._entries.append(entry_to_json(entry))

    def write(
        self,
        reversals: Iterable[BookingLine],
        out: Path,
        *,
        header: BatchHeader,
        generator_info: str,
        receipts: Sequence[Receipt] = (),
    ) -> list[WrittenFile]:
        """Write the job folders into ``out``; one WrittenFile per job (path = folder).
        ``receipts`` (PDF or images) are stapled to their invoice's document."""
        remove_stale_jobs(out)
        entries = [self.maker.from_line(line) for line in reversals]
        entries += [entry_from_json(item) for item in self._entries]
        if not entries:
            return []
        jobs = write_jobs(
            entries,
            self.compiled.ledger,
            out,
            period=f"{header.datum_vom:%Y-%m}",
            created=header.erzeugt_am.replace(tzinfo=None),
            generator_info=generator_info,
            receipts=receipts,
        )
        return [
            WrittenFile(job.path, header, job.part, job.entries, job.size, job.digest)
            for job in jobs
        ]

    def close(self) -> None:
        """Remove the spill."""
        self._entries.close()
