"""Runs triggered by a Looker scheduled plan's webhook delivery.

A pipeline with a ``[pipelines.<name>.webhook]`` table accepts deliveries from
Looker (the body of a scheduled plan's webhook destination). Looker's webhook
destination sends no headers of its choosing, so the delivery URL carries the
pipeline's secret (``?token=...``); it is compared in constant time with the secret
the configuration refers to (``env:`` / ``store:``, kind ``looker_webhook_secret``).
The period comes from the pipeline's rule (``previous_month`` / ``current_month``)
at the time the delivery arrives. The run is queued on the same path as
``ml-connector run --queue`` (:func:`~ml_connector.runs.launch.queue_run`), and each
delivery is remembered by a key of pipeline, period and body, so a delivery sent
again queues nothing new (the run id is per pipeline and period as well).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ml_connector.config import LoadedConfig, find_config, load_config
from ml_connector.config.models import PipelineWebhook
from ml_connector.credentials import open_credential_store
from ml_connector.credentials.kinds import LOOKER_WEBHOOK_SECRET
from ml_connector.credentials.resolve import resolve_secret
from ml_connector.errors import ConfigurationError, DataError, MlConnectorError
from ml_connector.runs.connect import SyncSettings, open_sync_store
from ml_connector.runs.launch import EngineOptions, RunAlreadyExistsError, queue_run
from ml_connector.schedule import month_period
from ml_connector.store.tables import WEBHOOK_DELIVERIES

__all__ = [
    "HookOutcome",
    "WebhookAuthError",
    "accept_looker_delivery",
    "delivery_key",
    "pipeline_webhook",
]


class WebhookAuthError(MlConnectorError):
    """The delivery did not present the pipeline's webhook secret."""


@dataclass(frozen=True)
class HookOutcome:
    """What a delivery did: the run it belongs to, and whether it queued it now."""

    pipeline: str
    period: str
    run_id: str
    queued: bool


def pipeline_webhook(config: LoadedConfig, pipeline: str) -> PipelineWebhook:
    """The pipeline's webhook settings; a :class:`ConfigurationError` when it has none."""
    found = config.model.pipelines.get(pipeline)
    if found is None or found.webhook is None:
        raise ConfigurationError(
            f"pipeline {pipeline!r} accepts no Looker webhook",
            hint=f"add [pipelines.{pipeline}.webhook] with secret and period",
        )
    return found.webhook


def delivery_key(pipeline: str, period: str, body: bytes) -> str:
    """The idempotency key of one delivery: pipeline, period and the exact body."""
    digest = hashlib.sha256(body).hexdigest()
    return hashlib.sha256(f"{pipeline}\n{period}\n{digest}".encode()).hexdigest()


def _plan_id(body: bytes) -> str | None:
    """The delivering plan's id; a :class:`DataError` for a body Looker would not send."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise DataError("the webhook body is not JSON") from None
    plan = payload.get("scheduled_plan") if isinstance(payload, dict) else None
    if not isinstance(plan, dict):
        raise DataError("the webhook body has no scheduled_plan (not a Looker delivery)")
    plan_id = plan.get("scheduled_plan_id")
    return None if plan_id is None else str(plan_id)


def accept_looker_delivery(
    settings: SyncSettings,
    pipeline: str,
    token: str | None,
    body: bytes,
    *,
    now: float | None = None,
    options: EngineOptions | None = None,
) -> HookOutcome:
    """Check one delivery and queue the run of its period (once per delivery)."""
    webhook = pipeline_webhook(load_config(find_config(settings.config_path)), pipeline)
    engine = open_sync_store(settings)
    try:
        credentials = open_credential_store(engine, settings.data_dir)
        expected = resolve_secret(webhook.secret, kind=LOOKER_WEBHOOK_SECRET, store=credentials)
        if not hmac.compare_digest((token or "").encode(), expected.get_secret_value().encode()):
            raise WebhookAuthError(f"the delivery for pipeline {pipeline!r} has a wrong secret")
        plan_id = _plan_id(body)
        moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
        period = month_period(webhook.period, moment, webhook.tz)
        key = delivery_key(pipeline, period, body)
        with engine.connect() as conn:
            seen = conn.execute(
                sa.select(WEBHOOK_DELIVERIES.c.run_id).where(WEBHOOK_DELIVERIES.c.key == key)
            ).scalar_one_or_none()
        if seen is not None:
            return HookOutcome(pipeline, period, seen, queued=False)
        try:
            run_id = queue_run(settings, pipeline, period, options or EngineOptions())
        except RunAlreadyExistsError as exc:  # the period ran and finished: replay is the way
            return HookOutcome(pipeline, period, exc.run_id, queued=False)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sa.insert(WEBHOOK_DELIVERIES).values(
                        key=key,
                        pipeline=pipeline,
                        period=period,
                        run_id=run_id,
                        plan_id=plan_id,
                        received_at=moment.timestamp(),
                    )
                )
        except IntegrityError:  # the same delivery, accepted meanwhile by another process
            return HookOutcome(pipeline, period, run_id, queued=False)
        return HookOutcome(pipeline, period, run_id, queued=True)
    finally:
        engine.dispose()
