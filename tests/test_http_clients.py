"""Every HTTPS client of a process shares one verifying TLS context."""

from __future__ import annotations

import ssl

import pytest
from pydantic import SecretStr

from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.client import DatevClient
from ml_connector.http.clients import tls_context
from ml_connector.looker import LookerClient


class _Tokens:
    async def get_access_token(self) -> SecretStr:
        return SecretStr("token")

    async def invalidate(self, token: SecretStr) -> None:
        return None


def test_one_tls_context_per_process_verifying_certificates() -> None:
    assert tls_context() is tls_context()
    assert tls_context().verify_mode == ssl.CERT_REQUIRED
    assert tls_context().check_hostname


@pytest.mark.asyncio
async def test_the_datev_and_looker_clients_use_the_shared_context() -> None:
    async with DatevClient(_Tokens(), app_client_id="app", endpoints=Endpoints.sandbox()) as d:
        datev_pool = d._http._transport._pool  # type: ignore[attr-defined]
        assert datev_pool._ssl_context is tls_context()
    async with LookerClient("https://example.cloud.looker.com", "id", "secret") as looker:
        looker_pool = looker._http._transport._pool  # type: ignore[attr-defined]
        assert looker_pool._ssl_context is tls_context()
