"""What the DATEV emulator keeps in its data dir survives a restart."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from datev_api_support import APP_CLIENT_ID, BASE, emulator_config, make_extf
from fpdf import FPDF
from pydantic import SecretStr
from starlette.applications import Starlette

from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.client import DatevClient
from ml_connector.interfaces.cli import main
from ml_connector_sandbox.emulators.datev.api_admin import LEDGER_PAGE
from ml_connector_sandbox.emulators.datev.app import create_app, emulator_state
from ml_connector_sandbox.emulators.datev.idp import IdentityProvider, OAuthClientRegistration
from ml_connector_sandbox.emulators.datev.ledger import Booking, Ledger, Transfer
from ml_connector_sandbox.emulators.datev.state import EmulatorState, ExtfJobState
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker
from ml_connector_sandbox.emulators.datev.store import FILE_NAME, EmulatorStore

URLS = Endpoints.emulator(BASE)
SECRET = "app-secret"
SCOPES = [
    "datev:accounting:clients",
    "datev:accounting:extf-files-import",
    "accounting:dxso-jobs",
    "accounting:clients:read",
]


def start(data_dir: Path) -> tuple[Starlette, IdentityProvider, EmulatorStore]:
    store = EmulatorStore(data_dir)
    idp = IdentityProvider(
        issuer=BASE + "/openid",
        oauth_clients=[OAuthClientRegistration(APP_CLIENT_ID, SecretStr(SECRET))],
        store=store,
    )
    return create_app(emulator_config(), idp, store=store), idp, store


def http_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


def api_headers(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}", "X-DATEV-Client-Id": APP_CLIENT_ID}


async def test_ledger_jobs_and_grants_survive_a_restart(tmp_path: Path) -> None:
    app, idp, store = start(tmp_path)
    tokens = idp.mint_tokens(APP_CLIENT_ID, SCOPES)
    async with http_for(app) as http:
        uploaded = await http.post(
            URLS.extf + "/clients/455148-1/extf-files/import",
            headers=api_headers(tokens.access_token)
            | {"Filename": "EXTF_a.csv", "Content-Type": "application/octet-stream"},
            content=make_extf(455148, 1, [("12,34", "S", "1000", "8400", "A")]),
        )
        dxso = await http.post(
            URLS.dxso + "/clients/455148-1/dxso-jobs",
            headers=api_headers(tokens.access_token) | {"Content-Type": "application/json"},
            json={"import_type": "accountsPayableLedgerImport", "accounting_month": "2026-01"},
        )
    store.close()

    app, _, store = start(tmp_path)
    async with http_for(app) as http:
        job = await http.get(
            URLS.extf + uploaded.headers["Location"], headers=api_headers(tokens.access_token)
        )
        dxso_job = await http.get(
            URLS.dxso + f"/clients/455148-1/dxso-jobs/{dxso.json()['id']}",
            headers=api_headers(tokens.access_token),
        )
        refreshed = await http.post(
            "/token",
            auth=(APP_CLIENT_ID, SECRET),
            data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
        )
        listed = await http.get(
            URLS.clients + "/clients", headers=api_headers(refreshed.json()["access_token"])
        )
        ledger = (await http.get("/admin/ledger")).json()
    store.close()
    assert job.status_code == 200
    assert job.json()["filename"] == "EXTF_a.csv"
    assert dxso_job.json()["status"] == 0
    assert refreshed.status_code == 200, refreshed.text
    assert listed.status_code == 200
    assert [b["amount"] for b in ledger["bookings"]] == ["12.34"]
    assert len(ledger["transfers"]) == 1


async def test_used_refresh_token_stays_used_after_a_restart(tmp_path: Path) -> None:
    app, idp, store = start(tmp_path)
    tokens = idp.mint_tokens(APP_CLIENT_ID, SCOPES)
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    async with http_for(app) as http:
        first = await http.post("/token", auth=(APP_CLIENT_ID, SECRET), data=form)
    store.close()
    app, _, store = start(tmp_path)
    async with http_for(app) as http:
        again = await http.post("/token", auth=(APP_CLIENT_ID, SECRET), data=form)
    store.close()
    assert first.status_code == 200
    assert again.json()["error"] == "invalid_grant"


def test_a_job_cut_short_by_a_stop_fails_with_try_again(tmp_path: Path) -> None:
    store = EmulatorStore(tmp_path)
    state = EmulatorState(config=emulator_config(), checker=None, store=store)  # type: ignore[arg-type]
    state.extf_jobs["j1"] = ExtfJobState("455148-1", {"id": "j1", "result": "pending"})
    state.save_extf("j1")
    store.close()
    store = EmulatorStore(tmp_path)
    reopened = EmulatorState.open(config=emulator_config(), checker=None, store=store)
    store.close()
    final = reopened.extf_jobs["j1"].final
    assert final is not None
    assert final["result"] == "failed"
    assert final["validation_details"]["type"].endswith("1008837")


def test_ledger_pages_bookings(tmp_path: Path) -> None:
    store = EmulatorStore(tmp_path)
    app = create_app(emulator_config(), checker=_NoTokens(), store=store)
    ledger = emulator_state(app).ledger
    bookings = [
        Booking("455148-1", "j", "f", n, Decimal(n), "S", "1000", "8400", "0101", "A", "t")
        for n in range(1, 6)
    ]
    transfer = Transfer("extf", "455148-1", "j", "f", "x", None, "now", True, 5)
    ledger.record(transfer, iter(bookings))
    first = ledger.snapshot(limit=2)
    second = ledger.snapshot(after=first["next_after"], limit=2)
    store.close()
    assert [b["line"] for b in first["bookings"]] == [1, 2]
    assert [b["line"] for b in second["bookings"]] == [3, 4]
    assert first["total_bookings"] == 5


def test_foreign_currency_bookings_survive_a_restart_of_an_older_data_dir(
    tmp_path: Path,
) -> None:
    # a data dir written before bookings kept their currency
    older = sqlite3.connect(tmp_path / FILE_NAME)
    older.execute(
        "CREATE TABLE bookings (seq INTEGER PRIMARY KEY, client_id TEXT, job_id TEXT,"
        " source TEXT, line INTEGER, amount TEXT, debit_credit TEXT, account TEXT,"
        " contra_account TEXT, date TEXT, document_field TEXT, text TEXT)"
    )
    older.execute(
        "INSERT INTO bookings VALUES (1, '455148-1', 'j0', 'f0', 1, '5.00', 'S', '1000',"
        " '8400', '0101', 'A', 't')"
    )
    older.commit()
    older.close()
    foreign = Booking(
        "455148-1", "j", "f", 1, Decimal("108.25"), "S", "1000", "8400", "0101", "B", "t",
        currency="USD", rate=Decimal("1.0825"), base_amount=Decimal("100.00"),
        base_currency="EUR",
    )  # fmt: skip
    store = EmulatorStore(tmp_path)
    app = create_app(emulator_config(), checker=_NoTokens(), store=store)
    transfer = Transfer("extf", "455148-1", "j", "f", "x", None, "now", True, 1)
    emulator_state(app).ledger.record(transfer, [foreign])
    store.close()
    reopened = EmulatorStore(tmp_path)
    app = create_app(emulator_config(), checker=_NoTokens(), store=reopened)
    old, new = emulator_state(app).ledger.bookings("455148-1")
    reopened.close()
    assert (old.currency, old.rate, old.base_amount, old.base_currency) == ("", None, None, "")
    assert new == foreign


class _NoTokens:
    def check_access_token(self, token: str) -> None:
        return None


def _sandbox_secret(app: Starlette) -> SecretStr | None:
    idp = emulator_state(app).idp
    assert isinstance(idp, IdentityProvider)
    return idp.clients["ml-connector-sandbox"].client_secret


def _run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[dict[str, Any], str]:
    started: dict[str, Any] = {}

    def fake_run(app: Any, *, host: str, port: int, log_level: str) -> None:
        started.update(app=app)

    monkeypatch.setattr("uvicorn.run", fake_run)
    result = CliRunner().invoke(main, ["sandbox", "datev", *args])
    assert result.exit_code == 0, result.output
    return started, result.output


def test_sandbox_client_is_confidential_with_a_secret_kept_in_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, output = _run_cli(monkeypatch, "--data-dir", str(tmp_path))
    again, _ = _run_cli(monkeypatch, "--data-dir", str(tmp_path))
    public, _ = _run_cli(monkeypatch, "--data-dir", str(tmp_path), "--public-client")
    secret = _sandbox_secret(first["app"])
    assert secret is not None
    assert f"confidential, secret {secret.get_secret_value()}" in output
    assert _sandbox_secret(again["app"]) == secret
    assert _sandbox_secret(public["app"]) is None
    for app in (first["app"], again["app"], public["app"]):
        emulator_state(app).store.close()


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 10, "Rechnung")
    return bytes(pdf.output())


def _client_for(app: Starlette) -> DatevClient:
    return DatevClient(
        _StaticToken(),
        app_client_id=APP_CLIENT_ID,
        endpoints=URLS,
        transport=httpx.ASGITransport(app=app),
    )


class _StaticToken:
    async def get_access_token(self) -> SecretStr:
        return SecretStr("token-1")

    async def invalidate(self, token: SecretStr) -> None:
        return None


def _start_static(data_dir: Path) -> tuple[Starlette, EmulatorStore]:
    store = EmulatorStore(data_dir)
    checker = StaticTokenChecker(["token-1"], client_id=APP_CLIENT_ID)
    return create_app(emulator_config(), checker=checker, store=store), store


async def test_documents_and_booked_files_survive_a_restart(tmp_path: Path) -> None:
    app, store = _start_static(tmp_path)
    guid = uuid.uuid4()
    async with _client_for(app) as client:
        await client.upload_extf(
            "455148-1", make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]), "EXTF_a.csv"
        )
        await asyncio.gather(*emulator_state(app).background)
        first = await client.upload_document(
            "455148-1", _pdf(), "Rechnung 1.pdf", document_type="Rechnungseingang", document_id=guid
        )
    store.close()

    app, store = _start_static(tmp_path)
    async with _client_for(app) as client:
        again = await client.upload_document(
            "455148-1", _pdf(), "Rechnung 1.pdf", document_type="Rechnungseingang", document_id=guid
        )
        # the same file again after the restart: a duplicate transfer, not booked twice
        await client.upload_extf(
            "455148-1", make_extf(455148, 1, [("1,00", "S", "1000", "8400", "A")]), "EXTF_a.csv"
        )
        await asyncio.gather(*emulator_state(app).background)
    ledger = emulator_state(app).ledger
    documents, bookings, duplicates = ledger.documents(), ledger.bookings(), ledger.duplicates()
    store.close()
    assert first.created
    assert not again.created  # the document stored before the restart is known
    assert [d.id for d in documents] == [str(guid)]
    assert [b.amount for b in bookings] == [Decimal("1.00")]
    assert [d.filename for d in duplicates] == ["EXTF_a.csv"]


async def test_admin_ledger_answers_the_bookings_one_page_at_a_time(tmp_path: Path) -> None:
    app, store = _start_static(tmp_path)
    total = LEDGER_PAGE + 2
    bookings = (
        Booking("455148-1", "j", "f", n, Decimal(n), "S", "1000", "8400", "0101", "A", "t")
        for n in range(1, total + 1)
    )
    transfer = Transfer("extf", "455148-1", "j", "f", "x", None, "now", True, total)
    emulator_state(app).ledger.record(transfer, bookings)
    async with http_for(app) as http:
        first = (await http.get("/admin/ledger")).json()
        rest = (await http.get("/admin/ledger", params={"after": first["next_after"]})).json()
        refused = await http.get("/admin/ledger", params={"limit": "0"})
    store.close()
    assert len(first["bookings"]) == LEDGER_PAGE
    assert first["total_bookings"] == total
    assert [b["line"] for b in rest["bookings"]] == [total - 1, total]
    assert "next_after" not in rest
    assert refused.status_code == 400


def test_without_a_data_dir_the_ledger_is_a_temporary_file(tmp_path: Path) -> None:
    store = EmulatorStore()
    ledger = Ledger(store)
    transfer = Transfer("extf", "455148-1", "j", "f", "x", None, "now", True, 1)
    ledger.record(
        transfer, [Booking("455148-1", "j", "f", 1, Decimal(1), "S", "1", "2", "0101", "A", "t")]
    )
    assert store.path.is_file()
    assert ledger.count_bookings() == 1
    store.close()
    assert not store.data_dir.exists()
