"""The demo's DATEV emulator keeps its state in the demo's data directory."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ml_connector.errors import ConfigurationError
from ml_connector_sandbox.demo.emulators import DEMO_OAUTH_CLIENT, running_emulators
from ml_connector_sandbox.demo.run import check_fresh, emulator_dir
from ml_connector_sandbox.emulators.datev.ledger import Booking, Transfer


def test_the_demo_datev_emulator_started_again_on_its_dir_keeps_ledger_and_grants(
    tmp_path: Path,
) -> None:
    state_dir = emulator_dir(tmp_path / "demo")
    booking = Booking(
        "29098-55003", "j", "f", 1, Decimal("9.99"), "S", "1200", "8400", "0101", "A", "t"
    )
    with running_emulators(datev_dir=state_dir) as first:
        first.ledger.record(
            Transfer("extf", "29098-55003", "j", "f", "x", None, "now", True, 1), [booking]
        )
        tokens = first.idp.mint_tokens(DEMO_OAUTH_CLIENT, ["datev:accounting:clients"])
    with running_emulators(datev_dir=state_dir) as again:
        bookings = again.ledger.bookings("29098-55003")
        known = again.idp.check_access_token(tokens.access_token)
    assert known is not None
    assert state_dir == tmp_path / "demo" / "data" / "sandbox-datev"
    assert bookings == [booking]
    assert known.client_id == DEMO_OAUTH_CLIENT
    check_fresh(tmp_path / "demo")  # the emulator's state alone is no earlier demo
    (state_dir.parent / "ml-connector.sqlite3").touch()
    with pytest.raises(ConfigurationError):
        check_fresh(tmp_path / "demo")
