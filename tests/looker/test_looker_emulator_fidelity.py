"""The emulator is as strict as Looker and serves the endpoints and formats Looker does.

Every exchange is checked against the official spec (``SpecCheckingTransport``),
except where a request breaks the spec on purpose.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from looker_testkit import CLIENT_ID, SECRET, SpecCheckingTransport
from openapi_core import OpenAPI

from ml_connector_sandbox.emulators.looker import demo_dataset_dir

API = "/api/4.0"
GL = "gl_monthly"


def _inline(fields: list[str], **extra: Any) -> dict[str, Any]:
    return {"model": "finance", "view": GL, "fields": [f"{GL}.{f}" for f in fields], **extra}


async def _login(c: httpx.AsyncClient) -> dict[str, str]:
    r = await c.post(f"{API}/login", data={"client_id": CLIENT_ID, "client_secret": SECRET})
    return {"Authorization": f"token {r.json()['access_token']}"}


def _raw(make_app: Callable[..., Any], **kw: Any) -> httpx.AsyncClient:
    """A client whose requests may break the spec (responses are what is tested)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app(**kw)), base_url="http://127.0.0.1"
    )


def _checked(make_app: Callable[..., Any], spec: OpenAPI, **kw: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=SpecCheckingTransport(make_app(**kw), spec), base_url="http://127.0.0.1"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_inline(["line_id"], filters=[f"{GL}.period_month"]), "filters"),
        (_inline(["line_id"], filters="2026-01"), "filters"),
        ({**_inline([]), "fields": f"{GL}.line_id"}, "fields"),
        (_inline(["line_id"], limit=10), "limit"),
        (_inline(["line_id"], sorts={"a": 1}), "sorts"),
        ({"view": GL, "fields": []}, "model"),
    ],
)
async def test_a_body_of_the_wrong_shape_is_422_with_documentation_urls(
    make_app: Callable[..., Any], body: dict[str, Any], field: str
) -> None:
    async with _raw(make_app) as c:
        auth = await _login(c)
        for path in ("/queries/run/json", "/queries"):
            r = await c.post(f"{API}{path}", headers=auth, json=body)
            assert r.status_code == 422, r.text
            payload = r.json()
            assert payload["message"] == "Validation Failed"
            assert payload["documentation_url"]
            assert [e["field"] for e in payload["errors"]] == [field]
            assert all(e["documentation_url"] for e in payload["errors"])


async def test_a_bad_query_parameter_is_400(make_app: Callable[..., Any]) -> None:
    async with _raw(make_app) as c:
        auth = await _login(c)
        r = await c.get(f"{API}/looks/1/run/json", headers=auth, params={"limit": "ten"})
        assert r.status_code == 400
        assert r.json()["documentation_url"]


async def test_a_task_with_an_unknown_format_is_422(make_app: Callable[..., Any]) -> None:
    async with _raw(make_app) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        body = {"query_id": q["id"], "result_format": "pdf"}
        r = await c.post(f"{API}/query_tasks", headers=auth, json=body)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "result_format"


async def test_invalid_json_is_400(make_app: Callable[..., Any]) -> None:
    async with _raw(make_app) as c:
        auth = await _login(c)
        headers = {**auth, "Content-Type": "application/json"}
        r = await c.post(f"{API}/queries", headers=headers, content=b"{not json")
        assert r.status_code == 400


async def test_a_known_path_with_another_method_is_405_json(make_app: Callable[..., Any]) -> None:
    async with _raw(make_app) as c:
        auth = await _login(c)
        r = await c.put(f"{API}/looks/1", headers=auth)
        assert r.status_code == 405
        assert r.json()["message"] == "Method Not Allowed"
        assert "GET" in r.headers["allow"]
        r = await c.get(f"{API}/no_such_thing", headers=auth)
        assert (r.status_code, r.headers["content-type"].split(";")[0]) == (404, "text/html")


async def test_me_is_the_api_user(make_app: Callable[..., Any], looker_spec: OpenAPI) -> None:
    async with _checked(make_app, looker_spec) as c:
        auth = await _login(c)
        user = (await c.get(f"{API}/user", headers=auth)).json()
        assert user["credentials_api3"][0]["client_id"] == CLIENT_ID


async def test_created_query_is_found_by_its_slug(
    make_app: Callable[..., Any], looker_spec: OpenAPI
) -> None:
    async with _checked(make_app, looker_spec) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        assert q["slug"]
        got = (await c.get(f"{API}/queries/slug/{q['slug']}", headers=auth)).json()
        assert got["id"] == q["id"]
        assert (await c.get(f"{API}/queries/slug/nope", headers=auth)).status_code == 404


async def test_url_encoded_query_answers_like_the_inline_one(
    make_app: Callable[..., Any], looker_spec: OpenAPI
) -> None:
    async with _checked(make_app, looker_spec) as c:
        auth = await _login(c)
        inline = _inline(
            ["period_month", "row_count"],
            filters={f"{GL}.period_month": "2026-01,2026-02"},
            sorts=[f"{GL}.period_month"],
            limit="10",
        )
        want = (await c.post(f"{API}/queries/run/json", headers=auth, json=inline)).json()
        params = {
            "fields": f"{GL}.period_month,{GL}.row_count",
            f"f[{GL}.period_month]": "2026-01,2026-02",
            "sorts": f"{GL}.period_month",
            "limit": "10",
        }
        path = f"{API}/queries/models/finance/views/{GL}/run/json"
        got = (await c.get(path, headers=auth, params=params)).json()
        assert got == want
        assert len(got) == 2


async def test_multi_results_and_running_queries(
    make_app: Callable[..., Any], looker_spec: OpenAPI
) -> None:
    async with _checked(make_app, looker_spec) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        body = {"query_id": q["id"], "result_format": "json"}
        task = await c.post(f"{API}/query_tasks", headers=auth, params={"limit": 3}, json=body)
        tid = task.json()["id"]
        running = (await c.get(f"{API}/running_queries", headers=auth)).json()
        assert [r["query_task_id"] for r in running] == [tid]
        multi = f"{API}/query_tasks/multi_results"
        first = (await c.get(multi, headers=auth, params={"query_task_ids": f"{tid},nope"})).json()
        assert first["nope"]["status"] == "missing"
        assert first[tid]["status"] in {"added", "running"}
        while (await c.get(f"{API}/query_tasks/{tid}", headers=auth)).json()["status"] != (
            "complete"
        ):
            pass
        done = (await c.get(multi, headers=auth, params={"query_task_ids": tid})).json()
        assert done[tid]["status"] == "complete"
        assert len(done[tid]["data"]) == 3
        assert (await c.get(f"{API}/running_queries", headers=auth)).json() == []


async def _run(c: httpx.AsyncClient, auth: dict[str, str], fmt: str) -> httpx.Response:
    body = _inline(["period_month", "row_count"], sorts=[f"{GL}.period_month"], limit="3")
    r = await c.post(f"{API}/queries/run/{fmt}", headers=auth, json=body)
    assert r.status_code == 200, r.text
    return r


async def test_result_formats_carry_the_same_rows(
    make_app: Callable[..., Any], looker_spec: OpenAPI
) -> None:
    async with _checked(make_app, looker_spec) as c:
        auth = await _login(c)
        rows = (await _run(c, auth, "json")).json()
        keys = [f"{GL}.period_month", f"{GL}.row_count"]
        plain = [[r[k] for k in keys] for r in rows]
        assert len(plain) == 3
        detail = (await _run(c, auth, "json_detail")).json()
        assert [[r[k]["value"] for k in keys] for r in detail["data"]] == plain
        assert [f["name"] for f in detail["fields"]["measures"]] == [f"{GL}.row_count"]
        bi = (await _run(c, auth, "json_bi")).json()
        assert [[r[k] for k in keys] for r in bi["rows"]] == plain
        assert set(bi["metadata"]) >= {"fields", "pivots", "columns_truncated", "sql"}
        txt = (await _run(c, auth, "txt")).text.splitlines()
        assert [line.split("\t") for line in txt[1:]] == [[str(v) for v in p] for p in plain]
        assert txt[0] == "GL monthly Period Month\tGL monthly Row Count"
        sql = (await _run(c, auth, "sql")).text
        assert sql.startswith("SELECT")
        assert "LIMIT 3" in sql
        assert "COUNT(*)" in sql


async def test_xlsx_is_a_real_workbook(make_app: Callable[..., Any]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    async with _raw(make_app) as c:
        auth = await _login(c)
        csv_rows = list(csv.reader(io.StringIO((await _run(c, auth, "csv")).text)))
        book = openpyxl.load_workbook(io.BytesIO((await _run(c, auth, "xlsx")).content))
        cells = [[str(v) for v in row] for row in book.active.iter_rows(values_only=True)]
        assert cells == csv_rows


def test_an_equality_filter_reads_only_matching_rows_with_the_same_result() -> None:
    from ml_connector_sandbox.emulators.looker.dataset import TableSource, load_dataset
    from ml_connector_sandbox.emulators.looker.engine import QuerySpec, execute

    explore = load_dataset(demo_dataset_dir()).explore("finance", GL)
    assert explore is not None
    source = explore.source
    assert isinstance(source, TableSource)
    spec = QuerySpec.from_body(
        _inline(["line_id", "amount_eur"], filters={f"{GL}.period_month": "2026-02,2025-11"})
    )
    seen: list[int] = []
    original = source.scan

    def counting(*args: Any) -> Any:
        for row in original(*args):
            seen.append(1)
            yield row

    source.scan = counting  # type: ignore[method-assign]
    indexed = list(execute(explore, spec).rows)
    source.scan = lambda needed, filters, exact=None: iter(source.rows)  # type: ignore[method-assign]
    scanned = list(execute(explore, spec).rows)
    assert indexed == scanned
    assert 0 < len(seen) < len(source.rows) / 4


async def test_task_results_in_json_detail(
    make_app: Callable[..., Any], looker_spec: OpenAPI
) -> None:
    async with _checked(make_app, looker_spec) as c:
        auth = await _login(c)
        q = (await c.post(f"{API}/queries", headers=auth, json=_inline(["line_id"]))).json()
        body = {"query_id": q["id"], "result_format": "json_detail"}
        tid = await c.post(f"{API}/query_tasks", headers=auth, json=body, params={"limit": 2})
        url = f"{API}/query_tasks/{tid.json()['id']}/results"
        r = await c.get(url, headers=auth)
        while r.status_code == 202:
            r = await c.get(url, headers=auth)
        assert len(json.loads(r.content)["data"]) == 2
