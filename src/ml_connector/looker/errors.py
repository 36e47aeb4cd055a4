"""Turn Looker HTTP answers into the ml-connector exception tree (never leaking secrets)."""

from __future__ import annotations

import json

import httpx

from ml_connector.errors import (
    ConfigurationError,
    MlConnectorError,
    RateLimitedError,
    RemoteRejectedError,
    RetriableError,
)
from ml_connector.http.retry import RETRIABLE_STATUSES, parse_retry_after

__all__ = ["classify", "is_html", "server_message"]


def is_html(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    if "html" in ctype:
        return True
    head = response.content[:200].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<"))


def server_message(response: httpx.Response, redact: tuple[str, ...] = ()) -> str:
    """The ``message`` of a Looker error body, or a short text excerpt; secrets redacted."""
    text: str
    if is_html(response):
        text = "an HTML page"
    else:
        try:
            body = json.loads(response.content)
            text = str(body.get("message")) if isinstance(body, dict) else response.text
        except (ValueError, RecursionError):
            text = response.text
    # Redact before cutting: a secret cut in half would no longer match.
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:200]


def classify(
    response: httpx.Response, operation: str, redact: tuple[str, ...] = ()
) -> MlConnectorError:
    """The error for a non-successful ``response`` to ``operation``."""
    status = response.status_code
    detail = server_message(response, redact)
    where = f"Looker {operation} answered HTTP {status}: {detail}"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429 or (status == 403 and "rate limit" in detail.lower()):
        return RateLimitedError(where, retry_after=retry_after, status_code=status)
    if status in RETRIABLE_STATUSES or status >= 500:
        return RetriableError(where, retry_after=retry_after, status_code=status)
    if status == 404 and is_html(response):
        return ConfigurationError(
            f"Looker {operation}: HTML 404 page instead of the API",
            hint="check the base URL (self-hosted instances serve the API on port 19999)",
        )
    return RemoteRejectedError(where, status_code=status, detail=detail)
