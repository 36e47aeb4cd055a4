"""What the emulator enforces, seen from raw HTTP (no client-side checks in the way)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from datev_api_support import APP_CLIENT_ID, BASE, Setup, emulator_config, make_extf

from ml_connector.datev.api.endpoints import DatevApi, Endpoints
from ml_connector_sandbox.emulators.datev.app import create_app
from ml_connector_sandbox.emulators.datev.config import EmulatorConfig
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker
from ml_connector_sandbox.emulators.datev.validation import validate_response

EXTF = Endpoints.emulator(BASE).extf
CLIENTS = Endpoints.emulator(BASE).clients
GOOD = {"Authorization": "Bearer token-1", "X-DATEV-Client-Id": APP_CLIENT_ID}


def raw(setup: Setup) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=setup.app))


async def test_missing_client_id_header_is_401(setup: Setup) -> None:
    async with raw(setup) as http:
        response = await http.get(CLIENTS + "/clients", headers={"Authorization": "Bearer token-1"})
    assert response.status_code == 401


async def test_unknown_token_and_foreign_app_are_401(setup: Setup) -> None:
    async with raw(setup) as http:
        bad = await http.get(CLIENTS + "/clients", headers=GOOD | {"Authorization": "Bearer no"})
        other = await http.get(CLIENTS + "/clients", headers=GOOD | {"X-DATEV-Client-Id": "other"})
    assert bad.status_code == 401
    assert "Bearer" in bad.headers["WWW-Authenticate"]
    assert other.status_code == 401


async def test_missing_scope_is_403_problem_details(config: EmulatorConfig) -> None:
    checker = StaticTokenChecker(
        ["narrow"], client_id=APP_CLIENT_ID, scopes={"accounting:documents"}
    )
    app = create_app(config, checker=checker)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        response = await http.get(
            CLIENTS + "/clients",
            headers={"Authorization": "Bearer narrow", "X-DATEV-Client-Id": APP_CLIENT_ID},
        )
    assert response.status_code == 403
    assert response.json()["type"].endswith("1008829")
    assert (
        validate_response(
            DatevApi.CLIENTS,
            "GET",
            "/clients",
            status=403,
            headers=dict(response.headers),
            body=response.content,
        )
        == []
    )


@pytest.mark.parametrize(
    "filename", ["bookings.csv", "EXTF_a.txt", "xEXTF_a.csv", "EXTF_" + "a" * 52 + ".csv"]
)
async def test_filename_pattern_enforced(setup: Setup, filename: str) -> None:
    async with raw(setup) as http:
        response = await http.post(
            EXTF + "/clients/455148-1/extf-files/import",
            headers=GOOD | {"Filename": filename, "Content-Type": "application/octet-stream"},
            content=make_extf(455148, 1, []),
        )
    assert response.status_code == 400
    assert response.json()["type"].endswith("1008832")


async def test_missing_filename_header_is_400(setup: Setup) -> None:
    async with raw(setup) as http:
        response = await http.post(
            EXTF + "/clients/455148-1/extf-files/import",
            headers=GOOD | {"Content-Type": "application/octet-stream"},
            content=b"x",
        )
    assert response.status_code == 400


async def test_over_50_mb_is_413(setup: Setup) -> None:
    setup.state.config = setup.state.config.model_copy(update={"max_extf_bytes": 1000})
    async with raw(setup) as http:
        response = await http.post(
            EXTF + "/clients/455148-1/extf-files/import",
            headers=GOOD | {"Filename": "EXTF_a.csv", "Content-Type": "application/octet-stream"},
            content=b"x" * 1001,
        )
    assert response.status_code == 413
    assert response.json()["type"].endswith("1008833")


async def test_import_answers_202_location_retry_after_and_pending_job(setup: Setup) -> None:
    async with raw(setup) as http:
        response = await http.post(
            EXTF + "/clients/455148-1/extf-files/import",
            headers=GOOD | {"Filename": "EXTF_a.csv", "Content-Type": "application/octet-stream"},
            content=make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]),
        )
        assert response.status_code == 202
        location = response.headers["Location"]
        assert location.startswith("/clients/455148-1/extf-files/jobs/")
        assert response.headers["Retry-After"] == "1"
        pending = await http.get(EXTF + location, headers=GOOD)
        done = await http.get(EXTF + location, headers=GOOD)
    assert pending.json()["result"] == "pending"
    assert pending.headers["Retry-After"] == "1"
    assert done.json()["result"] == "succeeded"
    assert "X-Global-Transaction-ID" in done.headers
    assert "V-Cap-Request-ID" in done.headers


async def test_unreadable_header_fails_job_with_validation_details(setup: Setup) -> None:
    outcome = await setup.client.submit_extf("455148-1", b'"DTVX";1;21\r\n', "EXTF_x.csv")
    assert outcome.job.result == "failed"
    assert outcome.job.validation_type == "http://www.datev.de/hilfe/1008834"
    assert any("(1)" in line for line in outcome.job.protocol())


async def test_failing_jobs_fault(setup: Setup) -> None:
    setup.state.faults.update(job_failure_rate=1.0)
    outcome = await setup.client.submit_extf(
        "455148-1", make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]), "EXTF_a.csv"
    )
    assert outcome.job.result == "failed"
    assert "1008837" in (outcome.job.validation_type or "")


async def test_invalid_query_is_400(setup: Setup) -> None:
    async with raw(setup) as http:
        too_many = await http.get(CLIENTS + "/clients?top=500", headers=GOOD)
        bad_filter = await http.get(CLIENTS + "/clients?filter=name eq 'x'", headers=GOOD)
    assert too_many.status_code == 400
    assert bad_filter.status_code == 400
    assert bad_filter.json()["type"].endswith("1008828")


async def test_non_guid_document_id_is_dco01234(setup: Setup) -> None:
    async with raw(setup) as http:
        response = await http.put(
            Endpoints.emulator(BASE).documents + "/clients/455148-1/documents/not-a-guid",
            headers=GOOD,
            files={"file": ("a.pdf", b"%PDF", "application/pdf")},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "#DCO01234"


async def test_admin_ledger_and_faults(setup: Setup) -> None:
    await setup.client.submit_extf(
        "455148-1", make_extf(455148, 1, [("9,99", "S", "1000", "8400", "A")]), "EXTF_a.csv"
    )
    async with raw(setup) as http:
        ledger = (await http.get(BASE + "/admin/ledger")).json()
        changed = await http.put(BASE + "/admin/faults", json={"error_rate": 0.25, "seed": 1})
        rejected = await http.put(BASE + "/admin/faults", json={"error_rate": 2})
        no_idp = await http.post(BASE + "/admin/revoke-tokens")
        await http.post(BASE + "/admin/reset")
    assert ledger["bookings"][0]["amount"] == "9.99"
    assert len(ledger["transfers"]) == 1
    assert changed.json()["error_rate"] == 0.25
    assert rejected.status_code == 400
    assert no_idp.status_code == 409
    assert setup.state.ledger.transfers() == []


async def test_http_log_of_client_has_ids_and_no_secrets(setup: Setup) -> None:
    content = make_extf(455148, 1, [("1,00", "S", "1000", "8400", "GEHEIMBELEG")])
    await setup.client.submit_extf("455148-1", content, "EXTF_a.csv")
    rows = setup.log.read(datetime.now(UTC).date())
    assert [r["method"] for r in rows] == ["POST", "GET", "GET"]
    assert all(r["x_global_transaction_id"] and r["v_cap_request_id"] for r in rows)
    text = json.dumps(rows)
    assert "token-1" not in text
    assert "GEHEIMBELEG" not in text


def test_config_file_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "emulator.toml"
    path.write_text(
        '[[clients]]\nconsultant_number = 1234\nclient_number = 5\nname = "X"\n'
        'services = ["Buchungsdatenservice"]\n'
        '[[clients.document_types]]\nname = "Eingang"\ncategory = "invoices_received"\n'
        "[faults]\nerror_rate = 0.1\n"
    )
    config = EmulatorConfig.from_file(path)
    assert config.clients[0].id == "1234-5"
    assert config.clients[0].document_types[0].name == "Eingang"
    assert config.faults.error_rate == 0.1
    assert emulator_config().client("29098-55003") is not None


async def test_content_errors_from_the_extf_validator_fail_the_job(setup: Setup) -> None:
    content = make_extf(455148, 1, [("0,00", "S", "1000", "8400", "A")])  # zero amount
    outcome = await setup.client.submit_extf("455148-1", content, "EXTF_zero.csv")
    assert outcome.job.result == "failed"
    assert any("line 3" in line for line in outcome.job.protocol())
    assert setup.state.ledger.bookings() == []


async def test_lost_answer_fault_still_books(setup: Setup) -> None:
    setup.state.faults.update(lost_response_rate=1.0)
    async with raw(setup) as http:
        response = await http.post(
            EXTF + "/clients/455148-1/extf-files/import",
            headers=GOOD | {"Filename": "EXTF_a.csv", "Content-Type": "application/octet-stream"},
            content=make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]),
        )
    assert response.status_code == 504
    assert len(setup.state.ledger.transfers()) == 1
