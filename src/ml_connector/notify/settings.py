"""Build the notifier from the configuration file's ``[customers.<id>.notify]`` tables.

The file holds credential references only (``env:NAME`` or ``store:OWNER``); they are
resolved by :func:`ml_connector.credentials.resolve.resolve_secret` at start-up, so a
missing secret is a configuration error before any run starts rather than a silent
lost notification later.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from ml_connector.config.models import ConfigModel, NotifySettings
from ml_connector.credentials import CredentialStore
from ml_connector.credentials.kinds import SMTP_PASSWORD, WEBHOOK_SIGNING_SECRET
from ml_connector.credentials.resolve import resolve_secret
from ml_connector.notify.config import EmailTarget, NotifyConfig, WebhookTarget
from ml_connector.notify.dispatch import Notifier

__all__ = ["notifier_for", "notify_config"]


def notify_config(
    settings: NotifySettings,
    *,
    store: CredentialStore | None,
    environ: Mapping[str, str] | None = None,
) -> NotifyConfig:
    """The notifier's configuration for one customer, secrets resolved."""

    def secret(reference: str | None, kind: str) -> SecretStr | None:
        if reference is None:
            return None
        return resolve_secret(reference, kind=kind, store=store, environ=environ)

    return NotifyConfig(
        on=frozenset(settings.on),
        webhooks=[
            WebhookTarget(
                url=hook.url,
                headers=dict(hook.headers),
                secret=secret(hook.signing_secret, WEBHOOK_SIGNING_SECRET),
            )
            for hook in settings.webhooks
        ],
        emails=[
            EmailTarget(
                host=mail.host,
                port=mail.port,
                starttls=mail.starttls,
                ssl=mail.ssl,
                username=mail.username,
                password=secret(mail.password, SMTP_PASSWORD),
                sender=mail.sender,
                recipients=list(mail.recipients),
            )
            for mail in settings.emails
        ],
    )


def notifier_for(
    config: ConfigModel,
    *,
    store: CredentialStore | None,
    environ: Mapping[str, str] | None = None,
) -> Notifier:
    """One :class:`Notifier` for every customer that has a ``notify`` table."""
    return Notifier(
        {
            customer_id: notify_config(customer.notify, store=store, environ=environ)
            for customer_id, customer in config.customers.items()
            if customer.notify is not None
        }
    )
