"""Conformance fuzzing: both emulators against the official OpenAPI specs (schemathesis).

The bar: no server error (5xx) and no response that breaks the spec, except the
deviations in ``fuzz_allowlist.toml`` (each with its reason and source). Bounded by
``max_examples`` per operation and mode and a time budget per spec.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

pytest.importorskip("schemathesis")

from conformance_fuzz import Report, fuzz

from ml_connector.datev.api.endpoints import EMULATOR_PREFIXES
from ml_connector_sandbox.emulators.datev.app import create_app as datev_app
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker
from ml_connector_sandbox.emulators.datev.validation import SPEC_FILES
from ml_connector_sandbox.emulators.looker import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    create_app,
)
from ml_connector_sandbox.emulators.looker.faults import ENDPOINTS
from ml_connector_sandbox.emulators.looker.validation import load_raw_spec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]
APP_CLIENT_ID = "fuzz-app"


def _summary(name: str, report: Report) -> str:
    lines = [
        f"{name}: {report.cases} cases in {report.seconds:.1f}s, "
        f"{report.allowed} allow-listed, {len(report.failures)} distinct failures"
    ]
    lines += [
        f"  {f.operation} [{f.check}] {f.status}: {f.detail[:600]}"
        for f in report.failures.values()
    ]
    return "\n".join(lines)


async def _looker_token(app: Any) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        login = await client.post(
            "/api/4.0/login",
            data={"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
        )
    return str(login.json()["access_token"])


def test_looker_emulator_conforms_to_the_looker_spec() -> None:
    app = create_app()
    token = asyncio.run(_looker_token(app))
    # logout would end the session being fuzzed; run_once would POST to fuzzed addresses
    served = set(ENDPOINTS) - {"logout", "scheduled_plan_run_once", "scheduled_plan_run_once_by_id"}
    report = fuzz(
        "looker",
        load_raw_spec(),
        app,
        headers={"Authorization": f"token {token}"},
        known={
            "look_id": "1",
            "query_id": "1",
            "lookml_model_name": "finance",
            "model_name": "finance",
            "explore_name": "gl_monthly",
            "view_name": "gl_monthly",
            "result_format": "json",
        },
        operations=lambda op_id: op_id in served,
        max_examples=40,
        budget_seconds=50,
    )
    print(_summary("looker", report))
    assert report.cases >= 2 * len(served)
    assert not report.failures, _summary("looker", report)


def test_datev_emulator_conforms_to_the_datev_specs() -> None:
    from ml_connector_sandbox.emulators.datev.validation import _DIR

    checker = StaticTokenChecker(["fuzz-token"], client_id=APP_CLIENT_ID)
    app = datev_app(checker=checker)
    report = Report()
    for api, filename in SPEC_FILES.items():
        raw: dict[str, Any] = json.loads((_DIR / filename).read_text(encoding="utf-8"))
        raw["servers"] = [{"url": EMULATOR_PREFIXES[api]}]
        fuzz(
            api.value,
            raw,
            app,
            headers={"Authorization": "Bearer fuzz-token", "X-DATEV-Client-Id": APP_CLIENT_ID},
            known={"client-id": "455148-1"},
            max_examples=30,
            budget_seconds=20,
            report=report,
        )
    print(_summary("datev", report))
    assert report.cases > 0
    assert not report.failures, _summary("datev", report)
