"""Serving the app with uvicorn, optionally with a worker in the same process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ml_connector.interfaces.web.app import create_app
from ml_connector.interfaces.web.settings import WebSettings
from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.launch import EngineOptions

__all__ = ["serve_app", "start_worker"]

_log = logging.getLogger("ml_connector.web")
#: how long stopping waits for a run in progress to reach a checkpoint and the engine to end
_STOP_TIMEOUT = 60.0


def start_worker(settings: WebSettings, options: EngineOptions) -> Callable[[], None]:
    """Start a worker thread (queued runs and schedules); returns the function that stops
    it and waits until its engine has shut down, so another engine may start after it."""
    from ml_connector.runs.launch import work

    sync = SyncSettings(
        data_dir=settings.data_dir,
        store_url=settings.store_url,
        config_path=settings.config_path,
        looker_url=settings.looker_url,
        datev_api_url=settings.datev_url,
    )
    stop = threading.Event()

    def run() -> None:
        try:
            work(sync, options=options, stop=stop, tick=5.0)
        except Exception:
            _log.exception("the worker stopped; queued runs wait for 'ml-connector worker'")

    thread = threading.Thread(target=run, name="ml-connector-worker", daemon=True)
    thread.start()

    def stop_worker() -> None:
        stop.set()
        thread.join(_STOP_TIMEOUT)

    return stop_worker


def serve_app(
    settings: WebSettings,
    *,
    host: str,
    port: int,
    trusted_proxies: str = "127.0.0.1",
    worker: EngineOptions | None = None,
) -> None:
    """Serve until stopped; with ``worker``, queued runs are executed in this process too."""
    import uvicorn

    app = create_app(settings)
    stop_worker = start_worker(settings, worker) if worker is not None else None
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            proxy_headers=True,
            forwarded_allow_ips=trusted_proxies,
            server_header=False,
            log_level="warning",
        )
    finally:
        if stop_worker is not None:
            stop_worker()
