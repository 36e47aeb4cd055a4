"""An operator onboards a customer in the browser: the Looker API3 key, DATEV through the
emulator's sign-in and consent page and back through the app's callback, the DATEV
client with its services and document types, a Look previewed as booking lines.
Every page passes the axe-core accessibility check."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import LiveApp, check_accessibility, log_in

pytestmark = pytest.mark.slow


def _unmap_account(live_app: LiveApp, account: str) -> None:
    assert live_app.config_path is not None
    accounts = live_app.config_path.with_name("accounts.csv")
    kept = [line for line in accounts.read_text("utf-8").splitlines() if account not in line]
    accounts.write_text("\n".join(kept) + "\n", "utf-8")


def _forget_datev_login(live_app: LiveApp) -> None:
    from ml_connector.credentials import open_credential_store
    from ml_connector.datev.oauth.connection_store import ConnectionStore
    from ml_connector.store.open import open_store

    assert live_app.data_dir is not None
    engine = open_store(None, data_dir=live_app.data_dir)
    try:
        credentials = open_credential_store(engine, live_app.data_dir)
        assert ConnectionStore(engine, credentials).delete("meridian")
    finally:
        engine.dispose()


def test_operator_onboards_a_customer_through_the_datev_consent_page(
    live_app: LiveApp, browser: Any
) -> None:
    _forget_datev_login(live_app)  # the demo connected it; this customer is new
    page = browser.new_page(bypass_csp=True)  # to inject axe-core
    log_in(page, live_app.url, "demo-admin", live_app.admin_password)
    onboarding = f"{live_app.url}/onboarding/meridian"
    page.goto(onboarding)
    check_accessibility(page)

    page.fill("#l-url", live_app.looker_url)
    page.fill("#l-id", live_app.looker_client_id)
    page.fill("#l-secret", live_app.looker_client_secret)
    page.click("text=Store and test")
    page.wait_for_selector(f"text=logged in at {live_app.looker_url}")
    assert live_app.looker_client_secret not in page.content()
    check_accessibility(page)

    page.goto(onboarding)
    assert page.locator("text=DATEV needs a person to log in").count() == 1
    page.click("text=Connect DATEV")
    page.wait_for_selector("text=DATEV emulator")  # the IdP's page, another origin
    assert page.url.startswith(live_app.datev_url)
    assert "datev:accounting:extf-files-import" in page.content()
    check_accessibility(page)
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo")
    page.click("button[value=allow]")
    page.wait_for_url(re.compile(re.escape(f"{live_app.url}/oauth/datev/callback") + r"\?.*"))
    page.wait_for_selector("text=is connected to DATEV")
    assert "Consent given by" in page.content()
    assert "emulator-user-demo" in page.content()  # the person who signed in, not auto-consent
    check_accessibility(page)
    page.click("text=Continue onboarding")
    page.wait_for_url(onboarding)
    page.wait_for_selector("text=DATEV is connected.")

    page.click("text=Pick the DATEV client")
    page.locator("a", has_text="Choose").first.click()
    page.wait_for_selector("caption:has-text('Services booked for this client')")
    services = page.locator("table", has=page.locator("caption", has_text="Services booked"))
    assert services.locator("tbody tr").count() >= 1
    assert page.locator("p", has_text="Document types:").count() == 1
    assert "could not be read" not in page.content()
    check_accessibility(page)

    page.goto(onboarding)
    page.click("text=Pick a Look and preview its rows")
    check_accessibility(page)
    _unmap_account(live_app, "OPS-300")  # a row of the first ones the mapping cannot book
    page.fill("#lk-period", "2025-12")
    page.click("text=Use this period")
    page.locator("tr", has_text="GL monthly for DATEV").locator("text=Preview").click()
    page.wait_for_selector("text=Look 1: pipeline gl-monthly, 2025-12, first 20 rows")
    held = page.locator("tr", has_text="2025-12|IT|OPS-300|BER-IT").locator("td.error")
    assert held.inner_text().startswith("held: ")
    assert "OPS-300" in held.inner_text()  # the reason names the account
    assert page.locator("td.num").count() >= 1  # the other rows map, amounts as money
    check_accessibility(page)
    page.close()
