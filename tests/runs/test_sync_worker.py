"""``run --queue`` queues a run; ``ml-connector worker`` (a separate process) executes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from click.testing import CliRunner
from sync_support import CLIENT

from ml_connector.interfaces.cli import main
from ml_connector.runs.connect import open_sync_store
from ml_connector.store.runs import get_run
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.demo.setup import DemoInstall


def test_worker_executes_a_queued_run_and_stops_on_sigterm(
    installed: DemoInstall, emulators: DemoEmulators
) -> None:
    config = installed.config_path
    config.write_text(config.read_text("utf-8").replace('schedule = "0 6 3 * *"\n', ""), "utf-8")
    env = {**os.environ, "ML_CONNECTOR_HOME": str(installed.settings.data_dir)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "ml_connector", "worker", "--config", str(config),
         "--datev-url", emulators.datev_url, "--tick", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    store = open_sync_store(installed.settings)
    try:
        deadline = time.monotonic() + 60
        args = ["run", "gl-monthly", "--period", "2026-09", "--config", str(config), "--queue"]
        while True:  # until the worker has created the queue's database
            queued = CliRunner().invoke(main, args)
            if queued.exit_code == 0 or time.monotonic() > deadline:
                break
            assert "start 'ml-connector worker'" in queued.output
            time.sleep(0.2)
        assert queued.exit_code == 0, queued.output
        assert "run:gl-monthly:2026-09" in queued.output
        deadline = time.monotonic() + 60
        run = None
        while time.monotonic() < deadline:
            run = get_run(store, "run:gl-monthly:2026-09")
            if run is not None and run.state not in ("queued", "running"):
                break
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    finally:
        store.dispose()
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, stderr[-2000:]
    assert run is not None
    assert (run.state, run.jobs_succeeded) == ("succeeded", 1), stderr[-2000:]
    assert len(emulators.ledger.bookings(CLIENT)) == 71
