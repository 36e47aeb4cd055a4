"""Resolve every field a configuration names against Looker's own metadata.

A typo in ``period_field`` would otherwise disable the month filter silently, and a
misspelled column or a wrong ``look_id`` would only show when rows are rejected. The
fields a source selects are the Look's ``query.fields`` (``look_id``) or the inline
query's ``fields`` (each of which must exist in the explore); their types come from
the explore (``GET lookml_models/{model}/explores/{explore}``).

:func:`check_fields` is pure; :func:`check_customer_fields` asks Looker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ml_connector.config.access import looker_base_url
from ml_connector.config.models import Pipeline, Source
from ml_connector.errors import MlConnectorError, RetriableError
from ml_connector.http.retry import RetryPolicy
from ml_connector.looker.client import LookerClient
from ml_connector.looker.fields import LookerField, closest
from ml_connector.runs.extract import resolve_looker_credentials

if TYPE_CHECKING:
    from ml_connector.config import LoadedConfig
    from ml_connector.credentials.store import CredentialStore
    from ml_connector.mapping.spec import CompiledMapping
    from ml_connector.runs.connect import SyncSettings

__all__ = [
    "CHECK_POLICY",
    "FieldProblem",
    "FieldReport",
    "SourceFields",
    "check_client",
    "check_config_fields",
    "check_customer_fields",
    "check_fields",
    "credentials_for",
    "source_fields",
]

#: a check gives up quickly when Looker does not answer
CHECK_POLICY = RetryPolicy(attempts=2, base=0.5, cap=2.0, timeout=60.0)


@dataclass(frozen=True, slots=True)
class SourceFields:
    """The fields a source selects, and its explore's field metadata."""

    label: str
    explore_label: str
    selected: tuple[str, ...]
    explore: Mapping[str, LookerField]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """A field the configuration names that Looker does not have (or of the wrong type)."""

    where: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message} (fix: {self.fix})"


@dataclass
class FieldReport:
    """What the field check found, and what it could not check (with the reason)."""

    problems: list[FieldProblem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    checked: int = 0


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    near = closest(name, candidates)
    return "did you mean " + " or ".join(repr(n) for n in near) + "?" if near else ""


class _Checker:
    """Collects the problems of one pipeline."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []
        self.checked = 0

    def add(self, where: str, message: str, fix: str) -> None:
        self.problems.append(FieldProblem(where, message, fix))

    def selected(self, where: str, name: str, found: SourceFields) -> LookerField | None:
        """The metadata of ``name`` if ``found`` selects it, else a problem."""
        self.checked += 1
        if name in found.selected:
            return found.explore.get(name)
        if name in found.explore:
            self.add(
                where,
                f"field {name!r} is in explore {found.explore_label} but not among "
                f"the fields of {found.label}",
                f"add it to {found.label}'s fields in Looker, or name a selected field",
            )
            return None
        hint = _did_you_mean(name, found.selected) or _did_you_mean(name, found.explore)
        self.add(
            where,
            f"field {name!r} is not among the fields of {found.label} "
            f"(explore {found.explore_label})",
            hint or f"use a view.field name of {found.label} (explore {found.explore_label})",
        )
        return None

    def in_explore(self, where: str, name: str, found: SourceFields) -> LookerField | None:
        self.checked += 1
        meta = found.explore.get(name)
        if meta is None:
            self.add(
                where,
                f"field {name!r} is not in explore {found.explore_label}",
                _did_you_mean(name, found.explore)
                or f"use a view.field name of explore {found.explore_label}",
            )
        return meta

    def number(self, where: str, meta: LookerField | None, found: SourceFields) -> None:
        if meta is not None and not meta.is_number:
            self.add(
                where,
                f"field {meta.name!r} of {found.label} has type {meta.type}, not a number",
                "name a numeric field (an amount must be a number)",
            )


def _check_source(check: _Checker, base: str, source: Source, found: SourceFields) -> None:
    if source.query is not None:
        for name in source.query.fields:
            check.in_explore(f"{base}.query.fields", name, found)
        for name in source.query.filters:
            check.in_explore(f"{base}.query.filters", name, found)
    if source.period_field:
        meta = check.selected(f"{base}.period_field", source.period_field, found)
        problem = meta.period_problem if meta is not None else None
        if meta is not None and problem is not None:
            check.add(
                f"{base}.period_field",
                f"field {meta.name!r} of {found.label} {problem}",
                "name the YYYY-MM text or date dimension that holds the period",
            )
    for name in source.partition_by:
        check.in_explore(f"{base}.partition_by", name, found)
    if source.count_measure:
        meta = check.in_explore(f"{base}.count_measure", source.count_measure, found)
        if meta is not None and not (meta.is_measure and meta.is_number):
            check.add(
                f"{base}.count_measure",
                f"field {meta.name!r} is a {meta.category} of type {meta.type}, not a count",
                "name a count measure of the explore (type: count)",
            )


def _mapping_columns(compiled: CompiledMapping) -> list[tuple[str, frozenset[str]]]:
    """(key under ``mapping``, the columns it reads), each column under its first key."""
    keys = [
        ("amount", compiled.amount.columns),
        ("row_key", frozenset(compiled.row_key)),
        ("identity_columns", frozenset(compiled.identity_columns)),
        *((f"fields.{t}", rule.columns) for t, rule in sorted(compiled.fields.items())),
    ]
    seen: set[str] = set()
    found = []
    for key, columns in keys:
        found.append((key, columns - seen))
        seen |= columns
    return found


def _plain_amount_column(pipeline: Pipeline, compiled: CompiledMapping) -> str | None:
    """The column the amount is, when it is one column as it stands."""
    spec = pipeline.mapping.amount
    columns = sorted(compiled.amount.columns)
    if spec.column is not None:
        return spec.column
    if spec.expr is not None and len(columns) == 1 and spec.expr.strip() == columns[0]:
        return columns[0]
    return None


def check_fields(
    name: str,
    pipeline: Pipeline,
    compiled: CompiledMapping,
    detail: SourceFields,
    totals: SourceFields | None,
) -> tuple[list[FieldProblem], int]:
    """The problems of every field pipeline ``name`` names, and how many names were checked."""
    check = _Checker()
    base = f"pipelines.{name}"
    _check_source(check, f"{base}.source", pipeline.source, detail)
    for key, columns in _mapping_columns(compiled):
        for column in sorted(columns):
            check.selected(f"{base}.mapping.{key}", column, detail)
    amount = _plain_amount_column(pipeline, compiled)
    if amount is not None and amount in detail.selected:
        check.number(f"{base}.mapping.amount", detail.explore.get(amount), detail)
    tie = pipeline.tie_out
    if tie.detail_amount:
        meta = check.selected(f"{base}.tie_out.detail_amount", tie.detail_amount, detail)
        check.number(f"{base}.tie_out.detail_amount", meta, detail)
    if tie.totals is not None and totals is not None:
        _check_source(check, f"{base}.tie_out.totals", tie.totals, totals)
        for group in tie.group_by:
            check.selected(f"{base}.tie_out.group_by", group, totals)
        for key in ("amount", "count"):
            value = getattr(tie, key)
            if value:
                meta = check.selected(f"{base}.tie_out.{key}", value, totals)
                check.number(f"{base}.tie_out.{key}", meta, totals)
    return check.problems, check.checked


async def source_fields(looker: LookerClient, source: Source) -> SourceFields:
    """What ``source`` selects and its explore's fields; a missing Look or explore is a
    :class:`~ml_connector.errors.MlConnectorError`."""
    if source.query is not None:
        model, view = source.query.model, source.query.view
        selected = tuple(source.query.fields)
        label = f"the query on {model}/{view}"
    else:
        look = await looker.look(str(source.look_id))
        query = look.get("query")
        query = query if isinstance(query, Mapping) else {}
        model, view = str(query.get("model")), str(query.get("view"))
        fields = query.get("fields")
        selected = tuple(str(f) for f in fields) if isinstance(fields, list) else ()
        label = f"Look {source.look_id}"
    explore = await looker.explore_fields(model, view)
    return SourceFields(label, f"{model}/{view}", selected, explore)


async def _pipeline_problems(
    looker: LookerClient, name: str, pipeline: Pipeline, compiled: CompiledMapping
) -> tuple[list[FieldProblem], int]:
    base = f"pipelines.{name}"
    found: dict[str, SourceFields | None] = {}
    sources = {"source": pipeline.source}
    if pipeline.tie_out.totals is not None:
        sources["tie_out.totals"] = pipeline.tie_out.totals
    problems: list[FieldProblem] = []
    for key, source in sources.items():
        try:
            found[key] = await source_fields(looker, source)
        except RetriableError:
            raise
        except MlConnectorError as exc:
            where = f"{base}.{key}." + ("look_id" if source.look_id else "query")
            what = f"Look {source.look_id}" if source.look_id else "the query's explore"
            problems.append(
                FieldProblem(where, f"{what} cannot be read: {exc.message}", _read_fix(source))
            )
            found[key] = None
    detail = found["source"]
    if detail is None:
        return problems, 0
    more, checked = check_fields(name, pipeline, compiled, detail, found.get("tie_out.totals"))
    return problems + more, checked


def _read_fix(source: Source) -> str:
    if source.look_id:
        return "check the look_id (the number in the Look's URL) and that the API3 user may see it"
    return "check model and view (the explore's name) against Looker's LookML models"


async def check_customer_fields(
    config: LoadedConfig,
    customer_id: str,
    *,
    credentials: CredentialStore | None = None,
    looker_url: str | None = None,
) -> FieldReport:
    """Every field the pipelines of ``customer_id`` name, resolved against its Looker."""
    report = FieldReport()
    pipelines = {n: p for n, p in config.model.pipelines.items() if p.customer == customer_id}
    if not pipelines:
        return report
    try:
        async with await check_client(config, customer_id, credentials, looker_url) as looker:
            for name, pipeline in sorted(pipelines.items()):
                problems, checked = await _pipeline_problems(
                    looker, name, pipeline, config.mapping(name)
                )
                report.problems += problems
                report.checked += checked
    except MlConnectorError as exc:
        names = ", ".join(sorted(pipelines))
        report.unchecked.append(f"Looker fields of {names} (customer {customer_id}): {exc}")
    return report


async def check_client(
    config: LoadedConfig,
    customer_id: str,
    credentials: CredentialStore | None,
    looker_url: str | None,
) -> LookerClient:
    """A Looker client for the customer's instance that gives up quickly (for checks)."""
    customer = config.model.customers[customer_id]
    url = looker_base_url(customer_id, customer, looker_url)
    creds = await asyncio.to_thread(resolve_looker_credentials, customer.looker, store=credentials)
    return LookerClient(
        url,
        creds.client_id,
        creds.client_secret,
        timeout=min(customer.looker.timeout_seconds, 60.0),
        verify=customer.looker.verify_tls,
        policy=CHECK_POLICY,
    )


@contextmanager
def credentials_for(
    config: LoadedConfig, customers: Iterable[str], settings: SyncSettings
) -> Iterator[CredentialStore | None]:
    """The credential store when one of ``customers`` keeps its Looker key there, else None."""
    from ml_connector.credentials import open_credential_store
    from ml_connector.runs.connect import open_sync_store

    refs = [config.model.customers[c].looker.credential_ref for c in customers]
    if not any(ref.scheme == "store" for ref in refs):
        yield None
        return
    engine = open_sync_store(settings)
    try:
        yield open_credential_store(engine, settings.data_dir)
    finally:
        engine.dispose()


async def check_config_fields(config: LoadedConfig, settings: SyncSettings) -> FieldReport:
    """:func:`check_customer_fields` of every customer with pipelines, merged."""
    report = FieldReport()
    customers = sorted({p.customer for p in config.model.pipelines.values()})
    try:
        with credentials_for(config, customers, settings) as store:
            for customer_id in customers:
                found = await check_customer_fields(
                    config, customer_id, credentials=store, looker_url=settings.looker_url
                )
                report.problems += found.problems
                report.unchecked += found.unchecked
                report.checked += found.checked
    except MlConnectorError as exc:
        report.unchecked.append(f"Looker fields: the credential store cannot be opened: {exc}")
    return report
