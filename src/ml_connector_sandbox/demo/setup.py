"""A fresh demo installation: data directory, configuration, stored credentials, DATEV login."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ml_connector.credentials import open_credential_store
from ml_connector.datev.oauth.connection_store import ConnectionStore
from ml_connector.examples import demo_config_path
from ml_connector.paths import ensure_data_dir
from ml_connector.runs.connect import SyncSettings, open_sync_store, store_looker_credentials
from ml_connector_sandbox.demo.emulators import DEMO_OAUTH_CLIENT, DemoEmulators
from ml_connector_sandbox.demo.login import login_unattended

__all__ = [
    "DEMO_CUSTOMER",
    "DEMO_DXSO_PIPELINE",
    "DEMO_PIPELINE",
    "DemoInstall",
    "add_dxso_pipeline",
    "install_demo",
    "write_demo_config",
]

DEMO_CUSTOMER = "meridian"
DEMO_PIPELINE = "gl-monthly"
#: the demo's DXSO pipeline: the Looker emulator's invoices as accounts-receivable
#: booking suggestions (Rechnungsausgangsbuch), see docs/dxso.md
DEMO_DXSO_PIPELINE = "ar-invoices"
_DXSO_PIPELINE_TOML = """
# Outgoing invoices as booking suggestions for Belege online (DXSO), one job per month.
[pipelines.ar-invoices]
customer = "meridian"
description = "Outgoing invoices from Looker as DXSO booking suggestions"
channel = "dxso"
reject_policy = "hold_rejected"

[pipelines.ar-invoices.source]
period_field = "invoices.period_month"

[pipelines.ar-invoices.source.query]
model = "finance"
view = "invoices"
fields = ["invoices.invoice_id", "invoices.invoice_date", "invoices.period_month",
          "invoices.customer_name", "invoices.debtor_account", "invoices.amount_eur",
          "invoices.due_date"]

[pipelines.ar-invoices.mapping]
row_key = ["invoices.invoice_id"]
amount = "invoices.amount_eur"

[pipelines.ar-invoices.mapping.fields]
konto = "invoices.debtor_account"
gegenkonto = 8400
belegdatum = "invoices.invoice_date"
belegfeld_1 = "invoices.invoice_id"
buchungstext = { template = "Rechnung {invoices.invoice_id}" }

[pipelines.ar-invoices.dxso]
ledger = "accounts_receivable"

[pipelines.ar-invoices.dxso.fields]
party_name = "invoices.customer_name"
due_date = "invoices.due_date"
"""
#: credential-store owner of the demo's Looker API3 key
LOOKER_OWNER = "meridian-looker"


@dataclass(frozen=True)
class DemoInstall:
    """Where the demo put things."""

    settings: SyncSettings
    config_path: Path
    datev_subject: str | None


def write_demo_config(directory: Path, looker_url: str, *, credential: str) -> Path:
    """Copy the bundled demo configuration (and its lookup files) into ``directory``,
    pointing it at ``looker_url`` with the Looker credential reference ``credential`` and
    marking its customer as an emulator customer (its DATEV is the emulator too)."""
    source = demo_config_path()
    directory.mkdir(parents=True, exist_ok=True)
    for csv_file in source.parent.glob("*.csv"):
        shutil.copyfile(csv_file, directory / csv_file.name)
    text = source.read_text("utf-8")
    text, urls = re.subn(
        r'(?m)^(# .*\n)?base_url = "[^"]*"',
        f'# The local Looker emulator started by the demo.\nbase_url = "{looker_url}"',
        text,
        count=1,
    )
    text, refs = re.subn(
        r'(?m)^(# .*\n)?credential = "[^"]*"',
        f"# The API3 key, stored encrypted in the credential store by the demo.\n"
        f'credential = "{credential}"',
        text,
        count=1,
    )
    text, marks = re.subn(
        r"(?m)^(\[customers\.meridian\]\n)",
        "\\1# Its Looker and DATEV are the demo's emulators.\nemulator = true\n",
        text,
        count=1,
    )
    if urls != 1 or refs != 1 or marks != 1:  # pragma: no cover - guards the bundled layout
        raise RuntimeError("the bundled demo configuration has no Looker base_url/credential")
    target = directory / source.name
    target.write_text(text, encoding="utf-8")
    return target


def add_dxso_pipeline(config_path: Path) -> None:
    """Add the demo's DXSO pipeline (:data:`DEMO_DXSO_PIPELINE`) to its configuration."""
    text = config_path.read_text("utf-8")
    if f"[pipelines.{DEMO_DXSO_PIPELINE}]" not in text:
        config_path.write_text(text + _DXSO_PIPELINE_TOML, encoding="utf-8")


async def install_demo(
    workdir: Path, emulators: DemoEmulators, *, store_url: str | None = None
) -> DemoInstall:
    """Data directory, configuration, encrypted Looker key and DATEV login under ``workdir``.

    ``store_url`` puts the store in that database instead of the data directory.
    """
    data_dir = ensure_data_dir(workdir / "data")
    config_path = write_demo_config(
        workdir, emulators.looker_url, credential=f"store:{LOOKER_OWNER}"
    )
    settings = SyncSettings(
        data_dir=data_dir,
        store_url=store_url,
        config_path=config_path,
        datev_api_url=emulators.datev_url,
    )
    engine = open_sync_store(settings)
    try:
        credentials = open_credential_store(engine, data_dir)
        store_looker_credentials(
            credentials,
            LOOKER_OWNER,
            emulators.looker_client_id,
            emulators.looker_client_secret,
        )
        info = await login_unattended(
            ConnectionStore(engine, credentials),
            DEMO_CUSTOMER,
            issuer=emulators.issuer,
            client_id=DEMO_OAUTH_CLIENT,
            client_secret=emulators.datev_client_secret,
        )
    finally:
        engine.dispose()
    return DemoInstall(settings=settings, config_path=config_path, datev_subject=info.subject)
