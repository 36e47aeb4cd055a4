"""Dashboards and render tasks of the Looker emulator (``/render_tasks``).

A dashboard (``dashboards.json`` next to ``looks.json``) has a title, named filters, each
bound to a field, and tiles, each a query. ``POST /render_tasks/dashboards/{id}/pdf``
creates a task; every ``GET /render_tasks/{id}`` moves it one status on, through the
spec's ``enqueued_for_query``, ``querying``, ``enqueued_for_render``, ``rendering`` to
``success``; ``/results`` answers 202 with ``Retry-After`` until then, and afterwards
a real PDF (fpdf2) with each tile's rows for the filters given. ``dashboard_filters``
is in URL query format (spec ``CreateDashboardRenderTask``); filter names the
dashboard does not have are ignored, as Looker does with a dashboard URL.

Deviation, stated: the emulator renders ``pdf`` only; ``png``/``jpg`` (the only formats
the spec allows for Looks and queries) are answered 400.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fpdf import FPDF

from ml_connector_sandbox.emulators.looker.dataset import Dataset, DatasetError, Value
from ml_connector_sandbox.emulators.looker.engine import QuerySpec, execute

__all__ = ["Dashboard", "RenderTask", "load_dashboards", "render_pdf"]

#: statuses of the spec's ``RenderTask.status``, in order
STATUSES = ("enqueued_for_query", "querying", "enqueued_for_render", "rendering", "success")


@dataclass(frozen=True)
class Tile:
    """One dashboard element: a title and a query body."""

    title: str
    query: dict[str, Any]


@dataclass(frozen=True)
class Dashboard:
    """A user-defined dashboard: filters by name (bound to a field) and tiles."""

    id: str
    title: str
    filters: dict[str, str]
    tiles: tuple[Tile, ...]


@dataclass
class RenderTask:
    """One render task; ``polls`` status reads move it through :data:`STATUSES`."""

    id: str
    user: str
    dashboard_id: str
    result_format: str
    width: int
    height: int
    dashboard_filters: str
    dashboard_style: str
    polls: int = 0
    created_at: str = ""
    result: bytes | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        return STATUSES[min(self.polls, len(STATUSES) - 1)]

    def body(self) -> dict[str, Any]:
        """The spec's ``RenderTask`` object."""
        return {
            "id": self.id,
            "dashboard_id": self.dashboard_id,
            "dashboard_filters": self.dashboard_filters,
            "dashboard_style": self.dashboard_style,
            "result_format": self.result_format,
            "width": self.width,
            "height": self.height,
            "status": self.status,
            "status_detail": None,
            "created_at": self.created_at,
            "user_id": "1",
            "can": {},
        }


def new_task(user: str, dashboard_id: str, fmt: str, params: dict[str, Any]) -> RenderTask:
    """A fresh task (its id is random, as Looker's are)."""
    return RenderTask(
        id=secrets.token_hex(8), user=user, dashboard_id=dashboard_id, result_format=fmt, **params
    )


def load_dashboards(root: Path, dataset: Dataset) -> dict[str, Dashboard]:
    """``dashboards.json`` of a dataset directory (none if the file is absent)."""
    path = root / "dashboards.json"
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["dashboards"]
        boards = {
            str(d["id"]): Dashboard(
                id=str(d["id"]),
                title=str(d["title"]),
                filters={str(k): str(v) for k, v in d.get("filters", {}).items()},
                tiles=tuple(Tile(str(t["title"]), dict(t["query"])) for t in d["tiles"]),
            )
            for d in raw
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: missing or malformed entry {exc}") from None
    for board in boards.values():
        for tile in board.tiles:
            if dataset.explore(str(tile.query.get("model")), str(tile.query.get("view"))) is None:
                raise DatasetError(f"{path}: dashboard {board.id} tile uses an unknown explore")
    return boards


def _latin1(text: str) -> str:
    """fpdf2's core fonts cover Latin-1; anything else becomes ``?``."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _tile_rows(
    dataset: Dataset, board: Dashboard, tile: Tile, filters: dict[str, str], today: date | None
) -> tuple[list[str], list[list[str]]]:
    query = dict(tile.query)
    query["filters"] = dict(query.get("filters") or {}) | {
        board.filters[name]: value for name, value in filters.items() if name in board.filters
    }
    spec = QuerySpec.from_body(query)
    explore = dataset.explore(spec.model, spec.view)
    assert explore is not None  # checked at load
    result = execute(explore, spec, today=today)
    labels = [f.label for f in result.fields]
    rows = [[_cell(row.get(f.name)) for f in result.fields] for row in result.rows]
    return labels, rows


def render_pdf(
    dataset: Dataset, board: Dashboard, task: RenderTask, today: date | None = None
) -> bytes:
    """The dashboard as a PDF: title, applied filters, one table per tile."""
    filters = dict(parse_qsl(task.dashboard_filters, keep_blank_values=True))
    pdf = FPDF(format="A4")
    pdf.set_creator("Looker emulator")
    pdf.set_title(_latin1(board.title))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, _latin1(board.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    shown = ", ".join(f"{k}: {v}" for k, v in filters.items() if k in board.filters)
    pdf.cell(0, 6, _latin1("Filters: " + (shown or "none")), new_x="LMARGIN", new_y="NEXT")
    for tile in board.tiles:
        labels, rows = _tile_rows(dataset, board, tile, filters, today)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 9, _latin1(tile.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 8)
        with pdf.table(text_align="LEFT") as table:
            for cells in [labels, *rows] if rows else [labels, ["(no rows)"]]:
                line = table.row()
                for cell in cells:
                    line.cell(_latin1(cell))
    return bytes(pdf.output())
