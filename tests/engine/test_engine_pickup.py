"""A one-shot engine (``run``, ``replay``) polls its queue fast only until its run starts."""

from __future__ import annotations

from pathlib import Path

from dbos import DBOS, DBOSClient
from engine_fakes import FakeDatev, FakeSteps

from ml_connector.engine.ports import RunSpec
from ml_connector.engine.runtime import QUEUE_NAME, Engine, EngineSettings
from ml_connector.http.polling import PollPolicy

SPEC = RunSpec("gl", "acme", "100-1", "2026-10")
PICKUP, AFTER = 0.02, 0.5


def _settings(
    tmp_path: Path,
    *,
    pickup: float | None = None,
    system_database_url: str | None = None,
    store_url: str | None = None,
) -> EngineSettings:
    """An engine polling its queue every AFTER seconds (and every ``pickup`` seconds
    until the awaited run starts, when given)."""
    return EngineSettings(
        data_dir=tmp_path,
        system_database_url=system_database_url,
        store_url=store_url,
        queue_polling_interval=AFTER,
        pickup_polling_interval=pickup,
        poll=PollPolicy(base=0.01, cap=0.02, floor=0.0, max_polls=200),
        application_version="pickup-test",
    )


def _interval() -> float:
    queue = DBOS.retrieve_queue(QUEUE_NAME)
    assert queue is not None
    return queue.polling_interval_sec


def _stored_interval(system_database_url: str) -> float:
    client = DBOSClient(system_database_url=system_database_url)
    try:
        queue = client.retrieve_queue(QUEUE_NAME)
        assert queue is not None
        return queue.polling_interval_sec
    finally:
        client.destroy()


def test_the_queue_is_polled_fast_until_the_awaited_run_starts_then_at_its_interval(
    tmp_path: Path, datev: FakeDatev, db_urls: tuple[str | None, str | None]
) -> None:
    settings = _settings(
        tmp_path, system_database_url=db_urls[0], store_url=db_urls[1], pickup=PICKUP
    )
    engine = Engine(settings, FakeSteps(datev)).launch()
    try:
        assert _interval() == PICKUP
        run_id = engine.enqueue(SPEC)
        assert engine.wait(run_id, timeout=60).state == "succeeded"
        assert _interval() == AFTER  # not 50 polls a second while the run works
    finally:
        engine.shutdown()
    # the next launch's queue thread starts with the stored interval: the fast one
    assert _stored_interval(engine.system_database_url) == PICKUP


def test_an_engine_without_pickup_polls_at_its_interval_throughout(
    tmp_path: Path, datev: FakeDatev
) -> None:
    engine = Engine(_settings(tmp_path), FakeSteps(datev)).launch()
    try:
        assert _interval() == AFTER
        assert engine.wait(engine.enqueue(SPEC), timeout=60).state == "succeeded"
        assert _interval() == AFTER
    finally:
        engine.shutdown()
    assert _stored_interval(engine.system_database_url) == AFTER
