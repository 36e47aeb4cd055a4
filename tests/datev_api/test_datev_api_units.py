"""Pure parts: error bodies, poll delays, HTTP log, file-name rules, endpoints."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector.datev.api.endpoints import DatevApi, Endpoints
from ml_connector.datev.api.httplog import HttpLog, HttpLogEntry
from ml_connector.datev.api.names import check_extf_filename, upload_filename
from ml_connector.datev.api.problems import (
    DatevAccessError,
    DatevConfigurationError,
    DatevDataError,
    DatevRejectedError,
    DatevUnavailableError,
    error_for_response,
    parse_problem,
)
from ml_connector.errors import DataError
from ml_connector.http.polling import PollPolicy, poll_delay
from ml_connector_sandbox.emulators.datev.api_clients import parse_filter


def test_problem_details_parsed() -> None:
    body = {
        "type": "http://www.datev.de/hilfe/1008829",
        "title": "Missing required scope",
        "detail": "Missing scope(s) are: datev:accounting:clients",
        "affected_elements": [{"name": "scope", "reason": "missing"}],
        "request_id": "abc",
        "status": 403,
    }
    problem = parse_problem(403, json.dumps(body).encode())
    assert problem.code == "1008829"
    assert problem.affected_elements == (("scope", "missing"),)
    err = error_for_response(403, json.dumps(body).encode())
    assert isinstance(err, DatevAccessError)
    assert "datev:accounting:clients" in str(err)


def test_dco_body_in_a_list_parsed() -> None:
    body = [{"error": "#DCO01010", "error_description": "restapi.X", "request_id": "r"}]
    err = error_for_response(400, json.dumps(body).encode())
    assert isinstance(err, DatevDataError)
    assert err.problem is not None
    assert err.problem.code == "#DCO01010"
    assert "DCO01010" in (err.hint or "")


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "#DCO01301", DatevConfigurationError),
        (400, "#DCO01002", DatevConfigurationError),
        (503, "#DCO01020", DatevUnavailableError),
        (400, "#DCO01007", DatevRejectedError),
        (404, None, DatevRejectedError),
        (413, None, DatevDataError),
        (500, None, DatevUnavailableError),
    ],
)
def test_classification(status: int, code: str | None, cls: type[Exception]) -> None:
    body = json.dumps({"error": code}).encode() if code else b""
    assert type(error_for_response(status, body)) is cls


@given(st.binary(max_size=200), st.integers(min_value=400, max_value=599))
def test_any_body_parses_without_error(body: bytes, status: int) -> None:
    parse_problem(status, body)
    error_for_response(status, body)


@given(
    read=st.integers(min_value=1, max_value=30),
    retry_after=st.none() | st.floats(min_value=0, max_value=300),
    r=st.floats(min_value=0, max_value=1),
)
def test_poll_delay_bounds(read: int, retry_after: float | None, r: float) -> None:
    policy = PollPolicy()
    delay = poll_delay(read, policy, retry_after=retry_after, rand=lambda: r)
    assert delay >= policy.floor
    if retry_after is not None:
        assert delay >= retry_after
    assert delay <= max(policy.cap, retry_after or 0, policy.floor)


def test_poll_delay_grows_exponentially_with_full_jitter() -> None:
    policy = PollPolicy(base=2, cap=100, floor=0)
    assert [poll_delay(n, policy, rand=lambda: 1.0) for n in (1, 2, 3, 8)] == [2, 4, 8, 100]
    assert poll_delay(3, policy, rand=lambda: 0.0) == 0


def _entry(**kw: object) -> HttpLogEntry:
    data: dict[str, object] = {
        "api": "accounting-extf-files",
        "method": "POST",
        "url": "https://x/clients/1-2/extf-files/import",
        "status": 202,
        "duration_ms": 12.3,
        "global_transaction_id": "g1",
        "v_cap_request_id": "v1",
    }
    data.update(kw)
    return HttpLogEntry(**data)  # type: ignore[arg-type]


def test_http_log_daily_files_and_retention(tmp_path: Path) -> None:
    now = [datetime(2026, 3, 1, 12, tzinfo=UTC)]
    log = HttpLog(tmp_path, retention_days=14, clock=lambda: now[0])
    log.record(_entry())
    first = log.file_for(date(2026, 3, 1))
    assert first.exists()
    (row,) = log.read(date(2026, 3, 1))
    assert row["x_global_transaction_id"] == "g1"
    assert row["v_cap_request_id"] == "v1"
    assert row["status"] == 202
    now[0] += timedelta(days=13)
    log.record(_entry())
    assert first.exists()  # 14 days kept
    now[0] += timedelta(days=1)
    log.record(_entry())
    assert not first.exists()
    with pytest.raises(ValueError, match="14"):
        HttpLog(tmp_path, retention_days=7)


def test_http_log_scrubs_secret_query_values(tmp_path: Path) -> None:
    log = HttpLog(tmp_path)
    log.record(_entry(url="https://x/a?access_token=SECRET123&top=5"))
    text = next(tmp_path.glob("*.jsonl")).read_text()
    assert "SECRET123" not in text
    assert "top=5" in text


def test_extf_filename_rules() -> None:
    assert check_extf_filename("EXTF_BS_20200101_1.csv") == "EXTF_BS_20200101_1.csv"
    for bad in ("EXTF_.CSV", "xEXTF_a.csv", "EXTF_ä.csv", "EXTF_" + "a" * 52 + ".csv"):
        with pytest.raises(DataError):
            check_extf_filename(bad)


def test_upload_filename_nfc_and_whitelist() -> None:
    decomposed = "Mu\u0308ller Rechnung #1.pdf"
    assert upload_filename(decomposed) == "Müller Rechnung _1.pdf"


def test_endpoint_presets() -> None:
    assert Endpoints.production().extf == "https://accounting-extf-files.api.datev.de/platform/v3"
    assert (
        Endpoints.sandbox().base_url(DatevApi.DXSO)
        == "https://accounting-dxso-jobs.api.datev.de/platform-sandbox/v2"
    )
    emulator = Endpoints.preset("emulator", base_url="http://127.0.0.1:9/")
    assert emulator.clients == "http://127.0.0.1:9/accounting-clients/platform/v2"
    with pytest.raises(ValueError, match="base_url"):
        Endpoints.preset("emulator")


@given(
    consultant=st.none() | st.integers(min_value=1, max_value=9999999999),
    client=st.none() | st.integers(min_value=1, max_value=9999999999),
)
def test_emulator_filter_parses_what_the_client_sends(
    consultant: int | None, client: int | None
) -> None:
    parts = []
    if consultant is not None:
        parts.append(f"consultant_number eq {consultant}")
    if client is not None:
        parts.append(f"client_number eq {client}")
    if not parts:
        return
    parsed = parse_filter(" and ".join(parts))
    assert parsed.get("consultant_number") == consultant
    assert parsed.get("client_number") == client


def test_emulator_filter_rejects_other_expressions() -> None:
    for bad in ("name eq 'x'", "client_number eq 1 or client_number eq 2", "client_number eq 0"):
        with pytest.raises(ValueError, match="filter"):
            parse_filter(bad)
