"""Send a run's notification to every channel its customer configured."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ml_connector.engine.ports import RunOutcome
from ml_connector.http.retry import RetryPolicy
from ml_connector.notify.config import EmailTarget, NotifyConfig, WebhookTarget
from ml_connector.notify.email import send_email
from ml_connector.notify.message import Notification, notification_for
from ml_connector.notify.webhook import send_webhook

__all__ = ["Delivery", "Notifier"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Result of one channel: ``target`` is the webhook's host or the recipients."""

    channel: str
    target: str
    ok: bool
    error: str | None = None


class Notifier:
    """Callable the engine awaits with each run outcome; never raises for a bad channel."""

    def __init__(
        self,
        configs: Mapping[str, NotifyConfig],
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.configs = dict(configs)
        self.policy = policy
        self.transport = transport

    async def __call__(self, outcome: RunOutcome) -> list[Delivery]:
        """Notify about ``outcome`` if it calls for it; returns one result per channel."""
        note = notification_for(outcome)
        config = self.configs.get(outcome.spec.customer)
        if note is None or config is None or note.event not in config.on:
            return []
        return await self.send(config, note)

    async def send(self, config: NotifyConfig, note: Notification) -> list[Delivery]:
        """Deliver ``note`` on every channel of ``config`` concurrently."""
        tasks = [self._webhook(target, note) for target in config.webhooks]
        tasks += [self._email(target, note) for target in config.emails]
        return list(await asyncio.gather(*tasks))

    async def _webhook(self, target: WebhookTarget, note: Notification) -> Delivery:
        # host[:port] only: user info, path and query may hold tokens
        host = urlsplit(target.url).netloc.rpartition("@")[2]
        try:
            await send_webhook(target, note, policy=self.policy, transport=self.transport)
        except Exception as exc:
            log.warning("webhook to %s failed: %s", host, exc)
            return Delivery("webhook", host, False, str(exc))
        return Delivery("webhook", host, True)

    async def _email(self, target: EmailTarget, note: Notification) -> Delivery:
        recipients = ", ".join(target.recipients)
        try:
            await asyncio.to_thread(send_email, target, note)
        except Exception as exc:
            log.warning("e-mail to %s failed: %s", recipients, type(exc).__name__)
            return Delivery("email", recipients, False, f"{type(exc).__name__}: {exc}")
        return Delivery("email", recipients, True)
