"""The DATEV emulator over HTTP: answers per DATEV's specs, never a 500 for bad input."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from datev_api_support import APP_CLIENT_ID, BASE, Setup, emulator_config, make_extf
from pydantic import SecretStr

from ml_connector.datev.api.endpoints import DatevApi, Endpoints
from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.datev import api_extf
from ml_connector_sandbox.emulators.datev.app import create_app
from ml_connector_sandbox.emulators.datev.extf_check import ExtfVerdict, check_extf
from ml_connector_sandbox.emulators.datev.idp import IdentityProvider, OAuthClientRegistration
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker
from ml_connector_sandbox.emulators.datev.validation import validate_response

URLS = Endpoints.emulator(BASE)
GOOD = {"Authorization": "Bearer token-1", "X-DATEV-Client-Id": APP_CLIENT_ID}
OCTET = {"Content-Type": "application/octet-stream"}
IMPORT = URLS.extf + "/clients/455148-1/extf-files/import"
MUSTERDATEI = (
    Path(__file__).parents[1] / "data" / "extf" / "datev-musterdatei_EXTF_Buchungsstapel_fv13.csv"
)
ONE_ROW = [("1,00", "S", "1000", "8400", "A")]


def raw(setup: Setup) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=setup.app))


async def upload(
    http: httpx.AsyncClient, content: bytes, filename: str = "EXTF_a.csv", client: str = "455148-1"
) -> httpx.Response:
    return await http.post(
        URLS.extf + f"/clients/{client}/extf-files/import",
        headers=GOOD | OCTET | {"Filename": filename},
        content=content,
    )


async def final_job(http: httpx.AsyncClient, response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 202, response.text
    for _ in range(5):
        job = (await http.get(URLS.extf + response.headers["Location"], headers=GOOD)).json()
        if job["result"] != "pending":
            return dict(job)
    raise AssertionError("job stayed pending")


def extf_spec_errors(response: httpx.Response, method: str, path: str) -> list[str]:
    return validate_response(
        DatevApi.EXTF,
        method,
        path,
        status=response.status_code,
        headers=dict(response.headers),
        body=response.content,
    )


async def test_a_field_over_131072_characters_fails_the_job_instead_of_500(setup: Setup) -> None:
    content = make_extf(455148, 1, ONE_ROW) + b'1,00;"S";"' + b"x" * 140_000 + b'"\r\n'
    async with raw(setup) as http:
        job = await final_job(http, await upload(http, content))
    assert job["result"] == "failed"
    assert job["validation_details"]["type"].endswith("1008833")  # type: ignore[index]


async def test_junk_upload_fails_the_job_instead_of_500(setup: Setup) -> None:
    junk = bytes(range(256)) * 4096 + b'"' + b"\x00" * 200_000
    async with raw(setup) as http:
        job = await final_job(http, await upload(http, junk))
    assert job["result"] == "failed"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_upload_over_a_socket_gets_413_problem_not_a_reset(chunked: bool) -> None:
    config = emulator_config(max_extf_bytes=1000)
    app = create_app(config, checker=StaticTokenChecker(["token-1"], client_id=APP_CLIENT_ID))
    body = b"x" * 3_000_000

    async def chunks() -> object:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    with serve_in_thread(app) as server:
        url = Endpoints.emulator(server.url).extf + "/clients/455148-1/extf-files/import"
        async with httpx.AsyncClient() as http:
            response = await http.post(
                url,
                headers=GOOD | OCTET | {"Filename": "EXTF_a.csv"},
                content=chunks() if chunked else body,  # type: ignore[arg-type]
            )
    assert response.status_code == 413
    assert response.json()["type"].endswith("1008833")
    assert extf_spec_errors(response, "POST", "/clients/455148-1/extf-files/import") == []


async def test_large_upload_refused_before_reading_still_gets_its_answer() -> None:
    app = create_app(emulator_config(), checker=StaticTokenChecker(["t"], client_id=APP_CLIENT_ID))
    with serve_in_thread(app) as server:
        url = Endpoints.emulator(server.url).extf + "/clients/455148-1/extf-files/import"
        async with httpx.AsyncClient() as http:
            response = await http.post(
                url, headers=OCTET | {"Filename": "EXTF_a.csv"}, content=b"x" * 8_000_000
            )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/clients/455148-1/dxso-jobs", b'{"import_type": "\xff\xfe"}'),
        ("/clients/455148-1/dxso-jobs", b"{not json"),
    ],
)
async def test_unreadable_json_on_dxso_jobs_is_400_dco(
    setup: Setup, path: str, body: bytes
) -> None:
    async with raw(setup) as http:
        response = await http.post(
            URLS.dxso + path, headers=GOOD | {"Content-Type": "application/json"}, content=body
        )
    assert response.status_code == 400
    assert response.json()["error"] == "#DCO01008"


async def test_other_requests_are_served_while_a_file_is_checked(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def slow_check(content: bytes, *, consultant_number: int, client_number: int) -> ExtfVerdict:
        release.wait(timeout=10)
        return check_extf(content, consultant_number=consultant_number, client_number=client_number)

    monkeypatch.setattr(api_extf, "check_extf", slow_check)
    async with raw(setup) as http:
        pending_upload = asyncio.ensure_future(upload(http, make_extf(455148, 1, ONE_ROW)))
        await asyncio.sleep(0)
        listed = await http.get(URLS.extf + "/clients/455148-1/extf-files/jobs", headers=GOOD)
        answered_while_checking = not pending_upload.done()
        release.set()
        job = await final_job(http, await pending_upload)
    assert listed.status_code == 200
    assert answered_while_checking
    assert job["result"] == "succeeded"


async def test_a_job_whose_check_outlasts_the_answer_reads_pending_until_checked(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.state.config = setup.state.config.model_copy(update={"inline_processing_seconds": 0})
    release = threading.Event()

    def slow_check(content: bytes, *, consultant_number: int, client_number: int) -> ExtfVerdict:
        release.wait(timeout=10)
        return check_extf(content, consultant_number=consultant_number, client_number=client_number)

    monkeypatch.setattr(api_extf, "check_extf", slow_check)
    async with raw(setup) as http:
        response = await upload(http, make_extf(455148, 1, ONE_ROW))
        reads = [
            (await http.get(URLS.extf + response.headers["Location"], headers=GOOD)).json()
            for _ in range(3)
        ]
        release.set()
        await asyncio.gather(*setup.state.background)
        job = await final_job(http, response)
    assert [r["result"] for r in reads] == ["pending"] * 3
    assert job["result"] == "succeeded"


async def test_datev_musterdatei_is_accepted_with_all_bookings(setup: Setup) -> None:
    async with raw(setup) as http:
        job = await final_job(
            http, await upload(http, MUSTERDATEI.read_bytes(), client="29098-55003")
        )
    assert job["result"] == "succeeded", job
    assert job["number_of_accounting_records"] == 54
    assert len(setup.state.ledger.bookings("29098-55003")) == 54


async def test_row_problems_fail_the_job_not_the_upload(setup: Setup) -> None:
    async with raw(setup) as http:
        response = await upload(http, make_extf(455148, 1, [("1,00", "S", "1000", "8400", "R E")]))
        job = await final_job(http, response)
    assert response.status_code == 202
    assert job["result"] == "failed"
    elements = job["validation_details"]["affected_elements"]  # type: ignore[index]
    assert elements[0]["name"] == "line 3 Belegfeld 1"


async def test_disallowed_filename_characters_become_underscores(setup: Setup) -> None:
    async with raw(setup) as http:
        job = await final_job(
            http, await upload(http, make_extf(455148, 1, ONE_ROW), "EXTF_a:b?.csv")
        )
    assert job["filename"] == "EXTF_a_b_.csv"
    assert setup.state.ledger.transfers()[0].filename == "EXTF_a_b_.csv"


async def test_wrong_content_type_is_415(setup: Setup) -> None:
    async with raw(setup) as http:
        response = await http.post(
            IMPORT,
            headers=GOOD | {"Filename": "EXTF_a.csv", "Content-Type": "text/csv"},
            content=make_extf(455148, 1, ONE_ROW),
        )
    assert response.status_code == 415
    assert response.json()["title"] == "Unsupported Media Type"
    assert extf_spec_errors(response, "POST", "/clients/455148-1/extf-files/import") == []


async def test_job_list_pages_with_total_items_and_link(setup: Setup) -> None:
    jobs = URLS.extf + "/clients/455148-1/extf-files/jobs"
    async with raw(setup) as http:
        for number in range(3):
            await upload(http, make_extf(455148, 1, ONE_ROW), f"EXTF_{number}.csv")
        middle = await http.get(jobs, params={"skip": 1, "top": 1}, headers=GOOD)
        everything = await http.get(jobs, headers=GOOD)
    assert middle.headers["Total-Items"] == "3"
    assert middle.headers["Link"] == '<?skip=0&top=1>;rel="prev", <?skip=2&top=1>;rel="next"'
    assert [j["filename"] for j in middle.json()] == ["EXTF_1.csv"]
    assert "Link" not in everything.headers


@pytest.mark.parametrize(
    ("accept", "status"),
    [("text/html", 406), ("application/xml", 406), ("application/json", 200), ("*/*", 200)],
)
async def test_clients_api_enforces_accept(setup: Setup, accept: str, status: int) -> None:
    async with raw(setup) as http:
        response = await http.get(URLS.clients + "/clients", headers=GOOD | {"Accept": accept})
    assert response.status_code == status
    if status == 406:
        assert response.json()["status"] == 406


# ---------------------------------------------------------------- identity provider

REDIRECT = "http://127.0.0.1:9999/callback"
SECRET = "s3cret-of-the-app"


def _idp() -> IdentityProvider:
    return IdentityProvider(
        issuer=BASE + "/openid",
        oauth_clients=[
            OAuthClientRegistration(APP_CLIENT_ID, SecretStr(SECRET), redirect_uris=(REDIRECT,))
        ],
        auto_consent=True,
    )


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _claims(jwt: str) -> dict[str, object]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.parametrize("mode", ["query", None])
async def test_response_type_code_id_token(mode: str | None) -> None:
    verifier, challenge = _pkce()
    params = {
        "response_type": "code id_token",
        "client_id": APP_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "openid datev:accounting:clients",
        "state": secrets.token_urlsafe(24),
        "nonce": "n-" + secrets.token_urlsafe(24),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if mode:
        params["response_mode"] = mode
    app = create_app(emulator_config(), _idp())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        authorize = await http.get("/openid/authorize", params=params)
        location = urlsplit(authorize.headers["Location"])
        answer = parse_qs(location.query if mode == "query" else location.fragment)
        token = await http.post(
            "/token",
            auth=(APP_CLIENT_ID, SECRET),
            data={
                "grant_type": "authorization_code",
                "code": answer["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
        )
    claims = _claims(answer["id_token"][0])
    digest = hashlib.sha256(answer["code"][0].encode()).digest()[:16]
    assert claims["nonce"] == params["nonce"]
    assert claims["c_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert token.status_code == 200, token.text


async def test_unsupported_response_type_is_refused() -> None:
    app = create_app(emulator_config(), _idp())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        authorize = await http.get(
            "/openid/authorize",
            params={"response_type": "token", "client_id": APP_CLIENT_ID, "redirect_uri": REDIRECT},
        )
    assert parse_qs(urlsplit(authorize.headers["Location"]).query)["error"] == [
        "unsupported_response_type"
    ]


@pytest.mark.parametrize("query", [{"skip": "x"}, {"skip": "-1"}, {"top": "many"}])
async def test_bad_job_list_paging_is_400_1008828(setup: Setup, query: dict[str, str]) -> None:
    async with raw(setup) as http:
        response = await http.get(
            URLS.extf + "/clients/455148-1/extf-files/jobs", params=query, headers=GOOD
        )
    assert response.status_code == 400
    assert response.json()["type"].endswith("1008828")
