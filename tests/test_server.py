"""The in-process emulator host starts on a free loopback port and stops cleanly."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ml_connector_sandbox.emulators._server import serve_in_thread


def test_serve_in_thread_serves_and_stops() -> None:
    app = Starlette(routes=[Route("/", lambda _req: PlainTextResponse("hello"))])
    with serve_in_thread(app) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url).text == "hello"
    assert not server._thread.is_alive()
