"""Structured logs: JSON on request, credentials masked even when they slip into a message."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ml_connector.logs import LogFormat, configure_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_extra_fields(restore_root: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    logging.getLogger("ml_connector.engine").info(
        "run finished", extra={"run_id": "run:gl:2026-10", "rows": 63}
    )
    entry = json.loads(out.getvalue().splitlines()[-1])
    assert entry["message"] == "run finished"
    assert entry["level"] == "info"
    assert entry["run_id"] == "run:gl:2026-10"
    assert entry["rows"] == 63


@pytest.mark.parametrize(
    "message",
    [
        "GET /clients failed: Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig",
        "token refresh sent refresh_token=8f7a6b5c4d3e2f1a0b and client_secret=topsecret99",
        "looker said Authorization: token AbCdEf123456789",
        '{"access_token": "zzzzzzzzzzzzzzzz", "expires_in": 900}',
    ],
)
def test_credentials_in_messages_are_masked(restore_root: None, message: str) -> None:
    out = io.StringIO()
    configure_logging("INFO", "text", stream=out)
    logging.getLogger("some.library").warning(message)
    text = out.getvalue()
    for secret in (
        "eyJhbGciOiJSUzI1NiJ9",
        "8f7a6b5c4d3e2f1a0b",
        "topsecret99",
        "AbCdEf1234",
        "zzzz",
    ):
        assert secret not in text
    assert "[redacted]" in text


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_credentials_in_tracebacks_are_masked(restore_root: None, fmt: LogFormat) -> None:
    out = io.StringIO()
    configure_logging("INFO", fmt, stream=out)
    try:
        raise RuntimeError("refresh failed: refresh_token=8f7a6b5c4d3e2f1a0b")
    except RuntimeError:
        logging.getLogger("some.library").exception("call failed")
    text = out.getvalue()
    assert "RuntimeError" in text
    assert "8f7a6b5c4d3e2f1a0b" not in text
    assert "[redacted]" in text


def test_level_filters_records(restore_root: None) -> None:
    out = io.StringIO()
    configure_logging("WARNING", "text", stream=out)
    logging.getLogger("ml_connector").info("quiet")
    logging.getLogger("ml_connector").error("loud")
    assert "quiet" not in out.getvalue()
    assert "loud" in out.getvalue()
