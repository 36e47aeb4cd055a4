"""E-mail delivery through SMTP (``smtplib``), optionally over STARTTLS or SMTPS."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from ml_connector.notify.config import EmailTarget
from ml_connector.notify.message import Notification

__all__ = ["build_message", "send_email"]


def build_message(target: EmailTarget, note: Notification) -> EmailMessage:
    """The e-mail for ``note``."""
    message = EmailMessage()
    message["Subject"] = f"[ml-connector] {note.title}"
    message["From"] = target.sender
    message["To"] = ", ".join(target.recipients)
    message.set_content(note.as_text())
    return message


def send_email(target: EmailTarget, note: Notification) -> None:
    """Send ``note`` to the target's recipients (blocking; raises on SMTP errors)."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if target.ssl:
        smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout, context=context)
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
    with smtp:
        smtp.ehlo()
        if target.starttls and not target.ssl:
            smtp.starttls(context=context)
            smtp.ehlo()
        if target.username:
            password = target.password.get_secret_value() if target.password else ""
            smtp.login(target.username, password)
        smtp.send_message(build_message(target, note))
