"""Extracts beyond the row cap: every row exactly once, with a report that proves it."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_connector.errors import ConfigurationError, DataError
from ml_connector.http.polling import LOOKER_TASK_POLLING
from ml_connector.http.retry import RetryPolicy
from ml_connector.looker import InlineQuery, LookerClient
from ml_connector_sandbox.emulators.looker import (
    EndpointFaults,
    Faults,
    create_app,
    demo_dataset_dir,
)

GL = "gl_monthly"
MakeClient = Callable[..., LookerClient]
MakeApp = Callable[..., Any]
QUERY = InlineQuery(
    "finance",
    GL,
    fields=(f"{GL}.line_id", f"{GL}.amount_eur", f"{GL}.cost_center"),
    sorts=(f"{GL}.line_id",),
)


def csv_line_ids() -> list[str]:
    with (demo_dataset_dir() / "gl_monthly.csv").open(encoding="utf-8", newline="") as fh:
        return [r["line_id"] for r in csv.DictReader(fh)]


async def test_split_by_period_then_cost_center_gets_every_row_once(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app()
    async with make_client(app, row_cap=50, max_concurrency=5) as client:
        extraction = client.extract(
            QUERY,
            partition_by=[f"{GL}.period_month", f"{GL}.cost_center"],
            count_measure=f"{GL}.row_count",
        )
        ids = [row[f"{GL}.line_id"] async for row in extraction]
    report = extraction.report
    assert sorted(ids) == sorted(csv_line_ids())
    assert len(ids) == len(set(ids))
    assert report.complete
    assert report.rows == report.total_count == report.planned_rows == 1549
    assert report.splits == 24  # every month (>= 50 rows) was split by cost center
    # 1 total count + 1 plan + 24 sub-plans + one call per partition
    assert app.state.looker.calls["run_inline_query"] == 2 + 24 + report.partitions
    assert report.calls == 2 + 24 + report.partitions + 2  # + login + explore metadata


async def test_null_partition_values_are_fetched(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async with make_client(make_app()) as client:
        extraction = client.extract(
            QUERY, partition_by=[f"{GL}.cost_center"], count_measure=f"{GL}.row_count"
        )
        rows = [row async for row in extraction]
    assert len([r for r in rows if r[f"{GL}.cost_center"] is None]) == 2
    assert extraction.report.complete
    assert ({f"{GL}.cost_center": "NULL"}, 2) in extraction.report.partition_counts


async def test_oversized_partition_falls_back_to_one_unlimited_task(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app(allow_unlimited=True)
    async with make_client(app, row_cap=70) as client:
        extraction = client.extract(
            QUERY, partition_by=[f"{GL}.period_month"], count_measure=f"{GL}.row_count"
        )
        ids = [row[f"{GL}.line_id"] async for row in extraction]
    assert sorted(ids) == sorted(csv_line_ids())
    months: dict[str, int] = {}
    for line_id in csv_line_ids():
        months[line_id[:7]] = months.get(line_id[:7], 0) + 1
    assert extraction.report.query_tasks == sum(1 for n in months.values() if n >= 70) > 0
    assert extraction.report.complete


async def test_a_capped_fallback_task_fails_loudly(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app(row_cap=66)  # the server silently caps every call, even limit=-1
    async with make_client(app, row_cap=60) as client:
        extraction = client.extract(
            QUERY, partition_by=[f"{GL}.period_month"], count_measure=f"{GL}.row_count"
        )
        with pytest.raises(DataError, match="planned"):
            [row async for row in extraction]
    assert not extraction.report.complete


async def test_without_tasks_an_oversized_partition_is_refused(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async with make_client(make_app(), row_cap=50) as client:
        extraction = client.extract(
            QUERY,
            partition_by=[f"{GL}.period_month"],
            count_measure=f"{GL}.row_count",
            allow_query_task=False,
        )
        with pytest.raises(DataError, match="not below the row cap"):
            [row async for row in extraction]


async def test_too_many_partition_values_are_refused(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    async with make_client(make_app(), row_cap=100) as client:
        extraction = client.extract(
            QUERY, partition_by=[f"{GL}.line_id"], count_measure=f"{GL}.row_count"
        )
        with pytest.raises(ConfigurationError, match="distinct values"):
            [row async for row in extraction]


async def test_data_changing_during_the_extract_is_detected(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    app = make_app()
    source = app.state.looker.dataset.explore("finance", GL).source
    async with make_client(app, row_cap=200, max_concurrency=1) as client:
        extraction = client.extract(
            QUERY, partition_by=[f"{GL}.period_month"], count_measure=f"{GL}.row_count"
        )
        rows = aiter(extraction)
        await anext(rows)
        source.rows = [r for r in source.rows if r[f"{GL}.period_month"] != "2026-10"][1:] + [
            r for r in source.rows if r[f"{GL}.period_month"] == "2026-10"
        ][1:]
        with pytest.raises(DataError, match="planned"):
            async for _ in rows:
                pass
    assert not extraction.report.complete


def test_count_measure_must_not_be_a_field() -> None:
    client = LookerClient("https://acme.de", "id", "secret")
    with pytest.raises(ConfigurationError):
        client.extract(QUERY, partition_by=[], count_measure=f"{GL}.row_count")
    asyncio.run(client.close())


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(n=st.integers(min_value=1, max_value=9000), cap=st.integers(min_value=200, max_value=6000))
def test_bench_extract_is_exactly_once_for_any_size_and_cap(n: int, cap: int) -> None:
    async def run() -> tuple[list[int], bool]:
        app = create_app(bench_rows=n, client_id="i", client_secret="s")
        client = LookerClient(
            "http://127.0.0.1",
            "i",
            "s",
            transport=httpx.ASGITransport(app=app),
            row_cap=cap,
            policy=RetryPolicy(attempts=2, base=0.0, cap=0.0),
            poll=replace(LOOKER_TASK_POLLING, base=0.0),
        )
        query = InlineQuery("bench", "rows", fields=("rows.row_id", "rows.amount_eur"))
        async with client:
            extraction = client.extract(
                query,
                partition_by=["rows.bucket", "rows.period_month", "rows.cost_center"],
                count_measure="rows.row_count",
            )
            ids = [int(r["rows.row_id"]) async for r in extraction]
        return ids, extraction.report.complete

    ids, complete = asyncio.run(run())
    assert sorted(ids) == list(range(n))
    assert complete


async def test_the_total_count_and_the_plan_are_asked_at_once(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    # 1 ms per call keeps each query running across a turn of the event loop
    app = make_app(faults=Faults(endpoints={"*": EndpointFaults(latency_ms=1)}))
    one_month = QUERY.with_filters({f"{GL}.period_month": "2024-11"})
    async with make_client(app, max_concurrency=2) as client:
        extraction = client.extract(
            one_month, partition_by=[f"{GL}.period_month"], count_measure=f"{GL}.row_count"
        )
        rows = [row async for row in extraction]
    looker = app.state.looker
    assert len(rows) == extraction.report.total_count == 63
    # count, plan, then the one partition: only count and plan can have run at once
    assert looker.calls["run_inline_query"] == 3
    assert looker.peak_running == 2


@pytest.mark.parametrize(("read_ahead_rows", "most_ahead"), [(130, 2), (10, 1)])
async def test_a_slow_consumer_holds_only_the_read_ahead_budget(
    make_app: MakeApp, make_client: MakeClient, read_ahead_rows: int, most_ahead: int
) -> None:
    """24 monthly partitions of about 63 rows: while the consumer works on one, at most
    ``read_ahead_rows`` more rows are fetched ahead (one partition even when it is larger)."""
    app = make_app()
    looker = app.state.looker
    async with make_client(app, max_concurrency=10) as client:
        extraction = client.extract(
            QUERY,
            partition_by=[f"{GL}.period_month"],
            count_measure=f"{GL}.row_count",
            read_ahead_rows=read_ahead_rows,
        )
        ahead, ids = [], []
        async for batch in extraction.batches():
            await asyncio.sleep(0.02)  # the mapping at work: fetches could run meanwhile
            ids += [row[f"{GL}.line_id"] for row in batch]
            consumed = len(ahead) + 1
            ahead.append(looker.calls["run_inline_query"] - 2 - consumed)
    assert extraction.report.complete
    assert sorted(ids) == sorted(csv_line_ids())
    assert max(ahead) == most_ahead
