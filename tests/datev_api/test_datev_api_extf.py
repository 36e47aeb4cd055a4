"""EXTF upload, job polling, job lookup and the ledger, client against emulator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from datev_api_support import Setup, make_extf

from ml_connector.datev.api.problems import DatevAccessError
from ml_connector.errors import DataError
from ml_connector.http.polling import PollPolicy

ROWS = [
    ("119,00", "S", "10000", "8400", "RE-1"),
    ("50,50", "H", "70000", "3400", "ER-7"),
]


async def test_upload_poll_and_ledger(setup: Setup) -> None:
    content = make_extf(455148, 1, ROWS)
    upload = await setup.client.upload_extf(
        "455148-1", content, "EXTF_BS_2026_01.csv", reference_id="run-1"
    )
    assert upload.retry_after == 1
    assert upload.location.endswith(f"/extf-files/jobs/{upload.job_id}")
    outcome = await setup.client.wait_for_extf_job(
        "455148-1", upload.job_id, retry_after=upload.retry_after
    )
    assert outcome.succeeded
    assert outcome.job.number_of_accounting_records == 2
    assert outcome.job.reference_id == "run-1"
    assert outcome.reads == 2  # pending once, then decided
    assert all(s >= 1 for s in setup.sleeps)  # never sooner than Retry-After
    bookings = setup.state.ledger.bookings("455148-1")
    assert [(b.amount, b.debit_credit, b.account) for b in bookings] == [
        (Decimal("119.00"), "S", "10000"),
        (Decimal("50.50"), "H", "70000"),
    ]


async def test_header_numbers_must_match_client(setup: Setup) -> None:
    content = make_extf(455148, 2, ROWS)  # header says Mandant 2, URL says 1
    outcome = await setup.client.submit_extf("455148-1", content, "EXTF_wrong.csv")
    assert outcome.job.result == "failed"
    assert any("(12)" in line for line in outcome.job.protocol())
    assert setup.state.ledger.bookings() == []


async def test_bad_filename_is_a_data_error_before_sending(setup: Setup) -> None:
    with pytest.raises(DataError):
        await setup.client.upload_extf("455148-1", b"x", "bookings.csv")
    with pytest.raises(DataError):
        await setup.client.upload_extf("455148-1", b"x", "EXTF_" + "x" * 52 + ".csv")
    assert setup.transport.requests == []


async def test_client_without_service_is_refused(setup: Setup) -> None:
    with pytest.raises(DatevAccessError):
        await setup.client.upload_extf("455148-3", make_extf(455148, 3, ROWS), "EXTF_a.csv")


async def test_read_budget_then_still_running(setup: Setup) -> None:
    setup.state.config = setup.state.config.model_copy(update={"job_pending_reads": 50})
    upload = await setup.client.upload_extf("455148-1", make_extf(455148, 1, ROWS), "EXTF_a.csv")
    outcome = await setup.client.wait_for_extf_job(
        "455148-1", upload.job_id, policy=PollPolicy(max_polls=3)
    )
    assert outcome.still_running
    assert outcome.reads == 3
    assert setup.transport.count("GET", f"/jobs/{upload.job_id}") == 3


async def test_find_job_after_a_crash(setup: Setup) -> None:
    client = setup.client
    await client.upload_extf(
        "455148-1", make_extf(455148, 1, ROWS), "EXTF_a.csv", reference_id="r1"
    )
    await client.upload_extf(
        "455148-1", make_extf(455148, 1, ROWS[:1]), "EXTF_b.csv", reference_id="r2"
    )
    job = await client.find_extf_job("455148-1", reference_id="r2")
    assert job is not None
    assert job.filename == "EXTF_b.csv"
    assert (await client.find_extf_job("455148-1", filename="EXTF_a.csv")) is not None
    assert await client.find_extf_job("455148-1", filename="EXTF_c.csv") is None
    assert await client.find_extf_job("455148-1", filename="EXTF_a.csv", reference_id="r2") is None


async def test_same_file_twice_is_a_duplicate_not_booked_twice(setup: Setup) -> None:
    content = make_extf(455148, 1, ROWS)
    first = await setup.client.submit_extf("455148-1", content, "EXTF_dup.csv")
    second = await setup.client.submit_extf("455148-1", content, "EXTF_dup.csv")
    assert first.succeeded
    assert second.succeeded  # DATEV accepts a repeated transfer
    duplicates = setup.state.ledger.duplicates()
    assert [d.job_id for d in duplicates] == [second.job.id]
    assert duplicates[0].duplicate_of == first.job.id
    assert len(setup.state.ledger.bookings()) == len(ROWS)
    # same name, different content: a new transfer, booked
    await setup.client.submit_extf("455148-1", make_extf(455148, 1, ROWS[:1]), "EXTF_dup.csv")
    assert len(setup.state.ledger.bookings()) == len(ROWS) + 1
