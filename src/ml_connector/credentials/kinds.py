"""The kinds of secret a person stores with ``ml-connector credentials set``.

DATEV tokens (``access_token``, ``refresh_token``) and a connection's
``client_secret`` are written by ``ml-connector datev login`` and are not set by hand.
"""

from __future__ import annotations

__all__ = [
    "DATEV_CLIENT_SECRET",
    "LOOKER_CLIENT_ID",
    "LOOKER_CLIENT_SECRET",
    "LOOKER_WEBHOOK_SECRET",
    "SETTABLE_KINDS",
    "SMTP_PASSWORD",
    "WEBHOOK_SIGNING_SECRET",
]

LOOKER_CLIENT_ID = "looker_client_id"
LOOKER_CLIENT_SECRET = "looker_client_secret"  # noqa: S105 - a kind name, not a secret
DATEV_CLIENT_SECRET = "datev_client_secret"  # noqa: S105 - a kind name, not a secret
WEBHOOK_SIGNING_SECRET = "webhook_signing_secret"  # noqa: S105 - a kind name, not a secret
SMTP_PASSWORD = "smtp_password"  # noqa: S105 - a kind name, not a secret
LOOKER_WEBHOOK_SECRET = "looker_webhook_secret"  # noqa: S105 - a kind name, not a secret

#: kind -> what it is, for ``credentials set`` (checked there, listed in its help)
SETTABLE_KINDS: dict[str, str] = {
    LOOKER_CLIENT_ID: "Looker API3 client id (owner: NAME of looker credential = store:NAME)",
    LOOKER_CLIENT_SECRET: "Looker API3 client secret (same owner as looker_client_id)",
    DATEV_CLIENT_SECRET: "DATEV app client secret (owner: NAME of oauth client_secret)",
    WEBHOOK_SIGNING_SECRET: "notification webhook signing secret (owner: its store:NAME)",
    SMTP_PASSWORD: "notification e-mail server password (owner: its store:NAME)",
    LOOKER_WEBHOOK_SECRET: "a pipeline's Looker webhook secret (owner: its store:NAME)",
}
