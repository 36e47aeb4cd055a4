"""A worker process for the durability test: one run with the live steps, optional SIGKILL.

Usage: python sync_worker_main.py DATA_DIR CONFIG DATEV_URL PERIOD [KILL_AT]

``KILL_AT`` names an engine step boundary (``submitted:1``, ``poll:1``, ...); when the
run reaches it the process kills itself with SIGKILL: no cleanup, no checkpoint.
``SYNC_TEST_PIPELINE`` in the environment names the pipeline (default ``gl-monthly``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from ml_connector.engine.runtime import Engine
from ml_connector.http.polling import PollPolicy
from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.launch import EngineOptions, engine_settings
from ml_connector.runs.steps import LiveRunSteps


def main() -> None:
    data_dir, config, datev_url, period = sys.argv[1:5]
    kill_at = sys.argv[5] if len(sys.argv) > 5 else ""

    def boundary(name: str) -> None:
        if name == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    settings = SyncSettings(
        data_dir=Path(data_dir), config_path=Path(config), datev_api_url=datev_url
    )
    options = EngineOptions(
        queue_polling_interval=0.05,
        poll=PollPolicy(base=0.05, cap=0.1, floor=0.0, max_polls=20),
        application_version="sync-durability-test",
    )
    steps = LiveRunSteps(settings)
    with Engine(engine_settings(settings, options), steps, on_boundary=boundary) as engine:
        pipeline = os.environ.get("SYNC_TEST_PIPELINE", "gl-monthly")
        run_id = engine.enqueue(steps.spec_for(pipeline, period))
        outcome = engine.wait(run_id, timeout=60)
    print(json.dumps({"state": outcome.state, "jobs": dict(outcome.jobs), "error": outcome.error}))


if __name__ == "__main__":
    main()
