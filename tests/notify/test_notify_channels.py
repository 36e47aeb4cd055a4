"""Notifications: webhook (with retries and signature) and e-mail through a local SMTP sink."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector.engine.ports import RunOutcome, RunSpec
from ml_connector.notify import EmailTarget, Notifier, NotifyConfig, WebhookTarget
from ml_connector.notify.webhook import SIGNATURE_HEADER
from ml_connector_sandbox.emulators._server import ServerHandle, serve_in_thread

SPEC = RunSpec("gl", "acme", "455148-10001", "2026-10")


def _outcome(state: str, error_kind: str | None = None) -> RunOutcome:
    return RunOutcome(
        run_id="run:gl:2026-10",
        spec=SPEC,
        state=state,  # type: ignore[arg-type]
        rows_read=10,
        rows_rejected=1,
        jobs_succeeded=1,
        jobs_failed=1,
        error="DATEV grant revoked" if error_kind else None,
        error_kind=error_kind,
    )


@dataclass
class Receiver:
    """Webhook receiver: answers the queued statuses first, then 200."""

    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        self.headers.append(dict(request.headers))
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"ok": status < 400}, status_code=status)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ServerHandle]]:
    state = Receiver()
    app = Starlette(routes=[Route("/hook", state.hook, methods=["POST"])])
    with serve_in_thread(app) as server:
        yield state, server


async def test_webhook_is_retried_signed_and_carries_the_outcome(
    receiver: tuple[Receiver, ServerHandle],
) -> None:
    state, server = receiver
    state.statuses = [503, 429]
    config = NotifyConfig(
        webhooks=[WebhookTarget(url=f"{server.url}/hook?token=abc", secret=SecretStr("s3cret"))]
    )
    deliveries = await Notifier({"acme": config})(_outcome("partial"))
    assert [(d.channel, d.ok) for d in deliveries] == [("webhook", True)]
    assert "token" not in deliveries[0].target
    assert len(state.bodies) == 3
    body = state.bodies[-1]
    payload = json.loads(body)
    assert payload["type"] == "ml-connector.run.partial"
    assert (payload["run_id"], payload["jobs_failed"], payload["datev_client"]) == (
        "run:gl:2026-10",
        1,
        "455148-10001",
    )
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert state.headers[-1][SIGNATURE_HEADER.lower()] == expected


async def test_webhook_target_names_the_host_without_user_info() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    url = "https://bot:pa55word@hooks.example.com:8443/hook?token=abc"
    config = NotifyConfig(webhooks=[WebhookTarget(url=url)])
    notifier = Notifier({"acme": config}, transport=httpx.MockTransport(answer))
    deliveries = await notifier(_outcome("partial"))
    assert [(d.target, d.ok) for d in deliveries] == [("hooks.example.com:8443", True)]


def test_webhook_target_repr_hides_url_and_headers() -> None:
    target = WebhookTarget(
        url="https://hooks.example.com/services/T0/B0/tok3n",
        headers={"Authorization": "Bearer h3ader"},
        secret=SecretStr("s3cret"),
    )
    text = repr(target)
    assert "tok3n" not in text
    assert "h3ader" not in text
    assert "s3cret" not in text


async def test_rejected_webhook_is_not_retried_and_reported(
    receiver: tuple[Receiver, ServerHandle],
) -> None:
    state, server = receiver
    state.statuses = [400]
    config = NotifyConfig(webhooks=[WebhookTarget(url=f"{server.url}/hook")])
    [delivery] = await Notifier({"acme": config})(_outcome("failed"))
    assert not delivery.ok
    assert "400" in (delivery.error or "")
    assert len(state.bodies) == 1


async def test_success_and_unsubscribed_events_send_nothing(
    receiver: tuple[Receiver, ServerHandle],
) -> None:
    state, server = receiver
    config = NotifyConfig(
        on=frozenset({"failure"}), webhooks=[WebhookTarget(url=f"{server.url}/hook")]
    )
    notifier = Notifier({"acme": config})
    assert await notifier(_outcome("succeeded")) == []
    assert await notifier(_outcome("partial")) == []
    assert await Notifier({"other": config})(_outcome("failed")) == []
    assert state.bodies == []


class SmtpSink(socketserver.ThreadingTCPServer):
    """The smallest SMTP server smtplib talks to: EHLO, AUTH PLAIN, MAIL, RCPT, DATA."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.messages: list[tuple[str, list[str], Message]] = []
        self.logins: list[tuple[str, str]] = []


class SmtpHandler(socketserver.StreamRequestHandler):
    server: SmtpSink

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        self.reply("220 sink ESMTP")
        sender, recipients = "", []
        while raw := self.rfile.readline():
            command = raw.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-sink")
                self.reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                self.server.logins.append((user, password))
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                sender = command.split(":", 1)[1].strip().split()[0].strip("<>")
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                lines = []
                while (line := self.rfile.readline().decode()) not in (".\r\n", ""):
                    lines.append(line[1:] if line.startswith("..") else line)
                self.server.messages.append(
                    (sender, recipients, email.message_from_string("".join(lines)))
                )
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    yield sink
    sink.shutdown()
    sink.server_close()


async def test_email_reaches_every_recipient_with_login(smtp_sink: SmtpSink) -> None:
    target = EmailTarget(
        host="127.0.0.1",
        port=smtp_sink.server_address[1],
        starttls=False,
        username="robot",
        password=SecretStr("pw"),
        sender="ml-connector@example.com",
        recipients=["fibu@acme.example", "steuerberater@example.com"],
    )
    [delivery] = await Notifier({"acme": NotifyConfig(emails=[target])})(
        _outcome("needs_user", "ReconsentRequiredError")
    )
    assert delivery.ok, delivery.error
    [(sender, recipients, message)] = smtp_sink.messages
    assert sender == "ml-connector@example.com"
    assert recipients == ["fibu@acme.example", "steuerberater@example.com"]
    assert message["Subject"] == (
        "[ml-connector] DATEV access must be granted again: gl 2026-10 (acme)"
    )
    assert "datev login" in message.get_payload()
    assert smtp_sink.logins == [("robot", "pw")]


async def test_starttls_refused_by_the_server_is_a_failed_delivery(smtp_sink: SmtpSink) -> None:
    target = EmailTarget(
        host="127.0.0.1",
        port=smtp_sink.server_address[1],
        starttls=True,
        sender="ml-connector@example.com",
        recipients=["fibu@acme.example"],
    )
    [delivery] = await Notifier({"acme": NotifyConfig(emails=[target])})(_outcome("failed"))
    assert not delivery.ok
    assert "STARTTLS" in (delivery.error or "")
    assert smtp_sink.messages == []
