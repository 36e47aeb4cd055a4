"""One TLS context per process for every HTTPS client.

Building an ``httpx.AsyncClient`` with ``verify=True`` builds a new TLS context (the CA
bundle is parsed each time), which costs more CPU than a small DATEV call; the clients
of a step (DATEV API, token endpoint, Looker) take :func:`tls_context` instead. A
context holds no connection and no per-customer state, so sharing it crosses neither
event loops nor customers; the clients themselves still live for one step.
"""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context for verified HTTPS (httpx's defaults: its CA bundle,
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured)."""
    return httpx.create_ssl_context()
