"""Notification settings of one customer (pydantic models; secrets are ``SecretStr``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["EmailTarget", "EventKind", "NotifyConfig", "WebhookTarget"]

EventKind = Literal["failure", "partial", "reconsent"]


class WebhookTarget(BaseModel):
    """A URL that receives a JSON POST per notification.

    With ``secret`` set, the body is signed: header ``X-ML-Connector-Signature:
    sha256=<hex HMAC-SHA256 of the body>``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: kept out of the repr: a webhook URL's path or query often is the credential
    url: str = Field(repr=False)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    secret: SecretStr | None = None
    timeout: float = 10.0


class EmailTarget(BaseModel):
    """An SMTP server and the recipients of one customer's notifications."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = 587
    #: upgrade the connection with STARTTLS before logging in (port 587)
    starttls: bool = True
    #: connect with TLS from the start (SMTPS, port 465)
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    recipients: list[str] = Field(min_length=1)
    timeout: float = 30.0


class NotifyConfig(BaseModel):
    """Where one customer's notifications go, and for which events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on: frozenset[EventKind] = frozenset({"failure", "partial", "reconsent"})
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    emails: list[EmailTarget] = Field(default_factory=list)
