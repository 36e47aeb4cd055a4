"""Logging set-up: readable text on a terminal, one JSON object per line for servers.

Secrets are typed (``SecretStr``) and never handed to a logger on purpose; as a second
line of defence every record passes :class:`RedactingFilter`, which masks bearer/token
authorisation values and ``*_token=`` / ``client_secret=`` parameters that slipped into a
message (for example inside a third-party library's error text).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Literal

__all__ = ["JsonFormatter", "RedactingFilter", "configure_logging", "tracebacks_at_debug"]

LogFormat = Literal["text", "json"]

_REDACTIONS = (
    re.compile(r"(?i)\b(bearer|token)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)\b(access_token|refresh_token|id_token|client_secret|code_verifier|password)"
        r"([\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"
    ),
)
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _redact(text: str) -> str:
    text = _REDACTIONS[0].sub(lambda m: f"{m.group(1)} [redacted]", text)
    return _REDACTIONS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


class RedactingFilter(logging.Filter):
    """Masks credentials that appear in a record's rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class _TracebacksAtDebug(logging.Filter):
    """A library's traceback is shown only at DEBUG.

    A warning that carries one (a step about to be retried) becomes a debug record;
    an error keeps its line, with the exception's type and message instead of the
    traceback. The command's own output already says what failed and what to do.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info:
            return True
        debug = logging.getLogger().isEnabledFor(logging.DEBUG)
        if record.levelno < logging.ERROR:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return debug
        if not debug:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} {type(error).__name__}: {error}".replace("\n", " ")
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


def tracebacks_at_debug(logger_name: str) -> None:
    """Show ``logger_name``'s tracebacks only at DEBUG (idempotent; see the filter)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _TracebacksAtDebug) for f in logger.filters):
        logger.addFilter(_TracebacksAtDebug())


class _TextFormatter(logging.Formatter):
    """The terminal format; tracebacks are masked like the JSON ``error`` field.

    The whole text is masked, not only :meth:`formatException`: a traceback another
    handler formatted first is cached on the record unmasked and reused from there.
    """

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extra fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["error"] = _redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "WARNING", fmt: LogFormat = "text", stream: IO[str] | None = None
) -> None:
    """Route every ``ml_connector`` (and library) log record to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            _TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_ml_connector", False):
            root.removeHandler(old)
    handler._ml_connector = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
