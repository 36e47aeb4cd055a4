"""Technical HTTP log of every DATEV API call, as DATEV's approval rules require.

One JSON object per line, one file per UTC day (``datev-http-YYYY-MM-DD.jsonl``),
kept ``retention_days`` (at least 14) and pruned automatically when a new day's
file is started. Recorded: time, API, method, URL path and query, status,
duration, ``X-Global-Transaction-ID``, ``V-Cap-Request-ID``, request id and, for
errors, DATEV's problem summary. Never recorded: headers carrying credentials,
query values named like secrets, request or response bodies (files).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["MIN_RETENTION_DAYS", "HttpLog", "HttpLogEntry"]

#: DATEV requires at least 14 days
MIN_RETENTION_DAYS = 14
_PREFIX = "datev-http-"
_SECRET_WORDS = ("token", "secret", "password", "code", "assertion")


@dataclass(frozen=True, slots=True)
class HttpLogEntry:
    """One request/response pair, without credentials or bodies."""

    api: str
    method: str
    url: str
    status: int | None
    duration_ms: float
    global_transaction_id: str | None = None
    v_cap_request_id: str | None = None
    error: str | None = None


def _scrub_url(url: str) -> str:
    """Drop the scheme/host-independent secret query values (never expected, but be safe)."""
    if "?" not in url:
        return url
    path, query = url.split("?", 1)
    kept = []
    for pair in query.split("&"):
        name = pair.split("=", 1)[0].lower()
        kept.append(f"{name}=***" if any(w in name for w in _SECRET_WORDS) else pair)
    return path + "?" + "&".join(kept)


class HttpLog:
    """Appends :class:`HttpLogEntry` lines to daily files under ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        retention_days: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if retention_days < MIN_RETENTION_DAYS:
            raise ValueError(f"DATEV requires at least {MIN_RETENTION_DAYS} days of HTTP log")
        self.directory = directory
        self.retention_days = retention_days
        self._clock = clock
        self._lock = threading.Lock()
        self._pruned_for: date | None = None

    def file_for(self, day: date) -> Path:
        """The log file of ``day``."""
        return self.directory / f"{_PREFIX}{day.isoformat()}.jsonl"

    def record(self, entry: HttpLogEntry) -> None:
        """Append ``entry`` to today's file (pruning old files once per day)."""
        now = self._clock()
        line: dict[str, Any] = {"ts": now.isoformat(timespec="milliseconds")}
        line.update(
            api=entry.api,
            method=entry.method,
            url=_scrub_url(entry.url),
            status=entry.status,
            duration_ms=round(entry.duration_ms, 1),
            x_global_transaction_id=entry.global_transaction_id,
            v_cap_request_id=entry.v_cap_request_id,
        )
        if entry.error:
            line["error"] = entry.error
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self._pruned_for != now.date():
                self.prune(today=now.date())
                self._pruned_for = now.date()
            with self.file_for(now.date()).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")

    def prune(self, *, today: date | None = None) -> list[Path]:
        """Delete files older than the retention period; returns what was deleted."""
        today = today or self._clock().date()
        oldest = today - timedelta(days=self.retention_days - 1)
        removed: list[Path] = []
        if not self.directory.is_dir():
            return removed
        for path in self.directory.glob(f"{_PREFIX}*.jsonl"):
            try:
                day = date.fromisoformat(path.stem.removeprefix(_PREFIX))
            except ValueError:
                continue
            if day < oldest:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def read(self, day: date) -> list[dict[str, Any]]:
        """The entries of ``day`` (for support and tests)."""
        path = self.file_for(day)
        if not path.exists():
            return []
        return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]
