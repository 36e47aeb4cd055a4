"""Looker API 4.0 client: login, Looks, inline queries, async query tasks, chunked extracts."""

from ml_connector.looker.client import CallStats, LookerClient, QueryResult
from ml_connector.looker.extract import Extraction, ExtractReport, Partition
from ml_connector.looker.query import InlineQuery
from ml_connector.looker.render import DashboardRender, render_dashboard_pdf
from ml_connector.looker.rows import Row, filter_literal
from ml_connector.looker.urls import api_root

__all__ = [
    "CallStats",
    "DashboardRender",
    "ExtractReport",
    "Extraction",
    "InlineQuery",
    "LookerClient",
    "Partition",
    "QueryResult",
    "Row",
    "api_root",
    "filter_literal",
    "render_dashboard_pdf",
]
