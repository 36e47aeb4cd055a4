"""Everything a run does before talking to DATEV, in memory: :func:`prepare_run`.

Given the configuration, a pipeline, a period and the Looker rows (plus optionally the
control totals and what was posted before), it maps, validates, ties out and plans
restatements, and says whether the batch may be sent.  It is the streaming
:class:`~ml_connector.mapping.stream.RunStream` with an observer that keeps every
outcome and planned change, for callers that want them all (``mapping preview``,
``run --dry-run``, tests); a run of any size uses the stream directly.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from ml_connector.config.loader import LoadedConfig
from ml_connector.extf.models import BatchHeader, BookingLine
from ml_connector.mapping.mapper import LineChecker, MappedRow, Rejection, RowOutcome
from ml_connector.mapping.period import Period
from ml_connector.mapping.restatement import (
    ChangeKind,
    PlannedChange,
    PostedRecord,
    RestatementPlan,
)
from ml_connector.mapping.stream import RunFacts, RunStream, batch_header, rows_in_period
from ml_connector.mapping.tieout import TieOutReport

__all__ = ["PreparedRun", "batch_header", "prepare_run", "rows_in_period", "signed_total"]


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
    facts: RunFacts | None = None
    """What the report shows (the streaming run's facts)."""

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

    def _facts(self) -> RunFacts:
        assert self.facts is not None, "a PreparedRun comes from prepare_run"
        return self.facts

    def report(self) -> dict[str, object]:
        """A JSON-ready report of the run (amounts as exact decimal text)."""
        return self._facts().report()

    def summary(self) -> str:
        """A few lines for people."""
        return self._facts().summary()


class _Keep:
    """Observer of a :class:`RunStream` that keeps every outcome and change."""

    def __init__(self) -> None:
        self.outcomes: list[RowOutcome] = []
        self.changes: list[PlannedChange] = []
        self.store: list[PostedRecord] = []
        self.retire: list[str] = []

    def outcome(self, outcome: RowOutcome) -> None:
        self.outcomes.append(outcome)

    def change(self, change: PlannedChange, row: MappedRow | None) -> None:
        self.changes.append(change)
        if not change.applied:
            return
        if row is not None and change.kind in (ChangeKind.NEW, ChangeKind.CHANGED):
            self.store.append(PostedRecord(row.row_key, row.content_digest, row.lines))
        elif change.kind is ChangeKind.GONE:
            self.retire.append(change.row_key)


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
    """Map, validate, tie out and plan one pipeline run for one period, in memory.

    ``rows`` are the detail rows, ``totals`` the control-total rows (both may contain
    other periods; they are filtered by the sources' ``period_field``), ``posted`` what
    earlier runs posted for this pipeline and period.  Nothing is written: write the
    result with :func:`~ml_connector.mapping.report.write_run_files`.
    """
    keep = _Keep()
    with (
        tempfile.TemporaryDirectory(prefix="ml-connector-prepare-") as scratch,
        RunStream(
            config,
            pipeline,
            period,
            Path(scratch),
            now=now,
            line_checker=line_checker,
            observer=keep,
        ) as run,
    ):
        run.load_posted(posted)
        run.add_many(rows)
        facts = run.finish(totals, write=False).facts
    plan = RestatementPlan(
        mode=facts.restatement_mode,
        changes=tuple(keep.changes),
        records_to_store=tuple(keep.store),
        keys_to_retire=tuple(keep.retire),
    )
    return PreparedRun(
        pipeline=pipeline,
        customer=facts.customer,
        period=facts.period,
        header=facts.header,
        outcomes=tuple(keep.outcomes),
        plan=plan,
        tie_out=facts.tie_out,
        reject_policy=facts.reject_policy,
        channel=facts.channel,
        rows_total=facts.rows_total,
        rows_other_periods=facts.rows_other_periods,
        blockers=facts.blockers,
        facts=facts,
    )


def signed_total(lines: Iterable[BookingLine]) -> Decimal:
    """Sum of the lines' Umsatz with S positive and H negative (Generalumkehr inverts)."""
    total = Decimal("0.00")
    for line in lines:
        amount = line.umsatz if line.soll_haben == "S" else -line.umsatz
        total += -amount if line.generalumkehr else amount
    return total
