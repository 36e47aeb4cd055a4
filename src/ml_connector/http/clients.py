"""One TLS context per process, and pools of HTTP clients kept across steps.

Building an ``httpx.AsyncClient`` with ``verify=True`` builds a new TLS context (the CA
bundle is parsed each time), which costs more CPU than a small DATEV call; every client
takes :func:`tls_context` instead. A context holds no connection and no per-customer
state, so sharing it crosses neither event loops nor customers.

A :class:`ClientPool` keeps one client per key (the engine's keys name the customer and
the remote: never one client for two customers) and per event loop (a connection must
not cross loops), so the steps of a run, and the runs after it, reuse open connections.
Clients carry no credentials: the caller adds its ``Authorization`` header per request,
so a rotated token takes effect at once. The pool closes each loop's clients on that
loop when the loop's tasks are cancelled (how DBOS and :func:`asyncio.run` end a loop),
and :meth:`ClientPool.close` closes what is left, e.g. on a loop still running.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import httpx

__all__ = ["ClientPool", "tls_context"]

log = logging.getLogger(__name__)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context for verified HTTPS (httpx's defaults: its CA bundle,
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured)."""
    return httpx.create_ssl_context()


@dataclass(slots=True)
class _LoopClients:
    """The clients of one event loop and the task that closes them with the loop."""

    clients: dict[Hashable, httpx.AsyncClient] = field(default_factory=dict)
    keeper: asyncio.Task[None] | None = None


class ClientPool:
    """HTTP clients per key and event loop, kept until the loop ends or :meth:`close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopClients] = {}
        #: clients built so far (for tests and benchmarks)
        self.built = 0

    def client(self, key: Hashable, build: Callable[[], httpx.AsyncClient]) -> httpx.AsyncClient:
        """The running loop's client for ``key``, built with ``build`` the first time."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._loops.get(loop)
            if entry is None:
                entry = self._loops[loop] = _LoopClients()
                entry.keeper = loop.create_task(self._close_with_loop(loop), name="http-pool")
            client = entry.clients.get(key)
            if client is None or client.is_closed:
                client = entry.clients[key] = build()
                self.built += 1
            return client

    def open_clients(self) -> int:
        """How many clients are open (on every loop)."""
        with self._lock:
            return sum(
                not c.is_closed for entry in self._loops.values() for c in entry.clients.values()
            )

    async def _close_with_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            await loop.create_future()  # until the loop's tasks are cancelled
        finally:
            await self._close_loop(loop)

    async def _close_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            entry = self._loops.pop(loop, None)
        if entry is None:
            return
        for client in entry.clients.values():
            await client.aclose()
        if entry.keeper is not None and entry.keeper is not asyncio.current_task():
            entry.keeper.cancel()

    def close(self, timeout: float = 10.0) -> None:
        """Close every client on its own loop (call from outside those loops)."""
        with self._lock:
            loops = list(self._loops)
        for loop in loops:
            if loop.is_running() and loop is _running_loop():
                loop.create_task(self._close_loop(loop))  # cannot block on its own loop
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(self._close_loop(loop), loop)
                future.result(timeout)
            else:  # the loop ended without cancelling its tasks: nothing can run there
                with self._lock:
                    entry = self._loops.pop(loop, None)
                if entry is not None and entry.clients:
                    log.warning("%d HTTP client(s) of an ended event loop", len(entry.clients))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
