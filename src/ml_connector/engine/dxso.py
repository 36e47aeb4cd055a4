"""DXSO job folders in the durable run: one checkpointed step per DATEV call.

For each job folder, one after the other (a job is created only after the previous one
ended, so a client's cash-ledger jobs never run in parallel): create (the job id and the
ledger folder name DATEV answers are stored with the ``file_submitted`` event before
the step ends) -> upload the files, one per step, ``document.xml`` last -> finalize ->
poll with the EXTF polling budget and durable sleeps -> read and store the protocol ->
record the outcome (:func:`~ml_connector.engine.workflow._outcome_step`: posted
records, ``job_outcome``).

Resume: a create step repeated after a crash finds the job id it stored and goes on with
that job (dxso-jobs has no job list: a crash inside the create call itself can leave an
empty open job, which holds no data and posts nothing). An upload step that may follow a
crash or a failed attempt first reads which files the job received from its protocol
(``received_files``), so no file goes twice. A run that fails before its job is
finalized deletes the open job; a replay deletes an open job an earlier run left behind
(its id is stored) and awaits one that was finalized.

Boundary hooks: ``dxso_created:<part>``, ``dxso_uploaded:<part>:<n>``,
``dxso_finalized:<part>``, ``dxso_poll:<part>``, ``dxso_protocol:<part>``,
``outcome:<part>``, ``dxso_cancelled:<part>``.
"""

from __future__ import annotations

import asyncio
import logging

from ml_connector.engine import workflow as wf
from ml_connector.engine.dbos_compat import NONDETERMINISM_ERRORS
from ml_connector.engine.ports import (
    DatevJobPendingError,
    DxsoJob,
    DxsoResult,
    DxsoSteps,
    JobStatus,
    PreparedFile,
    RunOutcome,
)
from ml_connector.errors import ConfigurationError
from ml_connector.store import runs as run_store
from ml_connector.store.audit import event_payload
from ml_connector.store.transactions import write_transaction

__all__ = ["send_jobs", "settle_earlier"]

log = logging.getLogger(__name__)

#: files a job is known to have received, confirmed in this process: (run, job) -> names.
#: Missing after a restart or a failed attempt: the upload step then reads the protocol.
_received: dict[tuple[str, str], frozenset[str]] = {}


def _steps() -> DxsoSteps:
    steps = wf._get().steps
    if not isinstance(steps, DxsoSteps):
        raise ConfigurationError("this run has dxso jobs but its steps cannot send them")
    return steps


def _stored_job(req: wf.RunRequest, file: PreparedFile) -> DxsoJob | None:
    """The job the create step stored for ``file`` of ``req`` before a crash, if any."""
    with wf._get().store.connect() as conn:
        payload = event_payload(
            conn, run_id=req.run_id, kind="file_submitted", filename=file.filename
        )
    if payload is None:
        return None
    return DxsoJob(str(payload["datev_job_id"]), str(payload["folder_name"]))


@wf.datev_step("ml_connector.dxso_create")
async def _create_step(req: wf.RunRequest, file: PreparedFile) -> DxsoJob:
    job = await asyncio.to_thread(_stored_job, req, file)
    if job is None:
        job = await _steps().dxso_create(req.spec, file)
        extra = {"folder_name": job.folder_name}
        await asyncio.to_thread(wf._record_submission, req, file, job.job_id, False, extra)
    wf._boundary(f"dxso_created:{file.part}")
    return job


@wf.datev_step("ml_connector.dxso_upload")
async def _upload_step(
    req: wf.RunRequest, file: PreparedFile, job: DxsoJob, number: int
) -> str | None:
    """Upload the next file the job has not received; its name, ``None`` when done."""
    steps = _steps()
    key = (req.run_id, job.job_id)
    received = _received.pop(key, None)  # a failure below leaves it unknown
    if received is None:
        received = await steps.dxso_received(req.spec, job.job_id)
    name = await steps.dxso_upload(req.spec, file, job, received)
    if name is not None:
        _received[key] = received | {name}
        wf._boundary(f"dxso_uploaded:{file.part}:{number}")
    return name


@wf.datev_step("ml_connector.dxso_finalize")
async def _finalize_step(req: wf.RunRequest, file: PreparedFile, job_id: str) -> None:
    await _steps().dxso_finalize(req.spec, job_id)
    wf._boundary(f"dxso_finalized:{file.part}")


@wf.datev_step("ml_connector.dxso_poll")
async def _poll_step(req: wf.RunRequest, file: PreparedFile, job_id: str) -> JobStatus:
    status = await _steps().dxso_poll(req.spec, job_id)
    wf._boundary(f"dxso_poll:{file.part}")
    return status


def _store_protocol(
    req: wf.RunRequest, file: PreparedFile, job_id: str, result: DxsoResult
) -> None:
    entries = [
        run_store.ProtocolRecord(
            filename=file.filename,
            datev_job_id=job_id,
            seq=seq,
            time=e.time,
            type=e.type,
            text=e.text,
            context=e.context,
            entry_filename=e.filename,
        )
        for seq, e in enumerate(result.protocol, start=1)
    ]
    with write_transaction(wf._get().store) as conn:
        run_store.record_protocol(conn, req.run_id, entries)


@wf.datev_step("ml_connector.dxso_protocol")
async def _protocol_step(req: wf.RunRequest, file: PreparedFile, job_id: str) -> DxsoResult:
    """Read the finished job's protocol and store it (DATEV deletes it after ~2 months)."""
    result = await _steps().dxso_result(req.spec, file, job_id)
    await asyncio.to_thread(_store_protocol, req, file, job_id, result)
    wf._boundary(f"dxso_protocol:{file.part}")
    return result


@wf.datev_step("ml_connector.dxso_cancel")
async def _cancel_step(req: wf.RunRequest, file: PreparedFile, job_id: str) -> bool:
    """Delete the job if it is still open; whether it was."""
    cancelled = await _steps().dxso_cancel(req.spec, job_id)
    wf._boundary(f"dxso_cancelled:{file.part}")
    return cancelled


def _cancelled_status(run_id: str) -> JobStatus:
    return JobStatus("failed", detail=f"job deleted while still open (run {run_id} ended first)")


async def _open_and_fill(req: wf.RunRequest, file: PreparedFile, job: DxsoJob) -> None:
    """Upload every file of the folder and finalize; a failure deletes the open job."""
    try:
        number = 1
        while await _upload_step(req, file, job, number) is not None:
            number += 1
        await _finalize_step(req, file, job.job_id)
    except NONDETERMINISM_ERRORS:
        raise
    except Exception:
        try:
            if await _cancel_step(req, file, job.job_id):
                await wf._outcome_step(req, file, job.job_id, _cancelled_status(req.run_id))
        except Exception:  # a replay deletes it then (its id is stored)
            log.exception("could not delete dxso job %s of run %s", job.job_id, req.run_id)
        raise


def _refused_note(file: PreparedFile, result: DxsoResult) -> str | None:
    if not result.refused:
        return None
    reasons = sorted({why for _, why in result.refused})
    return (
        f"{file.filename}: {len(result.refused)} of {file.lines} entries not imported "
        f"(held; replay the run to send them again): " + "; ".join(reasons[:5])
    )


async def send_jobs(
    req: wf.RunRequest, files: list[PreparedFile], outcome: RunOutcome, jobs: dict[str, str]
) -> RunOutcome:
    """Send the dxso job folders ``files`` one after the other and record each outcome;
    a job still pending after the polling budget stops the run (the next job is created
    only after the previous one ended)."""
    tally = wf.JobTally()
    for file in files:
        job = await _create_step(req, file)
        jobs[file.filename] = job.job_id
        await _open_and_fill(req, file, job)
        status = await wf._await_job(req, file, job.job_id, poll=_poll_step)
        if status.state == "pending":
            tally.pending.append(wf._pending_text(job.job_id, file.filename))
            break
        result = await _protocol_step(req, file, job.job_id)
        await wf._outcome_step(req, file, job.job_id, result.status, refused=result.refused)
        tally.add(file, result.status, _refused_note(file, result))
    return tally.outcome(outcome, jobs)


async def settle_earlier(
    req: wf.RunRequest, earlier: wf.RunRequest, file: PreparedFile, job_id: str
) -> None:
    """A replay's view of an earlier run's dxso job with no recorded outcome: deleted when
    still open (the replay sends the rows again), else awaited and recorded."""
    if await _cancel_step(earlier, file, job_id):
        status = _cancelled_status(earlier.run_id)
        await wf._outcome_step(earlier, file, job_id, status, settled_by=req.run_id)
        return
    status = await wf._await_job(earlier, file, job_id, poll=_poll_step)
    if status.state == "pending":
        raise DatevJobPendingError(
            f"{wf._pending_text(job_id, file.filename)} (run {earlier.run_id}); "
            "the replay sent nothing",
            hint=f"replay {req.replay_of or req.run_id} again later",
        )
    result = await _protocol_step(earlier, file, job_id)
    await wf._outcome_step(
        earlier, file, job_id, result.status, settled_by=req.run_id, refused=result.refused
    )
