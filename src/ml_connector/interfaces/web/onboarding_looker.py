"""``/onboarding/{customer}/looks``: pick a Look and preview its rows as booking lines.

Lists the Looks of the customer's Looker (its stored API3 key). For the chosen Look: when
a pipeline of the customer reads it, its first rows of a period go through the run's own
steps (:meth:`~ml_connector.runs.steps.LiveRunSteps.dry_run`, as ``mapping preview``),
each shown as the booking line it becomes or with the reason it would be held;
otherwise the starting configuration of ``mapping suggest`` is offered as TOML.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from ml_connector.config import LoadedConfig
from ml_connector.engine.ports import RowRecord, iter_records
from ml_connector.errors import ConfigurationError, MlConnectorError
from ml_connector.interfaces.web import context
from ml_connector.interfaces.web.deps import Principal, require_role
from ml_connector.interfaces.web.pages import render
from ml_connector.mapping.period import Period
from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.fields import check_client, credentials_for
from ml_connector.runs.steps import RECORDS_FILE, LiveRunSteps
from ml_connector.runs.suggest import fetch_look, suggest_config

__all__ = ["PREVIEW_ROWS", "router"]

router = APIRouter()

#: rows previewed at most
PREVIEW_ROWS = 20
#: Looks listed at most (sorted by title)
MAX_LOOKS = 500


async def _looks(config: LoadedConfig, customer_id: str, settings: SyncSettings) -> list[Any]:
    with credentials_for(config, [customer_id], settings) as store:
        async with await check_client(config, customer_id, store, settings.looker_url) as looker:
            looks = await looker.looks()
    return sorted(looks, key=lambda look: str(look.get("title") or ""))[:MAX_LOOKS]


async def _preview(settings: SyncSettings, pipeline: str, period: str) -> list[RowRecord]:
    """The first rows of ``pipeline`` for ``period`` through the run's own dry run."""
    steps = LiveRunSteps(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="ml-connector-preview-") as scratch:
            done = await steps.dry_run(
                steps.spec_for(pipeline, period), Path(scratch), limit=PREVIEW_ROWS
            )
            rows = done.facts.rows_mapped + done.facts.rows_rejected
            return list(iter_records(Path(scratch) / RECORDS_FILE))[: min(rows, PREVIEW_ROWS)]
    finally:
        steps.close()


def _lines(records: list[RowRecord]) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    """(row key, held reason, first booking line) per record."""
    shown = []
    for record in records:
        lines = (record.booking or {}).get("lines") or []
        shown.append((record.row_key, record.rejection, dict(lines[0]) if lines else None))
    return shown


def _period(text: str | None) -> str:
    if not text:
        return str(Period.of(date.today().replace(day=1) - timedelta(days=1)))
    try:
        return str(Period.parse(text))
    except ValueError:
        raise ConfigurationError(
            f"period {text[:20]!r} is not YYYY-MM", hint="e.g. 2026-11"
        ) from None


async def _chosen(
    config: LoadedConfig, customer_id: str, look: str, period: str, settings: SyncSettings
) -> dict[str, Any]:
    users = sorted(
        name
        for name, p in config.model.pipelines.items()
        if p.customer == customer_id and str(p.source.look_id or "") == look
    )
    if users:
        return {"pipeline": users[0], "lines": _lines(await _preview(settings, users[0], period))}
    fields = await fetch_look(config, customer_id, look, settings)
    customer = config.model.customers[customer_id]
    return {"suggestion": suggest_config(fields, customer_id, customer)}


@router.get("/onboarding/{customer_id}/looks", response_class=HTMLResponse)
async def onboarding_looks(
    request: Request,
    customer_id: str,
    who: Annotated[Principal, Depends(require_role("operator"))],
    look: str | None = None,
    period: str | None = None,
) -> HTMLResponse:
    """The customer's Looks; ``?look=<id>`` previews one (``&period=YYYY-MM``)."""
    customer = context.customer(request, customer_id)
    config, _ = context.load_web_config(request)
    assert config is not None
    settings = context.sync_settings(request)
    looks: list[Any] = []
    chosen: dict[str, Any] = {}
    failure = None
    the_period = None
    try:
        looks = await _looks(config, customer_id, settings)
        the_period = _period(period) if look is not None or period is not None else None
        if look is not None:
            if not look.isascii() or not look.isalnum():
                raise ConfigurationError(f"Look {look[:40]!r}: give the Look's number")
            chosen = await _chosen(config, customer_id, look, _period(period), settings)
    except MlConnectorError as exc:
        failure = (exc.message, exc.hint or "")
    return render(
        request,
        "onboarding_looks.html",
        customer_id=customer_id,
        customer=customer,
        looks=looks,
        truncated=len(looks) >= MAX_LOOKS,
        look=look,
        period=the_period,
        chosen=chosen,
        failure=failure,
    )
