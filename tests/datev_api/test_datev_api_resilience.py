"""Tokens, retries and idempotency of the DATEV client, with scripted HTTP answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from datev_api_support import APP_CLIENT_ID, BASE, FakeTokens, Setup, make_extf

from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.api.problems import (
    DatevDataError,
    DatevRateLimitedError,
    DatevUnavailableError,
)
from ml_connector.datev.client import UPLOAD_CHUNK_BYTES, DatevClient
from ml_connector.errors import ReconsentRequiredError, RetriableError
from ml_connector.http.retry import RetryPolicy

CLIENT_JSON = {"id": "1-2", "consultant_number": 1, "client_number": 2, "name": "M", "services": []}


def scripted(
    answers: list[httpx.Response | Exception], seen: list[httpx.Request]
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def make_client(
    answers: list[httpx.Response | Exception], tokens: FakeTokens | None = None
) -> tuple[DatevClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    async def no_sleep(_: float) -> None:
        return None

    client = DatevClient(
        tokens or FakeTokens(["t1", "t2"]),
        app_client_id=APP_CLIENT_ID,
        endpoints=Endpoints.emulator(BASE),
        transport=httpx.MockTransport(scripted(answers, seen)),
        retry_policy=RetryPolicy(attempts=4),
        sleep=no_sleep,
    )
    return client, seen


async def test_every_call_carries_bearer_and_client_id() -> None:
    client, seen = make_client([httpx.Response(200, json=CLIENT_JSON)])
    await client.get_client("1-2")
    assert seen[0].headers["Authorization"] == "Bearer t1"
    assert seen[0].headers["X-DATEV-Client-Id"] == APP_CLIENT_ID


async def test_401_invalidates_and_retries_once_with_new_token() -> None:
    tokens = FakeTokens(["old", "new"])
    client, seen = make_client([httpx.Response(401), httpx.Response(200, json=CLIENT_JSON)], tokens)
    assert (await client.get_client("1-2")).id == "1-2"
    assert tokens.invalidated == ["old"]
    assert [r.headers["Authorization"] for r in seen] == ["Bearer old", "Bearer new"]


async def test_second_401_means_reconsent() -> None:
    client, seen = make_client([httpx.Response(401), httpx.Response(401)])
    with pytest.raises(ReconsentRequiredError):
        await client.get_client("1-2")
    assert len(seen) == 2


async def test_reconsent_from_token_source_propagates() -> None:
    tokens = FakeTokens(["t"], reconsent=True)
    client, seen = make_client([], tokens)
    with pytest.raises(ReconsentRequiredError):
        await client.get_client("1-2")
    assert seen == []


async def test_5xx_and_timeouts_are_retried_for_reads() -> None:
    client, seen = make_client(
        [
            httpx.Response(503),
            httpx.ReadTimeout("slow"),
            httpx.Response(502),
            httpx.Response(200, json=CLIENT_JSON),
        ]
    )
    assert (await client.get_client("1-2")).id == "1-2"
    assert len(seen) == 4


async def test_429_retried_and_retry_after_kept() -> None:
    client, seen = make_client(
        [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=CLIENT_JSON)]
    )
    await client.get_client("1-2")
    assert len(seen) == 2
    client, _ = make_client([httpx.Response(429, headers={"Retry-After": "7"})] * 4)
    with pytest.raises(DatevRateLimitedError) as err:
        await client.get_client("1-2")
    assert err.value.retry_after == 7


async def test_non_idempotent_create_is_not_repeated_after_500() -> None:
    client, seen = make_client([httpx.Response(500), httpx.Response(201, json={"id": "X"})])
    with pytest.raises(DatevUnavailableError):
        await client.create_dxso_job(
            "1-2", import_type="cashLedgerImport", accounting_month="2026-01"
        )
    assert len(seen) == 1


async def test_non_idempotent_create_is_repeated_after_503() -> None:
    client, seen = make_client([httpx.Response(503), httpx.Response(201, json={"id": "X"})])
    job = await client.create_dxso_job(
        "1-2", import_type="cashLedgerImport", accounting_month="2026-01"
    )
    assert job.id == "X"
    assert len(seen) == 2


async def test_uncertain_extf_upload_is_looked_up_before_resending() -> None:
    job = {"id": "J1", "filename": "EXTF_a.csv", "reference_id": "ref-9", "result": "pending"}
    client, seen = make_client([httpx.ReadTimeout("lost answer"), httpx.Response(200, json=[job])])
    upload = await client.upload_extf("1-2", b"data", "EXTF_a.csv", reference_id="ref-9")
    assert upload.job_id == "J1"
    assert [r.method for r in seen] == ["POST", "GET"]


async def test_check_existing_finds_earlier_submission() -> None:
    job = {"id": "J7", "filename": "EXTF_a.csv", "reference_id": "ref-7", "result": "succeeded"}
    client, seen = make_client([httpx.Response(200, json=[job])])
    upload = await client.upload_extf(
        "1-2", b"data", "EXTF_a.csv", reference_id="ref-7", check_existing=True
    )
    assert upload.job_id == "J7"
    assert [r.method for r in seen] == ["GET"]


async def test_uncertain_extf_upload_resent_when_not_found() -> None:
    accepted = httpx.Response(
        202, headers={"Location": "/clients/1-2/extf-files/jobs/J2", "Retry-After": "5"}
    )
    client, seen = make_client([httpx.Response(504), httpx.Response(200, json=[]), accepted])
    upload = await client.upload_extf("1-2", b"data", "EXTF_a.csv")
    assert upload.job_id == "J2"
    assert (
        upload.location
        == BASE + "/accounting-extf-files/platform/v3/clients/1-2/extf-files/jobs/J2"
    )
    assert upload.retry_after == 5
    reference = seen[0].headers["Reference-Id"]
    assert reference  # generated when not given
    assert seen[2].headers["Reference-Id"] == reference


async def test_data_errors_are_not_retried() -> None:
    body = {"type": "http://www.datev.de/hilfe/1008832", "title": "Invalid Filename", "status": 400}
    client, seen = make_client([httpx.Response(400, content=json.dumps(body).encode())])
    with pytest.raises(DatevDataError) as err:
        await client.upload_extf("1-2", b"data", "EXTF_a.csv")
    assert err.value.problem is not None
    assert err.value.problem.code == "1008832"
    assert len(seen) == 1
    assert not isinstance(err.value, RetriableError)


async def test_emulator_error_rate_reaches_the_client_as_retriable(setup: Setup) -> None:
    setup.state.faults.update(error_rate=1.0)
    with pytest.raises(DatevUnavailableError):
        await setup.client.get_client("455148-1")
    setup.state.faults.update(error_rate=0.0, rate_limit_rate=0.5, seed=3)
    upload = await setup.client.upload_extf(
        "455148-1", make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]), "EXTF_a.csv"
    )
    assert upload.job_id
    assert len(setup.state.ledger.transfers()) == 1


async def test_nothing_lost_nothing_twice_under_faults(setup: Setup) -> None:
    """Lost answers, 503s and 429s: every file ends up in the ledger exactly once."""
    setup.state.faults.update(lost_response_rate=0.3, error_rate=0.2, rate_limit_rate=0.1, seed=7)
    files = {
        f"EXTF_run_{n:02d}.csv": make_extf(455148, 1, [(f"{n},00", "S", "1000", "8400", f"B{n}")])
        for n in range(1, 13)
    }
    for name, content in files.items():
        for attempt in range(5):  # the caller's own retry of a run that gave up
            try:
                await setup.client.upload_extf(
                    "455148-1", content, name, reference_id=name[:-4], check_existing=attempt > 0
                )
                break
            except RetriableError:
                continue
    transfers = setup.state.ledger.transfers("455148-1")
    assert sorted(t.filename for t in transfers) == sorted(files)
    assert setup.state.ledger.duplicates() == []
    assert len(setup.state.ledger.bookings()) == len(files)


async def test_extf_upload_from_a_file_sends_the_whole_file_on_every_attempt(
    tmp_path: Path,
) -> None:
    """A file larger than one read chunk: each send (after a 503, after a refreshed
    token) carries exactly the file's bytes with its length, not a chunked body."""
    content = make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]) + b"x" * (
        3 * UPLOAD_CHUNK_BYTES + 17
    )
    path = tmp_path / "EXTF_a.csv"
    path.write_bytes(content)
    accepted = httpx.Response(202, headers={"Location": "/clients/1-2/extf-files/jobs/J3"})
    client, seen = make_client([httpx.Response(503), httpx.Response(401), accepted])
    upload = await client.upload_extf("1-2", path, "EXTF_a.csv", reference_id="ref-3")
    assert upload.job_id == "J3"
    assert [r.method for r in seen] == ["POST", "POST", "POST"]
    for request in seen:
        assert request.content == content
        assert request.headers["Content-Length"] == str(len(content))
        assert "Transfer-Encoding" not in request.headers
        assert request.headers["Reference-Id"] == "ref-3"


async def test_emulator_books_an_extf_file_streamed_from_disk(setup: Setup, tmp_path: Path) -> None:
    path = tmp_path / "EXTF_disk.csv"
    path.write_bytes(make_extf(455148, 1, [("2,50", "S", "1000", "8400", "D")]))
    upload = await setup.client.upload_extf("455148-1", path, "EXTF_disk.csv")
    assert upload.job_id
    assert [t.filename for t in setup.state.ledger.transfers("455148-1")] == ["EXTF_disk.csv"]
    assert len(setup.state.ledger.bookings()) == 1
