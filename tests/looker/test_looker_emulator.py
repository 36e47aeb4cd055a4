"""The emulator behaves like a Looker instance (every exchange checked against the spec)."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from looker_testkit import CLIENT_ID, SECRET, FakeClock, SpecCheckingTransport
from openapi_core import OpenAPI

from ml_connector_sandbox.emulators.looker import EndpointFaults, Faults, demo_dataset_dir

API = "/api/4.0"
GL = "gl_monthly"


@pytest.fixture
def http(make_app: Callable[..., Any], looker_spec: OpenAPI) -> Callable[..., httpx.AsyncClient]:
    def make(**kw: Any) -> httpx.AsyncClient:
        app = make_app(**kw)
        client = httpx.AsyncClient(
            transport=SpecCheckingTransport(app, looker_spec), base_url="http://127.0.0.1"
        )
        client.app = app  # type: ignore[attr-defined]
        return client

    return make


async def _login(c: httpx.AsyncClient) -> dict[str, str]:
    r = await c.post(f"{API}/login", data={"client_id": CLIENT_ID, "client_secret": SECRET})
    assert r.status_code == 200
    return {"Authorization": f"token {r.json()['access_token']}"}


@pytest.fixture
async def c(http: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with http() as client:
        yield client


def _inline(fields: list[str], **extra: Any) -> dict[str, Any]:
    return {"model": "finance", "view": GL, "fields": [f"{GL}.{f}" for f in fields], **extra}


async def test_login_answers_token_with_expires_in_3599(c: httpx.AsyncClient) -> None:
    r = await c.post(f"{API}/login", data={"client_id": CLIENT_ID, "client_secret": SECRET})
    body = r.json()
    assert body["expires_in"] == 3599
    assert body["token_type"] == "Bearer"
    assert body["access_token"]


@pytest.mark.parametrize(
    ("client_id", "secret"), [(CLIENT_ID, "wrong"), ("other", SECRET), ("", "")]
)
async def test_bad_credentials_get_404_like_looker(
    c: httpx.AsyncClient, client_id: str, secret: str
) -> None:
    r = await c.post(f"{API}/login", data={"client_id": client_id, "client_secret": secret})
    assert r.status_code == 404
    assert r.json()["message"] == "Not found"


async def test_login_accepts_deprecated_query_parameters(c: httpx.AsyncClient) -> None:
    r = await c.post(f"{API}/login", params={"client_id": CLIENT_ID, "client_secret": SECRET})
    assert r.status_code == 200


@pytest.mark.parametrize("scheme", ["token", "Bearer", "TOKEN"])
async def test_both_token_schemes_are_accepted(c: httpx.AsyncClient, scheme: str) -> None:
    token = (await _login(c))["Authorization"].split()[1]
    r = await c.get(f"{API}/looks", headers={"Authorization": f"{scheme} {token}"})
    assert r.status_code == 200


@pytest.mark.parametrize("header", [None, "token nope", "Basic abc", "token "])
async def test_missing_or_unknown_token_gets_401(c: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = await c.get(f"{API}/looks", headers=headers)
    assert r.status_code == 401
    assert r.json()["message"] == "Requires authentication."


async def test_token_expires_after_expires_in(
    http: Callable[..., httpx.AsyncClient], clock: FakeClock
) -> None:
    async with http(token_ttl=60) as c:
        auth = await _login(c)
        clock.advance(59)
        assert (await c.get(f"{API}/looks", headers=auth)).status_code == 200
        clock.advance(1)
        assert (await c.get(f"{API}/looks", headers=auth)).status_code == 401


async def test_logout_invalidates_the_token(c: httpx.AsyncClient) -> None:
    auth = await _login(c)
    assert (await c.delete(f"{API}/logout", headers=auth)).status_code == 204
    assert (await c.get(f"{API}/looks", headers=auth)).status_code == 401


async def test_unknown_path_gets_html_404(make_app: Callable[..., Any]) -> None:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        r = await c.get("/api/4.0/no_such_thing")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    assert "Looker Not Found (404)" in r.text


async def test_discovery_lists_looks_models_and_explore_fields(c: httpx.AsyncClient) -> None:
    auth = await _login(c)
    looks = (await c.get(f"{API}/looks", headers=auth)).json()
    assert {(lk["id"], lk["title"]) for lk in looks} >= {
        ("1", "GL monthly for DATEV"),
        ("2", "GL totals per month and account"),
    }
    look = (await c.get(f"{API}/looks/2", headers=auth)).json()
    assert look["query"]["fields"] == [
        f"{GL}.period_month",
        f"{GL}.gl_account_number",
        f"{GL}.total_amount_eur",
        f"{GL}.row_count",
    ]
    models = (await c.get(f"{API}/lookml_models", headers=auth)).json()
    assert [m["name"] for m in models] == ["finance"]
    assert [e["name"] for e in models[0]["explores"]] == [GL, "invoices"]
    explore = (await c.get(f"{API}/lookml_models/finance/explores/{GL}", headers=auth)).json()
    dims = {f["name"]: f["type"] for f in explore["fields"]["dimensions"]}
    measures = {f["name"]: f["type"] for f in explore["fields"]["measures"]}
    assert dims[f"{GL}.booking_date"] == "date"
    assert dims[f"{GL}.amount_eur"] == "number"
    assert measures == {f"{GL}.total_amount_eur": "sum", f"{GL}.row_count": "count"}
    assert (await c.get(f"{API}/looks/99", headers=auth)).status_code == 404


async def test_json_rows_are_keyed_by_view_field_with_exact_numbers(
    c: httpx.AsyncClient,
) -> None:
    auth = await _login(c)
    r = await c.get(f"{API}/looks/1/run/json", headers=auth, params={"limit": 2})
    rows = json.loads(r.content, parse_float=str)
    assert len(rows) == 2
    assert rows[0][f"{GL}.line_id"] == "2024-11|IT|OPS-300|BER-IT"
    assert rows[0][f"{GL}.booking_date"] == "2024-11-30"
    assert rows[0][f"{GL}.revenue_type"] is None
    assert rows[0][f"{GL}.amount_eur"] == "21261.24"


async def test_csv_has_a_label_header_and_one_line_per_row(c: httpx.AsyncClient) -> None:
    auth = await _login(c)
    r = await c.get(f"{API}/looks/2/run/csv", headers=auth, params={"limit": 5})
    lines = r.text.splitlines()
    assert len(lines) == 6
    assert lines[0].startswith("GL monthly Period Month,")


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(None, 5000), ("-1", 5000), ("10", 10), ("0", 0), ("7000", 5000)],
)
async def test_row_cap_and_limit_semantics(
    http: Callable[..., httpx.AsyncClient], limit: str | None, expected: int
) -> None:
    async with http(bench_rows=6000) as c:
        auth = await _login(c)
        body = {"model": "bench", "view": "rows", "fields": ["rows.row_id"]}
        if limit is not None:
            body["limit"] = limit
        r = await c.post(f"{API}/queries/run/json", headers=auth, json=body)
        assert len(r.json()) == expected


async def test_unlimited_is_honoured_only_when_allowed(
    http: Callable[..., httpx.AsyncClient],
) -> None:
    async with http(bench_rows=6000, allow_unlimited=True) as c:
        auth = await _login(c)
        body = {"model": "bench", "view": "rows", "fields": ["rows.row_id"], "limit": "-1"}
        r = await c.post(f"{API}/queries/run/json", headers=auth, json=body)
        assert len(r.json()) == 6000
        r = await c.post(f"{API}/queries/run/json", headers=auth, json={**body, "limit": "9000"})
        assert len(r.json()) == 5000


async def test_query_params_limit_overrides_the_body(c: httpx.AsyncClient) -> None:
    auth = await _login(c)
    body = _inline(["line_id"], limit="100")
    r = await c.post(f"{API}/queries/run/json", headers=auth, json=body, params={"limit": 3})
    assert len(r.json()) == 3


def _csv_rows() -> list[dict[str, str]]:
    path = demo_dataset_dir() / "gl_monthly.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


CASES: list[tuple[dict[str, str], Callable[[dict[str, str]], bool]]] = [
    ({"period_month": "2026-10"}, lambda r: r["period_month"] == "2026-10"),
    ({"booking_date": "2026-10"}, lambda r: r["booking_date"].startswith("2026-10")),
    (
        {"booking_date": "2026-09-01 to 2026-11-01"},
        lambda r: r["period_month"] in {"2026-09", "2026-10"},
    ),
    ({"booking_date": "2025"}, lambda r: r["booking_date"].startswith("2025")),
    ({"booking_date": "after 2026-10-01"}, lambda r: r["booking_date"] >= "2026-10-01"),
    ({"booking_date": "before 2024-12-01"}, lambda r: r["booking_date"] < "2024-12-01"),
    ({"cost_center": "NULL"}, lambda r: r["cost_center"] == ""),
    ({"cost_center": "-NULL"}, lambda r: r["cost_center"] != ""),
    ({"cost_center": "MUC-IT,BER-IT"}, lambda r: r["cost_center"] in {"MUC-IT", "BER-IT"}),
    (
        {"cost_center": "-CGN-BO", "period_month": "2026-10"},
        lambda r: r["cost_center"] != "CGN-BO" and r["period_month"] == "2026-10",
    ),
    ({"gl_account_number": "REV%"}, lambda r: r["gl_account_number"].startswith("REV")),
    (
        {"gl_account_number": "%-3_0"},
        lambda r: (
            r["gl_account_number"]
            in {"OPS-300", "OPS-310", "OPS-320", "OPS-330", "OPS-340", "OPS-350"}
        ),
    ),
    ({"gl_account_number": "OPS-399"}, lambda r: r["gl_account_number"] == "OPS-399"),
    ({"revenue_type": "EMPTY"}, lambda r: r["revenue_type"] == ""),
    ({"amount_eur": "<0"}, lambda r: Decimal(r["amount_eur"]) < 0),
    ({"amount_eur": "[0,1000]"}, lambda r: 0 <= Decimal(r["amount_eur"]) <= 1000),
    ({"amount_eur": "(0,1000)"}, lambda r: 0 < Decimal(r["amount_eur"]) < 1000),
    ({"amount_eur": ">=100000"}, lambda r: Decimal(r["amount_eur"]) >= 100000),
    ({"amount_eur": "-1250"}, lambda r: Decimal(r["amount_eur"]) == -1250),
    (
        {"service_line": "Prüfung & Steuern", "period_month": "2026-10"},
        lambda r: r["service_line"] == "Prüfung & Steuern" and r["period_month"] == "2026-10",
    ),
]


@pytest.mark.parametrize(("filters", "oracle"), CASES)
async def test_filters_select_the_same_rows_as_a_plain_reading_of_the_csv(
    c: httpx.AsyncClient, filters: dict[str, str], oracle: Callable[[dict[str, str]], bool]
) -> None:
    expected = sum(1 for r in _csv_rows() if oracle(r))
    assert expected > 0
    auth = await _login(c)
    body = _inline(["row_count"], filters={f"{GL}.{k}": v for k, v in filters.items()})
    r = await c.post(f"{API}/queries/run/json", headers=auth, json=body)
    assert r.json()[0][f"{GL}.row_count"] == expected


async def test_measures_group_by_dimensions_and_sort(c: httpx.AsyncClient) -> None:
    auth = await _login(c)
    body = _inline(
        ["period_month", "total_amount_eur", "row_count"],
        filters={f"{GL}.period_month": "2026-01,2026-02"},
        sorts=[f"{GL}.period_month desc"],
    )
    rows = (await c.post(f"{API}/queries/run/json", headers=auth, json=body)).json()
    assert [r[f"{GL}.period_month"] for r in rows] == ["2026-02", "2026-01"]
    expected = sum(1 for r in _csv_rows() if r["period_month"] in {"2026-01", "2026-02"})
    assert sum(r[f"{GL}.row_count"] for r in rows) == expected


async def test_an_invalid_query_is_422(make_app: Callable[..., Any]) -> None:
    transport = httpx.ASGITransport(app=make_app())  # the request breaks the spec on purpose
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        auth = await _login(c)
        r = await c.post(f"{API}/queries/run/json", headers=auth, json={"fields": []})
    assert r.status_code == 422


async def test_query_task_moves_added_running_complete(
    http: Callable[..., httpx.AsyncClient],
) -> None:
    async with http(faults=Faults(task_polls=3)) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        again = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        assert again["id"] == q["id"]  # queries are immutable and reused
        task = (
            await c.post(
                f"{API}/query_tasks",
                headers=auth,
                json={"query_id": q["id"], "result_format": "json"},
                params={"limit": 10},
            )
        ).json()
        assert task["status"] == "added"
        seen = [(await c.get(f"{API}/query_tasks/{task['id']}", headers=auth)).json()["status"]]
        r = await c.get(f"{API}/query_tasks/{task['id']}/results", headers=auth)
        assert r.status_code == 202
        seen.append((await c.get(f"{API}/query_tasks/{task['id']}", headers=auth)).json()["status"])
        assert seen == ["running", "complete"]
        r = await c.get(f"{API}/query_tasks/{task['id']}/results", headers=auth)
        assert r.status_code == 200
        assert len(r.json()) == 10


@pytest.mark.parametrize(("outcome", "status"), [("expired", 404), ("error", 400), ("killed", 400)])
async def test_query_task_failure_states(
    http: Callable[..., httpx.AsyncClient], outcome: str, status: int
) -> None:
    async with http(faults=Faults(task_outcome=outcome, task_polls=1)) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        task = (
            await c.post(
                f"{API}/query_tasks",
                headers=auth,
                json={"query_id": q["id"], "result_format": "json"},
            )
        ).json()
        got = (await c.get(f"{API}/query_tasks/{task['id']}", headers=auth)).json()["status"]
        assert got == outcome
        r = await c.get(f"{API}/query_tasks/{task['id']}/results", headers=auth)
        assert r.status_code == status


async def test_kill_query_stops_a_running_task(c: httpx.AsyncClient) -> None:
    auth = await _login(c)
    q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
    task = (
        await c.post(
            f"{API}/query_tasks", headers=auth, json={"query_id": q["id"], "result_format": "csv"}
        )
    ).json()
    assert (await c.delete(f"{API}/running_queries/{task['id']}", headers=auth)).status_code == 204
    got = (await c.get(f"{API}/query_tasks/{task['id']}", headers=auth)).json()
    assert got["status"] == "killed"


async def test_per_user_concurrency_limit_gives_429(
    http: Callable[..., httpx.AsyncClient],
) -> None:
    faults = Faults(endpoints={"run_inline_query": EndpointFaults(latency_ms=50)})
    async with http(max_queries_per_user=3, faults=faults) as c:
        auth = await _login(c)
        calls = [
            c.post(f"{API}/queries/run/json", headers=auth, json=_inline(["line_id"], limit="1"))
            for _ in range(5)
        ]
        statuses = sorted(r.status_code for r in await asyncio.gather(*calls))
        assert statuses == [200, 200, 200, 429, 429]


async def test_tasks_beyond_the_limit_queue_and_start_when_a_slot_frees(
    http: Callable[..., httpx.AsyncClient], clock: FakeClock
) -> None:
    async with http(max_queries_per_user=2, faults=Faults(task_polls=99)) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        body = {"query_id": q["id"], "result_format": "json"}
        tasks = [(await c.post(f"{API}/query_tasks", headers=auth, json=body)) for _ in range(3)]
        assert [t.status_code for t in tasks] == [200, 200, 200]  # queued, not refused
        running = (await c.get(f"{API}/running_queries", headers=auth)).json()
        assert {r["query_task_id"] for r in running} == {t.json()["id"] for t in tasks[:2]}
        sync = await c.post(f"{API}/queries/run/json", headers=auth, json=_inline(["line_id"]))
        assert sync.status_code == 429  # both slots are taken by the running tasks
        clock.advance(1.0)  # the running tasks finish in the background, never polled
        third = tasks[2].json()["id"]
        assert (await c.get(f"{API}/query_tasks/{third}", headers=auth)).json()["status"] in {
            "added",
            "running",
        }
        clock.advance(1.0)
        r = await c.get(f"{API}/query_tasks/{third}/results", headers=auth)
        assert r.status_code == 200
        assert (await c.get(f"{API}/running_queries", headers=auth)).json() == []


async def test_unpolled_tasks_do_not_lock_the_user_out(
    http: Callable[..., httpx.AsyncClient], clock: FakeClock
) -> None:
    async with http(max_queries_per_user=15) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        body = {"query_id": q["id"], "result_format": "json"}
        for _ in range(15):
            assert (await c.post(f"{API}/query_tasks", headers=auth, json=body)).status_code == 200
        clock.advance(1.0)
        r = await c.post(f"{API}/queries/run/json", headers=auth, json=_inline(["line_id"]))
        assert r.status_code == 200


async def test_a_queued_task_starts_when_a_slot_freed_even_if_nobody_looked(
    http: Callable[..., httpx.AsyncClient], clock: FakeClock
) -> None:
    async with http(max_queries_per_user=15, faults=Faults(task_polls=99)) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        body = {"query_id": q["id"], "result_format": "json"}
        ids = [
            (await c.post(f"{API}/query_tasks", headers=auth, json=body)).json()["id"]
            for _ in range(16)
        ]
        clock.advance(700)  # the 16th started after 1 s, long before its queue timeout
        statuses = [
            (await c.get(f"{API}/query_tasks/{tid}", headers=auth)).json()["status"] for tid in ids
        ]
        assert statuses == ["complete"] * 16


async def test_a_task_queued_too_long_is_dropped(
    http: Callable[..., httpx.AsyncClient], clock: FakeClock
) -> None:
    async with http(max_queries_per_user=1, faults=Faults(task_seconds=10_000)) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        body = {"query_id": q["id"], "result_format": "json"}
        await c.post(f"{API}/query_tasks", headers=auth, json=body)
        queued = (await c.post(f"{API}/query_tasks", headers=auth, json=body)).json()
        clock.advance(600)
        got = (await c.get(f"{API}/query_tasks/{queued['id']}", headers=auth)).json()
        assert got["status"] == "error"


async def test_faults_via_admin_endpoint(c: httpx.AsyncClient) -> None:
    auth = await _login(c)
    faults = {
        "endpoints": {
            "all_looks": {"unauthorized_next": 1, "rate_limited_next": 1, "retry_after": 7},
            "look": {"html_next": 1},
        }
    }
    assert (await c.put("/__admin/faults", json=faults)).status_code == 200
    assert (await c.get(f"{API}/looks", headers=auth)).status_code == 401
    r = await c.get(f"{API}/looks", headers=auth)
    assert (r.status_code, r.headers["retry-after"]) == (429, "7")
    assert (await c.get(f"{API}/looks", headers=auth)).status_code == 200
    r = await c.get(f"{API}/looks/1", headers=auth)
    assert r.status_code == 502
    assert "html" in r.headers["content-type"]
    bad = await c.put("/__admin/faults", json={"endpoints": {"nope": {}}})
    assert bad.status_code == 400
    stats = (await c.get("/__admin/stats")).json()
    assert stats["calls"]["all_looks"] == 3


async def test_error_rate_one_always_fails(http: Callable[..., httpx.AsyncClient]) -> None:
    faults = Faults(endpoints={"*": EndpointFaults(error_rate=1.0)})
    async with http(faults=faults) as c:
        r = await c.post(f"{API}/login", data={"client_id": CLIENT_ID, "client_secret": SECRET})
        assert r.status_code == 503


@pytest.mark.parametrize(
    "fields",
    [
        ["rows.row_id", "rows.period_month", "rows.cost_center", "rows.amount_eur"],
        ["rows.row_id"],
        ["rows.description", "rows.row_id", "rows.bucket"],
    ],
)
@pytest.mark.parametrize("filters", [{}, {"rows.bucket": "2"}, {"rows.bucket": "3,1"}])
@pytest.mark.parametrize("sorts", [[], ["rows.row_id"]])
def test_generated_fast_paths_answer_like_the_generic_engine(
    fields: list[str], filters: dict[str, str], sorts: list[str]
) -> None:
    from ml_connector_sandbox.emulators.looker.dataset import bench_explore
    from ml_connector_sandbox.emulators.looker.engine import QuerySpec, execute, take
    from ml_connector_sandbox.emulators.looker.render import render

    explore = bench_explore(10_123)
    source = explore.source
    spec = QuerySpec.from_body(
        {"model": "bench", "view": "rows", "fields": fields, "filters": filters, "sorts": sorts}
    )
    # the generic engine over the same rows, with every shortcut of the source disabled
    result = execute(explore, spec)
    generic_rows = list(take(result.rows, 5000))
    plain = explore.__class__(explore.model, explore.name, explore.label, explore.fields, source)
    plain.source = type("Plain", (), {"scan": source.scan, "natural_order": None})()  # type: ignore[assignment]
    expected = b"".join(
        render("json", result.fields, iter(list(take(execute(plain, spec).rows, 5000))), "x")
    )
    assert b"".join(render("json", result.fields, iter(generic_rows), "x")) == expected
    fast = source.fast_json(spec.fields, dict(spec.filters), spec.sorts, 5000)  # type: ignore[union-attr]
    assert fast is None or fast == expected
    counts = QuerySpec.from_body(
        {
            "model": "bench",
            "view": "rows",
            "fields": ["rows.bucket", "rows.row_count"],
            "filters": filters,
            "sorts": ["rows.bucket"],
        }
    )
    assert list(execute(explore, counts).rows) == list(execute(plain, counts).rows)


def test_sandbox_command_help_documents_defaults() -> None:
    from click.testing import CliRunner

    from ml_connector.interfaces.cli import main

    result = CliRunner().invoke(main, ["sandbox", "looker", "--help"])
    assert result.exit_code == 0
    flat = "".join(result.output.split())  # help text is wrapped
    for text in ("--port", "19999", "--client-id", "demo-client-id", "--data", "--latency-ms"):
        assert text in flat


async def test_a_user_dataset_in_json_is_served(tmp_path: Any, looker_spec: OpenAPI) -> None:
    from ml_connector_sandbox.emulators.looker import create_app

    (tmp_path / "models.json").write_text(
        json.dumps(
            {
                "models": [
                    {
                        "name": "m",
                        "explores": [
                            {
                                "name": "gl",
                                "data": "gl.json",
                                "fields": [
                                    {"name": "gl.id", "type": "string", "primary_key": True},
                                    {"name": "gl.day", "type": "date"},
                                    {"name": "gl.amount", "type": "number"},
                                    {"name": "gl.n", "category": "measure", "type": "count"},
                                ],
                            }
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "gl.json").write_text(
        '[{"id": "a", "day": "2026-01-31", "amount": 0.10},'
        ' {"id": "b", "day": null, "amount": 12345678901234567.89}]',
        encoding="utf-8",
    )
    (tmp_path / "looks.json").write_text(
        json.dumps(
            {
                "looks": [
                    {
                        "id": 7,
                        "title": "All",
                        "query": {
                            "model": "m",
                            "view": "gl",
                            "fields": ["gl.id", "gl.day", "gl.amount"],
                            "sorts": ["gl.id"],
                        },
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    app = create_app(tmp_path, client_id=CLIENT_ID, client_secret=SECRET)
    transport = SpecCheckingTransport(app, looker_spec)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        auth = await _login(c)
        r = await c.get(f"{API}/looks/7/run/json", headers=auth)
        rows = json.loads(r.content, parse_float=str)
    assert rows == [
        {"gl.id": "a", "gl.day": "2026-01-31", "gl.amount": "0.10"},
        {"gl.id": "b", "gl.day": None, "gl.amount": "12345678901234567.89"},
    ]


def test_a_broken_dataset_is_reported_with_its_place(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from ml_connector.interfaces.cli import main

    (tmp_path / "models.json").write_text(
        '{"models": [{"name": "m", "explores": [{"name": "gl", "data": "gl.csv",'
        ' "fields": [{"name": "gl.x", "type": "money"}]}]}]}',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["sandbox", "looker", "--data", str(tmp_path)])
    assert result.exit_code != 0
    assert "models.json m/gl: gl.x has unsupported dimension type 'money'" in result.output


@pytest.mark.parametrize(
    "filters",
    [
        {"rows.period_month": "2025-12"},
        {"rows.period_month": "2024-11,2025-12"},
        {"rows.period_month": "2025-12", "rows.bucket": "2,0"},
        {"rows.period_month": "2030-01"},
        {"rows.period_month": "-2025-12"},
        {"rows.period_month": "2025-1%"},
        {"rows.period_month": "2025-12", "rows.account": "OPS-300"},
    ],
)
def test_the_month_index_selects_the_rows_a_full_scan_selects(filters: dict[str, str]) -> None:
    from ml_connector_sandbox.emulators.looker.dataset import bench_explore
    from ml_connector_sandbox.emulators.looker.engine import QuerySpec, execute
    from ml_connector_sandbox.emulators.looker.render import render

    explore = bench_explore(10_123)
    source = explore.source
    fields = ["rows.row_id", "rows.period_month", "rows.account", "rows.amount_eur"]
    spec = QuerySpec.from_body(
        {"model": "bench", "view": "rows", "fields": fields, "filters": filters, "sorts": []}
    )
    # every row scanned, the filters applied by the engine alone
    full = explore.__class__(explore.model, explore.name, explore.label, explore.fields, source)
    full.source = type(  # type: ignore[assignment]
        "Full", (), {"scan": lambda _, n, f, e: source.scan(n, {}), "natural_order": None}
    )()
    scanned = execute(full, spec)
    expected = b"".join(render("json", scanned.fields, scanned.rows, "x"))
    indexed = execute(explore, spec)
    assert b"".join(render("json", indexed.fields, indexed.rows, "x")) == expected
    fast = source.fast_json(spec.fields, dict(spec.filters), spec.sorts, None)  # type: ignore[union-attr]
    assert fast is None or fast == expected
    months = filters["rows.period_month"].split(",")
    plain = all(len(m) == 7 and m[:4].isdigit() and m[5:].isdigit() for m in months)
    # the index answers plain month lists itself; anything else goes to the engine
    assert (fast is not None) == (plain and "rows.account" not in filters)
