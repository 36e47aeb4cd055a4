"""Helpers for the DATEV API client and emulator tests (fake token source, spec checks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette

from ml_connector.datev.api.endpoints import EMULATOR_PREFIXES, DatevApi
from ml_connector.datev.api.httplog import HttpLog
from ml_connector.datev.client import DatevClient
from ml_connector.errors import ReconsentRequiredError
from ml_connector_sandbox.emulators.datev.config import EmulatedClient, EmulatorConfig
from ml_connector_sandbox.emulators.datev.state import EmulatorState
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker
from ml_connector_sandbox.emulators.datev.validation import validate_request, validate_response

APP_CLIENT_ID = "app-under-test"
BASE = "http://emulator.test"


_SAMPLE = Path(__file__).parents[1] / "data" / "extf" / "handmade" / "minimal_fv13_cp1252_crlf.csv"


def make_extf(berater: int, mandant: int, rows: list[tuple[str, str, str, str, str]]) -> bytes:
    """An EXTF Buchungsstapel (FV 13): rows of (amount, S/H, Konto, Gegenkonto, Belegfeld 1)."""
    header = (
        f'"EXTF";700;21;"Buchungsstapel";13;20260105120000000;;"RE";"";"";{berater};{mandant};'
        '20260101;4;20260101;20260131;"Januar 2026";"";1;0;0;"EUR";;"";;;"03";;;"";""'
    )
    columns = _SAMPLE.read_bytes().decode("cp1252").split("\r\n")[1]
    width = columns.count(";") + 1
    lines = [header, columns]
    for amount, sh, konto, gegen, beleg in rows:
        fields = f'{amount};"{sh}";"EUR";;;;{konto};{gegen};"";0501;"{beleg}";;;"Text {beleg}"'
        lines.append(fields + ";" * (width - 1 - fields.count(";")))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


@dataclass
class FakeTokens:
    """An AccessTokenSource handing out tokens in order; ``invalidate`` moves to the next."""

    tokens: list[str]
    invalidated: list[str] = field(default_factory=list)
    calls: int = 0
    reconsent: bool = False

    async def get_access_token(self) -> SecretStr:
        self.calls += 1
        if self.reconsent:
            raise ReconsentRequiredError("grant gone", hint="run `ml-connector datev login`")
        return SecretStr(self.tokens[0])

    async def invalidate(self, token: SecretStr) -> None:
        self.invalidated.append(token.get_secret_value())
        if len(self.tokens) > 1 and token.get_secret_value() == self.tokens[0]:
            self.tokens.pop(0)


def _api_of(path: str) -> tuple[DatevApi, str] | None:
    for api, prefix in EMULATOR_PREFIXES.items():
        if path.startswith(prefix + "/"):
            return api, path[len(prefix) :]
    return None


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """Forwards to the emulator and checks every request and response against DATEV's specs."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.violations: list[str] = []
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.requests.append(request)
        found = _api_of(request.url.path)
        if found:
            api, path = found
            problems = validate_request(
                api,
                request.method,
                path,
                query=list(request.url.params.multi_items()),
                headers=dict(request.headers),
                body=body or None,
            )
            self.violations += [f"request {request.method} {path}: {p}" for p in problems]
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if found and response.status_code < 300:
            problems = validate_response(
                api,
                request.method,
                path,
                status=response.status_code,
                headers=dict(response.headers),
                body=content or None,
                request_headers=dict(request.headers),
                query=list(request.url.params.multi_items()),
            )
            self.violations += [f"response {request.method} {path}: {p}" for p in problems]
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    def count(self, method: str, fragment: str) -> int:
        """Requests with ``method`` whose path contains ``fragment``."""
        return sum(1 for r in self.requests if r.method == method and fragment in r.url.path)


@dataclass
class Setup:
    """An emulator app plus a client talking to it in-process."""

    app: Starlette
    state: EmulatorState
    client: DatevClient
    tokens: FakeTokens
    transport: SpecCheckingTransport
    checker: StaticTokenChecker
    sleeps: list[float]
    log: HttpLog


def emulator_config(**overrides: object) -> EmulatorConfig:
    """Sandbox-like clients plus 29098-55003 (all services) used by the EXTF samples."""
    clients = (
        EmulatedClient(consultant_number=455148, client_number=1, name="Muster GmbH 1"),
        EmulatedClient(
            consultant_number=455148,
            client_number=2,
            name="Nur Buchungsdaten",
            services=("Buchungsdatenservice",),
        ),
        EmulatedClient(
            consultant_number=455148,
            client_number=3,
            name="Ohne Buchungsdaten",
            services=("Belegbilderservice", "Rechnungsdatenservice 1.0"),
        ),
        EmulatedClient(consultant_number=29098, client_number=55003, name="Musterdatei"),
    )
    data: dict[str, object] = {"clients": clients}
    data.update(overrides)
    return EmulatorConfig.model_validate(data)
