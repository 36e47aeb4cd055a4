"""``migrate`` upgrades a database that is behind and recognises one that is not."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from ml_connector.store.db import alembic_config, migrate, script_heads


def _versions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}


def test_the_heads_read_from_the_files_are_alembics(store_engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config(store_engine))
    assert script_heads() == set(script.get_heads())
    assert _versions(store_engine) == script_heads()


def test_a_database_behind_is_upgraded_and_one_at_the_heads_left_alone(
    store_engine: Engine,
) -> None:
    tables = set(inspect(store_engine).get_table_names())
    command.downgrade(alembic_config(store_engine), "engine@-1")
    assert _versions(store_engine) != script_heads()
    assert set(inspect(store_engine).get_table_names()) <= tables
    migrate(store_engine)
    assert _versions(store_engine) == script_heads()
    assert set(inspect(store_engine).get_table_names()) == tables
    migrate(store_engine)  # at the heads: nothing to do, nothing changes
    assert _versions(store_engine) == script_heads()
