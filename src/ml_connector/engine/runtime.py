"""Launching the engine: DBOS configuration, the run queue, enqueue, replay, recovery.

One :class:`Engine` per process (DBOS is a process-wide singleton). The system
database is a SQLite file in the data directory by default, or PostgreSQL by URL;
the ml-connector store (runs, audit trail) is a separate SQLAlchemy engine.

* Queue ``ml-connector-runs`` is partitioned by DATEV client with
  ``partition_concurrency=1``: at most one run per DATEV client at a time, across
  all workers sharing the system database.
* A run's workflow id is ``run:<pipeline>:<period>``; enqueueing it again returns
  the existing run (DBOS does not allow deduplication ids on partitioned queues,
  the workflow id does the same job).
* Dead executors: every worker writes a heartbeat to ``engine_executors``; a live
  worker hands the pending workflows of executors whose heartbeat is stale back to
  the queue (DBOS recovers only its own executor's workflows at launch; in
  multi-host mode without DBOS Conductor nobody else would).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig, SetEnqueueOptions, SetWorkflowID
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from ml_connector.engine import workflow as wf
from ml_connector.engine.dbos_compat import cancel_enqueued, recover_pending_workflows
from ml_connector.engine.ports import (
    PooledSteps,
    RunOutcome,
    RunSpec,
    RunSteps,
    ScheduledPipeline,
)
from ml_connector.errors import ConfigurationError
from ml_connector.http.clients import ClientPool
from ml_connector.http.polling import DATEV_JOB_POLLING, PollPolicy, poll_delay
from ml_connector.logs import tracebacks_at_debug
from ml_connector.paths import DataDirLock, ensure_data_dir, lock_data_dir
from ml_connector.store import runs as run_store
from ml_connector.store.db import (
    database_unreachable,
    database_url,
    make_engine,
    migrate,
    sqlite_url,
)
from ml_connector.store.tables import EXECUTORS
from ml_connector.store.transactions import write_transaction

__all__ = [
    "QUEUE_NAME",
    "Engine",
    "EngineSettings",
    "QueuedRun",
    "ScheduledPipeline",
    "cancel_queued",
    "enqueue_remote",
    "enqueue_request_remote",
    "files_root",
    "queued_runs",
    "replay_request",
    "run_id_for",
    "run_report_path",
    "run_worker",
    "system_database_url",
]

log = logging.getLogger(__name__)

QUEUE_NAME = "ml-connector-runs"
APP_NAME = "ml-connector"
#: how often a caller waiting for a run reads its status: every 50 ms at first, then
#: less often (at most every second), so a long run is not a stream of status queries;
#: a run that ends in this process wakes the caller at once and restarts this cadence
RUN_WAIT_POLLING = PollPolicy(
    base=0.05, factor=1.5, cap=1.0, floor=0.0, jitter=False, max_polls=1_000_000
)


def run_id_for(pipeline: str, period: str) -> str:
    """The run (and workflow) id of a pipeline's period: one run per (pipeline, period)."""
    return f"run:{pipeline}:{period}"


def files_root(data_dir: Path) -> Path:
    """Where runs write their files, one folder per pipeline, period and run."""
    return data_dir / "files"


def run_report_path(data_dir: Path, pipeline: str, period: str, run_id: str) -> Path:
    """The ``report.json`` of a run (money, tie-out per group, held rows by reason)."""
    return wf.run_workdir(files_root(data_dir), pipeline, period, run_id) / "report.json"


def system_database_url(data_dir: Path, url: str | None = None) -> str:
    """``url`` if given (checked), else the SQLite file ``dbos.sqlite3`` in ``data_dir``."""
    if url:
        database_url(url)
        return url
    ensure_data_dir(data_dir)
    return f"sqlite:///{(data_dir / 'dbos.sqlite3').resolve()}"


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How to run the engine in this process."""

    data_dir: Path
    #: ml-connector store URL; default: the SQLite file in ``data_dir``
    store_url: str | None = None
    #: DBOS system database URL; default: ``dbos.sqlite3`` in ``data_dir``
    system_database_url: str | None = None
    #: stable, unique id of this worker; default ``local`` on SQLite, and on PostgreSQL a
    #: fresh ``<host>-<random>`` per process (its runs are then resumed by dead-executor
    #: recovery after a crash instead of by the restarted process)
    executor_id: str | None = None
    #: how often the queue is polled for runnable runs, seconds (a setting of the queue,
    #: stored in the system database: every worker sharing it follows the last launch)
    queue_polling_interval: float = 1.0
    #: while the run :meth:`Engine.wait` waits for is still queued, the queue is polled
    #: this often instead (``run`` and ``replay``: the run starts without waiting for a
    #: slow poll, and the queue goes back to ``queue_polling_interval`` once it started)
    pickup_polling_interval: float | None = None
    #: how often DBOS's notification listener polls (this process only); shutting down
    #: waits for its current sleep to end
    listener_polling_interval: float = 1.0
    #: runs this process executes at once (``None``: no limit besides one per client)
    worker_concurrency: int | None = None
    poll: PollPolicy = DATEV_JOB_POLLING
    #: seconds between heartbeats; an executor silent for ``dead_after`` is recovered
    heartbeat_interval: float = 10.0
    dead_after: float = 60.0
    #: pin the DBOS application version (default: a hash of the workflow code)
    application_version: str | None = None
    #: log level of the durable-execution library
    log_level: str = "WARNING"


_active: Engine | None = None

#: store connections beyond ``worker_concurrency``: heartbeat, enqueue and ``wait``
STORE_POOL_SPARE = 4


def store_pool(url: str, settings: EngineSettings) -> dict[str, Any]:
    """Pool size of the store engine on a database server: one connection per run this
    process executes at once, plus spares, so connections are kept, not opened per step
    (SQLAlchemy closes a connection beyond its ``pool_size`` when it is returned)."""
    if url.startswith("sqlite") or settings.worker_concurrency is None:
        return {}
    return {"pool_size": max(5, settings.worker_concurrency + STORE_POOL_SPARE)}


class Engine:
    """The sync engine of this process: launch it, enqueue runs, wait for outcomes."""

    def __init__(
        self,
        settings: EngineSettings,
        steps: RunSteps,
        *,
        notifier: wf.Notifier | None = None,
        on_boundary: wf.BoundaryHook | None = None,
    ) -> None:
        self.settings = settings
        ensure_data_dir(settings.data_dir)  # private, also when both databases are remote
        store_url = settings.store_url or sqlite_url(settings.data_dir)
        self.store: SqlEngine = make_engine(store_url, **store_pool(store_url, settings))
        self.system_database_url = system_database_url(
            settings.data_dir, settings.system_database_url
        )
        shared = not self.system_database_url.startswith("sqlite")
        # on a shared database two workers must never share an id: DBOS would let each
        # resume the other's running workflows at launch
        self.executor_id = settings.executor_id or (new_executor_id() if shared else "local")
        self._ended = _EndedRuns()
        self._deps = wf.EngineDeps(
            store=self.store,
            steps=steps,
            workdir=files_root(settings.data_dir),
            notifier=notifier,
            poll=settings.poll,
            on_boundary=on_boundary,
            on_end=self._ended.add,
        )
        #: the HTTP clients the steps keep across steps and runs (see :class:`PooledSteps`)
        self.clients = ClientPool()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._launched = False
        self._lock: DataDirLock | None = None
        self._picking_up = False

    # ------------------------------------------------------------ lifecycle

    def launch(self) -> Engine:
        """Migrate the store, start DBOS (recovering this executor's runs) and the queue."""
        if _active is not None:
            raise ConfigurationError("an engine is already running in this process")
        if self.store.dialect.name == "sqlite" or self.system_database_url.startswith("sqlite"):
            # SQLite serves one worker: a second one would resume this one's runs
            self._lock = lock_data_dir(self.settings.data_dir)
        try:
            self._launch()
        except BaseException:
            self._unlock()
            raise
        return self

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _launch(self) -> None:
        global _active
        migrate(self.store)
        self._beat()
        wf.install(self._deps)
        self._pool_steps(self.clients)
        config: DBOSConfig = {
            "name": APP_NAME,
            "system_database_url": self.system_database_url,
            "executor_id": self.executor_id,
            "log_level": self.settings.log_level,
            "notification_listener_polling_interval_sec": self.settings.listener_polling_interval,
        }
        if not self.system_database_url.startswith("sqlite"):
            # no ping before every checkout (a round trip per checkpoint): a connection
            # PostgreSQL dropped fails its statement, SQLAlchemy discards the pool and
            # DBOS retries the operation on a new connection (``db_retry``)
            config["db_engine_kwargs"] = {"pool_pre_ping": False}
        if self.settings.application_version:
            config["application_version"] = self.settings.application_version
        DBOS(config=config)
        # a step retried after DATEV or Looker failed: the outcome says it in one line
        tracebacks_at_debug("dbos")
        tracebacks_at_debug("ml_connector.engine.workflow")
        try:
            DBOS.launch()
            self._register_queue(
                self.settings.pickup_polling_interval or self.settings.queue_polling_interval
            )
        except BaseException as exc:
            DBOS.destroy()
            wf.install(None)
            self._pool_steps(None)
            if isinstance(exc, DBAPIError):
                unreachable = database_unreachable(self.system_database_url, exc)
                if unreachable is not None:
                    raise unreachable from None
            raise
        _active = self
        self._launched = True
        self._heartbeat = threading.Thread(
            target=self._heartbeat_loop, name="ml-connector-heartbeat", daemon=True
        )
        self._heartbeat.start()

    def _register_queue(self, polling_interval: float) -> None:
        DBOS.register_queue(
            QUEUE_NAME,
            partition_concurrency=1,
            worker_concurrency=self.settings.worker_concurrency,
            polling_interval_sec=polling_interval,
            on_conflict="always_update",
        )
        self._picking_up = polling_interval != self.settings.queue_polling_interval

    def _picked_up(self) -> None:
        """The awaited run started: the queue goes back to its own interval (should that
        fail, the queue is only polled more often than needed while the run works)."""
        if not self._picking_up:
            return
        try:
            self._register_queue(self.settings.queue_polling_interval)
        except Exception:
            self._picking_up = False
            log.debug("could not store the queue's polling interval", exc_info=True)

    def _ready_for_pickup(self) -> None:
        """Leave the queue at the pickup interval: the queue thread of the next launch
        starts with the stored one, so the next ``run`` is picked up without a slow poll
        (a worker launching next stores its own interval, as every launch does)."""
        if self.settings.pickup_polling_interval is None or self._picking_up:
            return
        try:
            self._register_queue(self.settings.pickup_polling_interval)
        except Exception:  # shutting down goes on: the next run waits one slow poll at most
            log.debug("could not store the queue's pickup interval", exc_info=True)

    def shutdown(self) -> None:
        """Stop DBOS and the heartbeat; pending runs resume at the next launch."""
        global _active
        if not self._launched:
            return
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(5)
        self._ready_for_pickup()
        DBOS.destroy()  # ends its event loop: the pool closes its clients there
        self.clients.close()  # and any left on another loop
        self._pool_steps(None)
        wf.install(None)
        _active = None
        self._launched = False
        self.store.dispose()
        self._unlock()

    def _pool_steps(self, pool: ClientPool | None) -> None:
        if isinstance(self._deps.steps, PooledSteps):
            self._deps.steps.use_client_pool(pool)

    def __enter__(self) -> Engine:
        return self.launch()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ------------------------------------------------------------ runs

    def enqueue(self, spec: RunSpec) -> str:
        """Queue a run of ``spec`` (idempotent per pipeline and period); returns the run id."""
        run_id = run_id_for(spec.pipeline, spec.period)
        self._enqueue(wf.RunRequest(run_id=run_id, spec=spec))
        return run_id

    def _enqueue(self, req: wf.RunRequest) -> None:
        queue = DBOS.retrieve_queue(QUEUE_NAME)
        if queue is None:
            raise ConfigurationError("the run queue is missing; launch the engine first")
        _forget_cancelled(DBOS, req.run_id)
        with (
            SetWorkflowID(req.run_id),
            SetEnqueueOptions(queue_partition_key=req.spec.datev_client),
        ):
            queue.enqueue(wf.run_workflow, req)
        with write_transaction(self.store) as conn:  # after: the workflow may have started
            run_store.ensure_run(
                conn,
                run_id=req.run_id,
                pipeline=req.spec.pipeline,
                customer=req.spec.customer,
                datev_client=req.spec.datev_client,
                period=req.spec.period,
                replay_of=req.replay_of,
            )

    def is_known(self, run_id: str) -> bool:
        """Whether a run with this id was ever enqueued."""
        return DBOS.get_workflow_status(run_id) is not None

    def fire_schedules(
        self,
        schedules: Sequence[ScheduledPipeline],
        now: datetime,
        catch_up: timedelta = timedelta(days=3),
    ) -> list[str]:
        """Enqueue every scheduled run due at ``now`` that was not enqueued before.

        Returns the new run ids. Idempotent: the run id is per (pipeline, period).
        """
        from ml_connector.schedule import due_runs

        by_name = {s.pipeline: s for s in schedules}
        started: list[str] = []
        for name, _fire, period in due_runs(
            ((s.pipeline, s.rule) for s in schedules), now, catch_up
        ):
            if self.is_known(run_id_for(name, period)):
                continue
            item = by_name[name]
            started.append(self.enqueue(RunSpec(name, item.customer, item.datev_client, period)))
        return started

    def replay(self, run_id: str, *, only_failed: bool = False, allow_empty: bool = False) -> str:
        """Run a finished run again under a new id, with the same filenames and record keys.

        Before it prepares, the replay awaits every DATEV job of the period's earlier
        runs whose outcome is not recorded (looking up by name the files sent without a
        stored job id) and records it, so rows DATEV posted are never posted again, even
        when they changed in Looker since; a job still pending fails the replay. With
        ``only_failed`` the files DATEV accepted in ``run_id`` are left out. DATEV is
        asked before every submission whether the file arrived already.
        ``allow_empty`` lets a period with posted bookings come back empty from Looker
        (every posted booking is reversed); otherwise such a run is blocked. Returns the
        new run id.
        """
        req = replay_request(self.store, run_id, only_failed=only_failed, allow_empty=allow_empty)
        self._enqueue(req)
        return req.run_id

    def wait(self, run_id: str, timeout: float | None = None) -> RunOutcome:
        """Block until run ``run_id`` ends and return its outcome."""
        deadline = None if timeout is None else time.monotonic() + timeout
        reads = 0
        while True:
            status = DBOS.get_workflow_status(run_id)
            if status is not None and status.status != "ENQUEUED":
                self._picked_up()
            if status is not None and status.status in ("SUCCESS", "ERROR"):
                result: RunOutcome = DBOS.retrieve_workflow(run_id).get_result()
                return result
            if status is not None and status.status == "CANCELLED":
                raise ConfigurationError(
                    f"run {run_id} was cancelled before it started", hint="queue it again"
                )
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} did not finish within {timeout} s")
            reads += 1
            if self._ended.wait(run_id, poll_delay(reads, RUN_WAIT_POLLING)):
                reads = 0  # it ended here: DBOS records its outcome within moments

    # ------------------------------------------------------------ executors

    def _beat(self) -> None:
        now = time.time()
        table = EXECUTORS
        values = {
            "executor_id": self.executor_id,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": now,
            "heartbeat_at": now,
        }
        dialect: Any = postgresql if self.store.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.executor_id],
            set_={"heartbeat_at": now, "hostname": values["hostname"], "pid": values["pid"]},
        )
        with write_transaction(self.store) as conn:
            conn.execute(stmt)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_interval):
            try:
                self._beat()
                if self.store.dialect.name == "postgresql":
                    self.recover_dead_executors()
            except Exception:
                log.exception("heartbeat failed")

    def recover_dead_executors(self, dead_after: float | None = None) -> list[str]:
        """Hand the pending runs of executors silent for ``dead_after`` s back to the queue.

        Returns the ids of the executors recovered. Safe to call from several workers at
        once: DBOS re-enqueues a workflow only while it still belongs to the dead executor.
        """
        limit = time.time() - (self.settings.dead_after if dead_after is None else dead_after)
        table = EXECUTORS
        with self.store.connect() as conn:
            rows = conn.execute(
                select(table.c.executor_id, table.c.heartbeat_at, table.c.recovered_at).where(
                    (table.c.heartbeat_at < limit) & (table.c.executor_id != self.executor_id)
                )
            ).all()
        dead = [
            r.executor_id for r in rows if r.recovered_at is None or r.recovered_at < r.heartbeat_at
        ]
        if not dead:
            return []
        recover_pending_workflows(dead)
        with write_transaction(self.store) as conn:
            conn.execute(
                update(table).where(table.c.executor_id.in_(dead)).values(recovered_at=time.time())
            )
        log.info("recovered pending runs of dead executors %s", dead)
        return dead


class _EndedRuns:
    """Run ids whose workflow returned in this process, for :meth:`Engine.wait`."""

    #: ids kept for a caller that has not asked yet (a worker's runs are never asked for)
    KEEP = 1000

    def __init__(self) -> None:
        self._ended: dict[str, None] = {}
        self._changed = threading.Condition()

    def add(self, run_id: str) -> None:
        with self._changed:
            self._ended[run_id] = None
            if len(self._ended) > self.KEEP:
                del self._ended[next(iter(self._ended))]
            self._changed.notify_all()

    def wait(self, run_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for ``run_id`` to end here; whether it did (once)."""
        with self._changed:
            if self._changed.wait_for(lambda: run_id in self._ended, timeout):
                del self._ended[run_id]
                return True
            return False


def replay_request(
    store: SqlEngine, run_id: str, *, only_failed: bool = False, allow_empty: bool = False
) -> wf.RunRequest:
    """The request that replays ``run_id`` (see :meth:`Engine.replay`): a new id, the
    same pipeline and period, the accepted files left out with ``only_failed``."""
    run = run_store.get_run(store, run_id)
    if run is None:
        raise ConfigurationError(f"no run {run_id!r}", hint="see 'ml-connector status'")
    if run.state not in run_store.FINAL_STATES:
        raise ConfigurationError(
            f"run {run_id!r} is still {run.state}", hint="replay a run once it has ended"
        )
    skip: frozenset[str] = frozenset()
    if only_failed:
        skip = frozenset(
            f.filename for f in run_store.list_files(store, run_id) if f.outcome == "succeeded"
        )
    original = run.replay_of or run_id
    number = (
        sum(
            1
            for r in run_store.list_runs(store, pipeline=run.pipeline, limit=10_000)
            if r.replay_of == original
        )
        + 1
    )
    new_id = f"{original}:replay-{number}"
    spec = RunSpec(run.pipeline, run.customer, run.datev_client, run.period, allow_empty)
    return wf.RunRequest(run_id=new_id, spec=spec, replay_of=original, skip_files=skip)


def enqueue_remote(system_db_url: str, spec: RunSpec) -> str:
    """Queue a run from a process that is not a worker (e.g. the CLI); returns the run id.

    The workers sharing ``system_db_url`` pick it up. Record of the run in the store
    is written by the worker when the run starts.
    """
    run_id = run_id_for(spec.pipeline, spec.period)
    return enqueue_request_remote(system_db_url, wf.RunRequest(run_id=run_id, spec=spec))


def enqueue_request_remote(system_db_url: str, req: wf.RunRequest) -> str:
    """Queue ``req`` (a run or a :func:`replay_request`) for the workers; its run id."""
    client = DBOSClient(system_database_url=system_db_url)
    try:
        _forget_cancelled(client, req.run_id)
        client.enqueue(
            {
                "workflow_name": wf.WORKFLOW_NAME,
                "queue_name": QUEUE_NAME,
                "workflow_id": req.run_id,
                "queue_partition_key": req.spec.datev_client,
            },
            req,
        )
    finally:
        client.destroy()
    return req.run_id


def _forget_cancelled(dbos: Any, run_id: str) -> None:
    """Let a run cancelled in the queue be queued again: DBOS keeps a cancelled workflow
    under its id and would answer a new enqueue with it, so nothing would run. A
    cancelled run never started (:func:`cancel_queued`), so nothing of it is lost."""
    cancelled = dbos.list_workflows(
        workflow_ids=[run_id], status="CANCELLED", load_input=False, load_output=False
    )
    if cancelled:
        dbos.delete_workflow(run_id)


@dataclass(frozen=True, slots=True)
class QueuedRun:
    """A run waiting in the queue for a worker (not started, so not in the store yet)."""

    run_id: str
    pipeline: str
    customer: str
    period: str
    replay_of: str | None
    enqueued_at: float


def queued_runs(system_db_url: str, limit: int = 200) -> list[QueuedRun]:
    """The runs waiting for a worker, oldest first."""
    client = DBOSClient(system_database_url=system_db_url)
    try:
        statuses = client.list_workflows(
            status="ENQUEUED", queue_name=QUEUE_NAME, limit=limit, load_output=False
        )
    except DBAPIError:  # no worker created the queue yet: nothing waits in it
        return []
    finally:
        client.destroy()
    out: list[QueuedRun] = []
    for status in statuses:
        inputs: Any = status.input or {}
        args = inputs.get("args") or ()
        req = args[0] if args and isinstance(args[0], wf.RunRequest) else None
        if req is None:
            continue
        spec = req.spec
        created = (status.created_at or 0) / 1000
        out.append(
            QueuedRun(req.run_id, spec.pipeline, spec.customer, spec.period, req.replay_of, created)
        )
    return out


def cancel_queued(system_db_url: str, run_id: str) -> bool:
    """Take ``run_id`` out of the queue; False if it is not waiting there (any more).

    A run a worker took at the same moment is not touched: it runs to its end.
    """
    client = DBOSClient(system_database_url=system_db_url)
    try:
        return cancel_enqueued(client, run_id)
    except DBAPIError:  # no worker created the queue yet
        return False
    finally:
        client.destroy()


def new_executor_id() -> str:
    """A fresh executor id: host name plus a random suffix."""
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


def run_worker(
    settings: EngineSettings,
    steps: RunSteps,
    *,
    schedules: Sequence[ScheduledPipeline] = (),
    notifier: wf.Notifier | None = None,
    stop: threading.Event | None = None,
    tick: float = 30.0,
    catch_up: timedelta = timedelta(days=3),
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Run a worker until ``stop`` is set: execute queued runs and fire ``schedules``.

    Every ``tick`` seconds the worker enqueues the scheduled runs that are due (missed
    fires within ``catch_up`` included) and, on PostgreSQL, recovers the runs of dead
    executors (heartbeat thread). Several workers may run side by side on PostgreSQL.
    """
    stop = stop or threading.Event()
    now = clock or (lambda: datetime.now(UTC))
    with Engine(settings, steps, notifier=notifier) as engine:
        while True:
            try:
                started = engine.fire_schedules(schedules, now(), catch_up)
                if started:
                    log.info("scheduled runs enqueued: %s", ", ".join(started))
            except Exception:
                log.exception("firing schedules failed")
            if stop.wait(tick):
                return
