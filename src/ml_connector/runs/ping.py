"""``ping``: can this customer's Looker and DATEV connections work? One result per check.

Looker: the API3 key is available, login works, the customer's first pipeline
source answers a one-row query, and every field its pipelines name exists in Looker
with a fitting type (:mod:`ml_connector.runs.fields`).
DATEV (:func:`ml_connector.datev.health.check_datev`): a login is stored and its
token valid or refreshable, the client is visible, the channel's service is booked,
and (for channels that upload documents only) the
document types are readable. A check never raises; a
failure carries its fix, and the checks after a failed one say they were skipped.
"""

from __future__ import annotations

import asyncio

from ml_connector.config import LoadedConfig
from ml_connector.config.access import looker_base_url
from ml_connector.config.models import Customer, Source
from ml_connector.datev.health import CheckResult, check_datev, datev_check_names
from ml_connector.errors import MlConnectorError
from ml_connector.looker.client import LookerClient
from ml_connector.runs.connect import DatevConnections, looker_credentials
from ml_connector.runs.extract import fetch_source
from ml_connector.runs.fields import check_customer_fields

__all__ = ["check_looker", "ping_customer"]

_LOOKER_LATER = ("Looker login", "Looker query", "Looker fields")


def _failed(name: str, exc: MlConnectorError, fix: str) -> CheckResult:
    return CheckResult(name, False, exc.message, exc.hint or fix)


def _skipped(names: tuple[str, ...], reason: str) -> list[CheckResult]:
    return [
        CheckResult(n, False, f"not checked: {reason}", "fix the check above first") for n in names
    ]


def _first_pipeline(config: LoadedConfig, customer_id: str) -> tuple[str, Source, str] | None:
    for name, pipeline in sorted(config.model.pipelines.items()):
        if pipeline.customer == customer_id:
            return name, pipeline.source, pipeline.channel
    return None


async def check_looker(
    config: LoadedConfig,
    customer_id: str,
    connections: DatevConnections,
    *,
    looker_url: str | None = None,
) -> list[CheckResult]:
    """Credentials, login and a one-row query of the customer's first pipeline."""
    customer = config.model.customers[customer_id]
    connection = customer.looker
    try:
        url = looker_base_url(customer_id, customer, looker_url)
    except MlConnectorError as exc:
        return [
            _failed("Looker URL", exc, "drop --looker-url"),
            *_skipped(_LOOKER_LATER, "Looker URL refused"),
        ]
    try:
        creds = await asyncio.to_thread(
            looker_credentials, connection, connections.connections.credentials
        )
    except MlConnectorError as exc:
        failed = _failed("Looker credentials", exc, "store or export the Looker API3 key")
        return [failed, *_skipped(_LOOKER_LATER, "no Looker API3 key")]
    results = [CheckResult("Looker credentials", True, f"API3 client id {creds.client_id}")]
    try:
        async with LookerClient(
            url,
            creds.client_id,
            creds.client_secret,
            timeout=connection.timeout_seconds,
            verify=connection.verify_tls,
        ) as looker:
            await looker.login()
    except MlConnectorError as exc:
        results.append(_failed("Looker login", exc, f"check the Looker URL {url} and the key"))
        return results + _skipped(_LOOKER_LATER[1:], "Looker login failed")
    results.append(CheckResult("Looker login", True, f"logged in at {url}"))
    first = _first_pipeline(config, customer_id)
    if first is None:
        results.append(
            CheckResult("Looker query", True, "no pipeline configured: nothing to query")
        )
        return [*results, CheckResult("Looker fields", True, "no pipeline: no field to check")]
    name, source, _channel = first
    what = f"Look {source.look_id}" if source.look_id else "inline query"
    try:
        rows = await fetch_source(
            connection, source, None, base_url=url, credentials=creds, limit=1
        )
    except MlConnectorError as exc:
        fix = f"check pipeline {name}'s source ({what}) and the key's permissions"
        results.append(_failed("Looker query", exc, fix))
        return results + _skipped(_LOOKER_LATER[2:], "the Looker query failed")
    results.append(
        CheckResult("Looker query", True, f"pipeline {name}: {what} answered {len(rows)} row(s)")
    )
    return [*results, await _check_fields(config, customer_id, connections, looker_url)]


async def _check_fields(
    config: LoadedConfig, customer_id: str, connections: DatevConnections, looker_url: str | None
) -> CheckResult:
    """Every field the customer's pipelines name, resolved against Looker's metadata."""
    report = await check_customer_fields(
        config,
        customer_id,
        credentials=connections.connections.credentials,
        looker_url=looker_url,
    )
    if report.unchecked:
        return CheckResult("Looker fields", False, report.unchecked[0], "fix the checks above")
    if report.problems:
        first = report.problems[0]
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        return CheckResult(
            "Looker fields",
            False,
            f"{first.where}: {first.message}{more}",
            f"{first.fix}; ml-connector mapping check lists every one",
        )
    return CheckResult("Looker fields", True, f"all {report.checked} field names found")


async def ping_customer(
    config: LoadedConfig,
    customer_id: str,
    connections: DatevConnections,
    *,
    looker_url: str | None = None,
) -> list[CheckResult]:
    """Every Looker and DATEV check of ``customer_id``, in order."""
    customer: Customer = config.model.customers[customer_id]
    results = await check_looker(config, customer_id, connections, looker_url=looker_url)
    first = _first_pipeline(config, customer_id)
    channel = first[2] if first is not None else "extf"
    datev_later = tuple(datev_check_names(channel)[1:])
    try:
        async with connections.client(customer_id, customer) as client:
            results += await check_datev(
                client,
                berater=customer.datev.consultant_number,
                mandant=customer.datev.client_number,
                channel=channel,
            )
    except MlConnectorError as exc:
        results.append(
            _failed("DATEV token", exc, f"ml-connector datev login --customer {customer_id}")
        )
        return results + _skipped(datev_later, "no DATEV login")
    return results
