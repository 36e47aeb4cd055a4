"""The Looker client against the emulator (every exchange validated against the spec)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from looker_testkit import CLIENT_ID, SECRET, FakeClock
from pydantic import SecretStr

from ml_connector.errors import (
    ConfigurationError,
    DataError,
    RateLimitedError,
    RemoteRejectedError,
    RetriableError,
)
from ml_connector.http.polling import LOOKER_TASK_POLLING
from ml_connector.http.retry import RetryPolicy
from ml_connector.looker import InlineQuery, LookerClient, api_root
from ml_connector.looker.errors import server_message
from ml_connector_sandbox.emulators.looker import EndpointFaults, Faults

GL = "gl_monthly"
MakeClient = Callable[..., LookerClient]
MakeApp = Callable[..., Any]


def q(*fields: str, **kw: Any) -> InlineQuery:
    return InlineQuery("finance", GL, fields=tuple(f"{GL}.{f}" for f in fields), **kw)


# -- base URL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "api"),
    [
        ("https://acme.cloud.looker.com", "https://acme.cloud.looker.com/api/4.0"),
        ("https://acme.cloud.looker.com/", "https://acme.cloud.looker.com/api/4.0"),
        ("https://looker.acme.de:19999", "https://looker.acme.de:19999/api/4.0"),
        ("https://acme.de/looker/", "https://acme.de/looker/api/4.0"),
        ("https://acme.de/looker/api/4.0/", "https://acme.de/looker/api/4.0"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/4.0"),
        ("http://localhost:8080/x", "http://localhost:8080/x/api/4.0"),
        ("http://[::1]:8080", "http://[::1]:8080/api/4.0"),
    ],
)
def test_base_url_forms(base: str, api: str) -> None:
    assert api_root(base) == api


@pytest.mark.parametrize(
    "base",
    ["http://acme.cloud.looker.com", "ftp://acme.de", "acme.de", "https://acme.de/?a=1", ""],
)
def test_base_url_refused_when_unsafe_or_malformed(base: str) -> None:
    with pytest.raises(ConfigurationError):
        api_root(base)


async def test_a_path_prefix_reaches_the_api(make_app: MakeApp, make_client: MakeClient) -> None:
    # the emulator serves /api/4.0 at the root; a prefix must be kept verbatim in every call
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/login"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3599})
        return httpx.Response(200, json=[])

    client = make_client(
        make_app(), base_url="https://acme.de/looker/", transport=httpx.MockTransport(handler)
    )
    async with client:
        await client.looks()
    assert seen == ["/looker/api/4.0/login", "/looker/api/4.0/looks", "/looker/api/4.0/logout"]


# -- login, tokens, logout -------------------------------------------------------------


async def test_bad_credentials_give_a_clear_configuration_error(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async with make_client(make_app(), client_secret="wrong") as client:
        with pytest.raises(ConfigurationError) as err:
            await client.looks()
    assert "credentials" in str(err.value)
    assert "404" in str(err.value)


async def test_token_scheme_and_single_login(make_app: MakeApp, make_client: MakeClient) -> None:
    app = make_app()
    async with make_client(app) as client:
        await client.looks()
        await client.models()
    assert app.state.looker.logins == 1


async def test_relogin_shortly_before_expiry(
    make_app: MakeApp, make_client: MakeClient, clock: FakeClock
) -> None:
    app = make_app(token_ttl=3599)
    async with make_client(app) as client:
        await client.looks()
        clock.advance(3599 - 61)
        await client.looks()
        assert app.state.looker.logins == 1
        clock.advance(2)  # now inside the 60 s safety margin
        await client.looks()
        assert app.state.looker.logins == 2
        assert client.stats.relogins_on_401 == 0


async def test_short_tokens_are_still_used(
    make_app: MakeApp, make_client: MakeClient, clock: FakeClock
) -> None:
    app = make_app(token_ttl=10)
    async with make_client(app) as client:
        await client.looks()
        clock.advance(8)
        await client.looks()
        assert app.state.looker.logins == 1
        clock.advance(1.5)
        await client.looks()
        assert app.state.looker.logins == 2


async def test_one_401_relogs_in_once_and_retries(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    faults = Faults(endpoints={"all_looks": EndpointFaults(unauthorized_next=1)})
    app = make_app(faults=faults)
    async with make_client(app) as client:
        looks = await client.looks()
    assert len(looks) == 2
    assert app.state.looker.logins == 2
    assert client.stats.relogins_on_401 == 1


async def test_a_401_storm_fails_after_one_relogin(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    faults = Faults(endpoints={"all_looks": EndpointFaults(unauthorized_next=5)})
    app = make_app(faults=faults)
    async with make_client(app) as client:
        with pytest.raises(ConfigurationError, match="401 even after a fresh login"):
            await client.looks()
    assert app.state.looker.logins == 2


async def test_concurrent_calls_share_one_login(make_app: MakeApp, make_client: MakeClient) -> None:
    app = make_app()
    async with make_client(app) as client:
        await asyncio.gather(*(client.looks() for _ in range(12)))
    assert app.state.looker.logins == 1


async def test_concurrent_401s_trigger_one_relogin(
    make_app: MakeApp, make_client: MakeClient, clock: FakeClock
) -> None:
    app = make_app()
    async with make_client(app) as client:
        await client.looks()
        app.state.looker.tokens.clear()  # server forgets every token (e.g. a restart)
        await asyncio.gather(*(client.looks() for _ in range(8)))
    assert app.state.looker.logins == 2


async def test_close_logs_out(make_app: MakeApp, make_client: MakeClient) -> None:
    app = make_app()
    async with make_client(app) as client:
        await client.looks()
        assert len(app.state.looker.tokens) == 1
    assert app.state.looker.tokens == {}
    assert app.state.looker.calls["logout"] == 1


# -- retries and error handling ------------------------------------------------------------


async def test_429_and_5xx_are_retried_honouring_retry_after(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    faults = Faults(
        endpoints={
            "run_inline_query": EndpointFaults(rate_limited_next=2, retry_after=3),
            "all_looks": EndpointFaults(error_rate=1.0),
        }
    )
    app = make_app(faults=faults)
    async with make_client(app) as client:
        result = await client.run_query(q("line_id", limit=5), allow_truncated=True)
        assert len(result.rows) == 5
        assert app.state.looker.calls["run_inline_query"] == 3
        with pytest.raises(RetriableError) as err:
            await client.looks()
    assert err.value.status_code == 503
    assert app.state.looker.calls["all_looks"] == 4  # policy: 4 attempts


async def test_retry_after_beyond_the_policy_gives_up_at_once(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    faults = Faults(endpoints={"all_looks": EndpointFaults(rate_limited_next=5, retry_after=600)})
    app = make_app(faults=faults)
    async with make_client(app) as client:
        with pytest.raises(RateLimitedError) as err:
            await client.looks()
    assert err.value.retry_after == 600
    assert app.state.looker.calls["all_looks"] == 1


async def test_timeouts_are_retried(make_app: MakeApp, make_client: MakeClient) -> None:
    attempts = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        if request.url.path.endswith(("/login", "/logout")):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3599})
        attempts += 1
        if attempts < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=[{"id": "1"}])

    async with make_client(make_app(), transport=httpx.MockTransport(handler)) as client:
        assert await client.looks() == [{"id": "1"}]
    assert attempts == 3


async def test_html_instead_of_json_is_retried_on_5xx_and_explained(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    faults = Faults(endpoints={"look": EndpointFaults(html_next=1)})
    async with make_client(make_app(faults=faults)) as client:
        look = await client.look(1)  # a 502 HTML page from a proxy: retried
        assert look["title"] == "GL monthly for DATEV"

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/login"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3599})
        return httpx.Response(200, html="<html><body>Sign in</body></html>")

    async with make_client(make_app(), transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ConfigurationError, match="HTML page where JSON was expected"):
            await client.looks()


@pytest.mark.parametrize(
    ("call", "body"),
    [("look", [1, 2]), ("looks", {"id": 1}), ("explore", "text"), ("models", 7)],
)
async def test_json_of_the_wrong_shape_is_a_clear_error(
    make_app: MakeApp, make_client: MakeClient, call: str, body: object
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(("/login", "/logout")):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3599})
        return httpx.Response(200, json=body)

    calls = {
        "look": lambda c: c.look(1),
        "looks": lambda c: c.looks(),
        "explore": lambda c: c.explore("finance", "gl_monthly"),
        "models": lambda c: c.models(),
    }
    async with make_client(make_app(), transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(DataError, match="JSON, not an"):
            await calls[call](client)


async def test_html_login_page_is_a_configuration_error(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, html="<html><title>Looker Not Found (404)</title></html>")

    async with make_client(make_app(), transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ConfigurationError, match="base URL"):
            await client.looks()


async def test_unknown_look_is_rejected_with_status(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async with make_client(make_app()) as client:
        with pytest.raises(RemoteRejectedError) as err:
            await client.run_look(42)
    assert err.value.status_code == 404


async def test_secrets_never_appear_in_logs_reprs_or_errors(
    make_app: MakeApp, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    faults = Faults(endpoints={"all_looks": EndpointFaults(unauthorized_next=5)})
    app = make_app(faults=faults)
    messages: list[str] = []
    async with make_client(app) as client:
        await client.login()
        token = client._tokens.current
        assert token is not None
        messages += [repr(client), repr(client._tokens), repr(token), str(vars(client.stats))]
        with pytest.raises(ConfigurationError) as err:
            await client.looks()
        messages += [str(err.value), repr(err.value)]
    async with make_client(make_app(), client_secret="wrong-" + SECRET) as bad:
        with pytest.raises(ConfigurationError) as err2:
            await bad.login()
        messages += [str(err2.value), repr(bad)]
    text = "\n".join(messages + [r.getMessage() for r in caplog.records])
    assert SECRET not in text
    assert token.value not in text


def test_server_message_redacts_a_secret_that_straddles_the_cut() -> None:
    secret = "s3cr3t-" + "x" * 40
    body = {"message": "a" * 195 + " " + secret + " echoed back"}
    message = server_message(httpx.Response(400, json=body), (secret,))
    assert secret[:4] not in message
    assert message == "a" * 195 + " *** "


# -- queries and typed rows ----------------------------------------------------------------


async def test_look_rows_are_typed(make_app: MakeApp, make_client: MakeClient) -> None:
    async with make_client(make_app()) as client:
        result = await client.run_look(1)
    rows = result.rows
    assert len(rows) == 1549
    first = rows[0]
    assert first[f"{GL}.booking_date"] == date(2024, 11, 30)
    assert first[f"{GL}.amount_eur"] == Decimal("21261.24")
    assert isinstance(first[f"{GL}.amount_eur"], Decimal)
    assert first[f"{GL}.revenue_type"] is None
    assert all(isinstance(r[f"{GL}.amount_eur"], Decimal) for r in rows)
    nulls = [r for r in rows if r[f"{GL}.cost_center"] is None]
    assert len(nulls) == 2
    nfd = [r for r in rows if "u\u0308" in r[f"{GL}.description"]]
    assert nfd  # decomposed text arrives untouched


async def test_totals_look_types_measures(make_app: MakeApp, make_client: MakeClient) -> None:
    async with make_client(make_app()) as client:
        totals = await client.run_look(2)
        detail = await client.run_look(1)
    assert sum(r[f"{GL}.row_count"] for r in totals.rows) == len(detail.rows)
    assert sum(r[f"{GL}.total_amount_eur"] for r in totals.rows) == sum(
        r[f"{GL}.amount_eur"] for r in detail.rows
    )
    assert all(isinstance(r[f"{GL}.row_count"], int) for r in totals.rows)


async def test_client_sends_explicit_limit_and_detects_truncation(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async with make_client(make_app(), row_cap=100) as client:
        with pytest.raises(DataError, match="truncated"):
            await client.run_query(q("line_id"))
        partial = await client.run_query(q("line_id"), allow_truncated=True)
        assert partial.truncated
        assert len(partial.rows) == 100
        small = await client.run_query(q("line_id", filters={f"{GL}.period_month": "2026-10"}))
        assert not small.truncated


async def test_unknown_fields_are_refused_before_running(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async with make_client(make_app()) as client:
        with pytest.raises(ConfigurationError, match="not in explore"):
            await client.run_query(q("line_id", "no_such_field"))


async def test_query_task_streams_rows_after_polling(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app(faults=Faults(task_polls=3, slow_query_polls=2))
    async with make_client(app) as client:
        rows = [r async for r in client.stream_query_task(q("line_id", "amount_eur"), limit=2000)]
    assert len(rows) == 1549
    assert isinstance(rows[0][f"{GL}.amount_eur"], Decimal)
    assert app.state.looker.calls["query_task"] >= 4


async def test_a_query_task_still_running_after_the_poll_budget_is_retriable(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app(faults=Faults(task_polls=99))
    poll = replace(LOOKER_TASK_POLLING, base=0.0, max_polls=4)
    async with make_client(app, poll=poll) as client:
        with pytest.raises(RetriableError, match="poll budget"):
            [r async for r in client.stream_query_task(q("line_id"), limit=2000)]
    assert app.state.looker.calls["query_task"] == 4


async def test_query_task_error_and_killed_fail(make_app: MakeApp, make_client: MakeClient) -> None:
    for outcome in ("error", "killed"):
        app = make_app(faults=Faults(task_outcome=outcome))
        async with make_client(app) as client:
            with pytest.raises(RemoteRejectedError, match=outcome):
                [r async for r in client.stream_query_task(q("line_id"), limit=2000)]


async def test_expired_query_task_is_started_again_then_given_up(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app(faults=Faults(task_outcome="expired"))
    async with make_client(app) as client:
        with pytest.raises(RetriableError, match="expiring"):
            [r async for r in client.stream_query_task(q("line_id"), limit=2000)]
    assert app.state.looker.calls["create_query_task"] == 3


async def test_capped_unlimited_task_is_detected(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app(row_cap=1000)  # the server caps -1 like any limit
    async with make_client(app, row_cap=1000) as client:
        with pytest.raises(DataError, match="capped"):
            [r async for r in client.stream_query_task(q("line_id"), limit=-1)]


async def test_concurrency_stays_within_the_pool(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    faults = Faults(endpoints={"run_inline_query": EndpointFaults(latency_ms=5)})
    app = make_app(faults=faults, max_queries_per_user=4)
    async with make_client(app, max_concurrency=4) as client:
        results = await asyncio.gather(
            *(client.run_query(q("line_id", limit=3), allow_truncated=True) for _ in range(12))
        )
    assert all(len(r.rows) == 3 for r in results)
    assert app.state.looker.peak_running <= 4
    assert app.state.looker.calls["run_inline_query"] == 12  # never a 429


def test_repr_and_secret_type() -> None:
    client = LookerClient("https://acme.de", CLIENT_ID, SecretStr(SECRET))
    assert SECRET not in repr(client)
    asyncio.run(client.close())


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ConfigurationError):
        LookerClient("https://acme.de", CLIENT_ID, SECRET, max_concurrency=0)


def test_default_retry_policy_is_shared() -> None:
    client = LookerClient("https://acme.de", CLIENT_ID, SECRET)
    assert client.policy == RetryPolicy()
    asyncio.run(client.close())


async def test_query_task_results_survive_one_401(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    faults = Faults(endpoints={"query_task_results": EndpointFaults(unauthorized_next=1)})
    app = make_app(faults=faults)
    async with make_client(app) as client:
        rows = [r async for r in client.stream_query_task(q("line_id"), limit=2000)]
    assert len(rows) == 1549
    assert client.stats.relogins_on_401 == 1
