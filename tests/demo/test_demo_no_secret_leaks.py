"""No secret or token is written anywhere: files, databases, logs, reports, errors.

The demo runs with known secrets (and debug logging in JSON), then a run fails on a
wrong Looker secret (debug logging as text), with the store on SQLite and on
PostgreSQL. Every file in the demo's directory, a dump of the databases (cells that
are base64 are decoded too), every log line, the run outcomes and the summary are
searched for each secret and token:
plain, base64 (standard and URL-safe, with and without padding) and URL-encoded.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from pydantic import SecretStr
from sqlalchemy import inspect, text

from ml_connector.credentials import open_credential_store
from ml_connector.datev.oauth.connection_store import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    credential_owner,
)
from ml_connector.engine.runtime import Engine
from ml_connector.logs import configure_logging
from ml_connector.runs.connect import SyncSettings, open_sync_store, store_looker_credentials
from ml_connector.runs.launch import EngineOptions, engine_settings
from ml_connector.runs.steps import LiveRunSteps
from ml_connector.store.db import make_engine
from ml_connector_sandbox.demo import run_demo
from ml_connector_sandbox.demo.emulators import DEMO_LOOKER_CLIENT_ID, running_emulators
from ml_connector_sandbox.demo.setup import DEMO_CUSTOMER, DEMO_PIPELINE, LOOKER_OWNER

LOOKER_SECRET = "Lk+/s3cr3t=Zz%&äÖ-looker-demo"
WRONG_LOOKER_SECRET = "Wr+/0ng=Secret%&ü-looker"
DATEV_CLIENT_SECRET = "Dv+/cl13nt=Secret%&ß-datev"


def _forms(secret: str) -> set[bytes]:
    raw = secret.encode("utf-8")
    forms = {raw, quote(secret, safe="").encode(), quote_plus(secret).encode()}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw)
        forms |= {encoded, encoded.rstrip(b"=")}
    return forms


def _sqlite_dump(path: Path) -> Iterator[bytes]:
    """Every statement of a dump, plus each base64 cell decoded."""
    with sqlite3.connect(path) as db:
        for line in db.iterdump():
            yield line.encode("utf-8", "replace")
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - table names from sqlite
                yield from _decoded(row)


@pytest.fixture
def logs() -> Iterator[dict[str, io.StringIO]]:
    streams = {"json": io.StringIO(), "text": io.StringIO()}
    root = logging.getLogger()
    level = root.level
    yield streams
    for handler in list(root.handlers):
        if getattr(handler, "_ml_connector", False):
            root.removeHandler(handler)
    root.setLevel(level)


def _database_dump(url: str) -> Iterator[bytes]:
    """Every row of every table of a (PostgreSQL) store, plus each base64 cell decoded."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            for schema in inspect(conn).get_schema_names():
                if schema in ("information_schema", "pg_catalog"):
                    continue
                for table in inspect(conn).get_table_names(schema=schema):
                    rows = conn.execute(text(f'SELECT * FROM "{schema}"."{table}"'))  # noqa: S608
                    for row in rows:
                        yield repr(tuple(row)).encode("utf-8", "replace")
                        yield from _decoded(row)
    finally:
        engine.dispose()


def _decoded(row: Iterable[object]) -> Iterator[bytes]:
    for cell in row:
        if isinstance(cell, bytes | memoryview):
            yield bytes(cell)
        elif isinstance(cell, str) and len(cell) > 16:
            with contextlib.suppress(ValueError):
                yield base64.b64decode(cell, validate=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """The demo's store: SQLite in its data directory, or a PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.mark.slow
def test_no_secret_or_token_is_written_anywhere(
    store_url: str | None,
    tmp_path: Path,
    logs: dict[str, io.StringIO],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MERIDIAN_DATEV_CLIENT_SECRET", DATEV_CLIENT_SECRET)
    workdir = tmp_path / "demo"
    texts: list[str] = []
    configure_logging("DEBUG", "json", stream=logs["json"])
    with running_emulators(looker_secret=LOOKER_SECRET) as emulators:
        summary = run_demo(
            workdir,
            months=["2025-12"],
            progress=texts.append,
            print_summary=False,
            emulators=emulators,
            store_url=store_url,
        )
        assert summary.ok
        # the demo logged in as the emulator's confidential client: its secret was sent
        demo_client_secret = emulators.datev_client_secret.get_secret_value()
        settings = SyncSettings(
            data_dir=workdir / "data",
            store_url=store_url,
            config_path=Path(summary.config_path),
            datev_api_url=emulators.datev_url,
        )
        store = open_sync_store(settings)
        credentials = open_credential_store(store, settings.data_dir)
        owner = credential_owner(DEMO_CUSTOMER)
        credentials.put(owner, CLIENT_SECRET, SecretStr(DATEV_CLIENT_SECRET))
        tokens = [credentials.find(owner, kind) for kind in (ACCESS_TOKEN, REFRESH_TOKEN)]
        # a failing run: the stored Looker key is wrong now
        store_looker_credentials(
            credentials, LOOKER_OWNER, DEMO_LOOKER_CLIENT_ID, SecretStr(WRONG_LOOKER_SECRET)
        )
        store.dispose()
        configure_logging("DEBUG", "text", stream=logs["text"])
        steps = LiveRunSteps(settings)
        options = EngineOptions(queue_polling_interval=0.05, application_version="leak-test")
        try:
            with Engine(engine_settings(settings, options), steps) as engine:
                spec = steps.spec_for(DEMO_PIPELINE, "2026-10")
                failed = engine.wait(engine.enqueue(spec), timeout=120)
        finally:
            steps.close()
    assert failed.state == "failed"
    assert failed.error

    secrets = [LOOKER_SECRET, WRONG_LOOKER_SECRET, DATEV_CLIENT_SECRET, demo_client_secret]
    secrets += [t.get_secret_value() for t in tokens if t is not None]
    assert len(secrets) == 6  # the DATEV login stored both tokens
    haystacks: dict[str, bytes] = {
        "json log": logs["json"].getvalue().encode(),
        "text log": logs["text"].getvalue().encode(),
        "progress": "\n".join(texts).encode(),
        "summary": json.dumps(summary.to_json()).encode(),
        "failed run": f"{failed.error} {failed.error_kind} {failed}".encode(),
    }
    assert b'"level": "debug"' in haystacks["json log"]
    assert b" DEBUG " in haystacks["text log"]
    for path in workdir.rglob("*"):
        if path.is_file():
            haystacks[str(path.relative_to(workdir))] = path.read_bytes()
    for name in ("ml-connector.sqlite3", "dbos.sqlite3"):
        if (workdir / "data" / name).exists():
            haystacks[f"dump of {name}"] = b"\n".join(_sqlite_dump(workdir / "data" / name))
    if store_url is None:
        assert "dump of ml-connector.sqlite3" in haystacks
    else:
        dump = b"\n".join(_database_dump(store_url))
        assert b"run_finished" in dump  # the audit trail lives here
        haystacks["dump of the PostgreSQL store"] = dump
        assert not (workdir / "data" / "ml-connector.sqlite3").exists()
    assert any("datev-http" in name for name in haystacks)  # the HTTP log was searched

    found = [
        (where, secret[:6] + "…")
        for secret in secrets
        for form in _forms(secret)
        for where, data in haystacks.items()
        if form in data
    ]
    assert found == []


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


@pytest.mark.slow
def test_everything_the_demo_writes_is_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # a common default: files 0644 unless the product says otherwise
    try:
        with running_emulators() as emulators:
            summary = run_demo(
                tmp_path / "demo",
                months=["2025-12"],
                progress=None,
                print_summary=False,
                emulators=emulators,
            )
    finally:
        os.umask(previous)
    data = tmp_path / "demo" / "data"
    modes = _modes(data)
    assert summary.rows_rejected == 1  # held rows were written too
    kinds = {Path(name).suffix for name in modes}
    assert {".sqlite3", ".csv", ".json", ".jsonl"} <= kinds
    assert any("datev-http" in name for name in modes)
    expected = {name: 0o700 if (data / name).is_dir() else 0o600 for name in modes}
    assert modes == expected
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
