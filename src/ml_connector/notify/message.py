"""The content of a notification, built from a run's outcome."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ml_connector.engine.ports import RunOutcome
from ml_connector.notify.config import EventKind

__all__ = ["Notification", "notification_for"]

_TITLES: dict[str, str] = {
    "failure": "run failed",
    "partial": "run partly failed",
    "reconsent": "DATEV access must be granted again",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """What a webhook receives as JSON and an e-mail says in words."""

    event: EventKind
    customer: str
    pipeline: str
    period: str
    datev_client: str
    run_id: str
    state: str
    rows_read: int
    rows_rejected: int
    jobs_succeeded: int
    jobs_failed: int
    error: str | None
    action: str
    warnings: tuple[str, ...] = ()
    rows_unassigned: int = 0
    #: the audit chain head after the run (``audit verify --anchor`` accepts it)
    audit_anchor: dict[str, Any] | None = None

    @property
    def title(self) -> str:
        """One-line subject."""
        return f"{_TITLES[self.event]}: {self.pipeline} {self.period} ({self.customer})"

    def as_json(self) -> dict[str, Any]:
        """The webhook body."""
        return {"type": f"ml-connector.run.{self.event}", **asdict(self)}

    def as_text(self) -> str:
        """The e-mail body."""
        lines = [
            self.title,
            "",
            f"Run:           {self.run_id}",
            f"DATEV client:  {self.datev_client}",
            f"State:         {self.state}",
            f"Rows read:     {self.rows_read} ({self.rows_rejected} rejected)",
            f"DATEV jobs:    {self.jobs_succeeded} accepted, {self.jobs_failed} failed",
        ]
        if self.error:
            lines.append(f"Error:         {self.error}")
        for warning in self.warnings:
            lines.append(f"Warning:       {warning}")
        lines += ["", f"What to do: {self.action}"]
        if self.audit_anchor:
            lines += ["", "Audit anchor (keep it; `ml-connector audit verify --anchor FILE`):"]
            lines.append(json.dumps(self.audit_anchor, sort_keys=True))
        return "\n".join(lines) + "\n"


def notification_for(outcome: RunOutcome) -> Notification | None:
    """The notification an outcome calls for, or None (a successful run)."""
    if outcome.state == "partial":
        event: EventKind = "partial"
        action = "check the rejected files, then 'ml-connector replay RUN --only-failed'"
    elif outcome.state == "succeeded" and outcome.rows_rejected:
        event = "partial"
        action = (
            f"{outcome.rows_rejected} row(s) were held back (see the run's held.jsonl or "
            "'ml-connector audit export'); correct the mapping or the data, then "
            "'ml-connector replay RUN'"
        )
    elif outcome.state == "succeeded" and outcome.warnings:
        event = "partial"
        action = "read the warnings; correct the data in Looker, then 'ml-connector replay RUN'"
    elif outcome.state == "needs_user" and outcome.error_kind == "ReconsentRequiredError":
        event = "reconsent"
        action = "log in to DATEV again ('ml-connector datev login'), then replay the run"
    elif outcome.state in ("failed", "needs_user"):
        event = "failure"
        action = "read the error, fix the cause, then 'ml-connector replay RUN'"
    else:
        return None
    spec = outcome.spec
    return Notification(
        event=event,
        customer=spec.customer,
        pipeline=spec.pipeline,
        period=spec.period,
        datev_client=spec.datev_client,
        run_id=outcome.run_id,
        state=outcome.state,
        rows_read=outcome.rows_read,
        rows_rejected=outcome.rows_rejected,
        jobs_succeeded=outcome.jobs_succeeded,
        jobs_failed=outcome.jobs_failed,
        error=outcome.error,
        action=action,
        warnings=outcome.warnings,
        rows_unassigned=outcome.rows_unassigned,
        audit_anchor=None if outcome.audit_anchor is None else dict(outcome.audit_anchor),
    )
