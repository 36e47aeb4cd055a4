"""Notifications on failed runs, partial success and "re-consent needed".

Per customer, a :class:`~ml_connector.notify.config.NotifyConfig` names webhooks
(JSON POST, retried on transient errors) and e-mail recipients (SMTP, optional
STARTTLS). :class:`~ml_connector.notify.dispatch.Notifier` is what the engine calls
when a run ends badly.
"""

from ml_connector.notify.config import EmailTarget, NotifyConfig, WebhookTarget
from ml_connector.notify.dispatch import Delivery, Notifier
from ml_connector.notify.message import Notification, notification_for

__all__ = [
    "Delivery",
    "EmailTarget",
    "Notification",
    "Notifier",
    "NotifyConfig",
    "WebhookTarget",
    "notification_for",
]
