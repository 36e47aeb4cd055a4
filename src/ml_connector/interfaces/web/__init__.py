"""The operator web app and REST API (``ml-connector serve``).

Server-rendered pages (Jinja2) and ``/api/v1`` on FastAPI, on the same store as the
command line; see :mod:`ml_connector.interfaces.web.app` for how areas are added.
"""

from __future__ import annotations

from ml_connector.interfaces.web.app import create_app
from ml_connector.interfaces.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
