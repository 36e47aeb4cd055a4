"""The real work of a run, for the engine: Looker -> mapping -> EXTF files or DXSO jobs -> DATEV.

:class:`LiveRunSteps` implements :class:`~ml_connector.engine.ports.RunSteps`:

* ``prepare`` loads the configuration, loads what earlier runs posted for the period
  (restatements) into the run's disk index, streams the period's rows from the
  customer's Looker through the mapping (one partition at a time), fetches the
  tie-out totals, and writes the EXTF file(s), the report and the row records under
  ``workdir``; memory stays flat in the number of rows
  (:class:`~ml_connector.mapping.stream.RunStream`). It then asks Looker for the
  pipeline's rows with an empty or unreadable period (no month reads them; they are
  held as ``no_period``). A blocked run (tie-out, rejections under ``reject_batch``)
  raises :class:`RunBlockedError` with the report on disk and the row records written.
* ``dry_run`` is ``prepare`` stopped before sending: the same files, report and row
  records, written into a directory of the caller's choice, and a blocked run is
  returned (with its report) instead of raised; with ``limit`` it reads only the
  first rows of the period (``mapping preview``).
* ``find_submission`` asks DATEV's job list for the file's name (which carries a
  digest of the booking lines); a failed earlier job counts as not submitted.
* ``submit`` uploads with the file's deterministic ``Reference-Id``.
* ``poll`` reads the job once.
* ``dxso_create``, ``dxso_received``, ``dxso_upload``, ``dxso_finalize``, ``dxso_poll``,
  ``dxso_result`` and ``dxso_cancel`` (the engine's ``DxsoSteps``) send a dxso pipeline's
  job folders, one DATEV call each, through :mod:`ml_connector.runs.dxso_send`.

Determinism: file names come from the EXTF writer (client, period, part, pipeline,
digest of the lines); the ``Reference-Id`` is derived from the file name; the
header's creation time is fixed on the first prepare in ``workdir`` (a re-prepare
after a crash writes byte-identical files). The rows come from the customer's Looker
unless another :class:`~ml_connector.runs.sources.RowSource` is given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from ml_connector.config import LoadedConfig, find_config, load_config
from ml_connector.config.access import looker_base_url
from ml_connector.config.models import RenderedDocument
from ml_connector.datev.api.models import DxsoStatus
from ml_connector.datev.client import DatevClient
from ml_connector.engine.ports import (
    DxsoJob,
    DxsoResult,
    JobStatus,
    Prepared,
    PreparedDocument,
    PreparedFile,
    RunBlockedError,
    RunSpec,
)
from ml_connector.errors import ConfigurationError
from ml_connector.formats.dxso.jobs import MANIFEST
from ml_connector.http.clients import ClientPool
from ml_connector.mapping.period import Period
from ml_connector.mapping.stream import UNASSIGNED_FILE, RunStream, StreamedRun
from ml_connector.runs import dxso_send
from ml_connector.runs.connect import (
    DatevConnections,
    SyncSettings,
    looker_credentials,
    open_connections,
    open_sync_store,
)
from ml_connector.runs.documents import (
    DOCUMENTS_DIR,
    beleglink,
    linked_config,
    planned_document,
    read_manifest,
    rendered_document,
    store_document,
    write_manifest,
)
from ml_connector.runs.extract import (
    UnassignedRows,
    fetch_source,
    fetch_unassigned,
    iter_source_batches,
    looker_client,
    render_dashboard,
)
from ml_connector.runs.names import file_sha256, reference_id_for
from ml_connector.runs.records import FileSlice, record_lines, write_record_lines
from ml_connector.runs.row_documents import LookerFiles, RowDocumentLinks, row_document_links
from ml_connector.runs.sources import RowSource
from ml_connector.store.posted import iter_latest
from ml_connector.store.runs import run_periods

log = logging.getLogger(__name__)

__all__ = ["RECORDS_FILE", "LiveRunSteps", "RunBlockedError", "datev_client_id"]

#: the row records of a prepared run, in its workdir
RECORDS_FILE = "records.jsonl"
_STAMP_FILE = "prepared-at.txt"


def datev_client_id(config: LoadedConfig, pipeline: str) -> str:
    """``<Berater>-<Mandant>`` of the pipeline's customer: the engine's partition key."""
    return config.customer_of(pipeline).datev.client_id


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(workdir: Path, clock: Callable[[], datetime] = _now) -> datetime:
    """The header's creation time: fixed on the first prepare in ``workdir``."""
    path = workdir / _STAMP_FILE
    if path.exists():
        return datetime.fromisoformat(path.read_text("utf-8").strip())
    now = clock().replace(microsecond=0)
    path.write_text(now.isoformat() + "\n", encoding="utf-8")
    return now


def _restamp(out_dir: Path) -> None:
    """A dry run starts afresh: a new header stamp, documents rendered again."""
    (out_dir / _STAMP_FILE).unlink(missing_ok=True)
    for old in (out_dir / DOCUMENTS_DIR).glob("*"):
        old.unlink()


def _add(run: RunStream, batch: list[dict[str, object]], limit: int | None) -> bool:
    """Add ``batch`` to ``run``; whether ``limit`` rows of the period are in."""
    if limit is None:
        run.add_many(batch)
        return False
    for row in batch:
        if run.rows_total - run.rows_other >= limit:
            return True
        run.add(row)
    return run.rows_total - run.rows_other >= limit


def _prepared(done: StreamedRun, workdir: Path) -> Prepared:
    facts = done.facts
    files = tuple(
        PreparedFile(
            part=number,
            path=str(item.path),
            filename=item.path.name,
            sha256=file_sha256(item.path / MANIFEST if item.path.is_dir() else item.path),
            reference_id=reference_id_for(item.path.name),
            lines=item.bookings,
        )
        for number, item in enumerate(done.files, start=1)
    )
    unassigned = workdir / UNASSIGNED_FILE
    return Prepared(
        files=files,
        records_path=str(workdir / RECORDS_FILE),
        rows_read=facts.rows_total,
        rows_mapped=facts.rows_mapped,
        rows_rejected=facts.rows_rejected,
        warnings=facts.completeness.warnings,
        unassigned_path=str(unassigned) if unassigned.exists() else None,
        rows_unassigned=facts.completeness.rows_unassigned,
        data_changes=facts.data_changes.counted(),
        money=facts.money.report(),
        documents=read_manifest(workdir),
    )


#: dxso statuses with imported entries (2 all; 4 all but the files with an error)
_IMPORTED = (DxsoStatus.SUCCEEDED, DxsoStatus.PARTIALLY_PROCESSED)


def dxso_result(done: dxso_send.DxsoOutcome, folder: Path) -> DxsoResult:
    """The engine's view of a finished dxso job: imported or not, and for a partly
    processed one (4) the entries DATEV did not import, by line, with its reason."""
    verdicts = done.entry_outcomes(folder)
    refused = tuple(
        (position + 1, why) for position, why in sorted(verdicts.items()) if why is not None
    )
    imported = len(verdicts) - len(refused)
    ok = done.accepted and imported > 0
    status = JobStatus("succeeded" if ok else "failed", detail=done.summary())
    partial = done.status is DxsoStatus.PARTIALLY_PROCESSED and imported
    return DxsoResult(status, int(done.status), done.protocol, refused if partial else ())


class LiveRunSteps:
    """:class:`~ml_connector.engine.ports.RunSteps` against Looker and DATEV."""

    def __init__(
        self,
        settings: SyncSettings,
        *,
        store: Engine | None = None,
        connections: DatevConnections | None = None,
        progress: Callable[[str], None] | None = None,
        progress_interval: float = 2.0,
        source: RowSource | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.settings = settings
        self.store = store or open_sync_store(settings)
        self.connections = connections or open_connections(settings, self.store)
        #: called with a line such as "gl-monthly 2026-10: 150,000 rows extracted and
        #: mapped" at most every ``progress_interval`` seconds while rows stream in
        self.progress = progress
        self.progress_interval = progress_interval
        #: where the rows come from (default: these steps, i.e. the customer's Looker)
        self.source: RowSource = source or self
        #: the header's creation time of a first prepare in a workdir
        self.clock = clock

    def __repr__(self) -> str:
        return f"LiveRunSteps(data_dir={str(self.settings.data_dir)!r})"

    # ------------------------------------------------------------ configuration

    def config(self) -> LoadedConfig:
        """The configuration, read again on each call (a worker picks up edits)."""
        return load_config(find_config(self.settings.config_path))

    def spec_for(self, pipeline: str, period: str) -> RunSpec:
        """The :class:`RunSpec` of ``pipeline`` for ``period`` (``YYYY-MM``)."""
        config = self.config()
        if pipeline not in config.model.pipelines:
            known = ", ".join(sorted(config.model.pipelines)) or "(none)"
            raise ConfigurationError(f"no pipeline {pipeline!r}", hint=f"use one of: {known}")
        Period.parse(period)
        customer = config.pipeline(pipeline).customer
        return RunSpec(pipeline, customer, datev_client_id(config, pipeline), period)

    def _looker_url(self, config: LoadedConfig, spec: RunSpec) -> str:
        """Where this customer's Looker key may go (an override for emulators only)."""
        customer = config.model.customers[spec.customer]
        return looker_base_url(spec.customer, customer, self.settings.looker_url)

    @asynccontextmanager
    async def _datev(self, spec: RunSpec) -> AsyncIterator[DatevClient]:
        config = await asyncio.to_thread(self.config)
        customer = config.model.customers.get(spec.customer)
        if customer is None:
            raise ConfigurationError(f"no customer {spec.customer!r} in {config.path}")
        async with self.connections.client(spec.customer, customer) as client:
            yield client

    # ------------------------------------------------------------ prepare

    async def fetch(
        self, config: LoadedConfig, spec: RunSpec
    ) -> tuple[list[dict[str, object]], list[dict[str, object]] | None]:
        """The period's detail rows and, when configured, the tie-out totals."""
        pipeline = config.pipeline(spec.pipeline)
        connection = config.customer_of(spec.pipeline).looker
        credentials = await asyncio.to_thread(
            looker_credentials, connection, self.connections.connections.credentials
        )
        period = Period.parse(spec.period)
        url = self._looker_url(config, spec)
        rows = await fetch_source(
            connection, pipeline.source, period, base_url=url, credentials=credentials
        )
        totals = None
        if pipeline.tie_out.totals is not None:
            totals = await fetch_source(
                connection, pipeline.tie_out.totals, period, base_url=url, credentials=credentials
            )
        return rows, totals

    def _check_spec(self, config: LoadedConfig, spec: RunSpec) -> None:
        if spec.pipeline not in config.model.pipelines:
            raise ConfigurationError(f"no pipeline {spec.pipeline!r} in {config.path}")
        customer = config.pipeline(spec.pipeline).customer
        client = datev_client_id(config, spec.pipeline)
        if (customer, client) != (spec.customer, spec.datev_client):
            raise ConfigurationError(
                f"run {spec.pipeline} {spec.period} was queued for customer {spec.customer} "
                f"/ DATEV client {spec.datev_client}, the configuration now says "
                f"{customer} / {client}",
                hint="queue the run again after a configuration change",
            )
        if self.settings.looker_url is not None:
            self._looker_url(config, spec)  # refused before anything is written

    async def stream_rows(
        self, config: LoadedConfig, spec: RunSpec, *, limit: int | None = None
    ) -> AsyncGenerator[list[dict[str, object]], None]:
        """The period's detail rows as they arrive (one list per Looker partition);
        ``limit`` asks Looker for the first rows only."""
        pipeline = config.pipeline(spec.pipeline)
        connection = config.customer_of(spec.pipeline).looker
        credentials = await asyncio.to_thread(
            looker_credentials, connection, self.connections.connections.credentials
        )
        batches = iter_source_batches(
            connection,
            pipeline.source,
            Period.parse(spec.period),
            base_url=self._looker_url(config, spec),
            credentials=credentials,
            limit=limit,
        )
        async with aclosing(batches):
            async for batch in batches:
                yield batch

    async def totals(self, config: LoadedConfig, spec: RunSpec) -> list[dict[str, object]] | None:
        """The period's tie-out totals from Looker, ``None`` when none are configured."""
        pipeline = config.pipeline(spec.pipeline)
        if pipeline.tie_out.totals is None:
            return None
        connection = config.customer_of(spec.pipeline).looker
        credentials = await asyncio.to_thread(
            looker_credentials, connection, self.connections.connections.credentials
        )
        return await fetch_source(
            connection,
            pipeline.tie_out.totals,
            Period.parse(spec.period),
            base_url=self._looker_url(config, spec),
            credentials=credentials,
        )

    async def unassigned(self, config: LoadedConfig, spec: RunSpec) -> UnassignedRows:
        """The completeness check: the pipeline's rows no month's query returns."""
        pipeline = config.pipeline(spec.pipeline)
        if pipeline.source.period_field is None:
            return UnassignedRows([], 0)
        connection = config.customer_of(spec.pipeline).looker
        credentials = await asyncio.to_thread(
            looker_credentials, connection, self.connections.connections.credentials
        )
        return await fetch_unassigned(
            connection, pipeline.source, base_url=self.settings.looker_url, credentials=credentials
        )

    def _start(
        self, config: LoadedConfig, spec: RunSpec, workdir: Path, links: RowDocumentLinks | None
    ) -> RunStream:
        workdir.mkdir(parents=True, exist_ok=True)
        now = _stamp(workdir, self.clock)
        return RunStream(
            config,
            spec.pipeline,
            spec.period,
            workdir,
            now=now,
            trace_rows=True,
            allow_empty=spec.allow_empty,
            row_link=None if links is None else links.link,
            receipts=None if links is None else links.receipts,
        )

    def _note_uncovered(self, run: RunStream, spec: RunSpec, periods: Sequence[str]) -> None:
        """Tell ``run`` the earlier periods Looker has rows in that no run has taken on."""
        earlier = [p for p in periods if p < spec.period]
        if earlier:
            taken = run_periods(self.store, pipeline=spec.pipeline, datev_client=spec.datev_client)
            run.note_uncovered(p for p in earlier if p not in taken)

    def _load_posted(self, run: RunStream, spec: RunSpec) -> None:
        states = iter_latest(
            self.store, pipeline=spec.pipeline, datev_client=spec.datev_client, period=spec.period
        )
        run.load_posted((state.row_key, state.booking) for state in states)

    async def prepare(self, spec: RunSpec, workdir: Path) -> Prepared:
        """Extract, map, validate, tie out; write files, report and row records."""
        done = await self._prepare(spec, workdir)
        prepared = _prepared(done, workdir)
        if not done.ready:
            message = f"{spec.pipeline} {spec.period} is blocked: " + "; ".join(done.facts.blockers)
            raise RunBlockedError(
                message,
                prepared=replace(prepared, blocked=message),
                location=str(workdir / "report.txt"),
                hint="fix the data or the mapping, then replay the run",
            )
        return prepared

    async def dry_run(
        self, spec: RunSpec, out_dir: Path, *, limit: int | None = None
    ) -> StreamedRun:
        """:meth:`prepare` stopped before sending: the same files, report and row records
        in ``out_dir`` (stamped afresh), a blocked run returned rather than raised.
        ``limit`` stops the extract after that many rows of the period and skips the
        tie-out totals (a preview)."""
        await asyncio.to_thread(_restamp, out_dir)
        return await self._prepare(spec, out_dir, limit=limit)

    async def _documents(
        self, config: LoadedConfig, spec: RunSpec, workdir: Path
    ) -> tuple[LoadedConfig, list[PreparedDocument]]:
        """The run's documents, rendered and checked, and the configuration linking them.

        A document already rendered into ``workdir`` (a prepare again after a crash) is
        reused, so its bytes stay the same."""
        docs = config.pipeline(spec.pipeline).documents
        if docs is None or docs.render is None:
            return config, []
        plan = rendered_document(
            docs.render, customer=spec.customer, pipeline=spec.pipeline, period=spec.period
        )
        linked = linked_config(config, spec.pipeline, beleglink(plan.document_id))
        if self.source is not self:
            # rows from a file (a dry run offline): the link is the one a run sends,
            # the document is not rendered (that needs the customer's Looker)
            return linked, [planned_document(plan, docs.document_type)]
        path = workdir / DOCUMENTS_DIR / plan.filename
        if await asyncio.to_thread(path.exists):
            content = await asyncio.to_thread(path.read_bytes)
        else:
            content = await self._render(config, spec, docs.render, plan.filters)
        document = await asyncio.to_thread(
            store_document, workdir, plan, content, docs.document_type
        )
        return linked, [document]

    async def _row_links(
        self, config: LoadedConfig, spec: RunSpec, workdir: Path, files: list[LookerFiles]
    ) -> RowDocumentLinks | None:
        """The rows' own documents (URLs fetched from the customer's Looker, not offline)."""
        url = self._looker_url(config, spec)
        if self.source is self and config.pipeline(spec.pipeline).documents is not None:
            connection = config.customer_of(spec.pipeline).looker
            credentials = await asyncio.to_thread(
                looker_credentials, connection, self.connections.connections.credentials
            )
            files.append(LookerFiles(lambda: looker_client(connection, url, credentials)))
        return await asyncio.to_thread(
            row_document_links,
            config,
            spec.pipeline,
            spec.period,
            workdir,
            looker_base_url=url,
            fetch=files[0] if files else None,
        )

    async def _render(
        self,
        config: LoadedConfig,
        spec: RunSpec,
        render: RenderedDocument,
        filters: dict[str, str],
    ) -> bytes:
        from ml_connector.looker.render import DashboardRender

        connection = config.customer_of(spec.pipeline).looker
        credentials = await asyncio.to_thread(
            looker_credentials, connection, self.connections.connections.credentials
        )
        return await render_dashboard(
            connection,
            DashboardRender(
                render.dashboard_id,
                filters,
                width=render.width,
                height=render.height,
                paper_size=render.paper_size,
                landscape=render.landscape,
            ),
            base_url=self._looker_url(config, spec),
            credentials=credentials,
        )

    async def _prepare(
        self, spec: RunSpec, workdir: Path, *, limit: int | None = None
    ) -> StreamedRun:
        config = await asyncio.to_thread(self.config)
        self._check_spec(config, spec)
        await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
        config, documents = await self._documents(config, spec, workdir)
        looker_files: list[LookerFiles] = []
        links = await self._row_links(config, spec, workdir, looker_files)
        run = await asyncio.to_thread(self._start, config, spec, workdir, links)
        try:
            await asyncio.to_thread(self._load_posted, run, spec)
            batches = self.source.stream_rows(config, spec, limit=limit)
            last_report = time.monotonic()
            async with aclosing(batches):
                async for batch in batches:
                    if links is not None:
                        await links.resolve(batch)
                    full = await asyncio.to_thread(_add, run, batch, limit)
                    if full:
                        break
                    if time.monotonic() - last_report >= self.progress_interval:
                        self._report_rows(spec, run.rows_total, done=False)
                        last_report = time.monotonic()
            self._report_rows(spec, run.rows_total, done=True)
            if limit is None:
                found = await self.source.unassigned(config, spec)
                await asyncio.to_thread(run.add_unassigned, found.rows, found.count)
                await asyncio.to_thread(self._note_uncovered, run, spec, found.periods)
            totals = await self.source.totals(config, spec) if limit is None else None
            done = await asyncio.to_thread(self._write, run, workdir, totals)
            if links is not None:
                documents = await asyncio.to_thread(links.linked, run.traces(), limit is not None)
            # a document is uploaded only with booking lines that link it (a preview,
            # never sent and without tie-out totals, shows what its rows would link)
            sent = done.files or (limit is not None and documents)
            await asyncio.to_thread(write_manifest, workdir, documents if sent else [])
            return done
        finally:
            await asyncio.to_thread(run.close)
            for files in looker_files:
                await files.aclose()

    def _report_rows(self, spec: RunSpec, rows: int, *, done: bool) -> None:
        text = f"{spec.pipeline} {spec.period}: {rows:,} rows extracted and mapped" + (
            "" if done else " so far"
        )
        log.info(text, extra={"pipeline": spec.pipeline, "period": spec.period, "rows": rows})
        if self.progress is not None:
            self.progress(text)

    def _write(
        self, run: RunStream, workdir: Path, totals: list[dict[str, object]] | None
    ) -> StreamedRun:
        done = run.finish(totals)
        slices = [FileSlice(item.path.name, item.bookings) for item in done.files]
        write_record_lines(workdir / RECORDS_FILE, record_lines(run.trace_pieces(), slices))
        return done

    # ------------------------------------------------------------ DATEV

    async def find_submission(self, spec: RunSpec, file: PreparedFile) -> str | None:
        """The job of an earlier pending or successful submission of ``file``, else None."""
        async with self._datev(spec) as datev:
            job = await datev.find_extf_job(spec.datev_client, filename=file.filename)
        if job is None or job.result == "failed":
            return None
        return job.id

    async def submit(self, spec: RunSpec, file: PreparedFile) -> str:
        """Upload ``file`` with its ``Reference-Id``; the DATEV job id."""
        async with self._datev(spec) as datev:
            upload = await datev.upload_extf(
                spec.datev_client, Path(file.path), file.filename, reference_id=file.reference_id
            )
        return upload.job_id

    async def upload_document(self, spec: RunSpec, document: PreparedDocument) -> bool:
        """Upload ``document`` under its id (type checked against the client's types
        first); ``False`` when DATEV had that id already (409: a retry or a replay)."""
        content = await asyncio.to_thread(Path(document.path).read_bytes)
        async with self._datev(spec) as datev:
            await datev.require_service(spec.datev_client, "documents")
            uploaded = await datev.upload_document(
                spec.datev_client,
                content,
                document.filename,
                document_type=document.document_type,
                document_id=document.document_id,
            )
        return uploaded.created

    async def poll(self, spec: RunSpec, file: PreparedFile, job_id: str) -> JobStatus:
        """One read of the job."""
        async with self._datev(spec) as datev:
            job = await datev.get_extf_job(spec.datev_client, job_id)
        if not job.finished:
            return JobStatus("pending")
        if job.result == "succeeded":
            records = job.number_of_accounting_records
            detail = f"{records} bookings imported" if records is not None else None
            return JobStatus("succeeded", detail=detail)
        protocol = job.protocol()
        return JobStatus("failed", detail="; ".join(protocol) or f"DATEV job {job_id} failed")

    # ------------------------------------------------------------ DATEV dxso-jobs

    async def dxso_create(self, spec: RunSpec, file: PreparedFile) -> DxsoJob:
        """Open the job of a job folder (``#DCO01301``: a clear error to use EXTF)."""
        async with self._datev(spec) as datev:
            return await dxso_send.open_job(datev, spec.datev_client, Path(file.path))

    async def dxso_received(self, spec: RunSpec, job_id: str) -> frozenset[str]:
        """The files the open job has received, from its protocol."""
        async with self._datev(spec) as datev:
            return await dxso_send.received_files(datev, spec.datev_client, job_id)

    async def dxso_upload(
        self, spec: RunSpec, file: PreparedFile, job: DxsoJob, received: frozenset[str]
    ) -> str | None:
        """Upload the folder's next file not in ``received``."""
        async with self._datev(spec) as datev:
            return await dxso_send.upload_next(
                datev, spec.datev_client, Path(file.path), job, received
            )

    async def dxso_finalize(self, spec: RunSpec, job_id: str) -> None:
        """Mark the job ready (nothing when it is no longer open)."""
        async with self._datev(spec) as datev:
            await dxso_send.finalize(datev, spec.datev_client, job_id)

    async def dxso_poll(self, spec: RunSpec, job_id: str) -> JobStatus:
        """One read of the job: pending while open or processing."""
        async with self._datev(spec) as datev:
            status = await dxso_send.poll_once(datev, spec.datev_client, job_id)
        if not status.finished:
            return JobStatus("pending")
        return JobStatus("succeeded" if status in _IMPORTED else "failed")

    async def dxso_result(self, spec: RunSpec, file: PreparedFile, job_id: str) -> DxsoResult:
        """The finished job's status, protocol and per-entry verdict."""
        async with self._datev(spec) as datev:
            status = await dxso_send.poll_once(datev, spec.datev_client, job_id)
            done = await dxso_send.read_outcome(datev, spec.datev_client, job_id, status)
        return dxso_result(done, Path(file.path))

    async def dxso_cancel(self, spec: RunSpec, job_id: str) -> bool:
        """Delete the job if it is still open (status 0); whether it was."""
        async with self._datev(spec) as datev:
            if await dxso_send.poll_once(datev, spec.datev_client, job_id) is not DxsoStatus.OPEN:
                return False
            await datev.cancel_dxso_job(spec.datev_client, job_id)
        return True

    async def aclose(self) -> None:
        """Nothing to close: clients live for one step (kept for callers that close)."""

    def use_client_pool(self, pool: ClientPool | None) -> None:
        """Keep the DATEV clients in ``pool`` (the engine's) across steps and runs."""
        self.connections.pool = pool

    def close(self) -> None:
        """Release the store."""
        self.store.dispose()
