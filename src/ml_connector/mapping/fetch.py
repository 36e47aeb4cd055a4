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
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from ml_connector.config.models import LookerConnection, Source
from ml_connector.credentials.resolve import resolve_secret
from ml_connector.credentials.store import CredentialStore
from ml_connector.mapping.period import Period

__all__ = [
    "LOOKER_CLIENT_ID",
    "LOOKER_CLIENT_SECRET",
    "LookerCredentials",
    "fetch_source",
    "iter_source_batches",
    "resolve_looker_credentials",
]

#: credential-store kinds (and ``env:PREFIX`` variables) of a Looker API3 key
LOOKER_CLIENT_ID = "looker_client_id"
LOOKER_CLIENT_SECRET = "looker_client_secret"  # noqa: S105 - a kind name, not a secret


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
    from ml_connector.looker.client import LookerClient
    from ml_connector.looker.query import InlineQuery

    creds = credentials or resolve_looker_credentials(connection)
    async with LookerClient(
        base_url or connection.base_url,
        creds.client_id,
        creds.client_secret,
        timeout=connection.timeout_seconds,
        verify=connection.verify_tls,
    ) as looker:
        if source.query is not None:
            spec = source.query_for_period(str(period)) if period else source.query
            assert spec is not None
            query = InlineQuery(
                model=spec.model,
                view=spec.view,
                fields=tuple(spec.fields),
                filters=dict(spec.filters),
                sorts=tuple(spec.sorts),
                limit=limit or spec.limit,
            )
        else:
            assert source.look_id is not None
            look = await looker.look(source.look_id)
            q = look.get("query") or {}
            query = InlineQuery(
                model=str(q.get("model")),
                view=str(q.get("view")),
                fields=tuple(q.get("fields") or ()),
                filters=dict(q.get("filters") or {}),
                sorts=tuple(q.get("sorts") or ()),
                limit=limit,
            )
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
