"""A worker process for the crash tests: runs one period, optionally SIGKILLs itself.

Usage: python engine_worker_main.py DATA_DIR PERIOD [KILL_AT] [SYSTEM_DB_URL STORE_URL EXECUTOR]

``ENGINE_TEST_DOCUMENTS=N`` in the environment gives the run N supporting documents,
per-row documents (each linked from one file's rows) with ``ENGINE_TEST_ROW_DOCUMENTS=1``;
``ENGINE_TEST_CHANNEL=dxso`` makes it a dxso run (two job folders, a fake dxso-jobs).

``KILL_AT`` names a step boundary (``prepare``, ``submitted:1``, ...); when the run
reaches it, the process kills itself with SIGKILL: no cleanup, no checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from engine_fakes import FakeDatev, FakeDxso, FakeDxsoSteps, FakeSteps

from ml_connector.engine import workflow
from ml_connector.engine.ports import RunSpec
from ml_connector.engine.runtime import Engine, EngineSettings
from ml_connector.http.polling import PollPolicy


def main() -> None:
    data_dir = Path(sys.argv[1])
    period = sys.argv[2]
    kill_at = sys.argv[3] if len(sys.argv) > 3 else ""
    sys_url = sys.argv[4] if len(sys.argv) > 4 else None
    store_url = sys.argv[5] if len(sys.argv) > 5 else None
    executor = sys.argv[6] if len(sys.argv) > 6 else None

    workflow.ROWS_PER_TRANSACTION = 3  # 7 rows: three chunks, so a kill can fall between them

    def boundary(name: str) -> None:
        if name == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    settings = EngineSettings(
        data_dir=data_dir,
        store_url=store_url,
        system_database_url=sys_url,
        executor_id=executor,
        queue_polling_interval=0.05,
        poll=PollPolicy(base=0.01, cap=0.02, floor=0.0, max_polls=200),
        application_version="engine-test",
    )
    documents = int(os.environ.get("ENGINE_TEST_DOCUMENTS", "0"))
    per_row = os.environ.get("ENGINE_TEST_ROW_DOCUMENTS") == "1"
    datev = FakeDatev(data_dir / "datev.sqlite3")
    steps = (
        FakeDxsoSteps(datev, dxso=FakeDxso(data_dir / "dxso.sqlite3"))
        if os.environ.get("ENGINE_TEST_CHANNEL") == "dxso"
        else FakeSteps(datev, documents=documents, row_documents=per_row)
    )
    engine = Engine(settings, steps, on_boundary=boundary)
    with engine:
        run_id = engine.enqueue(RunSpec("gl", "acme", "100-1", period))
        outcome = engine.wait(run_id, timeout=60)
    print(
        json.dumps({"run_id": outcome.run_id, "state": outcome.state, "jobs": dict(outcome.jobs)})
    )


if __name__ == "__main__":
    main()
