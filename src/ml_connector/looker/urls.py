"""Base URL handling: one full instance URL per customer, HTTPS unless loopback."""

from __future__ import annotations

import ipaddress

import httpx

from ml_connector.errors import ConfigurationError

__all__ = ["api_root", "is_loopback"]

_API_SUFFIXES = ("/api/4.0", "/api/3.1", "/api/3.0", "/api")


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def api_root(base_url: str) -> str:
    """``https://host[:port][/prefix]/api/4.0`` for a Looker instance URL.

    A trailing slash, a path prefix or an ``/api/<version>`` suffix the user pasted do
    not break anything. Plain ``http`` is refused except for loopback hosts, so the
    credentials never cross a network in clear text.
    """
    text = base_url.strip()
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(
            f"Looker base URL {text!r} is not a URL",
            hint="use the full instance URL, e.g. https://company.cloud.looker.com",
        ) from exc
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigurationError(
            f"Looker base URL {text!r} must start with https:// and name a host",
            hint="use the full instance URL, e.g. https://company.cloud.looker.com",
        )
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigurationError(
            f"Looker base URL {text!r} uses plain http on a non-loopback host",
            hint="use https://; plain http is accepted only for 127.0.0.1/localhost",
        )
    if url.query or url.fragment:
        raise ConfigurationError(
            f"Looker base URL {text!r} must not carry a query or fragment",
            hint="use only scheme, host, optional port and optional path prefix",
        )
    path = url.path.rstrip("/")
    for suffix in _API_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    port = f":{url.port}" if url.port else ""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}{port}{path}/api/4.0"
