"""Helpers of the browser tests: Chromium, axe-core, logging in."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
VIEWER_PASSWORD = "viewer password for the browser test"
OPERATOR_PASSWORD = "operator password for the browser test"


def need(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is missing")
        pytest.skip(f"{what} is missing")


@dataclass
class LiveApp:
    """The served app: its URL and the demo admin's password."""

    url: str
    admin_password: str
    #: the emulators, and the Looker API3 key for the onboarding form
    looker_url: str = ""
    datev_url: str = ""
    data_dir: Path | None = None
    config_path: Path | None = None
    looker_client_id: str = ""
    looker_client_secret: str = ""


def check_accessibility(page: Any) -> None:
    """No serious or critical axe-core violation on the page."""
    need(AXE.is_file(), "the npm package axe-core (scripts/test installs it)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    serious = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{page.url}: {serious}"


def log_in(page: Any, url: str, user: str, password: str) -> None:
    """Log in through the form."""
    page.goto(f"{url}/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
