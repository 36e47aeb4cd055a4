"""Fetch a pipeline's rows and control totals from Looker (the mapping package's only I/O).

Credentials come from the connection's own credential reference: ``env:PREFIX`` reads
``PREFIX_CLIENT_ID`` and ``PREFIX_CLIENT_SECRET``; ``store:OWNER`` reads the encrypted
credential store when the caller passes it (see :mod:`ml_connector.credentials.resolve`).
No variable overrides the key of every customer.

For a period, a saved Look's query is re-run as an inline query with the source's
``period_field`` filtered to the period, so Looker returns only that period's rows.
A result that reaches Looker's row cap is an error (never silently truncated) unless
the source names ``partition_by`` and ``count_measure``: then the Looker client's
partitioned extract fetches every row exactly once.

No month's query returns a row whose period is empty or unreadable (e.g. ``2026-13``,
``Okt 2026``), so :func:`fetch_unassigned` looks for them: one query of the distinct
values of ``period_field`` (a few rows), and only when some are empty or unreadable a
second one for those rows.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from pydantic import SecretStr

from ml_connector.config.models import LookerConnection, Source
from ml_connector.credentials.kinds import LOOKER_CLIENT_ID, LOOKER_CLIENT_SECRET
from ml_connector.credentials.resolve import resolve_secret
from ml_connector.credentials.store import CredentialStore
from ml_connector.mapping.period import Period

if TYPE_CHECKING:
    from ml_connector.looker.client import LookerClient
    from ml_connector.looker.query import InlineQuery
    from ml_connector.looker.render import DashboardRender

__all__ = [
    "LookerCredentials",
    "UnassignedRows",
    "fetch_source",
    "fetch_unassigned",
    "iter_source_batches",
    "looker_client",
    "readable_period",
    "render_dashboard",
    "resolve_looker_credentials",
]


@dataclass(frozen=True, slots=True)
class LookerCredentials:
    client_id: str
    client_secret: SecretStr


def resolve_looker_credentials(
    connection: LookerConnection,
    environ: Mapping[str, str] | None = None,
    *,
    store: CredentialStore | None = None,
) -> LookerCredentials:
    """The API3 key of this connection (one customer's), through
    :func:`~ml_connector.credentials.resolve.resolve_secret`."""
    ref = connection.credential_ref
    client_id = resolve_secret(ref, kind=LOOKER_CLIENT_ID, store=store, environ=environ)
    secret = resolve_secret(ref, kind=LOOKER_CLIENT_SECRET, store=store, environ=environ)
    return LookerCredentials(client_id.get_secret_value(), secret)


async def fetch_source(
    connection: LookerConnection,
    source: Source,
    period: Period | None,
    *,
    base_url: str | None = None,
    credentials: LookerCredentials | None = None,
    limit: int | None = None,
) -> list[dict[str, object]]:
    """Rows of ``source`` (for ``period`` when given), typed by the Looker client."""
    rows: list[dict[str, object]] = []
    async for batch in iter_source_batches(
        connection, source, period, base_url=base_url, credentials=credentials, limit=limit
    ):
        rows += batch
    return rows


async def iter_source_batches(
    connection: LookerConnection,
    source: Source,
    period: Period | None,
    *,
    base_url: str | None = None,
    credentials: LookerCredentials | None = None,
    limit: int | None = None,
) -> AsyncGenerator[list[dict[str, object]], None]:
    """The rows of :func:`fetch_source` as they arrive: one list per partition of a
    partitioned extract (memory bounded by the partition size), else one list.

    Iterate it to the end (or close it, e.g. with :func:`contextlib.aclosing`): the
    Looker session lives as long as the iteration.
    """
    async with _looker(connection, base_url, credentials) as looker:
        query = await _source_query(looker, source, period, limit)
        if period is not None and source.period_field:
            query = query.with_filters({source.period_field: str(period)})
        if source.partition_by and source.count_measure and limit is None:
            extraction = looker.extract(
                query, partition_by=source.partition_by, count_measure=source.count_measure
            )
            async for batch in extraction.batches():
                yield batch
            return
        result = await looker.run_query(query, allow_truncated=limit is not None)
        yield [dict(row) for row in result.rows]


def _looker(
    connection: LookerConnection, base_url: str | None, credentials: LookerCredentials | None
) -> LookerClient:
    from ml_connector.looker.client import LookerClient

    creds = credentials or resolve_looker_credentials(connection)
    return LookerClient(
        base_url or connection.base_url,
        creds.client_id,
        creds.client_secret,
        timeout=connection.timeout_seconds,
        verify=connection.verify_tls,
    )


def looker_client(
    connection: LookerConnection, base_url: str | None, credentials: LookerCredentials | None
) -> LookerClient:
    """A client of the customer's Looker (use it as ``async with``)."""
    return _looker(connection, base_url, credentials)


async def _source_query(
    looker: LookerClient, source: Source, period: Period | None, limit: int | None
) -> InlineQuery:
    """The source's query (a saved Look's re-run inline), without the period filter."""
    from ml_connector.looker.query import InlineQuery

    if source.query is not None:
        spec = source.query_for_period(str(period)) if period else source.query
        assert spec is not None
        return InlineQuery(
            model=spec.model,
            view=spec.view,
            fields=tuple(spec.fields),
            filters=dict(spec.filters),
            sorts=tuple(spec.sorts),
            limit=limit or spec.limit,
        )
    assert source.look_id is not None
    look = await looker.look(source.look_id)
    q = look.get("query") or {}
    return InlineQuery(
        model=str(q.get("model")),
        view=str(q.get("view")),
        fields=tuple(q.get("fields") or ()),
        filters=dict(q.get("filters") or {}),
        sorts=tuple(q.get("sorts") or ()),
        limit=limit,
    )


#: rows without a period fetched at most (all are counted when the source has a count)
MAX_UNASSIGNED_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class UnassignedRows:
    """The source's rows whose period is empty or unreadable: no month's run reads them.

    ``count`` is exact when the source names a ``count_measure``, else the number of
    rows fetched (at most :data:`MAX_UNASSIGNED_ROWS`); ``values`` are the unreadable
    period values found (empty ones as ``""``); ``periods`` every readable period
    (``YYYY-MM``) the source has rows in, from the same census query.
    """

    rows: list[dict[str, object]]
    count: int
    values: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()


def period_of(value: object) -> str:
    """The period (``YYYY-MM``) a month's query selects ``value`` in, ``""`` for none."""
    if not readable_period(value):
        return ""
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    return str(Period.parse(str(value)))


def readable_period(value: object) -> bool:
    """Whether a month's query (period filter ``YYYY-MM``) selects a row with ``value``."""
    if isinstance(value, date):
        return True
    if not isinstance(value, str) or value != value.strip():
        return False  # the month's filter matches the text exactly
    try:
        Period.parse(value)
    except ValueError:
        return False
    return True


def _escape(value: str) -> str:
    """``value`` as one literal term of a Looker string filter expression."""
    escaped = "".join("^" + c if c in "^,%_" else c for c in value)
    return "^" + escaped if escaped.startswith("-") else escaped


async def fetch_unassigned(
    connection: LookerConnection,
    source: Source,
    *,
    base_url: str | None = None,
    credentials: LookerCredentials | None = None,
) -> UnassignedRows:
    """The rows of ``source`` with an empty or unreadable ``period_field``."""
    field = source.period_field
    if field is None:
        return UnassignedRows([], 0)
    async with _looker(connection, base_url, credentials) as looker:
        query = await _source_query(looker, source, None, None)
        filters = {k: v for k, v in query.filters.items() if k != field}
        query = replace(query, filters=filters)
        counted = [source.count_measure] if source.count_measure else []
        census = await looker.run_query(query.with_fields([field, *counted]))
        bad = [row for row in census.rows if not readable_period(row.get(field))]
        periods = tuple(sorted({period_of(row.get(field)) for row in census.rows} - {""}))
        if not bad:
            return UnassignedRows([], 0, periods=periods)
        values = sorted({"" if row.get(field) is None else str(row.get(field)) for row in bad})
        types = await looker.field_types(query.model, query.view)
        terms = ["NULL"] if types.get(field) == "date" else ["NULL", "EMPTY"]
        terms += [_escape(v) for v in values if v.strip()]
        rows_query = query.with_filters({field: ",".join(terms)})
        rows_query = replace(rows_query, limit=MAX_UNASSIGNED_ROWS)
        result = await looker.run_query(rows_query, allow_truncated=True)
        rows = [dict(row) for row in result.rows]
        count = len(rows)
        if source.count_measure:
            count = sum(int(str(row.get(source.count_measure) or 0)) for row in bad)
        return UnassignedRows(rows, count, tuple(values), periods)


async def render_dashboard(
    connection: LookerConnection,
    render: DashboardRender,
    *,
    base_url: str | None = None,
    credentials: LookerCredentials | None = None,
) -> bytes:
    """A dashboard of the customer's Looker rendered to PDF (its bytes)."""
    from ml_connector.looker.render import render_dashboard_pdf

    async with _looker(connection, base_url, credentials) as looker:
        return await render_dashboard_pdf(looker, render)
