"""How often an engine started by ``run`` / ``replay`` or by a worker polls."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.launch import EngineOptions, engine_settings

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/mlc"


@pytest.mark.parametrize(
    ("system_db", "one_shot", "pickup", "queue", "listener"),
    [
        (None, True, 0.02, 0.1, 0.1),  # private SQLite: nobody else polls this queue
        ("sqlite:////tmp/dbos.sqlite3", True, 0.02, 0.1, 0.1),
        (PG, True, None, 1.0, 0.1),  # shared: the queue's interval is every worker's
        (None, False, None, 1.0, 1.0),  # a worker
        (PG, False, None, 1.0, 1.0),
    ],
)
def test_a_waiting_run_polls_its_private_queue_often_a_worker_rarely(
    tmp_path: Path,
    system_db: str | None,
    one_shot: bool,
    pickup: float | None,
    queue: float,
    listener: float,
) -> None:
    options = EngineOptions(system_database_url=system_db)
    settings = engine_settings(SyncSettings(data_dir=tmp_path), options, one_shot=one_shot)
    assert (
        settings.pickup_polling_interval,
        settings.queue_polling_interval,
        settings.listener_polling_interval,
    ) == (pickup, queue, listener)


def test_an_explicit_queue_interval_is_kept(tmp_path: Path) -> None:
    options = EngineOptions(queue_polling_interval=0.05)
    settings = engine_settings(SyncSettings(data_dir=tmp_path), options, one_shot=True)
    assert (settings.queue_polling_interval, settings.pickup_polling_interval) == (0.05, None)
