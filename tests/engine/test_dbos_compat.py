"""The DBOS internals the engine uses still exist in the installed DBOS."""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path

from dbos import DBOS

import ml_connector
from ml_connector.engine import dbos_compat


def test_nondeterminism_errors_are_exception_classes() -> None:
    names = {cls.__name__ for cls in dbos_compat.NONDETERMINISM_ERRORS}
    assert names == {
        "DBOSStepNondeterminismError",
        "DBOSUnexpectedStepError",
        "DBOSPatchNondeterminismError",
    }
    assert all(issubclass(cls, Exception) for cls in dbos_compat.NONDETERMINISM_ERRORS)


def test_recover_pending_workflows_takes_executor_ids() -> None:
    recover = getattr(DBOS, "_recover_pending_workflows", None)
    assert callable(recover), f"dbos {version('dbos')} no longer has _recover_pending_workflows"
    assert list(inspect.signature(recover).parameters) == ["executor_ids"]


def test_only_the_compat_module_imports_dbos_internals() -> None:
    root = Path(inspect.getfile(ml_connector)).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "dbos_compat.py"
        and ("dbos._" in path.read_text() or "DBOS._" in path.read_text())
    ]
    assert offenders == []


def test_cancel_enqueued_finds_the_columns_and_helpers_it_writes() -> None:
    from dbos._sys_db import SystemDatabase

    assert callable(getattr(SystemDatabase, "_now_ms_sql", None))
    assert callable(getattr(SystemDatabase, "_wf", None))
    columns = set(SystemDatabase.tables.workflow_status.c.keys())
    wanted = {"workflow_uuid", "status", "owner_xid", "queue_name", "deduplication_id",
              "started_at_epoch_ms", "updated_at", "completed_at"}  # fmt: skip
    assert wanted <= columns
