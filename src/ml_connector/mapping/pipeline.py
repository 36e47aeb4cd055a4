"""Everything a run does before talking to DATEV, as one pure function: :func:`prepare_run`.

Given the configuration, a pipeline, a period and the Looker rows (plus optionally the
control totals and what was posted before), it maps, validates, ties out and plans
restatements, and says whether the batch may be sent.  The dry run writes what this
returns; the real run submits ``lines`` under ``header`` only when ``ready`` is True.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from ml_connector.config.loader import LoadedConfig
from ml_connector.config.models import Pipeline, Source
from ml_connector.extf.models import BatchHeader, BookingLine
from ml_connector.mapping.lookups import normalise_key
from ml_connector.mapping.mapper import LineChecker, MappedRow, Rejection, RowMapper, RowOutcome
from ml_connector.mapping.period import Period
from ml_connector.mapping.restatement import (
    ChangeKind,
    PostedRecord,
    RestatementPlan,
    plan_restatement,
)
from ml_connector.mapping.rows import to_jsonable
from ml_connector.mapping.tieout import TieOutReport, tie_out

__all__ = ["PreparedRun", "batch_header", "prepare_run", "rows_in_period"]

_LABEL_CHARS = re.compile(r"[^\w.\-/ ]")


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """The outcome of :func:`prepare_run`; ``ready`` says whether it may be sent."""

    pipeline: str
    customer: str
    period: Period
    header: BatchHeader
    outcomes: tuple[RowOutcome, ...]
    plan: RestatementPlan
    tie_out: TieOutReport
    reject_policy: str
    channel: str
    rows_total: int
    rows_other_periods: int
    blockers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ready(self) -> bool:
        return not self.blockers

    @property
    def mapped(self) -> tuple[MappedRow, ...]:
        return tuple(o for o in self.outcomes if isinstance(o, MappedRow))

    @property
    def rejections(self) -> tuple[Rejection, ...]:
        return tuple(o for o in self.outcomes if isinstance(o, Rejection))

    @property
    def held(self) -> tuple[Rejection, ...]:
        """Rejected rows to hold for correction and replay (``hold_rejected`` policy)."""
        return self.rejections if self.reject_policy == "hold_rejected" else ()

    @property
    def lines(self) -> tuple[BookingLine, ...]:
        """The lines to submit (reversals first), empty when the run is blocked."""
        return self.plan.lines if self.ready else ()

    def report(self) -> dict[str, object]:
        """A JSON-ready report of the run (amounts as exact decimal text)."""
        rejections = [
            {
                "row": r.index + 1,
                "row_key": r.row_key,
                "reason": r.reason.value,
                "field": r.field,
                "message": r.message,
                "value": to_jsonable(r.value) if r.value is not None else None,
            }
            for r in self.rejections
        ]
        groups = [
            {
                "group": list(g.key),
                "looker_amount": to_jsonable(g.looker_amount),
                "looker_count": g.looker_count,
                "booked_amount": to_jsonable(g.booked_amount),
                "booked_count": g.booked_count,
                "held_amount": to_jsonable(g.held_amount),
                "held_count": g.held_count,
                "ok": g.ok,
                "problem": g.problem,
            }
            for g in self.tie_out.groups
        ]
        counts = {kind.value: self.plan.count(kind) for kind in ChangeKind}
        return {
            "pipeline": self.pipeline,
            "customer": self.customer,
            "channel": self.channel,
            "period": str(self.period),
            "client_id": self.header.client_id,
            "ready": self.ready,
            "blockers": list(self.blockers),
            "reject_policy": self.reject_policy,
            "restatement_mode": self.plan.mode,
            "rows": {
                "extracted": self.rows_total,
                "other_periods": self.rows_other_periods,
                "mapped": len(self.mapped),
                "rejected": len(self.rejections),
                "held": len(self.held),
            },
            "lines": {
                "to_post": len(self.plan.lines),
                "reversals": sum(len(c.reversal) for c in self.plan.changes if c.applied),
            },
            "changes": counts,
            "tie_out": {
                "ok": self.tie_out.ok,
                "totals_checked": self.tie_out.totals_checked,
                "balanced_checked": self.tie_out.balanced_checked,
                "debit_total": to_jsonable(self.tie_out.debit_total),
                "credit_total": to_jsonable(self.tie_out.credit_total),
                "problems": list(self.tie_out.problems),
                "groups": groups,
            },
            "rejections": rejections,
        }

    def summary(self) -> str:
        """A few lines for people."""
        state = "READY" if self.ready else "BLOCKED"
        lines = [
            f"{self.pipeline} {self.period} -> DATEV {self.header.client_id}: {state}",
            f"  rows: {self.rows_total} extracted, {self.rows_other_periods} of other periods, "
            f"{len(self.mapped)} mapped, {len(self.rejections)} rejected"
            + (f" ({len(self.held)} held)" if self.held else ""),
            f"  changes: {self.plan.count(ChangeKind.NEW)} new, "
            f"{self.plan.count(ChangeKind.CHANGED)} changed, "
            f"{self.plan.count(ChangeKind.GONE)} gone, "
            f"{self.plan.count(ChangeKind.UNCHANGED)} unchanged"
            + (f" (mode {self.plan.mode})" if self.plan.mode == "append_only" else ""),
            f"  lines to post: {len(self.plan.lines)}",
            "  tie-out: "
            + ("ok" if self.tie_out.ok else "FAILED")
            + (
                f" ({len(self.tie_out.groups)} groups against Looker totals)"
                if self.tie_out.totals_checked
                else " (no Looker totals configured)"
            ),
        ]
        for problem in self.tie_out.problems[:10]:
            lines.append(f"    - {problem}")
        for rejection in self.rejections[:10]:
            where = f"row {rejection.index + 1} [{rejection.row_key}]"
            lines.append(f"  rejected {where}: {rejection.describe()}")
        if len(self.rejections) > 10:
            lines.append(f"  ... and {len(self.rejections) - 10} more rejections")
        for blocker in self.blockers:
            lines.append(f"  blocked: {blocker}")
        return "\n".join(lines)


def _period_of(value: object) -> Period | None:
    if isinstance(value, datetime | date):
        return Period.of(value)
    if value is None:
        return None
    try:
        return Period.parse(normalise_key(value)[:7])
    except ValueError:
        return None


def rows_in_period(
    rows: Iterable[Mapping[str, object]], source: Source, period: Period
) -> tuple[list[Mapping[str, object]], int]:
    """Rows of ``period`` by the source's ``period_field`` (all rows when it is unset),
    and how many were left out."""
    if source.period_field is None:
        kept = list(rows)
        return kept, 0
    kept = []
    other = 0
    for row in rows:
        row_period = _period_of(row.get(source.period_field))
        if row_period is None or row_period == period:
            kept.append(row)
        else:
            other += 1
    return kept, other


def batch_header(
    config: LoadedConfig, pipeline_name: str, period: Period, now: datetime
) -> BatchHeader:
    """The EXTF header of the pipeline's batch for ``period``."""
    pipeline = config.pipeline(pipeline_name)
    datev = config.model.customers[pipeline.customer].datev
    label = pipeline.batch_label or pipeline_name
    label = _LABEL_CHARS.sub("", f"{label} {period}")[:30].strip()
    return BatchHeader(
        beraternummer=datev.consultant_number,
        mandantennummer=datev.client_number,
        wj_beginn=period.fiscal_year_start(datev.fiscal_year_start_month),
        sachkontenlaenge=datev.account_length,
        datum_vom=period.start,
        datum_bis=period.end,
        festschreibung=datev.festschreibung,
        skr=datev.skr,
        erzeugt_am=now,
        bezeichnung=label,
        anwendungsinformation="ml-connector",
    )


def _blockers(pipeline: Pipeline, rejections: int, report: TieOutReport, lines: int) -> list[str]:
    blockers = []
    if rejections and pipeline.reject_policy == "reject_batch":
        blockers.append(
            f"{rejections} row(s) rejected and the pipeline's reject_policy is reject_batch; "
            'fix the mapping or the data, or set reject_policy = "hold_rejected"'
        )
    if not report.ok:
        blockers.append("the tie-out failed; nothing may be submitted until the figures agree")
    if lines > 99_999:
        blockers.append(f"{lines} lines exceed DATEV's 99,999 bookings per file")
    return blockers


def prepare_run(
    config: LoadedConfig,
    pipeline: str,
    period: Period | str,
    rows: Iterable[Mapping[str, object]],
    *,
    totals: Iterable[Mapping[str, object]] | None = None,
    posted: Iterable[PostedRecord] = (),
    now: datetime | None = None,
    line_checker: LineChecker | None = None,
) -> PreparedRun:
    """Map, validate, tie out and plan one pipeline run for one period (no I/O).

    ``rows`` are the detail rows, ``totals`` the control-total rows (both may contain
    other periods; they are filtered by the sources' ``period_field``), ``posted`` what
    earlier runs posted for this pipeline and period.
    """
    the_period = Period.parse(period) if isinstance(period, str) else period
    spec = config.pipeline(pipeline)
    customer = config.model.customers[spec.customer]
    mapping = config.mapping(pipeline)
    all_rows = list(rows)
    selected, other = rows_in_period(all_rows, spec.source, the_period)
    mapper = RowMapper(
        mapping, config.lookups, customer.datev, period=the_period, line_checker=line_checker
    )
    outcomes = mapper.map_rows(selected)
    mapped = [o for o in outcomes if isinstance(o, MappedRow)]
    rejected = [o for o in outcomes if isinstance(o, Rejection)]
    period_totals = None
    if totals is not None:
        totals_source = spec.tie_out.totals or spec.source
        period_totals, _ = rows_in_period(totals, totals_source, the_period)
    report = tie_out(outcomes, period_totals, spec.tie_out, mapping)
    plan = plan_restatement(
        mapped,
        posted,
        mode=spec.restatement,
        held_keys={r.row_key for r in rejected if r.row_key is not None},
    )
    header = batch_header(config, pipeline, the_period, now or datetime.now(UTC))
    blockers = _blockers(spec, len(rejected), report, len(plan.lines))
    if spec.tie_out.totals is not None and totals is None:
        blockers.append(
            "the pipeline's tie_out.totals were not fetched; a run that cannot tie out "
            "may not be submitted"
        )
    return PreparedRun(
        pipeline=pipeline,
        customer=spec.customer,
        period=the_period,
        header=header,
        outcomes=tuple(outcomes),
        plan=plan,
        tie_out=report,
        reject_policy=spec.reject_policy,
        channel=spec.channel,
        rows_total=len(all_rows),
        rows_other_periods=other,
        blockers=tuple(blockers),
    )


def signed_total(lines: Iterable[BookingLine]) -> Decimal:
    """Sum of the lines' Umsatz with S positive and H negative (Generalumkehr inverts)."""
    total = Decimal("0.00")
    for line in lines:
        amount = line.umsatz if line.soll_haben == "S" else -line.umsatz
        total += -amount if line.generalumkehr else amount
    return total
