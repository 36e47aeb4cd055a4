"""A worker on PostgreSQL keeps its store connections across steps and runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dbos._dbos import _get_dbos_instance
from engine_fakes import FakeDatev, FakeSteps
from sqlalchemy import event

from ml_connector.engine.ports import RunSpec
from ml_connector.engine.runtime import STORE_POOL_SPARE, Engine, EngineSettings
from ml_connector.http.polling import PollPolicy


@pytest.mark.postgres
def test_concurrent_runs_reuse_the_store_connections(tmp_path: Path, postgres_url: str) -> None:
    """16 runs, 8 at once: the store opens at most one connection per concurrent run
    plus the spares (a pool smaller than the concurrency opened one per surplus step),
    and DBOS checks out its connections without a ping round trip."""
    concurrency = 8
    settings = EngineSettings(
        data_dir=tmp_path / "data",
        store_url=postgres_url,
        system_database_url=postgres_url,
        queue_polling_interval=0.05,
        worker_concurrency=concurrency,
        poll=PollPolicy(base=0.01, cap=0.02, floor=0.0, max_polls=200),
        application_version="engine-test",
    )
    steps = FakeSteps(FakeDatev(tmp_path / "datev.sqlite3"), rejected=0)
    opened: list[object] = []
    with Engine(settings, steps) as engine:

        def count(*_: Any) -> None:
            opened.append(None)

        event.listen(engine.store.pool, "connect", count)
        # returned connections beyond the pool size are closed: it holds every run's
        assert engine.store.pool.size() >= concurrency  # type: ignore[attr-defined]
        ids = [
            engine.enqueue(RunSpec(f"p{i}", "acme", f"455148-{10000 + i}", "2026-01"))
            for i in range(2 * concurrency)
        ]
        assert {engine.wait(run_id, 60).state for run_id in ids} == {"succeeded"}
        assert _get_dbos_instance()._sys_db.engine.pool._pre_ping is False
    assert len(opened) <= concurrency + STORE_POOL_SPARE
