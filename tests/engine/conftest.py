"""Engine fixtures: an in-process engine on SQLite or PostgreSQL with fake steps."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from engine_fakes import FakeDatev, FakeSteps

from ml_connector.engine.ports import RunOutcome, RunSteps
from ml_connector.engine.runtime import Engine, EngineSettings
from ml_connector.http.polling import PollPolicy

TEST_VERSION = "engine-test"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | None, str | None]:
    """(system database URL, store URL); ``None`` means the SQLite default in the data dir."""
    if request.param == "sqlite":
        return None, None
    url: str = request.getfixturevalue("postgres_url")
    return url, url


@pytest.fixture
def datev(tmp_path: Path) -> FakeDatev:
    return FakeDatev(tmp_path / "datev.sqlite3")


@pytest.fixture
def make_engine(
    tmp_path: Path, db_urls: tuple[str | None, str | None]
) -> Iterator[Callable[..., Engine]]:
    """Build and launch an engine; shut down after the test."""
    started: list[Engine] = []

    def build(
        steps: RunSteps,
        *,
        notifications: list[RunOutcome] | None = None,
        executor_id: str | None = None,
    ) -> Engine:
        async def notify(outcome: RunOutcome) -> None:
            if notifications is not None:
                notifications.append(outcome)

        settings = EngineSettings(
            data_dir=tmp_path,
            system_database_url=db_urls[0],
            store_url=db_urls[1],
            executor_id=executor_id,
            queue_polling_interval=0.05,
            poll=PollPolicy(base=0.01, cap=0.02, floor=0.0, max_polls=200),
            application_version=TEST_VERSION,
        )
        engine = Engine(settings, steps, notifier=notify).launch()
        started.append(engine)
        return engine

    yield build
    for engine in started:
        engine.shutdown()


__all__ = ["FakeDatev", "FakeSteps"]
