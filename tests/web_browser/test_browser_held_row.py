"""An operator fixes a held row in the browser: opens the run and its held row (a GL
account the mapping does not know), adds the account to the configuration's lookup file
as they would in version control, replays only the failed files and held rows from the
run's page, watches the replay finish and finds the row posted in its lineage."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import OPERATOR_PASSWORD, LiveApp, check_accessibility, log_in

pytestmark = pytest.mark.slow

RUN = "run:gl-monthly:2025-12"
HELD_KEY = "2025-12|ZD|OPS-399|CGN-BO"
REASON = "no entry for 'OPS-399' in lookup table 'accounts'"


def test_operator_fixes_the_mapping_of_a_held_row_and_replays_it(
    live_app: LiveApp, browser: Any
) -> None:
    page = browser.new_page(bypass_csp=True)  # to inject axe-core
    log_in(page, live_app.url, "operator", OPERATOR_PASSWORD)
    page.click(f"text={RUN}")
    page.wait_for_selector("text=Held rows (1)")
    page.locator("#held ~ table a", has_text=HELD_KEY).click()
    page.wait_for_url("**/lineage?row_key=*")
    assert REASON in page.locator("td.error").first.inner_text()

    # the operator maps the GL account in the configuration's lookup file
    assert live_app.config_path is not None
    accounts = live_app.config_path.with_name("accounts.csv")
    text = accounts.read_text(encoding="utf-8")
    accounts.write_text(
        text.rstrip("\n") + "\nOPS-399,4900,Sonstige betriebliche Aufwendungen\n",
        encoding="utf-8",
    )

    page.goto(f"{live_app.url}/runs/{RUN}")
    page.click("text=Replay failed files and held rows only…")
    page.wait_for_selector("text=Please confirm")
    check_accessibility(page)
    page.click("text=Yes, do it")
    replay = _replay_row(page)
    replay.locator("[data-field=state]").filter(has_text="succeeded").wait_for(timeout=120_000)
    assert replay.locator("[data-field=rows_held]").inner_text() == "0"

    page.click(f"text={replay_id(page)}")
    page.wait_for_selector("text=Held rows (0)")
    check_accessibility(page)
    page.goto(f"{live_app.url}/lineage")
    page.fill("#row_key", HELD_KEY)
    page.click("button:has-text('Search')")
    posted = page.locator("section.lineage", has_text=f"in run {RUN}:replay-")
    posted.wait_for()
    outcome = _fact(page, posted, "Outcome")
    assert outcome == "succeeded: 1 bookings imported"  # only the fixed row: none twice
    assert '"gegenkonto": 4900' in _fact(page, posted, "Booking line")
    assert " line " in _fact(page, posted, "EXTF file and line")
    held = page.locator("section.lineage", has_text=f"in run {RUN} ")
    assert REASON in held.locator("td.error").inner_text()  # the held record stays
    check_accessibility(page)
    page.close()


def _fact(page: Any, section: Any, name: str) -> str:
    """The value of the row ``name`` of a lineage section's "From Looker to DATEV"."""
    row = section.locator("tr", has=page.locator("th", has_text=name))
    return str(row.locator("td").inner_text())


def replay_id(page: Any) -> str:
    return str(page.locator("a", has_text=f"{RUN}:replay-").first.inner_text())


def _replay_row(page: Any) -> Any:
    """The runs list's row of the replay (recorded once a worker starts it)."""
    row = page.locator("tr", has=page.locator("a", has_text=f"{RUN}:replay-"))
    for _ in range(60):
        if row.count():
            return row.first
        page.wait_for_timeout(1000)
        page.reload()
    raise AssertionError("the replay never started")
