"""Actions (operator and admin): run a period now, replay a run, cancel a queued run.

Each is confirmed on a second page, then queued for the workers the way
``ml-connector run --queue`` does (:mod:`ml_connector.runs.launch`), and written to
the web audit with the user's name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from ml_connector.errors import ConfigurationError
from ml_connector.interfaces.web.context import engine_options, queue_url, sync_settings
from ml_connector.interfaces.web.deps import Principal, require_role, store
from ml_connector.interfaces.web.pages import render
from ml_connector.store.runs import drop_queued_run
from ml_connector.store.transactions import write_transaction
from ml_connector.store.web import record_action

__all__ = ["cancel", "replay", "router", "start"]

router = APIRouter(prefix="/actions", include_in_schema=False)
Operator = Annotated[Principal, Depends(require_role("operator"))]
Confirm = Annotated[str, Form(max_length=3)]


def _confirm(request: Request, what: str, action: str, fields: dict[str, str]) -> Response:
    return render(request, "confirm.html", what=what, action=action, fields=fields)


def start(request: Request, who: Principal, pipeline: str, period: str) -> str:
    """Queue ``pipeline`` for ``period``; audited; the run id."""
    from ml_connector.mapping.period import Period
    from ml_connector.runs.launch import RunAlreadyExistsError, queue_run

    try:
        period = str(Period.parse(period))
    except ValueError as exc:
        raise ConfigurationError(f"period: {exc}", hint="write YYYY-MM") from None
    try:
        run_id = queue_run(sync_settings(request), pipeline, period, engine_options(request))
    except RunAlreadyExistsError as exc:
        raise ConfigurationError(
            f"{pipeline} {period} ran before ({exc.state})",
            hint=f"replay run {exc.run_id} from its page instead",
        ) from None
    record_action(store(request), who.name, "run_start", target=run_id)
    return run_id


def replay(request: Request, who: Principal, run_id: str, only_failed: bool) -> str:
    """Queue a replay of ``run_id``; audited; the new run id."""
    from ml_connector.runs.launch import queue_replay

    new_id = queue_replay(
        sync_settings(request), run_id, engine_options(request), only_failed=only_failed
    )
    detail = "failed files and held rows only" if only_failed else "whole run"
    record_action(
        store(request), who.name, "run_replay", target=run_id, detail=f"{new_id}: {detail}"
    )
    return new_id


def cancel(request: Request, who: Principal, run_id: str) -> None:
    """Take a queued run out of the queue; audited."""
    from ml_connector.engine.runtime import cancel_queued

    if not cancel_queued(queue_url(request), run_id):
        raise ConfigurationError(
            f"run {run_id!r} is not waiting in the queue",
            hint="a run that started cannot be cancelled here; it finishes or fails",
        )
    with write_transaction(store(request)) as conn:
        drop_queued_run(conn, run_id)
    record_action(store(request), who.name, "run_cancel", target=run_id)


@router.post("/start")
def start_form(
    request: Request,
    who: Operator,
    pipeline: Annotated[str, Form(max_length=200)],
    period: Annotated[str, Form(max_length=20)],
    confirm: Confirm = "",
) -> Response:
    """Run ``pipeline`` for ``period`` now (after confirmation)."""
    if confirm != "yes":
        what = f"Run {pipeline} for {period} now? Its bookings go to DATEV."
        return _confirm(request, what, "/actions/start", {"pipeline": pipeline, "period": period})
    run_id = start(request, who, pipeline, period)
    return RedirectResponse(f"/?pipeline={pipeline}&queued={run_id}", status_code=303)


@router.post("/replay")
def replay_form(
    request: Request,
    who: Operator,
    run_id: Annotated[str, Form(max_length=200)],
    only_failed: Annotated[str, Form(max_length=3)] = "no",
    confirm: Confirm = "",
) -> Response:
    """Replay a finished run, or only its failed files and held rows (after confirmation)."""
    only = only_failed == "yes"
    if confirm != "yes":
        scope = "its failed files and held rows" if only else "the whole run"
        what = f"Replay {scope} of {run_id}? Rows DATEV posted already are not sent again."
        fields = {"run_id": run_id, "only_failed": "yes" if only else "no"}
        return _confirm(request, what, "/actions/replay", fields)
    replay(request, who, run_id, only)
    return RedirectResponse("/", status_code=303)


@router.post("/cancel")
def cancel_form(
    request: Request,
    who: Operator,
    run_id: Annotated[str, Form(max_length=200)],
    confirm: Confirm = "",
) -> Response:
    """Cancel a queued run (after confirmation)."""
    if confirm != "yes":
        what = f"Cancel the queued run {run_id}?"
        return _confirm(request, what, "/actions/cancel", {"run_id": run_id})
    cancel(request, who, run_id)
    return RedirectResponse("/", status_code=303)
