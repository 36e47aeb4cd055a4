"""A server that cannot be reached at all fails the call at once, naming the URL.

Connection refused and an unknown host are not worth a minute of retries; timeouts,
5xx and 429 still are (see tests/test_retry.py).
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from pydantic import SecretStr

from ml_connector.datev.api.endpoints import Endpoints
from ml_connector.datev.api.problems import DatevUnavailableError
from ml_connector.datev.client import DatevClient
from ml_connector.errors import RetriableError, UnreachableError
from ml_connector.http.retry import RetryPolicy, retry_async, transport_error
from ml_connector.looker import LookerClient


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _dns_failure(request: httpx.Request) -> httpx.Response:
    try:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    except socket.gaierror as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc


def test_refused_looker_fails_on_the_first_attempt_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    client = LookerClient(url, "id", SecretStr("secret"))

    async def login() -> None:
        try:
            await client.login()
        finally:
            await client.close()

    with pytest.raises(UnreachableError) as caught:
        asyncio.run(login())
    assert f"{url}/api/4.0" in str(caught.value)
    assert "connection refused" in str(caught.value)
    assert client.stats.by_operation == {"login": 1}


def test_unknown_looker_host_fails_on_the_first_attempt() -> None:
    client = LookerClient(
        "https://looker.acme.invalid", "id", "secret", transport=httpx.MockTransport(_dns_failure)
    )

    async def login() -> None:
        try:
            await client.login()
        finally:
            await client.close()

    with pytest.raises(UnreachableError, match=r"looker\.acme\.invalid.*unknown host"):
        asyncio.run(login())
    assert client.stats.by_operation == {"login": 1}


def test_unknown_datev_host_is_unavailable_but_not_retried_in_the_call() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _dns_failure(request)

    class Tokens:
        async def get_access_token(self) -> SecretStr:
            return SecretStr("t")

        async def invalidate(self, token: SecretStr) -> None:
            return None

    client = DatevClient(
        Tokens(),
        app_client_id="app",
        endpoints=Endpoints.emulator("https://datev.acme.invalid"),
        transport=httpx.MockTransport(handler),
        retry_policy=RetryPolicy(attempts=4),
    )
    with pytest.raises(DatevUnavailableError) as caught:
        asyncio.run(client.get_client("1-2"))
    assert isinstance(caught.value, UnreachableError)
    assert "datev.acme.invalid" in str(caught.value)
    assert len(seen) == 1


def test_timeouts_are_still_retried() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            request = httpx.Request("GET", "https://looker.acme.de/api/4.0/login")
            raise transport_error(
                httpx.ReadTimeout("slow", request=request), "Looker login", "https://looker.acme.de"
            )
        return "ok"

    assert asyncio.run(retry_async(flaky, RetryPolicy(attempts=4))) == "ok"
    assert calls == 3


def test_transport_error_classifies_by_cause() -> None:
    request = httpx.Request("GET", "https://x.example/")
    refused = httpx.ConnectError("All connection attempts failed", request=request)
    refused.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    assert isinstance(
        transport_error(refused, "Looker login", "https://x.example"), UnreachableError
    )
    reset = httpx.ReadError("connection reset", request=request)
    error = transport_error(reset, "Looker login", "https://x.example")
    assert isinstance(error, RetriableError)
    assert not isinstance(error, UnreachableError)


def test_absurdly_deep_json_from_looker_is_a_data_error() -> None:
    from ml_connector.errors import DataError

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/login"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(
            200,
            content=b"[" * 100_000 + b"]" * 100_000,
            headers={"Content-Type": "application/json"},
        )

    client = LookerClient(
        "https://looker.acme.de", "id", "s", transport=httpx.MockTransport(handler)
    )

    async def looks() -> None:
        try:
            await client.looks()
        finally:
            await client.close()

    with pytest.raises(DataError, match="invalid JSON"):
        asyncio.run(looks())
