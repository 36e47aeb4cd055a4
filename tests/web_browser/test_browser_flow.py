"""An operator's day in the browser: log in, start a run and watch it finish without
reloading, open a held row, download the audit export; a viewer cannot act.
Every page passes the axe-core accessibility check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser_support import VIEWER_PASSWORD, LiveApp, check_accessibility, log_in

pytestmark = pytest.mark.slow


def test_operator_runs_a_period_and_follows_it_to_datev(
    live_app: LiveApp, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(accept_downloads=True, bypass_csp=True)  # to inject axe-core
    log_in(page, live_app.url, "demo-admin", live_app.admin_password)
    check_accessibility(page)
    page.select_option("#s-pipeline", "gl-monthly")
    page.fill("#s-period", "2025-11")
    page.click("text=Run…")
    page.wait_for_selector("text=Please confirm")
    check_accessibility(page)
    page.click("text=Yes, do it")
    page.wait_for_url(f"{live_app.url}/?pipeline=gl-monthly&queued=run:gl-monthly:2025-11")
    # the page updates itself: the run's row reaches its final state without a reload
    row = page.locator("tr", has=page.locator("a", has_text="run:gl-monthly:2025-11"))
    if row.count() == 0:  # queued, not started: the worker records it when it starts
        page.wait_for_timeout(3000)
        page.reload()
    state = row.locator("[data-field=state]")
    state.filter(has_text="succeeded").wait_for(timeout=120_000)

    # replay only its failed files and held rows: a new run, nothing posted twice
    page.click("text=run:gl-monthly:2025-11")
    page.click("text=Replay failed files and held rows only…")
    page.wait_for_selector("text=Please confirm")
    page.click("text=Yes, do it")
    replay = page.locator("tr", has=page.locator("a", has_text="2025-11:replay-1"))
    for _ in range(40):
        if replay.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    replay.locator("[data-field=state]").filter(has_text="succeeded").wait_for(timeout=120_000)

    page.click("text=run:gl-monthly:2025-12")
    page.wait_for_selector("text=Held rows (1)")
    assert "Debit and credit per DATEV account" in page.content()
    check_accessibility(page)
    page.locator("#held ~ table a").first.click()
    page.wait_for_selector("text=Held")
    assert "/lineage?row_key=" in page.url
    check_accessibility(page)

    page.goto(f"{live_app.url}/audit")
    check_accessibility(page)
    page.select_option("#x-format", "json")
    with page.expect_download() as download:
        page.click("text=Download")
    target = tmp_path / "audit.json"
    download.value.save_as(target)
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert {row["run_id"] for row in exported["rows"]} >= {"run:gl-monthly:2025-12"}
    for path in ("/schedules", "/lineage", "/tokens", "/users"):
        page.goto(live_app.url + path)
        check_accessibility(page)
    page.close()


def test_a_viewer_sees_no_actions_and_is_refused(live_app: LiveApp, browser: Any) -> None:
    page = browser.new_page(bypass_csp=True)
    log_in(page, live_app.url, "viewer", VIEWER_PASSWORD)
    assert page.locator("#s-period").count() == 0  # no "run a period now" form
    page.click("text=run:gl-monthly:2025-12")
    assert page.locator("text=Replay…").count() == 0
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(
        f"{live_app.url}/actions/start",
        form={"pipeline": "gl-monthly", "period": "2025-10", "csrf_token": csrf or ""},
    )
    assert answer.status == 403
    page.goto(f"{live_app.url}/users")
    assert "Your role does not allow this." in page.content()
    page.close()
