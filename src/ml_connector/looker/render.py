"""Render tasks: a dashboard rendered to PDF by Looker (``/render_tasks``).

Looker API 4.0 renders dashboards to ``pdf``, ``png`` or ``jpg``; Looks and queries only
to ``png`` or ``jpg`` (``create_look_render_task``: "Output type: png, or jpg"), and a
Look render takes no filters. A period's supporting document is therefore a dashboard
rendered with ``dashboard_filters`` (URL query format) naming the period.

The task is created with ``POST /render_tasks/dashboards/{id}/pdf`` (``width`` and
``height`` required, ``pdf_paper_size``, ``pdf_landscape``, ``long_tables``; body
``{dashboard_filters, dashboard_style}``), polled with ``GET /render_tasks/{id}`` until
``success`` or ``failure`` (statuses ``enqueued_for_query``, ``querying``,
``enqueued_for_render``, ``rendering``), and fetched from ``/render_tasks/{id}/results``
(202 while not ready). Source: the Looker 4.0 OpenAPI spec, ``RenderTask``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from ml_connector.errors import DataError, RemoteRejectedError, RetriableError
from ml_connector.http.polling import poll_delay

if TYPE_CHECKING:
    from ml_connector.looker.client import LookerClient

__all__ = ["PAPER_SIZES", "DashboardRender", "render_dashboard_pdf"]

#: ``pdf_paper_size`` values the spec lists
PAPER_SIZES = ("letter", "legal", "tabloid", "a0", "a1", "a2", "a3", "a4", "a5")
_FAILED = {"failure"}
_DONE = "success"


@dataclass(frozen=True, slots=True)
class DashboardRender:
    """What to render: a dashboard, its filters (by filter name) and the page layout."""

    dashboard_id: str
    filters: Mapping[str, str] = field(default_factory=dict)
    width: int = 1200
    height: int = 1600
    style: Literal["single_column", "tiled"] = "single_column"
    paper_size: str = "a4"
    landscape: bool = False

    def params(self) -> dict[str, str]:
        """Query parameters of ``create_dashboard_render_task``."""
        return {
            "width": str(self.width),
            "height": str(self.height),
            "pdf_paper_size": self.paper_size,
            "pdf_landscape": "true" if self.landscape else "false",
            "long_tables": "true",
        }

    def body(self) -> dict[str, str]:
        """The ``CreateDashboardRenderTask`` body."""
        return {"dashboard_filters": urlencode(dict(self.filters)), "dashboard_style": self.style}


async def render_dashboard_pdf(looker: LookerClient, render: DashboardRender) -> bytes:
    """Render ``render`` to PDF and return its bytes (a result that is not a PDF is refused)."""
    data = await looker._json(
        "POST",
        f"/render_tasks/dashboards/{render.dashboard_id}/pdf",
        "create_dashboard_render_task",
        params=render.params(),
        json_body=render.body(),
    )
    task_id = str(data["id"])
    await _wait(looker, task_id)
    content = await _results(looker, task_id)
    if not content.startswith(b"%PDF-"):
        raise DataError(
            f"Looker render task {task_id} did not return a PDF",
            location=f"dashboard {render.dashboard_id}",
        )
    return content


async def _wait(looker: LookerClient, task_id: str) -> None:
    started = time.monotonic()
    for polls in itertools.count(1):
        data = await looker._json("GET", f"/render_tasks/{task_id}", "render_task")
        status = str(data.get("status"))
        if status == _DONE:
            return
        if status in _FAILED:
            raise RemoteRejectedError(
                f"Looker render task ended with status {status!r}",
                status_code=None,
                detail=str(data.get("status_detail") or status),
            )
        if looker.poll.exhausted(polls, time.monotonic() - started):
            raise RetriableError(f"Looker render task still {status!r} after the poll budget")
        await asyncio.sleep(poll_delay(polls, looker.poll))


async def _results(looker: LookerClient, task_id: str) -> bytes:
    started = time.monotonic()
    for polls in itertools.count(1):
        resp = await looker._send(
            "GET", f"/render_tasks/{task_id}/results", "render_task_results", accept=(200, 202)
        )
        if resp.status_code == 200:
            return resp.content
        if looker.poll.exhausted(polls, time.monotonic() - started):
            raise RetriableError("Looker render task results not ready within the poll budget")
        await asyncio.sleep(poll_delay(polls, looker.poll))
    raise AssertionError("unreachable")  # pragma: no cover
