"""The emulator's dxso-jobs rules against files the product's DXSO writer produces."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from datev_api_support import Setup, emulator_config

from ml_connector.datev.api.models import DxsoStatus
from ml_connector.errors import MlConnectorError
from ml_connector.formats.dxso.models import Ledger, LedgerEntry
from ml_connector.formats.dxso.writer import build_package
from ml_connector_sandbox.emulators.datev.config import EmulatedClient, EmulatorConfig

CLIENT = "455148-1"
NEW_BELEGE = "455148-4"


@pytest.fixture
def config() -> EmulatorConfig:
    base = emulator_config()
    new = EmulatedClient(
        consultant_number=455148,
        client_number=4,
        name="Neues Belege online",
        new_belege_online=True,
    )
    return base.model_copy(update={"clients": (*base.clients, new)})


def _package() -> list[tuple[str, bytes]]:
    entries = [
        LedgerEntry(date=date(2026, 1, 5), amount=Decimal("119.00"), account_no=8400,
                    invoice_id="RE-1", bp_account_no=10001, party_name="Muster GmbH"),
        LedgerEntry(date=date(2026, 1, 6), amount=Decimal("-19.00"), account_no=8400,
                    invoice_id="GS-1", bp_account_no=10001),
    ]  # fmt: skip
    files = build_package(
        entries,
        Ledger.ACCOUNTS_RECEIVABLE,
        period="2026-01",
        folder_name="Ausgangsrechnungen",
        created=datetime(2026, 2, 1, 8, 0),
        generator_info="Acme GmbH",
    )
    return [(f.name, f.content) for f in files]


async def _run(setup: Setup, files: list[tuple[str, bytes]]) -> str:
    job = await setup.client.create_dxso_job(
        CLIENT, import_type=Ledger.ACCOUNTS_RECEIVABLE.import_type, accounting_month="2026-01"
    )
    for name, content in files:
        await setup.client.upload_dxso_file(CLIENT, job.id, name, content)
    await setup.client.finalize_dxso_job(CLIENT, job.id)
    return job.id


async def test_a_package_from_the_writer_is_processed(setup: Setup) -> None:
    job_id = await _run(setup, _package())
    status = await setup.client.wait_for_dxso_job(CLIENT, job_id)
    assert status.status is DxsoStatus.SUCCEEDED
    amounts = [b.amount for b in setup.state.ledger.bookings(CLIENT)]
    assert amounts == [Decimal("119.00"), Decimal("-19.00")]


async def test_one_bad_data_file_makes_the_job_partially_processed(setup: Setup) -> None:
    files = _package()
    name, content = files[1]
    files[1] = (name, content.replace(b"<amount>-19.00</amount>", b"<amount>0.00</amount>"))
    job_id = await _run(setup, files)
    status = await setup.client.wait_for_dxso_job(CLIENT, job_id)
    assert status.status is DxsoStatus.PARTIALLY_PROCESSED
    errors = [e for e in await setup.client.dxso_protocol(CLIENT, job_id) if e.type == "error"]
    assert [e.filename for e in errors] == [name]
    assert [b.amount for b in setup.state.ledger.bookings(CLIENT)] == [Decimal("119.00")]


async def test_new_belege_online_client_is_refused_with_dco01301(setup: Setup) -> None:
    with pytest.raises(MlConnectorError, match="DCO01301"):
        await setup.client.create_dxso_job(
            NEW_BELEGE, import_type="accountsReceivableLedgerImport", accounting_month="2026-01"
        )


async def test_cash_ledger_jobs_never_run_in_parallel(setup: Setup) -> None:
    first = await setup.client.create_dxso_job(
        CLIENT, import_type="cashLedgerImport", accounting_month="2026-01"
    )
    with pytest.raises(MlConnectorError, match="DCO01007"):
        await setup.client.create_dxso_job(
            CLIENT, import_type="cashLedgerImport", accounting_month="2026-02"
        )
    ar = await setup.client.create_dxso_job(
        CLIENT, import_type="accountsReceivableLedgerImport", accounting_month="2026-02"
    )
    assert ar.id != first.id
    await setup.client.cancel_dxso_job(CLIENT, first.id)
    again = await setup.client.create_dxso_job(
        CLIENT, import_type="cashLedgerImport", accounting_month="2026-02"
    )
    assert again.id != first.id


async def test_injected_partial_fault_refuses_the_last_data_file(setup: Setup) -> None:
    setup.state.faults.update(dxso_partial_rate=1.0)
    files = _package()
    job_id = await _run(setup, files)
    status = await setup.client.wait_for_dxso_job(CLIENT, job_id)
    assert status.status is DxsoStatus.PARTIALLY_PROCESSED
    errors = [e for e in await setup.client.dxso_protocol(CLIENT, job_id) if e.type == "error"]
    assert [e.filename for e in errors] == [files[1][0]]
    assert [b.amount for b in setup.state.ledger.bookings(CLIENT)] == [Decimal("119.00")]


async def test_injected_job_failure_ends_in_status_3(setup: Setup) -> None:
    setup.state.faults.update(job_failure_rate=1.0)
    job_id = await _run(setup, _package())
    status = await setup.client.wait_for_dxso_job(CLIENT, job_id)
    assert status.status is DxsoStatus.FAILED
    assert setup.state.ledger.bookings(CLIENT) == []
