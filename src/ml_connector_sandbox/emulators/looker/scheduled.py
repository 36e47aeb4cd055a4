"""Scheduled plans with webhook destinations, delivered the way Looker delivers them.

Sources: the spec's ``ScheduledPlan`` / ``ScheduledPlanDestination`` schemas and the
``create_scheduled_plan``, ``scheduled_plan``, ``scheduled_plan_run_once`` and
``scheduled_plan_run_once_by_id`` operations (openapi/Looker.4.0.oas.json), and the
researched note on Looker's API, section 6 "Push alternatives" (required fields, the
webhook payload, HTTPS only for webhooks).

What is checked, as Looker checks it: a plan needs ``name``; exactly one of
``look_id`` / ``query_id`` / ``dashboard_id`` / ``lookml_dashboard_id``; ``crontab`` or
``datagroup`` unless it runs once; at least one destination; a webhook ``address``
that is an ``https://`` URL (Looker requires a valid certificate). The emulator option
``allow_http_webhooks`` lifts only the last rule, for receivers on loopback in tests.
The emulator has no dashboards, so a dashboard plan names an unknown dashboard (404).

The webhook body (note section 6): ``{type: "query", scheduled_plan: {scheduled_plan_id,
title, type: "Look"|"Query", url, query_id, query, filters_differ_from_look,
download_url}, attachment: {mimetype, extension, data}, data, form_params}``; text
formats travel as raw text, ``xlsx`` as Base64 with a ``;base64`` mimetype, and
``inline_json`` puts the rows, as JSON text, into ``data`` instead of an attachment.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ATTACHMENT_FORMATS",
    "Delivery",
    "PlanProblem",
    "check_plan",
    "plan_body",
    "webhook_payload",
]

#: formats a webhook destination can carry for a Look or query (spec: format)
ATTACHMENT_FORMATS = frozenset({"json", "json_detail", "csv", "txt", "xlsx", "inline_json"})
DESTINATION_TYPES = frozenset({"email", "webhook", "s3", "sftp"})
_SOURCES = ("look_id", "query_id", "dashboard_id", "lookml_dashboard_id")
_WRITABLE = {
    "name", "user_id", "run_as_recipient", "enabled", "look_id", "dashboard_id",
    "lookml_dashboard_id", "filters_string", "dashboard_filters", "require_results",
    "require_no_results", "require_change", "send_all_results", "crontab", "datagroup",
    "timezone", "scheduled_plan_destination", "run_once", "include_links", "query_id",
    "include_dashboard_summary", "custom_url_base", "custom_url_params", "custom_url_label",
    "show_custom_url", "pdf_paper_size", "pdf_landscape", "embed", "color_theme",
    "long_tables", "pdf_page_breaks", "tab_ids", "inline_table_width",
}  # fmt: skip


@dataclass(frozen=True)
class PlanProblem:
    """Why a plan is refused: a 422 field error, or a 404 for an unknown source."""

    field: str
    message: str
    status: int = 422


@dataclass
class Delivery:
    """One webhook delivery attempt, as sent (tests replay ``body`` to test idempotency)."""

    plan_id: str
    address: str
    body: bytes
    status_code: int | None = None
    error: str | None = None


def _destination_problem(index: int, dest: dict[str, Any], http_ok: bool) -> PlanProblem | None:
    where = f"scheduled_plan_destination[{index}]"
    kind = dest.get("type")
    if kind not in DESTINATION_TYPES:
        return PlanProblem(f"{where}.type", "must be one of email, webhook, s3, sftp")
    if not dest.get("address"):
        return PlanProblem(f"{where}.address", "is required")
    if kind != "webhook":
        return None
    parts = urlsplit(str(dest["address"]))
    schemes = {"https", "http"} if http_ok else {"https"}
    if parts.scheme not in schemes or not parts.hostname:
        return PlanProblem(f"{where}.address", "must be an https:// URL for a webhook")
    fmt = dest.get("format") or "json"
    if fmt not in ATTACHMENT_FORMATS:
        return PlanProblem(f"{where}.format", f"format {fmt!r} is not available for a Look")
    return None


def check_plan(
    plan: dict[str, Any], *, run_once: bool, known_looks: set[str], http_ok: bool
) -> PlanProblem | None:
    """The first reason Looker would refuse ``plan``, or ``None``."""
    if not plan.get("name"):
        return PlanProblem("name", "is required")
    sources = [key for key in _SOURCES if plan.get(key)]
    if len(sources) != 1:
        return PlanProblem("look_id", "exactly one of look_id, query_id, dashboard_id is required")
    if sources[0] in {"dashboard_id", "lookml_dashboard_id"}:
        return PlanProblem(sources[0], "Not found", status=404)
    if sources[0] == "look_id" and str(plan["look_id"]) not in known_looks:
        return PlanProblem("look_id", "Not found", status=404)
    once = run_once or plan.get("run_once")
    if not once and not (plan.get("crontab") or plan.get("datagroup")):
        return PlanProblem("crontab", "crontab or datagroup is required")
    destinations = plan.get("scheduled_plan_destination") or []
    if not destinations:
        return PlanProblem("scheduled_plan_destination", "at least one destination is required")
    for index, dest in enumerate(destinations):
        problem = _destination_problem(index, dest, http_ok)
        if problem is not None:
            return problem
    return None


def plan_body(plan: dict[str, Any], plan_id: str, *, title: str | None) -> dict[str, Any]:
    """The stored plan as ``ScheduledPlan``: writable fields, ids, no secret parameters."""
    body = {key: value for key, value in plan.items() if key in _WRITABLE}
    body["scheduled_plan_destination"] = [
        {k: v for k, v in dest.items() if k != "secret_parameters"}
        | {"id": f"{plan_id}-{i + 1}", "scheduled_plan_id": plan_id}
        for i, dest in enumerate(plan.get("scheduled_plan_destination") or [])
    ]
    body.update(
        id=plan_id,
        title=title,
        enabled=plan.get("enabled", True),
        run_once=bool(plan.get("run_once", False)),
        send_all_results=bool(plan.get("send_all_results", False)),
        next_run_at=None,
        last_run_at=None,
        can={"show": True, "update": True, "destroy": True},
    )
    return body


def webhook_payload(
    plan: dict[str, Any],
    *,
    base_url: str,
    query: dict[str, Any],
    fmt: str,
    result: bytes,
    content_type: str,
) -> bytes:
    """The JSON body Looker POSTs to a webhook destination for a Look or query plan."""
    look_id = plan.get("look_id")
    attachment: dict[str, Any] | None = None
    data: str | None = None
    if fmt == "inline_json":
        data = result.decode()
    elif fmt == "xlsx":
        attachment = {
            "mimetype": f"{content_type};base64",
            "extension": fmt,
            "data": base64.b64encode(result).decode("ascii"),
        }
    else:
        attachment = {"mimetype": content_type, "extension": fmt, "data": result.decode()}
    body = {
        "type": "query",
        "scheduled_plan": {
            "scheduled_plan_id": plan["id"],
            "title": plan.get("title") or plan.get("name"),
            "type": "Look" if look_id else "Query",
            "url": f"{base_url}/looks/{look_id}" if look_id else f"{base_url}/x/{query['slug']}",
            "query_id": query["id"],
            "query": query,
            "filters_differ_from_look": bool(plan.get("filters_string")),
            "download_url": None,
        },
        "attachment": attachment,
        "data": data,
        "form_params": {},
    }
    return json.dumps(body).encode()
