"""The sync engine: durable runs, schedules, audit trail and replay.

Import the seam from :mod:`ml_connector.engine.ports` (no durable-execution library
behind it) and the engine itself from :mod:`ml_connector.engine.runtime` (the only
modules that import DBOS are ``runtime`` and ``workflow``).
"""

from ml_connector.engine.ports import (
    JobStatus,
    Prepared,
    PreparedFile,
    RowRecord,
    RunOutcome,
    RunSpec,
    RunSteps,
    iter_records,
    write_records,
)

__all__ = [
    "JobStatus",
    "Prepared",
    "PreparedFile",
    "RowRecord",
    "RunOutcome",
    "RunSpec",
    "RunSteps",
    "iter_records",
    "write_records",
]
