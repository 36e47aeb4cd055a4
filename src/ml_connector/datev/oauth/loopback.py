"""Receive the authorization response on ``http://127.0.0.1:PORT/callback`` (RFC 8252 7.3)."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from ml_connector.errors import ConfigurationError, NeedsUserError

__all__ = ["LoopbackReceiver"]

_DONE_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>ml-connector</title>"
    "</head><body><h1>{title}</h1><p>{text}</p></body></html>"
)


class LoopbackReceiver:
    """A one-shot HTTP listener on the loopback interface for the OAuth callback.

    It always listens on ``host`` (127.0.0.1); ``redirect_host`` only changes the
    host name in :attr:`redirect_uri` (e.g. ``localhost`` when registered so).
    ``port=0`` picks a free port. Use as a context manager; :meth:`wait` returns the
    callback's query parameters.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        path: str = "/callback",
        host: str = "127.0.0.1",
        redirect_host: str | None = None,
    ) -> None:
        self.path = path
        self._params: dict[str, str] | None = None
        self._received = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != receiver.path or receiver._received.is_set():
                    self.send_error(404)
                    return
                receiver._params = dict(parse_qsl(url.query, keep_blank_values=True))
                ok = "code" in receiver._params
                page = _DONE_PAGE.format(
                    title="Login received" if ok else "Login not completed",
                    text="You can close this window and return to ml-connector."
                    if ok
                    else "ml-connector shows what went wrong.",
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(page)
                receiver._received.set()

            def log_message(self, format: str, *args: object) -> None:
                """Silence: the query string carries the authorization code."""

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen for the login callback on {host}:{port} ({exc.strerror})",
                hint="choose another port with --port (0 picks a free one) if the provider "
                "accepts any loopback port; otherwise free the registered port",
            ) from None
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        #: the URI registered at the provider; ``redirect_host`` may say ``localhost``
        self.redirect_uri = f"http://{redirect_host or host}:{self.port}{path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="oauth-callback", daemon=True
        )

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    async def wait(self, wait_seconds: float = 300.0) -> dict[str, str]:
        """The callback's query parameters; :class:`NeedsUserError` after ``wait_seconds``."""
        arrived = await asyncio.to_thread(self._received.wait, wait_seconds)
        if not arrived or self._params is None:
            raise NeedsUserError(
                f"no login arrived at {self.redirect_uri} within {wait_seconds:.0f} s",
                hint="open the printed URL in a browser on this machine and finish the login",
            )
        return self._params
