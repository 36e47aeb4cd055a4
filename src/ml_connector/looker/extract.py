"""Extracts larger than the row cap: every row exactly once, with proof.

Looker has no offset, so the extract is partitioned by filters:

1. **Count.** One query of only ``count_measure`` gives the total ``N``.
2. **Plan.** At the same time (both are reads), one query of
   ``[partition_by[0], count_measure]`` lists each distinct value with its row count.
   The values are disjoint equality filters (NULL becomes ``NULL``, strings are
   escaped), so every row falls in exactly one partition. A partition holding
   ``row_cap`` rows or more is split by the next field of ``partition_by`` the same
   way; when no field is left it is fetched as one unlimited query task instead (or
   refused). The counts must add up to ``N``.
3. **Fetch.** Each partition is one call with ``limit = row_cap``. Because its count
   is below the limit, ``rows == limit`` (truncation) cannot happen unnoticed; the
   number of rows received must equal the planned count, or the extract fails.

So the rows yielded are complete and duplicate-free exactly when ``report.complete``
is true at the end: the partitions are disjoint, cover all ``N`` rows, and each
delivered exactly its count. Any mismatch raises :class:`DataError` (the data
changed during the extract, or a filter did not match as planned) rather than
dropping a row. Partitions are fetched ahead of the one being consumed while their
planned rows stay within ``read_ahead_rows`` (and at most ``2 x max_concurrency`` of
them); rows come out in plan order, and only those partitions are held in memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ml_connector.errors import ConfigurationError, DataError
from ml_connector.looker.query import InlineQuery
from ml_connector.looker.rows import Row, filter_literal

if TYPE_CHECKING:
    from ml_connector.looker.client import LookerClient

__all__ = ["READ_AHEAD_ROWS", "ExtractReport", "Extraction", "Partition"]

#: rows of the partitions fetched ahead of the one being consumed (planned counts); with
#: Looker's 5,000-row cap that is 4 to 5 partitions at once: a slow consumer (the mapping)
#: holds this many rows, not the whole month, and at 20 ms per call 5 calls in flight
#: keep up with the parsing of their answers
READ_AHEAD_ROWS = 24_000


@dataclass(frozen=True)
class Partition:
    """A disjoint slice of the extract: extra filters and its planned row count."""

    filters: tuple[tuple[str, str], ...]
    expected: int
    via_task: bool = False


@dataclass
class ExtractReport:
    """How the extract went; ``complete`` is the proof of exactly-once delivery."""

    total_count: int = 0
    planned_rows: int = 0
    rows: int = 0
    partitions: int = 0
    splits: int = 0
    query_tasks: int = 0
    calls: int = 0
    finished: bool = False
    partition_counts: list[tuple[dict[str, str], int]] = field(default_factory=list, repr=False)

    @property
    def complete(self) -> bool:
        """All planned rows arrived, and the plan covered the whole count."""
        return self.finished and self.rows == self.planned_rows == self.total_count


class Extraction:
    """Async iterator over the typed rows of an extract; read :attr:`report` after it."""

    def __init__(
        self,
        client: LookerClient,
        query: InlineQuery,
        *,
        partition_by: list[str],
        count_measure: str,
        allow_query_task: bool = True,
        read_ahead_rows: int = READ_AHEAD_ROWS,
    ) -> None:
        if not partition_by:
            raise ConfigurationError("extract needs at least one partition_by field")
        if count_measure in query.fields or count_measure in partition_by:
            raise ConfigurationError("count_measure must be a count measure outside the fields")
        self.client = client
        self.query = query
        self.partition_by = partition_by
        self.count_measure = count_measure
        self.allow_query_task = allow_query_task
        self.read_ahead_rows = read_ahead_rows
        self.report = ExtractReport()
        self._iter: AsyncIterator[Row] | None = None
        self._started = False

    def __aiter__(self) -> AsyncIterator[Row]:
        if self._iter is None:
            self._iter = self._rows()
        return self._iter

    def batches(self) -> AsyncIterator[list[Row]]:
        """The same rows, one list per partition (cheaper per row than single rows)."""
        if self._started:
            raise RuntimeError("an Extraction can be iterated only once")
        self._started = True
        return self._run()

    async def _rows(self) -> AsyncIterator[Row]:
        async for batch in self.batches():
            for row in batch:
                yield row

    async def _count(self, filters: dict[str, str], fields: list[str]) -> list[Row]:
        q = InlineQuery(
            self.query.model,
            self.query.view,
            fields=(*fields, self.count_measure),
            filters=filters,
            sorts=tuple(fields),
            limit=self.client.row_cap,
        )
        result = await self.client.run_query(q, allow_truncated=True)
        if result.truncated:
            raise ConfigurationError(
                f"{fields[0]} has {self.client.row_cap} or more distinct values: "
                "too many to partition by",
                hint="partition by a coarser field first (e.g. the period)",
            )
        return result.rows

    async def _plan(self, filters: dict[str, str], level: int) -> list[Partition]:
        name = self.partition_by[level]
        rows = await self._count(filters, [name])
        cap = self.client.row_cap
        parts: list[Partition] = []
        subplans: list[asyncio.Task[list[Partition]]] = []
        order: list[int | Partition] = []
        for row in rows:
            sub = {**filters, name: filter_literal(row[name])}
            n = int(row[self.count_measure] or 0)
            if n == 0:
                continue
            if n < cap:
                order.append(Partition(tuple(sorted(sub.items())), n))
            elif level + 1 < len(self.partition_by):
                self.report.splits += 1
                subplans.append(asyncio.ensure_future(self._plan(sub, level + 1)))
                order.append(len(subplans) - 1)
            elif self.allow_query_task:
                order.append(Partition(tuple(sorted(sub.items())), n, via_task=True))
            else:
                raise DataError(
                    f"partition {sub} has {n} rows, not below the row cap {cap}",
                    hint="add a finer partition_by field",
                )
        done = await asyncio.gather(*subplans)
        for item in order:
            parts.extend(done[item] if isinstance(item, int) else [item])
        return parts

    async def _fetch(self, part: Partition) -> list[Row]:
        q = self.query.with_filters(dict(part.filters))
        q = InlineQuery(q.model, q.view, q.fields, q.filters, q.sorts, self.client.row_cap)
        result = await self.client.run_query(q, allow_truncated=True)
        self._verify(part, len(result.rows), result.truncated)
        return result.rows

    def _verify(self, part: Partition, got: int, truncated: bool) -> None:
        if got != part.expected or truncated:
            raise DataError(
                f"partition {dict(part.filters)} returned {got} rows, planned {part.expected}"
                + (" (truncated at the limit)" if truncated else ""),
                hint="the data changed during the extract, or a filter value did not "
                "round-trip; run the extract again",
            )

    async def _run(self) -> AsyncIterator[list[Row]]:
        client = self.client
        report = self.report
        calls_before = client.stats.calls
        # the total and the plan are independent reads: one round trip for both
        counted = asyncio.ensure_future(self._count(dict(self.query.filters), []))
        try:
            plan = await self._plan(dict(self.query.filters), 0)
            total_rows = await counted
        finally:
            if not counted.done():
                counted.cancel()
            elif not counted.cancelled():
                counted.exception()  # seen: a failed plan's error is the one raised
        report.total_count = int(total_rows[0][self.count_measure] or 0) if total_rows else 0
        report.partitions = len(plan)
        report.planned_rows = sum(p.expected for p in plan)
        report.partition_counts = [(dict(p.filters), p.expected) for p in plan]
        if report.planned_rows != report.total_count:
            raise DataError(
                f"partition counts add up to {report.planned_rows}, "
                f"the total count is {report.total_count}",
                hint="a partition value did not round-trip as a filter; choose another field",
            )
        window: deque[tuple[Partition, asyncio.Task[list[Row]] | None]] = deque()
        pending = deque(plan)

        def refill() -> None:
            # twice the pool: the next pages are in flight while the head one is consumed,
            # as long as the rows they hold stay within the read-ahead budget (at least one
            # partition always goes); the client's semaphore bounds concurrent calls
            held = sum(part.expected for part, _ in window)
            while pending and len(window) < 2 * client.max_concurrency:
                if window and held + pending[0].expected > self.read_ahead_rows:
                    return
                part = pending.popleft()
                held += part.expected
                task = None if part.via_task else asyncio.ensure_future(self._fetch(part))
                window.append((part, task))
                if part.via_task:
                    return  # streamed alone, in order

        try:
            refill()
            while window:
                part, task = window.popleft()
                if task is None:
                    got = 0
                    report.query_tasks += 1
                    q = self.query.with_filters(dict(part.filters))
                    batch: list[Row] = []
                    async for row in client.stream_query_task(q, limit=-1):
                        batch.append(row)
                        if len(batch) >= client.row_cap:
                            got += len(batch)
                            report.rows += len(batch)
                            yield batch
                            batch = []
                    got += len(batch)
                    report.rows += len(batch)
                    if batch:
                        yield batch
                    self._verify(part, got, False)
                else:
                    rows = await task
                    refill()
                    report.rows += len(rows)
                    yield rows
                    del rows
                refill()
            report.finished = True
        finally:
            for _, task in window:
                if task is not None:
                    task.cancel()
            report.calls = client.stats.calls - calls_before
        if not report.complete:
            raise DataError(
                f"extract delivered {report.rows} rows, planned {report.planned_rows}, "
                f"total count {report.total_count}"
            )

    def summary(self) -> dict[str, Any]:
        r = self.report
        return {
            "complete": r.complete,
            "rows": r.rows,
            "total_count": r.total_count,
            "partitions": r.partitions,
            "splits": r.splits,
            "query_tasks": r.query_tasks,
            "calls": r.calls,
        }
