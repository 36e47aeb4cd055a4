"""What the web app is started with (``ml-connector serve`` options)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["WebSettings"]


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Where the app's data lives and how it is reached.

    ``public_url`` is the address users type (behind a reverse proxy, the proxy's);
    when it is ``https://`` cookies are ``Secure`` and HSTS is sent.
    """

    data_dir: Path
    store_url: str | None = None
    config_path: Path | None = None
    public_url: str | None = None
    session_hours: float = 12.0
    #: failed logins per client address or user name before a pause (counted in the store)
    login_attempts: int = 5
    login_window_seconds: float = 900.0
    system_db_url: str | None = None
    looker_url: str | None = None
    datev_url: str | None = None

    @property
    def https(self) -> bool:
        """Whether users reach the app over HTTPS."""
        return (self.public_url or "").lower().startswith("https://")
