"""The engine keeps one DATEV client per customer and remote across steps and runs,
and closes every connection when it shuts down."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sync_support import PIPELINE

from ml_connector.credentials import open_credential_store
from ml_connector.datev.oauth.connection_store import ConnectionStore
from ml_connector.engine.runtime import Engine
from ml_connector.http.clients import ClientPool
from ml_connector.http.polling import PollPolicy
from ml_connector.runs.connect import DatevConnections, open_sync_store
from ml_connector.runs.launch import EngineOptions, engine_settings
from ml_connector.runs.steps import LiveRunSteps
from ml_connector_sandbox.demo.emulators import DEMO_OAUTH_CLIENT, DemoEmulators
from ml_connector_sandbox.demo.login import login_unattended
from ml_connector_sandbox.demo.setup import DEMO_CUSTOMER, DemoInstall

FAST = EngineOptions(
    queue_polling_interval=0.05, poll=PollPolicy(base=0.05, cap=0.1, floor=0.0, max_polls=20)
)


def open_connections_to(port: int) -> int:
    """This process's established TCP connections to ``port`` on the local host."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in mine:
                count += 1
    return count


@pytest.mark.filterwarnings("error::ResourceWarning")
def test_runs_share_one_datev_client_and_shutdown_leaves_no_socket_open(
    installed_on: DemoInstall, emulators: DemoEmulators, db_url: str | None
) -> None:
    port = urlsplit(emulators.datev_url).port
    assert port is not None
    settings = installed_on.settings
    steps = LiveRunSteps(settings)
    options = dataclasses.replace(FAST, system_database_url=db_url)
    # the second run finds its access token rejected: the refresh goes through the kept
    # token client, and the retried request carries the new token over the kept API client
    expired = False

    def boundary(name: str) -> None:
        nonlocal expired
        if name == "finish" and not expired:
            expired = emulators.idp.expire_access_tokens() > 0

    try:
        with Engine(engine_settings(settings, options), steps, on_boundary=boundary) as engine:
            first = engine.wait(engine.enqueue(steps.spec_for(PIPELINE, "2025-12")), timeout=120)
            second = engine.wait(engine.enqueue(steps.spec_for(PIPELINE, "2026-10")), timeout=120)
            assert (first.state, second.state) == ("succeeded", "succeeded"), second.error
            assert first.jobs_succeeded == second.jobs_succeeded == 1
            assert expired
            # one API and one token endpoint client for the customer, for every step of both
            assert engine.clients.built == 2
            assert engine.clients.open_clients() == 2
        assert engine.clients.open_clients() == 0
        assert steps.connections.pool is None
    finally:
        steps.close()
    gc.collect()
    assert open_connections_to(port) == 0


def test_each_customer_gets_its_own_client(
    installed: DemoInstall, emulators: DemoEmulators
) -> None:
    steps = LiveRunSteps(installed.settings)
    customer = steps.config().model.customers[DEMO_CUSTOMER]
    store = open_sync_store(installed.settings)
    pool = ClientPool()

    async def go() -> None:
        connections = ConnectionStore(
            store, open_credential_store(store, installed.settings.data_dir)
        )
        await login_unattended(
            connections,
            "other",
            issuer=emulators.issuer,
            client_id=DEMO_OAUTH_CLIENT,
            client_secret=emulators.datev_client_secret,
        )
        datev = DatevConnections(installed.settings, connections, pool)
        seen = {}
        for name in (DEMO_CUSTOMER, "other", DEMO_CUSTOMER):
            async with datev.client(name, customer) as client:
                await client.list_clients()
                seen.setdefault(name, set()).add(id(client._http))
        assert len(seen[DEMO_CUSTOMER]) == 1, "kept across steps of one customer"
        assert seen[DEMO_CUSTOMER].isdisjoint(seen["other"]), "never shared by two customers"
        assert pool.open_clients() == 4

    try:
        asyncio.run(go())  # the loop ends: its clients are closed there
        assert pool.open_clients() == 0
    finally:
        store.dispose()
        steps.close()
