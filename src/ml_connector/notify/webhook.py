"""Webhook delivery: a JSON POST, retried on timeouts, 429 and 5xx."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from ml_connector.errors import RemoteRejectedError, RetriableError
from ml_connector.http.retry import RETRIABLE_STATUSES, RetryPolicy, parse_retry_after, retry_async
from ml_connector.notify.config import WebhookTarget
from ml_connector.notify.message import Notification

__all__ = ["SIGNATURE_HEADER", "send_webhook", "signature"]

SIGNATURE_HEADER = "X-ML-Connector-Signature"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def send_webhook(
    target: WebhookTarget,
    note: Notification,
    *,
    policy: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """POST ``note`` to ``target``; returns the HTTP status. Raises after the last retry."""
    body = json.dumps(note.as_json(), ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", **target.headers}
    if target.secret is not None:
        headers[SIGNATURE_HEADER] = signature(target.secret.get_secret_value(), body)

    async with httpx.AsyncClient(timeout=target.timeout, transport=transport) as client:

        async def post() -> int:
            try:
                response = await client.post(target.url, content=body, headers=headers)
            except httpx.TransportError as exc:
                raise RetriableError(f"webhook not reachable: {type(exc).__name__}") from exc
            if response.status_code in RETRIABLE_STATUSES:
                raise RetriableError(
                    f"webhook answered {response.status_code}",
                    status_code=response.status_code,
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
            if response.status_code >= 400:
                raise RemoteRejectedError(
                    f"webhook refused the notification ({response.status_code})",
                    status_code=response.status_code,
                )
            return response.status_code

        return await retry_async(post, policy or RetryPolicy(attempts=5, timeout=120.0))
