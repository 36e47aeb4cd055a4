"""The web app in a real browser (Debian's Chromium driven by Playwright) on the demo's
data, with the emulators and a worker running, as ``ml-connector demo --serve`` does.

Skips when Chromium or Playwright is missing, except in CI (``CI=true``): .ci/run
installs Chromium and scripts/test installs axe-core.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, OPERATOR_PASSWORD, VIEWER_PASSWORD, LiveApp, need


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The demo (one month, with a held row), then the app on its data."""
    from ml_connector.interfaces.web import create_app
    from ml_connector.interfaces.web.security import hash_password
    from ml_connector.interfaces.web.server import start_worker
    from ml_connector.store.open import open_store
    from ml_connector.store.web import add_user
    from ml_connector_sandbox.demo.emulators import DEMO_OAUTH_CLIENT, running_emulators
    from ml_connector_sandbox.demo.run import DEMO_ENGINE, run_demo
    from ml_connector_sandbox.demo.serve import add_demo_admin, demo_web_settings
    from ml_connector_sandbox.emulators._server import free_port, serve_in_thread

    need(shutil.which(CHROMIUM) is not None, "Debian's chromium (/usr/bin/chromium)")
    pytest.importorskip("playwright")
    workdir = tmp_path_factory.mktemp("browser-demo")
    with running_emulators() as emulators:
        summary = run_demo(workdir / "demo", months=["2025-12"], emulators=emulators,
                           progress=None, print_summary=False)  # fmt: skip
        data_dir = Path(summary.data_dir)
        password = add_demo_admin(data_dir)
        engine = open_store(None, data_dir=data_dir)
        add_user(engine, "viewer", "viewer", hash_password(VIEWER_PASSWORD))
        add_user(engine, "operator", "operator", hash_password(OPERATOR_PASSWORD))
        engine.dispose()
        port = free_port("127.0.0.1")
        url = f"http://127.0.0.1:{port}"
        _allow_web_login(emulators, Path(summary.config_path), url, DEMO_OAUTH_CLIENT)
        settings = demo_web_settings(data_dir, Path(summary.config_path), emulators.datev_url, url)
        app = create_app(settings)  # migrates the store first: Alembic is not thread-safe
        stop_worker = start_worker(settings, DEMO_ENGINE)
        server = serve_in_thread(app, port=port)
        try:
            yield LiveApp(
                url,
                password,
                looker_url=emulators.looker_url,
                datev_url=emulators.datev_url,
                data_dir=data_dir,
                config_path=Path(summary.config_path),
                looker_client_id=emulators.looker_client_id,
                looker_client_secret=emulators.looker_client_secret.get_secret_value(),
            )
        finally:
            server.stop()
            stop_worker()
            os.environ.pop("MLC_BROWSER_DATEV_CLIENT_SECRET", None)


def _allow_web_login(emulators: Any, config_path: Path, url: str, client_id: str) -> None:
    """Let "Connect DATEV" work as in production: the app's callback registered for the
    demo's OAuth client at the emulator, the client in the customer's configuration, and
    a person (not ``auto_consent``) signing in at the consent page."""
    idp = emulators.idp
    registered = idp.clients[client_id]
    callback = f"{url}/oauth/datev/callback"
    idp.clients[client_id] = replace(
        registered, redirect_uris=(*registered.redirect_uris, callback)
    )
    idp.auto_consent = False
    os.environ["MLC_BROWSER_DATEV_CLIENT_SECRET"] = emulators.datev_client_secret.get_secret_value()
    with config_path.open("a", encoding="utf-8") as config:
        config.write(
            f'\n[customers.meridian.datev.oauth]\nclient_id = "{client_id}"\n'
            'client_secret = "env:MLC_BROWSER_DATEV"\n'
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, headless (no sandbox: CI runs as root)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    need(shutil.which(CHROMIUM) is not None, "Debian's chromium (/usr/bin/chromium)")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()
