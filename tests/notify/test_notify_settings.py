"""Notifications configured per customer in the TOML file, secrets only by reference."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.config.loader import ConfigFileError, parse_config
from ml_connector.credentials.resolve import resolve_secret as resolve_reference
from ml_connector.engine.ports import RunOutcome, RunSpec
from ml_connector.errors import ConfigurationError
from ml_connector.examples import demo_config_path
from ml_connector.notify.settings import notifier_for
from ml_connector.notify.webhook import SIGNATURE_HEADER
from ml_connector_sandbox.emulators._server import ServerHandle, serve_in_thread


def _config_text(notify: str) -> str:
    text = demo_config_path().read_text(encoding="utf-8")
    marker = 'name = "Meridian Consulting GmbH"\n'
    assert marker in text
    return text.replace(marker, marker + "\n" + notify + "\n", 1)


@pytest.fixture
def hook_server() -> Iterator[tuple[list[tuple[bytes, str]], ServerHandle]]:
    received: list[tuple[bytes, str]] = []

    async def hook(request: Request) -> Response:
        received.append((await request.body(), request.headers.get(SIGNATURE_HEADER, "")))
        return Response(status_code=204)

    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        yield received, server


async def test_a_failed_run_reaches_the_configured_webhook_signed(
    hook_server: tuple[list[tuple[bytes, str]], ServerHandle],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received, server = hook_server
    monkeypatch.setenv("MERIDIAN_HOOK_SECRET", "hook-signing-key")
    notify = (
        "[customers.meridian.notify]\n"
        'on = ["failure"]\n'
        "[[customers.meridian.notify.webhooks]]\n"
        f'url = "{server.url}/hook"\n'
        'signing_secret = "env:MERIDIAN_HOOK_SECRET"\n'
    )
    loaded = parse_config(_config_text(notify), path=demo_config_path())
    notifier = notifier_for(loaded.model, store=None)

    spec = RunSpec("gl-monthly", "meridian", "29098-55003", "2026-10")
    await notifier(RunOutcome(run_id="run:gl-monthly:2026-10", spec=spec, state="failed"))
    await notifier(RunOutcome(run_id="run:gl-monthly:2026-09", spec=spec, state="partial"))

    assert len(received) == 1, "only the subscribed event (failure) is sent"
    body, signature = received[0]
    expected = hmac.new(b"hook-signing-key", body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert b"run:gl-monthly:2026-10" in body


def test_an_inline_password_is_refused_with_a_pointer_to_the_key() -> None:
    notify = (
        "[[customers.meridian.notify.emails]]\n"
        'host = "smtp.example.com"\n'
        'password = "hunter2"\n'
        'sender = "connector@example.com"\n'
        'recipients = ["finance@example.com"]\n'
    )
    with pytest.raises(ConfigFileError) as info:
        parse_config(_config_text(notify), path=demo_config_path())
    text = str(info.value)
    assert "customers.meridian.notify.emails" in text
    assert "hunter2" not in text


def test_missing_referenced_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="export SMTP_PASS"):
        resolve_reference("env:SMTP_PASS", kind="smtp_password", store=None, environ={})
    assert resolve_reference(
        "env:SMTP_PASS", kind="smtp_password", store=None, environ={"SMTP_PASS": "x"}
    ) == SecretStr("x")


def test_store_reference_reads_the_credential_store(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    from ml_connector.credentials import CredentialStore, SecretCipher
    from ml_connector.store.db import make_engine, migrate, sqlite_url

    engine = make_engine(sqlite_url(tmp_path))
    migrate(engine)
    store = CredentialStore(engine, SecretCipher([Fernet.generate_key()]))
    store.put("meridian", "smtp_password", SecretStr("pw"))
    secret = resolve_reference("store:meridian", kind="smtp_password", store=store)
    assert secret.get_secret_value() == "pw"


def test_held_rows_are_a_partial_success_worth_a_notification() -> None:
    from ml_connector.notify import notification_for

    spec = RunSpec("gl-monthly", "meridian", "29098-55003", "2025-12")
    clean = RunOutcome(run_id="r", spec=spec, state="succeeded", rows_read=63)
    assert notification_for(clean) is None
    held = RunOutcome(run_id="r", spec=spec, state="succeeded", rows_read=64, rows_rejected=1)
    note = notification_for(held)
    assert note is not None
    assert note.event == "partial"
    assert "held back" in note.action
