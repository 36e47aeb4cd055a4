"""The engine wired to the live steps: what ``run``, ``worker``, ``replay`` and the demo use.

One :class:`~ml_connector.engine.runtime.Engine` per process; the steps are
:class:`~ml_connector.runs.steps.LiveRunSteps`. DATEV job polling follows DATEV's
approval rules by default: at most 10 status reads per job, backing off from 5 s
to 2 minutes with full jitter.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ml_connector import __version__
from ml_connector.config import LoadedConfig
from ml_connector.engine.ports import RunOutcome
from ml_connector.engine.runtime import (
    Engine,
    EngineSettings,
    ScheduledPipeline,
    run_id_for,
    run_worker,
)
from ml_connector.errors import ConfigurationError
from ml_connector.http.polling import DATEV_JOB_POLLING, PollPolicy
from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.steps import LiveRunSteps, datev_client_id
from ml_connector.store import runs as run_store

if TYPE_CHECKING:
    from ml_connector.notify import Notifier

__all__ = [
    "EngineOptions",
    "RunAlreadyExistsError",
    "describe_boundary",
    "engine_settings",
    "outcome_json",
    "queue_replay",
    "queue_run",
    "replay_run",
    "run_pipeline",
    "scheduled_pipelines",
    "work",
]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How to run the engine besides the sync settings."""

    system_database_url: str | None = None
    executor_id: str | None = None
    #: seconds between queue polls; ``None``: 1 s for a worker, 0.1 s for a run the
    #: process waits for (``run``, ``replay``) on a private (SQLite) system database
    queue_polling_interval: float | None = None
    poll: PollPolicy = DATEV_JOB_POLLING
    application_version: str = f"ml-connector-{__version__}"
    extra: Mapping[str, Any] = field(default_factory=dict)


class RunAlreadyExistsError(Exception):
    """The (pipeline, period) ran before; ``replay`` runs it again."""

    def __init__(self, run_id: str, state: str) -> None:
        super().__init__(f"run {run_id} exists already ({state})")
        self.run_id = run_id
        self.state = state


#: the polling intervals of an engine that runs one run while its caller waits
ONE_SHOT_POLLING = 0.1
#: ... and of its private queue until that run is picked up (then ONE_SHOT_POLLING)
ONE_SHOT_PICKUP = 0.02
#: ... and of a worker (DBOS's defaults)
WORKER_POLLING = 1.0


def engine_settings(
    settings: SyncSettings, options: EngineOptions, *, one_shot: bool = False
) -> EngineSettings:
    """The engine's settings for ``settings`` (same data directory and store).

    ``one_shot``: the process runs one run and waits for it (``run``, ``replay``). Its
    engine then looks at the queue every 0.02 s until the run is picked up and every
    0.1 s after that, rather than every second, when the system database is private
    (SQLite: no other worker; on a shared database the interval is the queue's, stored
    for every worker), and its DBOS notification listener polls every 0.1 s, so that
    shutting down does not wait up to a second.
    """
    url = options.system_database_url
    private = url is None or url.startswith("sqlite")
    queue = options.queue_polling_interval
    fast = queue is None and one_shot and private
    if queue is None:
        queue = ONE_SHOT_POLLING if fast else WORKER_POLLING
    return EngineSettings(
        data_dir=settings.data_dir,
        store_url=settings.store_url,
        system_database_url=url,
        executor_id=options.executor_id,
        queue_polling_interval=queue,
        pickup_polling_interval=ONE_SHOT_PICKUP if fast else None,
        listener_polling_interval=ONE_SHOT_POLLING if one_shot else WORKER_POLLING,
        poll=options.poll,
        application_version=options.application_version,
        **dict(options.extra),
    )


_BOUNDARY_TEXT = {
    "start": "run started",
    "prepare": "rows extracted, mapped and written to files",
    "record_rows": "audit trail of every row recorded",
    "finish": "run finished",
}


def describe_boundary(name: str) -> str | None:
    """A progress line for an engine step boundary (``None`` for the quiet ones)."""
    if name in _BOUNDARY_TEXT:
        return _BOUNDARY_TEXT[name]
    kind, _, part = name.partition(":")
    return {
        "submit": f"file {part} submitted to DATEV",
        "poll": f"DATEV job of file {part} polled",
        "outcome": f"outcome of file {part} recorded",
        "dxso_created": f"DATEV dxso job {part} created",
        "dxso_finalized": f"all files of dxso job {part} uploaded, job marked ready",
        "dxso_protocol": f"protocol of dxso job {part} read and stored",
    }.get(kind)


def _stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _hook(progress: Progress | None, prefix: str) -> Callable[[str], None] | None:
    if progress is None:
        return None

    def hook(name: str) -> None:
        text = describe_boundary(name)
        if text is not None:
            progress(f"{prefix}{text}")

    return hook


def notifier_for_steps(steps: LiveRunSteps) -> Notifier:
    """The notifier of every customer with a ``notify`` table, secrets resolved now."""
    from ml_connector.notify.settings import notifier_for

    return notifier_for(steps.config().model, store=steps.connections.connections.credentials)


def run_pipeline(
    settings: SyncSettings,
    pipeline: str,
    period: str,
    *,
    options: EngineOptions | None = None,
    progress: Progress | None = _stderr_progress,
    timeout: float | None = None,
    steps: LiveRunSteps | None = None,
) -> RunOutcome:
    """Run ``pipeline`` for ``period`` now through the durable engine; its outcome.

    Raises :class:`RunAlreadyExistsError` when the period ran before and finished
    (use :func:`replay_run`); a run that was interrupted is resumed instead.
    """
    live = steps or LiveRunSteps(settings, progress=progress)
    try:
        spec = live.spec_for(pipeline, period)
        opts = options or EngineOptions()
        hook = _hook(progress, f"{pipeline} {period}: ")
        notifier = notifier_for_steps(live)
        with Engine(
            engine_settings(settings, opts, one_shot=True),
            live,
            notifier=notifier,
            on_boundary=hook,
        ) as engine:
            run_id = run_id_for(pipeline, period)
            earlier = run_store.get_run(engine.store, run_id)
            if earlier is not None and earlier.state in run_store.FINAL_STATES:
                raise RunAlreadyExistsError(run_id, earlier.state)
            engine.enqueue(spec)
            return engine.wait(run_id, timeout=timeout)
    finally:
        if steps is None:
            live.close()


def replay_run(
    settings: SyncSettings,
    run_id: str,
    *,
    only_failed: bool = False,
    allow_empty: bool = False,
    options: EngineOptions | None = None,
    progress: Progress | None = _stderr_progress,
    timeout: float | None = None,
) -> RunOutcome:
    """Replay a finished run (or only its failed files) and wait for the new run;
    ``allow_empty``: see :meth:`~ml_connector.engine.runtime.Engine.replay`."""
    opts = options or EngineOptions()
    steps = LiveRunSteps(settings, progress=progress)
    try:
        hook = _hook(progress, f"{run_id}: ")
        notifier = notifier_for_steps(steps)
        with Engine(
            engine_settings(settings, opts, one_shot=True),
            steps,
            notifier=notifier,
            on_boundary=hook,
        ) as engine:
            new_id = engine.replay(run_id, only_failed=only_failed, allow_empty=allow_empty)
            if progress is not None:
                progress(f"replaying {run_id} as {new_id}")
            return engine.wait(new_id, timeout=timeout)
    finally:
        steps.close()


def _queue_error(exc: Exception) -> ConfigurationError:
    return ConfigurationError(
        f"cannot queue the run ({type(exc).__name__})",
        hint="start 'ml-connector worker' once with the same data directory / "
        "--system-db-url (it creates the queue)",
    )


def queue_run(settings: SyncSettings, pipeline: str, period: str, options: EngineOptions) -> str:
    """Queue ``pipeline`` for ``period`` for the workers (``run --queue``, the web app);
    the run id. A period that ran before and finished raises :class:`RunAlreadyExistsError`."""
    from ml_connector.engine.runtime import enqueue_remote, system_database_url
    from ml_connector.store.open import open_store

    steps = LiveRunSteps(settings)
    try:
        spec = steps.spec_for(pipeline, period)
    finally:
        steps.close()
    store = open_store(settings.store_url, data_dir=settings.data_dir)
    try:
        earlier = run_store.get_run(store, run_id_for(pipeline, period))
    finally:
        store.dispose()
    if earlier is not None and earlier.state in run_store.FINAL_STATES:
        raise RunAlreadyExistsError(earlier.id, earlier.state)
    url = system_database_url(settings.data_dir, options.system_database_url)
    try:
        return enqueue_remote(url, spec)
    except Exception as exc:  # the engine library's own errors, e.g. no queue tables
        raise _queue_error(exc) from None


def queue_replay(
    settings: SyncSettings, run_id: str, options: EngineOptions, *, only_failed: bool = False
) -> str:
    """Queue a replay of ``run_id`` for the workers (see :func:`replay_run`); the new id."""
    from ml_connector.engine.runtime import (
        enqueue_request_remote,
        replay_request,
        system_database_url,
    )
    from ml_connector.store.open import open_store

    store = open_store(settings.store_url, data_dir=settings.data_dir)
    try:
        req = replay_request(store, run_id, only_failed=only_failed)
    finally:
        store.dispose()
    url = system_database_url(settings.data_dir, options.system_database_url)
    try:
        return enqueue_request_remote(url, req)
    except Exception as exc:
        raise _queue_error(exc) from None


def scheduled_pipelines(config: LoadedConfig) -> list[ScheduledPipeline]:
    """Every pipeline with a ``schedule``, with its customer and DATEV client."""
    from ml_connector.schedule import parse_rule

    return [
        ScheduledPipeline(
            pipeline=name,
            customer=pipeline.customer,
            datev_client=datev_client_id(config, name),
            rule=parse_rule(pipeline.schedule),
        )
        for name, pipeline in sorted(config.model.pipelines.items())
        if pipeline.schedule
    ]


def work(
    settings: SyncSettings,
    *,
    options: EngineOptions | None = None,
    stop: threading.Event | None = None,
    tick: float = 30.0,
    catch_up: timedelta = timedelta(days=3),
) -> None:
    """Run a worker until ``stop``: queued runs, and the configuration's schedules."""
    steps = LiveRunSteps(settings)
    try:
        schedules = scheduled_pipelines(steps.config())
        for item in schedules:
            log.info("schedule %s: %s", item.pipeline, item.rule)
        run_worker(
            engine_settings(settings, options or EngineOptions()),
            steps,
            schedules=schedules,
            notifier=notifier_for_steps(steps),
            stop=stop,
            tick=tick,
            catch_up=catch_up,
        )
    finally:
        steps.close()


def outcome_json(outcome: RunOutcome) -> dict[str, Any]:
    """A JSON-ready view of a run's outcome."""
    return {
        "run_id": outcome.run_id,
        "pipeline": outcome.spec.pipeline,
        "customer": outcome.spec.customer,
        "datev_client": outcome.spec.datev_client,
        "period": outcome.spec.period,
        "state": outcome.state,
        "rows_read": outcome.rows_read,
        "rows_mapped": outcome.rows_mapped,
        "rows_rejected": outcome.rows_rejected,
        "files": list(outcome.files),
        "jobs": dict(outcome.jobs),
        "jobs_succeeded": outcome.jobs_succeeded,
        "jobs_failed": outcome.jobs_failed,
        "error": outcome.error,
        "error_kind": outcome.error_kind,
        "replay_of": outcome.replay_of,
        "audit_anchor": None if outcome.audit_anchor is None else dict(outcome.audit_anchor),
    }
