"""``ml-connector demo --serve``: the demo, then the web app on its data.

The emulators keep running while the app serves, and a worker runs in the app's
process, so a run started in the app goes to the same emulated Looker and DATEV.
A demo admin with a random password is created and printed once.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from ml_connector.interfaces.web import WebSettings
from ml_connector.interfaces.web.security import hash_password
from ml_connector.interfaces.web.server import serve_app
from ml_connector.store.open import open_store
from ml_connector.store.web import add_user
from ml_connector_sandbox.demo.emulators import running_emulators
from ml_connector_sandbox.demo.run import DEMO_ENGINE, check_fresh, emulator_dir, run_demo

__all__ = ["DEMO_ADMIN", "serve_demo"]

DEMO_ADMIN = "demo-admin"


def demo_web_settings(
    data_dir: Path, config_path: Path, datev_url: str, public_url: str
) -> WebSettings:
    """The app's settings on the demo's data directory, configuration and DATEV emulator."""
    return WebSettings(
        data_dir=data_dir, config_path=config_path, datev_url=datev_url, public_url=public_url
    )


def add_demo_admin(data_dir: Path) -> str:
    """Create the demo admin in the demo's store; its password (shown once)."""
    password = secrets.token_urlsafe(15)
    engine = open_store(None, data_dir=data_dir)
    try:
        add_user(engine, DEMO_ADMIN, "admin", hash_password(password))
    finally:
        engine.dispose()
    return password


def serve_demo(workdir: Path, months: list[str] | None, *, host: str, port: int) -> None:
    """Run the demo, then serve the app on its data until stopped."""
    workdir = workdir.resolve()
    check_fresh(workdir)
    with running_emulators(datev_dir=emulator_dir(workdir)) as emulators:
        summary = run_demo(workdir, months=months, emulators=emulators)
        data_dir = Path(summary.data_dir)
        password = add_demo_admin(data_dir)
        url = f"http://{host}:{port}"
        print(f"\nweb app: {url}\n  user: {DEMO_ADMIN}\n  password: {password}", flush=True)
        print("  (stop with Ctrl-C; the emulators stop with it)", flush=True)
        settings = demo_web_settings(data_dir, Path(summary.config_path), emulators.datev_url, url)
        serve_app(settings, host=host, port=port, worker=DEMO_ENGINE)
