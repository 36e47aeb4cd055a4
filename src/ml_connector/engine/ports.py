"""The seam between the sync engine and the parts that talk to Looker and DATEV.

Nothing here imports the durable-execution library: the Looker client, the mapping,
the EXTF writer and the DATEV client implement :class:`RunSteps` with plain async
functions, and the engine (:mod:`ml_connector.engine.runtime`) calls them inside
durable steps. Everything a step returns is a small frozen dataclass, because the
engine checkpoints step results.

Idempotency contract:

* :meth:`RunSteps.prepare` is deterministic for a :class:`RunSpec`: the same
  filenames, ``Reference-Id`` values and record keys every time it runs (it may
  run again after a crash, and a replay runs it again).
* :meth:`RunSteps.find_submission` answers "did DATEV already get this file?" by
  filename / ``Reference-Id``. The engine calls it before every
  :meth:`RunSteps.submit`, so a crash between "file submitted" and "job id
  stored" never submits twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ml_connector.canonical import canonical_json
from ml_connector.datev.api.models import ProtocolEntry
from ml_connector.errors import DataError, RetriableError

if TYPE_CHECKING:  # schedules (cron, holidays) are for workers, not every run; the
    # HTTP clients for the steps that hold them, not for the seam's data types
    from ml_connector.http.clients import ClientPool
    from ml_connector.schedule.rules import ScheduleRule

__all__ = [
    "DatevJobPendingError",
    "DocumentSteps",
    "DxsoJob",
    "DxsoResult",
    "DxsoSteps",
    "JobStatus",
    "PooledSteps",
    "Prepared",
    "PreparedDocument",
    "PreparedFile",
    "RowEventText",
    "RowRecord",
    "RunBlockedError",
    "RunOutcome",
    "RunSpec",
    "RunSteps",
    "ScheduledPipeline",
    "iter_records",
    "iter_row_events",
    "row_event_json",
    "row_event_text",
    "write_records",
]

JobState = Literal["pending", "succeeded", "failed"]
RunState = Literal["queued", "running", "succeeded", "partial", "failed", "needs_user"]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What to run: one pipeline, one period, for one customer's DATEV client.

    ``datev_client`` (e.g. ``"455148-10001"``, consultant and client number) is the
    partition key: at most one run per DATEV client at a time, and one audit chain.
    ``period`` is ``YYYY-MM``.
    """

    pipeline: str
    customer: str
    datev_client: str
    period: str
    allow_empty: bool = False
    """Whether Looker may return no rows for a period with posted bookings (every
    posted booking is then reversed); off, such a run is blocked."""


@dataclass(frozen=True, slots=True)
class PreparedFile:
    """A file written to disk, ready to submit (one EXTF batch or DXSO package)."""

    part: int
    path: str
    filename: str
    sha256: str
    reference_id: str
    lines: int


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A supporting document written to disk, to upload before the files are submitted.

    ``document_id`` is deterministic (customer, pipeline, period, source; a per-row
    document: customer and the file's SHA-256), so an upload repeated after a crash or
    in a replay names the same document and DATEV answers "already there".
    ``row_keys`` are the rows whose booking lines link it (EXTF ``Beleglink``);
    ``None``: every booking line of the run's files.
    """

    document_id: str
    filename: str
    path: str
    sha256: str
    document_type: str
    source: str
    size: int
    row_keys: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """Result of extract + map + validate + tie-out.

    ``records_path`` is a JSON-lines file of :class:`RowRecord` (written with
    :func:`write_records`): one per Looker row, accepted or rejected. Keeping the
    rows on disk keeps checkpoints small for runs of millions of rows.
    """

    files: tuple[PreparedFile, ...]
    records_path: str
    rows_read: int
    rows_mapped: int
    rows_rejected: int
    blocked: str | None = None
    """Why nothing may be sent (tie-out, ``reject_batch``); ``files`` is then empty."""
    warnings: tuple[str, ...] = ()
    """What a successful run must still tell (e.g. Looker returned no rows)."""
    unassigned_path: str | None = None
    """JSON lines of :class:`RowRecord`: the pipeline's rows with no readable period
    (recorded once per key and content, whichever run finds them first)."""
    rows_unassigned: int = 0
    data_changes: Mapping[str, int] = field(default_factory=dict)
    """Counts per data-change kind (texts shortened, ...) and document-number collisions."""
    money: Mapping[str, Any] = field(default_factory=dict)
    """Debit and credit per account and held amounts by reason (``report.json`` ``money``)."""
    documents: tuple[PreparedDocument, ...] = ()
    """Supporting documents uploaded (in their own steps) before ``files`` are submitted."""


class RunBlockedError(DataError):
    """The batch may not be sent (tie-out or rejections); the report says why.

    ``prepared`` is what was read and decided anyway (no files, ``blocked`` set): the
    engine records its rows and counts before it ends the run as failed.
    """

    def __init__(
        self,
        message: str,
        *,
        prepared: Prepared,
        hint: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, location=location)
        self.prepared = prepared


class DatevJobPendingError(RetriableError):
    """A DATEV job of an earlier run of the period has not ended within the polling
    budget: a replay waits for it (and posts nothing) rather than risk a second posting."""


@dataclass(frozen=True, slots=True)
class RowRecord:
    """What became of one Looker row.

    ``booking`` is the booking line it became (``None`` when rejected, then
    ``rejection`` says why); ``filename`` and ``line`` (1-based data line) say where
    it went. ``row_key`` is the stable record key used for restatements.
    """

    row_key: str
    source: Mapping[str, Any]
    booking: Mapping[str, Any] | None = None
    rejection: str | None = None
    filename: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class JobStatus:
    """DATEV's answer about a job; ``retry_after`` is its wish for the next poll, in s."""

    state: JobState
    detail: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended; handed to the notifier and returned by the workflow."""

    run_id: str
    spec: RunSpec
    state: RunState
    rows_read: int = 0
    rows_mapped: int = 0
    rows_rejected: int = 0
    files: tuple[str, ...] = ()
    jobs: Mapping[str, str] = field(default_factory=dict)
    jobs_succeeded: int = 0
    jobs_failed: int = 0
    error: str | None = None
    error_kind: str | None = None
    replay_of: str | None = None
    warnings: tuple[str, ...] = ()
    rows_unassigned: int = 0
    #: the DATEV client's audit chain head after the run (an anchor document, see
    #: :func:`ml_connector.store.audit.anchor`); keep it to prove later that nothing
    #: recorded up to it was removed or changed
    audit_anchor: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ScheduledPipeline:
    """A pipeline the worker runs on a schedule (see :mod:`ml_connector.schedule`)."""

    pipeline: str
    customer: str
    datev_client: str
    rule: ScheduleRule


@runtime_checkable
class RunSteps(Protocol):
    """The work of a run, supplied by the Looker / mapping / EXTF / DATEV side."""

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        """Extract, map, validate and tie out; write the files under ``workdir``.

        Deterministic for ``spec``. Raise :class:`~ml_connector.errors.DataError`
        (or a tie-out failure) to fail the run, :class:`~ml_connector.errors.NeedsUserError`
        when a person must act.
        """
        ...

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        """The DATEV job id of an earlier submission of ``file`` that is pending or
        succeeded, else ``None`` (a failed earlier job counts as not submitted)."""
        ...

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        """Submit ``file`` (with its ``Reference-Id``); return the DATEV job id."""
        ...

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        """One status request for ``job_id``."""
        ...


@runtime_checkable
class DocumentSteps(Protocol):
    """Steps that also upload supporting documents (needed when a run has any)."""

    async def upload_document(self, spec: RunSpec, document: PreparedDocument) -> bool:
        """Upload ``document`` under its id; ``False`` when DATEV had it already."""
        ...


@dataclass(frozen=True, slots=True)
class DxsoJob:
    """An open dxso job: its id and the ledger folder name DATEV answered on creation."""

    job_id: str
    folder_name: str


@dataclass(frozen=True, slots=True)
class DxsoResult:
    """A finished dxso job: its outcome, DATEV's status (2 to 6) and protocol.

    ``status`` is ``succeeded`` when entries were imported (2, or 4 for some), else
    ``failed`` (3, 5, 6, or 4 with none). ``refused`` lists the entries a partly
    processed job (4) did not import: (1-based line within the job, DATEV's reason).
    """

    status: JobStatus
    code: int
    protocol: tuple[ProtocolEntry, ...]
    refused: tuple[tuple[int, str], ...] = ()


@runtime_checkable
class DxsoSteps(Protocol):
    """Steps that send dxso job folders (a ``channel = "dxso"`` pipeline), one DATEV call
    each: the engine checkpoints between them. A :class:`PreparedFile` is then a job
    folder (its ``filename`` the folder's name, ``lines`` its entries)."""

    async def dxso_create(self, spec: RunSpec, file: PreparedFile) -> DxsoJob:
        """Open the job for the folder's ledger and month."""
        ...

    async def dxso_received(self, spec: RunSpec, job_id: str) -> frozenset[str]:
        """The files the open job has received (read from its protocol)."""
        ...

    async def dxso_upload(
        self, spec: RunSpec, file: PreparedFile, job: DxsoJob, received: frozenset[str]
    ) -> str | None:
        """Upload the folder's next file not in ``received``; its name, ``None`` when
        all are in (``document.xml`` goes last)."""
        ...

    async def dxso_finalize(self, spec: RunSpec, job_id: str) -> None:
        """Mark the job ready (harmless when it is no longer open)."""
        ...

    async def dxso_poll(self, spec: RunSpec, job_id: str) -> JobStatus:
        """One status read: ``pending`` while open or processing."""
        ...

    async def dxso_result(self, spec: RunSpec, file: PreparedFile, job_id: str) -> DxsoResult:
        """The finished job's outcome and protocol."""
        ...

    async def dxso_cancel(self, spec: RunSpec, job_id: str) -> bool:
        """Delete the job if it is still open; whether it was."""
        ...


@runtime_checkable
class PooledSteps(Protocol):
    """Steps that keep their HTTP clients in the engine's pool (one per process,
    closed when the engine shuts down) instead of building them per step."""

    def use_client_pool(self, pool: ClientPool | None) -> None:
        """Send through ``pool`` from now on (``None``: clients per step again)."""
        ...


def _record_to_json(record: RowRecord) -> str:
    return canonical_json(
        {
            "row_key": record.row_key,
            "source": dict(record.source),
            "booking": None if record.booking is None else dict(record.booking),
            "rejection": record.rejection,
            "filename": record.filename,
            "line": record.line,
        }
    )


def write_records(path: Path, records: Iterable[RowRecord]) -> int:
    """Write ``records`` as JSON lines to ``path`` (replacing it); returns the count.

    Decimals are written as strings, so amounts keep their exact digits.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(_record_to_json(record) + "\n")
            count += 1
    tmp.replace(path)
    return count


def iter_records(path: Path) -> Iterator[RowRecord]:
    """Stream the records written by :func:`write_records`."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                data = json.loads(line)
                yield RowRecord(**data)


@dataclass(frozen=True, slots=True)
class RowEventText:
    """A row record as its audit event needs it: key, file and the payload's canonical
    JSON (``{"booking":..,"line":..,"rejection":..,"source":..}``)."""

    row_key: str
    filename: str | None
    payload_json: str


_DECODE = json.JSONDecoder().raw_decode
_BOOKING, _FILENAME, _LINE = '{"booking":', ',"filename":', ',"line":'
_ROW_KEY, _SOURCE = ',"row_key":', ',"source":'


def row_event_text(line: str) -> RowEventText:
    """The :class:`RowEventText` of one line of a records file, cut out of its text.

    A record's canonical JSON is ``{"booking":B,"filename":F,"line":L,"rejection":R,
    "row_key":K,"source":S}`` (keys sorted); without ``filename`` and ``row_key`` it is
    the payload's canonical JSON, so neither the booking nor the Looker row is decoded
    and encoded again. ``,"filename":`` is found first after the booking (whose keys
    are the product's, and a JSON string cannot hold an unescaped quote); a line of any
    other shape is decoded and encoded instead.
    """
    text = line.rstrip("\n")
    cut_f = text.find(_FILENAME)
    cut_k = text.find(_ROW_KEY, cut_f + 1)
    if text.startswith(_BOOKING) and text.endswith("}") and 0 < cut_f < cut_k:
        filename, end_f = _DECODE(text, cut_f + len(_FILENAME))
        row_key, end_k = _DECODE(text, cut_k + len(_ROW_KEY))
        if (
            isinstance(row_key, str)
            and (filename is None or isinstance(filename, str))
            and text.startswith(_LINE, end_f)
            and text.startswith(_SOURCE, end_k)
        ):
            return RowEventText(row_key, filename, text[:cut_f] + text[end_f:cut_k] + text[end_k:])
    record = RowRecord(**json.loads(text))
    return RowEventText(record.row_key, record.filename, row_event_json(record))


def row_event_json(record: RowRecord) -> str:
    """The canonical JSON of the audit payload of ``record``'s ``row`` event."""
    return canonical_json(
        {
            "source": dict(record.source),
            "booking": None if record.booking is None else dict(record.booking),
            "rejection": record.rejection,
            "line": record.line,
        }
    )


def iter_row_events(path: Path) -> Iterator[RowEventText]:
    """Stream the records of ``path`` (from :func:`write_records`) as row event texts."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield row_event_text(line)
