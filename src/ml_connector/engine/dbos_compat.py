"""The DBOS internals the engine relies on, in one place.

DBOS exposes no public API for three things the engine needs: the exception classes
it raises when a resumed workflow no longer matches its recorded steps, the call
that hands a dead executor's pending workflows back to the queue, and cancelling a
workflow only while it still waits in its queue. They are used here only, so an
upgrade that moves them breaks this module (and the test
``tests/engine/test_dbos_compat.py``) instead of a run. ``pyproject.toml`` pins
``dbos`` to the range these names were tested with.
"""

from __future__ import annotations

import sqlalchemy as sa
from dbos import DBOS, DBOSClient
from dbos._error import (
    DBOSMaxStepRetriesExceeded,
    DBOSPatchNondeterminismError,
    DBOSStepNondeterminismError,
    DBOSUnexpectedStepError,
)

__all__ = [
    "NONDETERMINISM_ERRORS",
    "cancel_enqueued",
    "recover_pending_workflows",
    "step_failure_cause",
]

#: raised when a resumed workflow's code no longer matches its recorded steps
NONDETERMINISM_ERRORS: tuple[type[Exception], ...] = (
    DBOSStepNondeterminismError,
    DBOSUnexpectedStepError,
    DBOSPatchNondeterminismError,
)


def recover_pending_workflows(executor_ids: list[str]) -> None:
    """Re-enqueue the pending workflows of the executors ``executor_ids``."""
    DBOS._recover_pending_workflows(executor_ids)


def step_failure_cause(exc: Exception) -> Exception:
    """The error behind a step that ran out of retries (the last attempt's), else ``exc``."""
    if isinstance(exc, DBOSMaxStepRetriesExceeded) and exc.errors:
        return exc.errors[-1]
    return exc


def cancel_enqueued(client: DBOSClient, workflow_id: str) -> bool:
    """Cancel ``workflow_id`` only if it still waits in its queue; whether it did.

    One conditional update, as DBOS's own cancel writes it but for ``ENQUEUED`` only:
    a worker claims a queued workflow with an update guarded by the same status, so
    the workflow is either cancelled before it starts or runs to its end. (DBOS's
    ``cancel_workflow`` also stops a started workflow between two steps.)
    """
    sys_db = client._sys_db
    table = sys_db.tables.workflow_status
    now_ms = sys_db._now_ms_sql()
    query = (
        sa.update(table)
        .where(*sys_db._wf(table, workflow_id), table.c.status == "ENQUEUED")
        .values(
            status="CANCELLED",
            owner_xid=None,
            queue_name=None,
            deduplication_id=None,
            started_at_epoch_ms=None,
            updated_at=now_ms,
            completed_at=now_ms,
        )
    )
    with sys_db.engine.begin() as conn:
        return conn.execute(query).rowcount == 1
