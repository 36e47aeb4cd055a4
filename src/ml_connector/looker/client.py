"""Async Looker API 4.0 client: login, Looks, inline queries, query tasks, extracts.

A thin client of our own over httpx (see docs/looker.md for why not ``looker-sdk``).
Every call goes through :func:`~ml_connector.http.retry.retry_async` (429, 5xx,
timeouts; ``Retry-After`` honoured); a 401 triggers one re-login and one retry.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr

from ml_connector.errors import (
    ConfigurationError,
    DataError,
    RemoteRejectedError,
    RetriableError,
)
from ml_connector.http.clients import tls_context
from ml_connector.http.polling import LOOKER_TASK_POLLING, PollPolicy, poll_delay
from ml_connector.http.retry import RetryPolicy, retry_async, transport_error
from ml_connector.looker.auth import TokenCache
from ml_connector.looker.errors import classify, is_html, server_message
from ml_connector.looker.extract import READ_AHEAD_ROWS, Extraction
from ml_connector.looker.fields import LookerField, explore_fields
from ml_connector.looker.query import InlineQuery
from ml_connector.looker.rows import JsonArrayStream, Row, RowTyper, loads, parse_rows

__all__ = ["CallStats", "LookerClient", "QueryResult"]

log = logging.getLogger("ml_connector.looker")

#: Looker's documented per-user query concurrency is 15; stay below it by default.
DEFAULT_CONCURRENCY = 10
#: rows per call (the product's working assumption of Looker's cap)
DEFAULT_ROW_CAP = 5000
_RUN_PARAMS = {"apply_formatting": "false", "apply_vis": "false", "cache": "true"}


async def _read_file(
    resp: httpx.Response, url: str, max_bytes: int, redact: tuple[str, ...]
) -> bytes:
    """The body of a file download, cut after ``max_bytes + 1`` bytes as it arrives."""
    if resp.status_code != 200:
        await resp.aread()
        error = classify(resp, "file download", redact)
        if isinstance(error, RetriableError):
            raise error
        raise DataError(f"{url} answered HTTP {resp.status_code}", value=url)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:  # cut here: the caller sees it is too big
            break
    return b"".join(chunks)[: max_bytes + 1]


def _require_json(resp: httpx.Response, operation: str) -> None:
    """Refuse an HTML page (a login or proxy page) where the API should answer JSON."""
    if is_html(resp):
        raise ConfigurationError(
            f"Looker {operation} answered an HTML page where JSON was expected",
            hint="check the base URL points at the Looker API (not a login or proxy page)",
        )


@dataclass
class CallStats:
    """What the client has done so far (for reports and budgets)."""

    calls: int = 0
    logins: int = 0
    relogins_on_401: int = 0
    #: rows parsed from result bodies and the time spent parsing and typing them
    #: (wall clock, and CPU of the parsing thread: on a busy machine they differ)
    rows_parsed: int = 0
    parse_seconds: float = 0.0
    parse_cpu_seconds: float = 0.0
    by_operation: dict[str, int] = field(default_factory=dict)


@dataclass
class QueryResult:
    """Rows of one call (at most the row cap) and whether they may be truncated."""

    rows: list[Row]
    limit: int
    fields: list[str]

    @property
    def truncated(self) -> bool:
        """``rows == limit``: the server may have had more (Looker has no offset)."""
        return 0 <= self.limit <= len(self.rows)


class LookerClient:
    """One Looker instance, one API3 key. Use as ``async with LookerClient(...) as looker``."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: SecretStr | str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        poll: PollPolicy = LOOKER_TASK_POLLING,
        expired_retries: int = 2,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        row_cap: int = DEFAULT_ROW_CAP,
        timeout: float = 120.0,
        token_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        verify: bool = True,
    ) -> None:
        from ml_connector.looker.urls import api_root

        if max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        if row_cap < 1:
            raise ConfigurationError("row_cap must be at least 1")
        self.api = api_root(base_url)
        self.client_id = client_id
        self._secret = (
            client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        )
        self.policy = policy or RetryPolicy()
        self.poll = poll
        #: how often an ``expired`` query task is started again before giving up
        self.expired_retries = expired_retries
        self.row_cap = row_cap
        self.max_concurrency = max_concurrency
        self.stats = CallStats()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            verify=tls_context() if verify else False,
            headers={"x-looker-appid": "ml-connector", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=max_concurrency + 4),
        )
        self._tokens = TokenCache(self._login, margin=token_margin, clock=clock)
        self._fields: dict[tuple[str, str], dict[str, LookerField]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"LookerClient(api={self.api!r}, client_id={self.client_id!r})"

    async def __aenter__(self) -> LookerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- plumbing --------------------------------------------------------------------

    def _redact(self) -> tuple[str, ...]:
        token = self._tokens.current
        return (self._secret.get_secret_value(), token.value if token else "")

    def _count(self, operation: str) -> None:
        self.stats.calls += 1
        self.stats.by_operation[operation] = self.stats.by_operation.get(operation, 0) + 1

    async def _login(self) -> tuple[str, int]:
        async def attempt() -> tuple[str, int]:
            self._count("login")
            try:
                resp = await self._http.post(
                    f"{self.api}/login",
                    data={
                        "client_id": self.client_id,
                        "client_secret": self._secret.get_secret_value(),
                    },
                )
            except httpx.TransportError as exc:
                raise transport_error(exc, "Looker login", self.api) from None
            if resp.status_code == 404 and not is_html(resp):
                raise ConfigurationError(
                    f"Looker rejected the API3 credentials of client id {self.client_id!r} "
                    "(HTTP 404 on login)",
                    hint="check the client id and secret for this instance "
                    "(Looker answers 404 to wrong credentials)",
                )
            if resp.status_code != 200:
                raise classify(resp, "login", self._redact())
            try:
                body = json.loads(resp.content)
                return str(body["access_token"]), int(body.get("expires_in") or 3599)
            except (ValueError, KeyError, TypeError, RecursionError):
                raise ConfigurationError(
                    "Looker login did not answer with an access token"
                    + (" (got an HTML page)" if is_html(resp) else ""),
                    hint="check the base URL points at the Looker API host",
                ) from None

        value, expires_in = await retry_async(attempt, self.policy)
        self.stats.logins += 1
        log.info("looker login ok (expires_in=%s)", expires_in)
        return value, expires_in

    async def _send(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        accept: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """One API call with auth, one re-login on 401, and retries; body fully read."""

        async def attempt() -> httpx.Response:
            relogged = False
            while True:
                token = await self._tokens.get()
                self._count(operation)
                try:
                    resp = await self._http.request(
                        method,
                        f"{self.api}{path}",
                        params=params,
                        json=json_body,
                        headers={"Authorization": f"token {token}"},
                    )
                except httpx.TransportError as exc:
                    raise transport_error(exc, f"Looker {operation}", self.api) from None
                log.debug("looker %s %s -> %s", method, path, resp.status_code)
                if resp.status_code == 401:
                    self._tokens.invalidate(token)
                    if relogged:
                        raise ConfigurationError(
                            f"Looker {operation} answered 401 even after a fresh login",
                            hint="check the API3 key is still active and its user enabled",
                        )
                    relogged = True
                    self.stats.relogins_on_401 += 1
                    continue
                if resp.status_code in accept:
                    return resp
                raise classify(resp, operation, self._redact())

        return await retry_async(attempt, self.policy)

    async def _json(self, method: str, path: str, operation: str, **kw: Any) -> Any:
        resp = await self._send(method, path, operation, **kw)
        _require_json(resp, operation)
        try:
            return loads(resp.content)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep JSON
            raise DataError(
                f"Looker {operation} answered invalid JSON",
                value=server_message(resp, self._redact()),
            ) from None

    async def _json_as(
        self, kind: type[dict[str, Any]] | type[list[Any]], path: str, operation: str
    ) -> Any:
        """A GET whose JSON answer must be an object (``dict``) or an array (``list``)."""
        data = await self._json("GET", path, operation)
        if not isinstance(data, kind):
            shape = "an object" if kind is dict else "an array"
            raise DataError(
                f"Looker {operation} answered {type(data).__name__} JSON, not {shape}",
                hint="check that the Looker URL points at Looker's API 4.0",
            )
        return data

    # -- login and logout ------------------------------------------------------------

    async def login(self) -> None:
        """Log in now (otherwise the first call does)."""
        await self._tokens.get()

    async def logout(self) -> None:
        """Invalidate the current token on the server (``DELETE /logout``)."""
        token = self._tokens.take()
        if token is None:
            return
        self._count("logout")
        try:
            await self._http.delete(
                f"{self.api}/logout", headers={"Authorization": f"token {token.value}"}
            )
        except httpx.HTTPError as exc:
            log.warning("looker logout failed: %s", type(exc).__name__)

    async def close(self) -> None:
        """Log out and close the connection pool."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.logout()
        finally:
            await self._http.aclose()

    # -- files on the instance --------------------------------------------------------

    async def fetch_file(self, url: str, *, max_bytes: int) -> bytes:
        """A file on this Looker host, fetched with the API token and read while it
        streams: past ``max_bytes`` the download stops (``max_bytes + 1`` bytes are
        returned). Another host, a redirect or an answer other than 200 is a
        :class:`DataError` (429 and 5xx are retried)."""
        own = httpx.URL(self.api)
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise DataError(f"{url!r} is not a URL", value=url) from None
        if (target.scheme, target.host, target.port) != (own.scheme, own.host, own.port):
            raise DataError(f"{url} is not on the Looker host {own.host}", value=url)

        async def attempt() -> bytes:
            for relogin in (False, True):
                token = await self._tokens.get()
                self._count("fetch_file")
                try:
                    async with self._http.stream(
                        "GET", url, headers={"Authorization": f"token {token}", "Accept": "*/*"}
                    ) as resp:
                        if resp.status_code == 401 and not relogin:
                            self._tokens.invalidate(token)
                            continue
                        return await _read_file(resp, url, max_bytes, self._redact())
                except httpx.TransportError as exc:
                    raise transport_error(exc, "Looker file download", url) from None
            raise AssertionError("unreachable")  # pragma: no cover

        return await retry_async(attempt, self.policy)

    # -- discovery -------------------------------------------------------------------

    async def looks(self) -> list[dict[str, Any]]:
        """All saved Looks (``GET /looks``)."""
        return list(await self._json_as(list, "/looks", "all_looks"))

    async def look(self, look_id: str | int) -> dict[str, Any]:
        """One Look with its query (``GET /looks/{id}``)."""
        return dict(await self._json_as(dict, f"/looks/{look_id}", "look"))

    async def models(self) -> list[dict[str, Any]]:
        """All LookML models (``GET /lookml_models``)."""
        return list(await self._json_as(list, "/lookml_models", "all_lookml_models"))

    async def explore(self, model: str, explore: str) -> dict[str, Any]:
        """An explore with its fields."""
        path = f"/lookml_models/{model}/explores/{explore}"
        return dict(await self._json_as(dict, path, "lookml_model_explore"))

    async def explore_fields(self, model: str, explore: str) -> dict[str, LookerField]:
        """``view.field`` -> :class:`LookerField` of every field of the explore (cached)."""
        key = (model, explore)
        if key not in self._fields:
            self._fields[key] = explore_fields(await self.explore(model, explore))
        return self._fields[key]

    async def field_types(self, model: str, explore: str) -> dict[str, str]:
        """``view.field`` -> LookML type of every field of the explore (cached)."""
        fields = await self.explore_fields(model, explore)
        return {name: f.type for name, f in fields.items()}

    async def _typer(self, query: InlineQuery) -> RowTyper:
        types = await self.field_types(query.model, query.view)
        unknown = [f for f in query.fields if f not in types]
        if unknown:
            raise ConfigurationError(
                f"field(s) {', '.join(unknown)} not in explore {query.model}/{query.view}",
                hint="use view.field names from the explore (GET lookml_models/.../explores)",
            )
        return RowTyper(list(query.fields), types)

    # -- running queries ---------------------------------------------------------------

    def _limit(self, limit: int | None) -> int:
        return self.row_cap if limit is None else limit

    async def run_query(self, query: InlineQuery, *, allow_truncated: bool = False) -> QueryResult:
        """Run an inline query (``POST /queries/run/json``); at most ``row_cap`` rows.

        Raises :class:`DataError` when ``rows == limit`` (the result may be truncated)
        unless ``allow_truncated``; use :meth:`extract` for larger results.
        """
        typer = await self._typer(query)
        limit = self._limit(query.limit)
        async with self._slots:
            resp = await self._send(
                "POST",
                "/queries/run/json",
                "run_inline_query",
                params={**_RUN_PARAMS, "limit": str(limit)},
                json_body=query.body(limit),
            )
        result = QueryResult(self._rows(resp, typer, "run_inline_query"), limit, list(query.fields))
        self._check_truncation(result, allow_truncated)
        return result

    async def run_look(
        self, look_id: str | int, *, limit: int | None = None, allow_truncated: bool = False
    ) -> QueryResult:
        """Run a saved Look (``GET /looks/{id}/run/json``) with an explicit limit."""
        look = await self.look(look_id)
        q = look.get("query") or {}
        query = InlineQuery(
            model=str(q.get("model")),
            view=str(q.get("view")),
            fields=tuple(q.get("fields") or ()),
            filters=q.get("filters") or {},
            sorts=tuple(q.get("sorts") or ()),
        )
        typer = await self._typer(query)
        cap = self._limit(limit)
        async with self._slots:
            resp = await self._send(
                "GET",
                f"/looks/{look_id}/run/json",
                "run_look",
                params={**_RUN_PARAMS, "limit": str(cap)},
            )
        result = QueryResult(self._rows(resp, typer, "run_look"), cap, list(query.fields))
        self._check_truncation(result, allow_truncated)
        return result

    def _rows(self, resp: httpx.Response, typer: RowTyper, operation: str) -> list[Row]:
        _require_json(resp, operation)
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            rows = parse_rows(resp.content, typer)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep JSON
            raise DataError(f"Looker {operation} answered invalid JSON") from None
        self.stats.parse_seconds += time.perf_counter() - start
        self.stats.parse_cpu_seconds += time.thread_time() - cpu
        self.stats.rows_parsed += len(rows)
        return rows

    def _check_truncation(self, result: QueryResult, allow: bool) -> None:
        if result.truncated and not allow:
            raise DataError(
                f"result has {len(result.rows)} rows = limit {result.limit}: it may be truncated",
                hint="use LookerClient.extract() with a partition field to get every row",
            )

    async def create_query(self, query: InlineQuery, limit: int) -> str:
        """Store the query (``POST /queries``) and return its id."""
        data = await self._json("POST", "/queries", "create_query", json_body=query.body(limit))
        return str(data["id"])

    async def stream_query_task(self, query: InlineQuery, *, limit: int = -1) -> AsyncIterator[Row]:
        """Run ``query`` as an async query task and stream its typed rows.

        Polls ``GET /query_tasks/{id}`` with exponential backoff, handles 202 while
        running, starts an ``expired`` task again (``expired_retries`` times), and
        fails on ``error``/``killed``. Rows are parsed while they arrive. With
        ``limit=-1`` a result of exactly ``row_cap`` rows raises :class:`DataError`
        afterwards (a server that capped "unlimited").
        """
        typer = await self._typer(query)
        query_id = await self.create_query(query, limit)
        for attempt in range(self.expired_retries + 1):
            async with self._slots:
                task_id = await self._start_task(query_id, limit)
                status = await self._wait(task_id)
                if status == "expired":
                    log.info("looker query task expired; starting it again (%s)", attempt + 1)
                    continue
                count = 0
                async for row in self._stream_results(task_id, typer):
                    count += 1
                    yield row
            if limit == -1 and count == self.row_cap:
                raise DataError(
                    f"an unlimited query task returned exactly {count} rows: "
                    "the server probably capped it",
                    hint="partition the extract (LookerClient.extract) instead",
                )
            if 0 <= limit <= count:
                raise DataError(f"query task returned {count} rows = limit: may be truncated")
            return
        raise RetriableError("Looker query task results kept expiring")

    async def _start_task(self, query_id: str, limit: int) -> str:
        data = await self._json(
            "POST",
            "/query_tasks",
            "create_query_task",
            params={**_RUN_PARAMS, "limit": str(limit)},
            json_body={"query_id": query_id, "result_format": "json"},
        )
        return str(data["id"])

    async def _wait(self, task_id: str) -> str:
        started = time.monotonic()
        for polls in itertools.count(1):
            data = await self._json("GET", f"/query_tasks/{task_id}", "query_task")
            status = str(data.get("status"))
            if status in {"complete", "expired"}:
                return status
            if status in {"error", "failure", "killed", "missing"}:
                raise RemoteRejectedError(
                    f"Looker query task ended with status {status!r}",
                    status_code=None,
                    detail=status,
                )
            if self.poll.exhausted(polls, time.monotonic() - started):
                raise RetriableError(f"Looker query task still {status!r} after the poll budget")
            await asyncio.sleep(poll_delay(polls, self.poll))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream_results(self, task_id: str, typer: RowTyper) -> AsyncIterator[Row]:
        url = f"{self.api}/query_tasks/{task_id}/results"
        relogged = False
        started = time.monotonic()
        for polls in itertools.count(1):
            token = await self._tokens.get()
            self._count("query_task_results")
            async with self._http.stream(
                "GET", url, headers={"Authorization": f"token {token}"}
            ) as resp:
                if resp.status_code == 202:
                    if self.poll.exhausted(polls, time.monotonic() - started):
                        raise RetriableError(
                            "Looker query task results not ready within the poll budget"
                        )
                    await asyncio.sleep(poll_delay(polls, self.poll))
                    continue
                if resp.status_code == 401 and not relogged:
                    self._tokens.invalidate(token)
                    relogged = True
                    self.stats.relogins_on_401 += 1
                    continue
                if resp.status_code != 200:
                    await resp.aread()
                    raise classify(resp, "query_task_results", self._redact())
                if "html" in resp.headers.get("content-type", ""):
                    raise ConfigurationError(
                        "Looker query_task_results answered an HTML page where JSON was expected"
                    )
                parser = JsonArrayStream()
                async for chunk in resp.aiter_bytes():
                    for row in typer.batch(parser.feed(chunk)):
                        yield row
                parser.close()
                return

    def extract(
        self,
        query: InlineQuery,
        *,
        partition_by: Sequence[str],
        count_measure: str,
        allow_query_task: bool = True,
        read_ahead_rows: int = READ_AHEAD_ROWS,
    ) -> Extraction:
        """Every row of ``query`` exactly once, however many, with a completeness report.

        See :class:`~ml_connector.looker.extract.Extraction` for the strategy.
        """
        return Extraction(
            self,
            query,
            partition_by=list(partition_by),
            count_measure=count_measure,
            allow_query_task=allow_query_task,
            read_ahead_rows=read_ahead_rows,
        )
