"""The web app on a migrated store (SQLite and PostgreSQL), with one user per role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from web_support import FILENAME, PASSWORD, ROLES, RUN_ID, TestClient, login

from ml_connector.interfaces.web import WebSettings, create_app
from ml_connector.interfaces.web.security import hash_password
from ml_connector.store.db import make_engine, migrate
from ml_connector.store.web import add_user


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def web_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store holding the users viewer, operator and admin."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    hashed = hash_password(PASSWORD)
    for role in ROLES:
        add_user(engine, role, role, hashed)
    yield engine
    engine.dispose()


@pytest.fixture
def app(web_engine: Engine, data_dir: Path) -> FastAPI:
    """The app over plain HTTP."""
    return create_app(WebSettings(data_dir=data_dir), engine=web_engine)


@pytest.fixture
def as_role(app: FastAPI) -> Iterator[dict[str, TestClient]]:
    """A logged-in client per role, plus ``anonymous``."""
    clients = {"anonymous": TestClient(app)}
    for role in ROLES:
        client = TestClient(app)
        assert login(client, role) == 303
        clients[role] = client
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
def recorded_run(web_engine: Engine, tmp_path: Path) -> str:
    """A finished run as the engine records it: one booked row in a file DATEV took,
    one held row, money per account."""
    from ml_connector.store.audit import AuditEvent, append_in
    from ml_connector.store.runs import RunFileRecord, add_file, ensure_run, update_run
    from ml_connector.store.transactions import write_transaction

    extf = tmp_path / FILENAME
    extf.write_text('"EXTF";700;21\n1;2\n', encoding="utf-8")
    money = {
        "accounts": [
            {"account": 1200, "currency": "EUR", "debit": "1234.50", "credit": "0"},
            {"account": 8400, "currency": "EUR", "debit": "0", "credit": "1234.50"},
        ],
        "held": [{"reason": "unmapped_account", "count": 1, "amount": "99.90",
                  "without_amount": 0}],
    }  # fmt: skip
    booked = {
        "source": {"id": "row-1", "amount": "1234.50"},
        "line": 1,
        "rejection": None,
        "booking": {
            "content_digest": "2:ab",
            "reversal": [],
            "lines": [{"umsatz": "1234.50", "konto": 1200, "belegfeld_1": "RE-2026-1"}],
        },
    }
    held = {"source": {"id": "row-2", "amount": "99.90"}, "line": None, "booking": None,
            "rejection": "unmapped_account: no DATEV account for GL 4711"}  # fmt: skip
    with write_transaction(web_engine) as conn:
        ensure_run(conn, run_id=RUN_ID, pipeline="gl-monthly", customer="acme",
                   datev_client="1001-1", period="2026-10")  # fmt: skip
        add_file(conn, RunFileRecord(RUN_ID, 1, str(extf), FILENAME, "ab" * 32, "ref-1", 1,
                                     "job-77", "succeeded", "imported without errors"))  # fmt: skip
        events = [
            AuditEvent("run_started", RUN_ID, {"pipeline": "gl-monthly", "customer": "acme",
                                               "period": "2026-10", "replay_of": None,
                                               "skip_files": []}),
            AuditEvent("row", RUN_ID, booked, row_key="row-1", filename=FILENAME),
            AuditEvent("row", RUN_ID, held, row_key="row-2"),
            AuditEvent("file_written", RUN_ID, {"lines": 1}, filename=FILENAME),
            AuditEvent("file_submitted", RUN_ID, {"datev_job_id": "job-77"}, filename=FILENAME),
            AuditEvent("job_outcome", RUN_ID, {"datev_job_id": "job-77", "outcome": "succeeded",
                                               "detail": "imported without errors"},
                       filename=FILENAME),
            AuditEvent("run_finished", RUN_ID, {"state": "succeeded", "rows_read": 2,
                                                "rows_mapped": 1, "rows_rejected": 1,
                                                "jobs_succeeded": 1, "jobs_failed": 0,
                                                "error": None, "warnings": []}),
        ]  # fmt: skip
        append_in(conn, "1001-1", events)
        update_run(conn, RUN_ID, state="succeeded", rows_read=2, rows_mapped=1, rows_rejected=1,
                   files_written=1, jobs_succeeded=1, money=json.dumps(money))  # fmt: skip
    return RUN_ID
