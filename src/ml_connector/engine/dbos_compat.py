"""The DBOS internals the engine relies on, in one place.

DBOS exposes no public API for two things the engine needs: the exception classes
it raises when a resumed workflow no longer matches its recorded steps, and the
call that hands a dead executor's pending workflows back to the queue. Both are
imported here only, so an upgrade that moves them breaks this module (and the test
``tests/engine/test_dbos_compat.py``) instead of a run. ``pyproject.toml`` pins
``dbos`` to the range these names were tested with.
"""

from __future__ import annotations

from dbos import DBOS
from dbos._error import (
    DBOSMaxStepRetriesExceeded,
    DBOSPatchNondeterminismError,
    DBOSStepNondeterminismError,
    DBOSUnexpectedStepError,
)

__all__ = ["NONDETERMINISM_ERRORS", "recover_pending_workflows", "step_failure_cause"]

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
