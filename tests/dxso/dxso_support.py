"""Shared configuration and rows of the DXSO tests: an AR pipeline over invoice rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from ml_connector.config import LoadedConfig, parse_config
from ml_connector.mapping.period import Period

BASE = """
version = 1
[customers.acme]
name = "ACME GmbH"
[customers.acme.looker]
base_url = "https://acme.cloud.looker.com/"
credential = "env:ACME_LOOKER"
[customers.acme.datev]
consultant_number = 29098
client_number = 55003
chart_of_accounts = "SKR04"
account_length = 4
[pipelines.p]
customer = "acme"
channel = "dxso"
[pipelines.p.source.query]
model = "finance"
view = "inv"
fields = ["inv.id", "inv.date", "inv.amount", "inv.debtor", "inv.customer", "inv.due"]
[pipelines.p.mapping]
amount = "inv.amount"
row_key = ["inv.id"]
[pipelines.p.mapping.fields]
konto = "inv.debtor"
gegenkonto = 4000
bu_schluessel = { constant = "3" }
belegdatum = "inv.date"
belegfeld_1 = "inv.id"
buchungstext = { template = "Rechnung {inv.id}" }
[pipelines.p.dxso]
ledger = "LEDGER"
[pipelines.p.dxso.fields]
party_name = "inv.customer"
due_date = "inv.due"
"""
JANUARY = Period.parse("2026-01")


def dxso_config(
    tmp_path: Path, ledger: str = "accounts_receivable", text: str = BASE
) -> LoadedConfig:
    return parse_config(text.replace("LEDGER", ledger), path=tmp_path / "ml-connector.toml")


def make_row(**values: object) -> dict[str, object]:
    """An invoice row; ``values`` override columns by name without the view."""
    row: dict[str, object] = {
        "inv.id": "RE-1001",
        "inv.date": date(2026, 1, 5),
        "inv.amount": Decimal("119.00"),
        "inv.debtor": 10001,
        "inv.customer": "Muster GmbH",
        "inv.due": "2026-02-04",
    }
    row.update({f"inv.{k}": v for k, v in values.items()})
    return row
