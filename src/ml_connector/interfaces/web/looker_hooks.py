"""``POST /hooks/looker/{pipeline}``: a Looker scheduled plan's webhook queues a run.

Public: the delivery authenticates with the pipeline's own secret in the URL
(``?token=...``, compared in constant time), since Looker's webhook destination sends
no headers of the sender's choosing. The work is
:func:`~ml_connector.runs.hooks.accept_looker_delivery`: the period by the pipeline's
rule, one queued run per delivery, on the queue ``ml-connector run --queue`` uses.
Answers are JSON: 202 (queued, or already queued), 401, 404 (no hook configured),
400 or 503 (no run queue yet).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ml_connector.errors import ConfigurationError, DataError, MlConnectorError
from ml_connector.interfaces.web import context
from ml_connector.interfaces.web.deps import Principal, public, store
from ml_connector.runs.hooks import WebhookAuthError, accept_looker_delivery
from ml_connector.store.web import record_action

__all__ = ["router"]

router = APIRouter()

#: the most a delivery may carry (Looker sends the result with it; we only need the trigger)
MAX_BODY = 64 * 1024 * 1024


def _status(exc: MlConnectorError) -> int:
    if isinstance(exc, WebhookAuthError):
        return 401
    if isinstance(exc, DataError):
        return 400
    if isinstance(exc, ConfigurationError) and not exc.message.startswith("cannot queue"):
        return 404  # no configuration, no webhook table or its secret unset: no hook here
    return 503  # the run queue is not set up yet: Looker may deliver again later


@router.post("/hooks/looker/{pipeline}")
async def looker_delivery(
    request: Request, pipeline: str, _who: Annotated[Principal | None, Depends(public)]
) -> JSONResponse:
    """Accept one delivery: queue the pipeline's run of the period its rule gives."""
    body = await request.body()
    actor = f"looker-webhook:{pipeline}"
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "the delivery is too large"}, status_code=413)
    try:
        outcome = await run_in_threadpool(
            accept_looker_delivery,
            context.sync_settings(request),
            pipeline,
            request.query_params.get("token"),
            body,
            options=context.engine_options(request),
        )
    except MlConnectorError as exc:
        status = _status(exc)
        record_action(store(request), actor, "looker.delivery.refused", pipeline, exc.message)
        return JSONResponse({"error": str(exc)}, status_code=status)
    action = "looker.delivery.queued" if outcome.queued else "looker.delivery.repeated"
    record_action(store(request), actor, action, pipeline, outcome.run_id)
    return JSONResponse(
        {"run_id": outcome.run_id, "period": outcome.period, "queued": outcome.queued},
        status_code=202,
    )
