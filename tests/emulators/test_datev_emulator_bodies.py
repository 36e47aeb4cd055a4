"""The DATEV emulator answers a body that is not UTF-8 with 400, not a server error."""

from __future__ import annotations

import httpx

from ml_connector.datev.api.endpoints import EMULATOR_PREFIXES, DatevApi
from ml_connector_sandbox.emulators.datev.app import create_app
from ml_connector_sandbox.emulators.datev.static_tokens import StaticTokenChecker


async def test_a_json_body_that_is_not_utf8_is_400() -> None:
    app = create_app(checker=StaticTokenChecker(["t"], client_id="app"))
    headers = {
        "Authorization": "Bearer t",
        "X-DATEV-Client-Id": "app",
        "Content-Type": "application/json",
    }
    url = f"{EMULATOR_PREFIXES[DatevApi.DXSO]}/clients/455148-1/dxso-jobs"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        r = await client.post(url, headers=headers, content=b'{"\xf6": 1}')
    assert r.status_code == 400
