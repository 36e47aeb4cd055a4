"""One pipeline run for one period, streamed: memory flat in the number of rows.

:class:`RunStream` takes the Looker rows one at a time (or a partition batch at a
time, from a sync or async source), maps and validates each, ties it out and plans
its restatement, and keeps only bounded state in memory:

* the tie-out sums per group (:class:`~ml_connector.mapping.tieout.TieOutTally`);
* counts, and the first :data:`MAX_LISTED_REJECTIONS` rejections as examples.

What grows with the rows goes to the working directory
(:mod:`~ml_connector.mapping.scratch`): posted state and seen keys in a temporary
SQLite index, reversal and booking lines in two spill files, the rejected rows in
``held.jsonl``, and optionally one trace per row (for the engine's row records).
:meth:`RunStream.finish` plans the gone keys from the index, decides whether the batch
may be sent, and writes the EXTF file(s) with
:func:`~ml_connector.formats.extf.split.write_split` from the spills (reversals first, then
new and corrected bookings; split at 99,999 bookings or 50 MB), ``report.json``,
``report.txt`` and ``held.jsonl``.

It is the one run path: the engine's prepare step, ``run --dry-run`` and ``mapping
preview`` all drive it through :class:`~ml_connector.runs.steps.LiveRunSteps`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ml_connector.canonical import canonical_json, to_jsonable
from ml_connector.config.loader import LoadedConfig
from ml_connector.config.models import Source
from ml_connector.formats.dxso.models import Receipt
from ml_connector.formats.extf.models import BatchHeader, BookingLine, RenderedLine, line_to_json
from ml_connector.formats.extf.split import WrittenFile, write_split
from ml_connector.formats.extf.validate import MAX_BOOKINGS
from ml_connector.mapping.changes import (
    DataChangeFacts,
    DataChangeTally,
    DocumentCollision,
    document_source,
)
from ml_connector.mapping.dxso_batch import DxsoBatch
from ml_connector.mapping.lookups import normalise_key
from ml_connector.mapping.mapper import (
    LineChecker,
    MappedRow,
    Rejection,
    RejectReason,
    RowLinker,
    RowMapper,
    duplicate_key,
    period_header,
    same_content,
)
from ml_connector.mapping.money import MoneyFacts, MoneyTally, format_money
from ml_connector.mapping.period import Period
from ml_connector.mapping.restatement import (
    ChangeKind,
    PlannedChange,
    line_from_json,
    reversal_of,
)
from ml_connector.mapping.rows import write_rows
from ml_connector.mapping.scratch import JsonSpill, KeyIndex, LineSpill
from ml_connector.mapping.tieout import TieOutReport, TieOutTally

#: the receipts of a dxso job, given per invoice id the Beleglinks of its rows' documents
ReceiptSource = Callable[[Mapping[str, Sequence[str]]], Sequence[Receipt]]

__all__ = [
    "MAX_LISTED_REJECTIONS",
    "UNASSIGNED_FILE",
    "Completeness",
    "ReceiptSource",
    "RowTrace",
    "RunFacts",
    "RunStream",
    "StreamedRun",
    "TracePiece",
    "batch_header",
    "booking_payload",
    "held_record",
    "posted_entry",
    "remove_stale_files",
    "rows_in_period",
    "write_reports",
]

#: rejections listed in ``report.json`` (all are counted, all are in ``held.jsonl``)
MAX_LISTED_REJECTIONS = 1000
#: rejections listed in ``report.txt``
_TEXT_REJECTIONS = 10

#: the pipeline's rows with no readable period, as row records, in the run's directory
UNASSIGNED_FILE = "unassigned.jsonl"

_LABEL_CHARS = re.compile(r"[^\w.\-/ ]")
_SCRATCH = ".prepare"


# ---------------------------------------------------------------- period and header


def _period_of(value: object) -> Period | None:
    if isinstance(value, datetime | date):
        return Period.of(value)
    if value is None:
        return None
    try:
        return Period.parse(normalise_key(value)[:7])
    except ValueError:
        return None


def _in_period(row: Mapping[str, object], period_field: str | None, period: Period) -> bool:
    if period_field is None:
        return True
    row_period = _period_of(row.get(period_field))
    return row_period is None or row_period == period


def rows_in_period(
    rows: Iterable[Mapping[str, object]], source: Source, period: Period
) -> tuple[list[Mapping[str, object]], int]:
    """Rows of ``period`` by the source's ``period_field`` (all rows when it is unset),
    and how many were left out."""
    kept: list[Mapping[str, object]] = []
    other = 0
    for row in rows:
        if _in_period(row, source.period_field, period):
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
    header = period_header(datev, period)
    return replace(header, erzeugt_am=now, bezeichnung=label, anwendungsinformation="ml-connector")


# ---------------------------------------------------------------- what a run leaves behind


def booking_payload(
    digest: str | None, lines: Iterable[BookingLine], reversal: Iterable[BookingLine] = ()
) -> dict[str, Any]:
    """A row's posted state as JSON: content digest, lines and reversal lines."""
    return {
        "content_digest": digest,
        "lines": [line_to_json(line) for line in lines],
        "reversal": [line_to_json(line) for line in reversal],
    }


def posted_entry(row_key: str, text: str) -> tuple[str, str, list[Any]] | None:
    """``(row_key, content digest, lines as JSON)`` of a stored posting (the JSON text of
    :func:`booking_payload`), or ``None`` when the key is retired (no lines any more)."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return None
    lines = data.get("lines") or []
    digest = data.get("content_digest")
    if not lines or not isinstance(lines, list) or digest is None:
        return None
    return row_key, str(digest), lines


def _payload(
    digest: str | None, lines: list[dict[str, object]], reversal: list[dict[str, object]]
) -> dict[str, Any]:
    return {"content_digest": digest, "lines": lines, "reversal": reversal}


def held_record(rejection: Rejection) -> dict[str, object]:
    """The ``held.jsonl`` line of a rejected row: its reason, message and values."""
    return {"_reason": rejection.reason.value, "_message": rejection.message, **rejection.row}


def _source(row: Mapping[str, object]) -> dict[str, Any]:
    return {str(k): to_jsonable(v) for k, v in row.items()}


class _TraceSpill:
    """One line per row trace, already in the row record's canonical JSON
    (:func:`~ml_connector.canonical.canonical_json`) pieces:
    ``<place>\t<booking>\t"rejection":..,"row_key":..,"source":..`` where ``<place>``
    is ``-`` (nothing sent), ``b<n>`` (the n-th new booking line) or ``r<n>`` (the
    n-th reversal line). The records file is written from it without parsing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: IO[str] | None = path.open("w", encoding="utf-8")

    def append(
        self,
        row_key: str,
        source: Mapping[str, object],
        booking: Mapping[str, Any] | None,
        rejection: str | None,
        place: str,
    ) -> None:
        """One trace; ``source`` is the row as extracted (text keys), ``booking`` holds
        JSON values only."""
        assert self._out is not None, "spill already closed for writing"
        source = source if isinstance(source, dict) else dict(source)
        rest = canonical_json({"rejection": rejection, "row_key": row_key, "source": source})
        self._out.write(f"{place}\t{canonical_json(booking)}\t{rest[1:-1]}\n")

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        """``(place, booking JSON, rest)`` per trace, in order."""
        self.close()
        with self.path.open(encoding="utf-8") as handle:
            for text in handle:
                place, booking, rest = text[:-1].split("\t", 2)
                yield place, booking, rest

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


@dataclass(frozen=True, slots=True)
class TracePiece:
    """A row trace as canonical JSON pieces: ``booking`` (``null`` for none) and
    ``rest`` (``"rejection":..,"row_key":..,"source":..``); ``position`` as in
    :class:`RowTrace`."""

    booking: str
    rest: str
    position: int | None


@dataclass(frozen=True, slots=True)
class RowTrace:
    """What became of one row (or one gone key): for the engine's row records.

    ``position`` is the 0-based place in the batch of the row's new booking (for a
    gone key: of its first reversal line); ``None`` when nothing is sent for it.
    """

    row_key: str
    source: Mapping[str, Any]
    booking: Mapping[str, Any] | None
    rejection: str | None
    position: int | None


@dataclass(frozen=True, slots=True)
class Completeness:
    """What the run knows beyond its period's rows: rows no month reads, and warnings."""

    rows_unassigned: int = 0
    """The pipeline's rows with an empty or unreadable period (held as ``no_period``)."""
    unassigned_values: tuple[str, ...] = ()
    """The unreadable period values seen (an empty one as ``""``)."""
    warnings: tuple[str, ...] = ()
    uncovered_periods: tuple[str, ...] = ()
    """Earlier periods with rows in Looker that no run of the pipeline has taken on."""

    def report(self) -> dict[str, object]:
        return {
            "rows_unassigned": self.rows_unassigned,
            "unassigned_values": list(self.unassigned_values),
            "uncovered_periods": list(self.uncovered_periods),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class RunFacts:
    """Everything the report says about a run, bounded in size whatever the row count."""

    pipeline: str
    customer: str
    period: Period
    header: BatchHeader
    channel: str
    reject_policy: str
    restatement_mode: str
    rows_total: int
    rows_other_periods: int
    rows_mapped: int
    rows_rejected: int
    changes: Mapping[str, int]
    """Row keys per :class:`ChangeKind` value (applied or not)."""
    lines_to_post: int
    reversals: int
    tie_out: TieOutReport
    rejection_examples: tuple[Rejection, ...]
    """The first :data:`MAX_LISTED_REJECTIONS` rejections."""
    blockers: tuple[str, ...] = field(default_factory=tuple)
    completeness: Completeness = field(default_factory=Completeness)
    data_changes: DataChangeFacts = field(default_factory=DataChangeFacts)
    """What the mapping changed in booked rows' data, and Belegfeld 1 collisions."""
    money: MoneyFacts = field(default_factory=MoneyFacts)
    """Debit and credit per account of the lines to post; held amounts by reason."""

    @property
    def ready(self) -> bool:
        return not self.blockers

    @property
    def rows_held(self) -> int:
        return self.rows_rejected if self.reject_policy == "hold_rejected" else 0

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
            for r in self.rejection_examples
        ]
        report = self.tie_out
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
            for g in report.groups
        ]
        out: dict[str, object] = {
            "pipeline": self.pipeline,
            "customer": self.customer,
            "channel": self.channel,
            "period": str(self.period),
            "client_id": self.header.client_id,
            "ready": self.ready,
            "blockers": list(self.blockers),
            "reject_policy": self.reject_policy,
            "restatement_mode": self.restatement_mode,
            "rows": {
                "extracted": self.rows_total,
                "other_periods": self.rows_other_periods,
                "mapped": self.rows_mapped,
                "rejected": self.rows_rejected,
                "held": self.rows_held,
            },
            "lines": {"to_post": self.lines_to_post, "reversals": self.reversals},
            "changes": {kind.value: self.changes.get(kind.value, 0) for kind in ChangeKind},
            "tie_out": {
                "ok": report.ok,
                "totals_checked": report.totals_checked,
                "balanced_checked": report.balanced_checked,
                "debit_total": to_jsonable(report.debit_total),
                "credit_total": to_jsonable(report.credit_total),
                "problems": list(report.problems),
                "notes": list(report.notes),
                "groups": groups,
            },
            "rejections": rejections,
            "completeness": self.completeness.report(),
            "data_changes": self.data_changes.report(),
            "money": self.money.report(),
        }
        if self.rows_rejected > len(rejections):
            out["rejections_not_listed"] = self.rows_rejected - len(rejections)
        return out

    def summary(self) -> str:
        """A few lines for people."""
        state = "READY" if self.ready else "BLOCKED"
        held = self.rows_held
        count = self.changes.get
        mode = self.restatement_mode
        lines = [
            f"{self.pipeline} {self.period} -> DATEV {self.header.client_id}: {state}",
            f"  rows: {self.rows_total} extracted, {self.rows_other_periods} of other periods, "
            f"{self.rows_mapped} mapped, {self.rows_rejected} rejected"
            + (f" ({held} held)" if held else ""),
            f"  changes: {count(ChangeKind.NEW.value, 0)} new, "
            f"{count(ChangeKind.CHANGED.value, 0)} changed, "
            f"{count(ChangeKind.GONE.value, 0)} gone, "
            f"{count(ChangeKind.UNCHANGED.value, 0)} unchanged"
            + (f" (mode {mode})" if mode == "append_only" else ""),
            f"  lines to post: {self.lines_to_post}",
            "  tie-out: "
            + ("ok" if self.tie_out.ok else "FAILED")
            + (
                f" ({len(self.tie_out.groups)} groups against Looker totals)"
                if self.tie_out.totals_checked
                else " (no Looker totals configured)"
            ),
        ]
        lines += _group_lines(self.tie_out)
        for problem in self.tie_out.problems[:10]:
            lines.append(f"    - {problem}")
        for note in self.tie_out.notes[:10]:
            lines.append(f"    note: {note}")
        lines += self.data_changes.summary_lines()
        lines += self.money.summary_lines()
        for rejection in self.rejection_examples[:_TEXT_REJECTIONS]:
            where = f"row {rejection.index + 1} [{rejection.row_key}]"
            lines.append(f"  rejected {where}: {rejection.describe()}")
        if self.rows_rejected > _TEXT_REJECTIONS:
            lines.append(f"  ... and {self.rows_rejected - _TEXT_REJECTIONS} more rejections")
        for blocker in self.blockers:
            lines.append(f"  blocked: {blocker}")
        for warning in self.completeness.warnings:
            lines.append(f"  warning: {warning}")
        return "\n".join(lines)


#: tie-out groups listed in ``report.txt`` (all are in ``report.json``)
_TEXT_GROUPS = 30


def _group_lines(report: TieOutReport) -> list[str]:
    """One line per tie-out group with its amounts (failed groups first)."""
    groups = sorted(report.groups, key=lambda g: g.ok)
    lines = []
    for g in groups[:_TEXT_GROUPS]:
        looker = "-" if g.looker_amount is None else format_money(g.looker_amount)
        state = "ok" if g.ok else f"FAILED, difference {format_money(g.difference)}"
        lines.append(
            f"    {' / '.join(g.key) or '(all)'}: Looker {looker} ({g.looker_count or 0}), "
            f"booked {format_money(g.booked_amount)} ({g.booked_count}), "
            f"held {format_money(g.held_amount)} ({g.held_count}): {state}"
        )
    if len(groups) > _TEXT_GROUPS:
        lines.append(f"    ... and {len(groups) - _TEXT_GROUPS} more groups (report.json)")
    return lines


def write_reports(facts: RunFacts, files: Sequence[WrittenFile], out_dir: Path) -> list[Path]:
    """Write ``report.json`` and ``report.txt`` for ``facts`` and the written ``files``."""
    report = facts.report()
    report["files"] = [
        {"file": item.path.name, "bookings": item.bookings, "bytes": item.size} for item in files
    ]
    report_path = out_dir / "report.json"
    report_path.write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    summary = facts.summary()
    if files:
        summary += "\n  files: " + ", ".join(item.path.name for item in files)
    summary_path = out_dir / "report.txt"
    summary_path.write_text(summary + "\n", encoding="utf-8")
    return [report_path, summary_path]


def remove_stale_files(out_dir: Path) -> None:
    """Remove EXTF files of an earlier attempt in ``out_dir`` (they are rewritten)."""
    for stale in out_dir.glob("EXTF_*.csv"):
        stale.unlink()


# ---------------------------------------------------------------- the streaming run


@dataclass(frozen=True, slots=True)
class StreamedRun:
    """A finished :class:`RunStream`: its facts and the EXTF files written (in order)."""

    facts: RunFacts
    files: tuple[WrittenFile, ...]
    written: tuple[Path, ...]
    """Every file written into the output directory (EXTF, reports, ``held.jsonl``)."""

    @property
    def ready(self) -> bool:
        return self.facts.ready


class RunStream:
    """Map, validate, tie out and plan one pipeline run, a row at a time.

    ``max_bookings`` is DATEV's per-file limit (lower only in tests). ``row_link`` gives a
    row's own document link (per-row documents; a row without a usable one is held) and
    ``receipts`` the files a dxso job staples to its invoices. Use as a context
    manager (the scratch files under ``workdir`` are removed on exit)::

        with RunStream(config, "gl-monthly", "2026-10", workdir) as run:
            run.load_posted(states)           # what earlier runs posted (optional)
            run.add_many(rows)                # any number of times, sync or async
            done = run.finish(totals)         # writes files and reports into workdir
            traces = list(run.traces())       # when trace_rows=True (row records)
    """

    def __init__(
        self,
        config: LoadedConfig,
        pipeline: str,
        period: Period | str,
        workdir: Path,
        *,
        now: datetime | None = None,
        line_checker: LineChecker | None = None,
        trace_rows: bool = False,
        max_bookings: int = MAX_BOOKINGS,
        allow_empty: bool = False,
        row_link: RowLinker | None = None,
        receipts: ReceiptSource | None = None,
    ) -> None:
        self.period = Period.parse(period) if isinstance(period, str) else period
        self.pipeline = pipeline
        self.config = config
        self.spec = config.pipeline(pipeline)
        if self.spec.restatement not in ("corrections", "append_only"):
            raise ValueError(f"unknown restatement mode {self.spec.restatement!r}")
        self.corrections = self.spec.restatement == "corrections"
        customer = config.model.customers[self.spec.customer]
        self.mapping = config.mapping(pipeline)
        self.mapper = RowMapper(
            self.mapping,
            config.lookups,
            customer.datev,
            period=self.period,
            line_checker=line_checker,
            row_link=row_link,
        )
        self.header = batch_header(config, pipeline, self.period, now or datetime.now(UTC))
        #: the mapper's line texts were checked against this batch's rules (the default
        #: checks, the same Sachkontenlänge and period): the writer takes them as they are
        self._rendered = _same_rules(self.mapper.header, self.header)
        self.max_bookings = max_bookings
        #: no rows from Looker for a period with posted bookings reverses them all
        #: instead of blocking the run
        self.allow_empty = allow_empty
        self._posted_keys = 0
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        scratch = self.workdir / _SCRATCH
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        self._scratch = scratch
        self._index = KeyIndex(scratch / "keys.sqlite")
        self._reversals = LineSpill(scratch / "reversals.jsonl")
        self._bookings = LineSpill(scratch / "bookings.jsonl")
        self._held = (scratch / "held.jsonl").open("w", encoding="utf-8")
        self._traces = _TraceSpill(scratch / "traces.jsonl") if trace_rows else None
        self._unassigned = JsonSpill(scratch / UNASSIGNED_FILE)
        dxso = self.mapping.dxso
        self._dxso = None if dxso is None else DxsoBatch(dxso, self.mapping.currency, scratch)
        #: the receipts of a dxso job: per invoice id the Beleglinks of its new entries
        self._receipts = receipts
        self._invoice_links: dict[str, list[str]] = {}
        self._unassigned_values: set[str] = set()
        self._unassigned_extra = 0
        self._uncovered: tuple[str, ...] = ()
        self._tally = TieOutTally(self.spec.tie_out, self.mapping)
        self._data_changes = DataChangeTally()
        self._money = MoneyTally()
        self._period_field = self.spec.source.period_field
        self.rows_total = 0
        self.rows_other = 0
        self.rows_mapped = 0
        self.rows_rejected = 0
        self._selected = 0
        self._examples: list[Rejection] = []
        self._changes: dict[str, int] = {}
        self._reversal_lines = 0
        self._finished: StreamedRun | None = None
        self._ready = False

    # -- context --------------------------------------------------------------------------

    def __enter__(self) -> RunStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the scratch files."""
        self._held.close()
        self._index.close()
        self._reversals.close()
        self._bookings.close()
        self._unassigned.close()
        if self._dxso is not None:
            self._dxso.close()
        if self._traces is not None:
            self._traces.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- input ----------------------------------------------------------------------------

    def load_posted(self, states: Iterable[tuple[str, str]]) -> None:
        """What earlier runs posted for this pipeline and period, before any row: per row
        key the newest stored posting (the JSON text of :func:`booking_payload`, as
        the store's posted records hold it); retired keys are skipped."""
        if self._selected:
            raise RuntimeError("posted records must be loaded before the rows")
        for row_key, text in states:
            entry = posted_entry(row_key, text)
            if entry is not None:
                key, digest, lines = entry
                self._index.add_posted(key, digest, json.dumps(lines, ensure_ascii=False))
                self._posted_keys += 1

    def add_many(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Add rows (a partition batch, or all of them from a sync iterator)."""
        for row in rows:
            self.add(row)

    async def add_async(self, rows: AsyncIterable[Mapping[str, object]]) -> None:
        """Add every row of an async source (mapping runs on the event loop)."""
        async for row in rows:
            self.add(row)

    def add(self, row: Mapping[str, object]) -> None:
        """Map one Looker row (rows of other periods are counted and skipped; a row with
        no readable period goes to the unassigned bucket)."""
        if self._finished is not None:
            raise RuntimeError("the run is finished")
        self.rows_total += 1
        field_name = self._period_field
        if field_name is not None:
            row_period = _period_of(row.get(field_name))
            if row_period is None:
                self._unassign(row)
                return
            if row_period != self.period:
                self.rows_other += 1
                return
        index = self._selected
        self._selected += 1
        outcome = self.mapper.map_row(row, index)
        if outcome.row_key is not None:
            first = self._index.see(outcome.row_key, index, mapped=isinstance(outcome, MappedRow))
            if first is not None:
                outcome = duplicate_key(outcome, first)
        self._tally.add(outcome)
        if isinstance(outcome, MappedRow):
            self._mapped(outcome)
        else:
            self._rejected(outcome)

    def add_unassigned(self, rows: Iterable[Mapping[str, object]], count: int = 0) -> None:
        """The pipeline's rows with an empty or unreadable period, found by the
        completeness query (``count`` when it knows more rows than it returned)."""
        if self._finished is not None:
            raise RuntimeError("the run is finished")
        fetched = 0
        for row in rows:
            self._unassign(row)
            fetched += 1
        self._unassigned_extra += max(0, count - fetched)

    def note_uncovered(self, periods: Iterable[str]) -> None:
        """Earlier periods the source has rows in that no run has taken on: no schedule
        will reach them (a schedule runs the month just closed), so the report says so."""
        self._uncovered = tuple(sorted(periods))

    def _unassign(self, row: Mapping[str, object]) -> None:
        """Hold a row with no readable period: in no month's batch, recorded by key."""
        assert self._period_field is not None
        value = row.get(self._period_field)
        shown = "" if value is None else str(to_jsonable(value))
        self._unassigned_values.add(shown)
        source = _source(row)
        key = self.mapper.map_row(row).row_key
        if key is None:  # no usable key: a digest of the whole row identifies it
            text = json.dumps(source, sort_keys=True, ensure_ascii=False)
            key = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:24]
        what = "empty" if not shown.strip() else f"not a period: {shown!r}"
        reason = f"{RejectReason.NO_PERIOD.value} ({self._period_field}): {what}"
        self._unassigned.append({"row_key": key, "source": source, "rejection": reason})

    def _count(self, change: PlannedChange) -> None:
        self._changes[change.kind.value] = self._changes.get(change.kind.value, 0) + 1

    def _rejected(self, rejection: Rejection) -> None:
        self.rows_rejected += 1
        self._money.add_held(rejection)
        if len(self._examples) < MAX_LISTED_REJECTIONS:
            self._examples.append(rejection)
        write_rows([held_record(rejection)], self._held)
        if self._traces is not None:
            key = rejection.row_key or f"row-{rejection.index + 1}"
            self._traces.append(key, rejection.row, None, rejection.describe(), "-")

    def _mapped(self, row: MappedRow) -> None:
        self.rows_mapped += 1
        self._data_changes.add(row.changes)
        self._check_document_number(row)
        old = self._index.posted(row.row_key)
        reversal: tuple[BookingLine, ...] = ()
        if old is None:
            change = PlannedChange(ChangeKind.NEW, row.row_key, booking=row.lines)
        elif same_content(old[0], row):
            change = PlannedChange(ChangeKind.UNCHANGED, row.row_key)
        else:
            reversal = _reversal(old[1])
            change = PlannedChange(
                ChangeKind.CHANGED,
                row.row_key,
                reversal=reversal,
                booking=row.lines,
                applied=self.corrections,
            )
        self._count(change)
        texts = row.texts if self._rendered else None
        lines = [] if texts is not None and self._traces is None else list(row.lines_json)
        reversed_lines = [line_to_json(line) for line in reversal] if change.applied else []
        position = "-"
        if change.applied:
            self._money.add_lines(reversal)
            self._money.add_lines(row.lines)
            for item in reversed_lines:
                self._reversals.append(item)
            if change.booking:
                position = f"b{self._bookings.count}"
                self._spill_booking(row, texts, lines)
                if self._dxso is not None and row.dxso is not None:
                    self._dxso.add(row.dxso)
                    self._note_receipt(row)
        if self._traces is not None:
            payload = _payload(row.content_digest, lines, reversed_lines)
            if row.changes:
                payload["changes"] = [change.to_json() for change in row.changes]
            self._traces.append(row.row_key, row.row, payload, None, position)

    def _note_receipt(self, row: MappedRow) -> None:
        """Remember the row's own document for its invoice (a receipt in the dxso job)."""
        assert row.dxso is not None
        invoice = row.dxso.invoice_id
        link = row.lines[0].beleglink if row.lines else None
        if self._receipts is not None and invoice and link:
            links = self._invoice_links.setdefault(invoice, [])
            if link not in links:
                links.append(link)

    def _spill_booking(
        self, row: MappedRow, texts: tuple[str, ...] | None, lines: list[dict[str, object]]
    ) -> None:
        """Spill a row's booking lines: the text the mapper's checks rendered (the writer
        takes it as it is), else the lines as JSON (the writer renders and checks them)."""
        if texts is not None:
            for line, text in zip(row.lines, texts, strict=True):
                self._bookings.append_rendered(line.belegdatum, text)
            return
        for item in lines:
            self._bookings.append(item)

    def _check_document_number(self, row: MappedRow) -> None:
        """Count a Belegfeld 1 that an earlier row reached from a different source value."""
        for line in row.lines:
            cleaned = line.belegfeld_1
            if not cleaned:
                continue
            source = document_source(cleaned, row.changes)
            first = self._index.document(cleaned, source, row.index)
            if first is not None:
                self._data_changes.collision(
                    DocumentCollision(
                        row.index + 1, row.row_key, cleaned, source, first[1] + 1, first[0]
                    )
                )

    # -- the end --------------------------------------------------------------------------

    def finish(
        self, totals: Iterable[Mapping[str, object]] | None = None, *, write: bool = True
    ) -> StreamedRun:
        """Plan the gone keys, tie out against ``totals`` (the Looker control totals,
        ``None`` when not fetched) and decide; with ``write`` put the EXTF file(s) (when
        ready), the reports and ``held.jsonl`` into the working directory."""
        if self._finished is not None:
            return self._finished
        for row_key, lines_json, held in self._index.not_mapped():
            if held:
                self._count(PlannedChange(ChangeKind.HELD, row_key))
                continue
            reversal = _reversal(lines_json)
            change = PlannedChange(
                ChangeKind.GONE, row_key, reversal=reversal, applied=self.corrections
            )
            self._count(change)
            if change.applied and reversal:
                self._money.add_lines(reversal)
                reversed_lines = [line_to_json(line) for line in reversal]
                if self._traces is not None:
                    payload = _payload(None, [], reversed_lines)
                    self._traces.append(row_key, {}, payload, None, f"r{self._reversals.count}")
                for item in reversed_lines:
                    self._reversals.append(item)
        self._held.close()
        spec = self.spec
        period_totals = None
        if totals is not None:
            totals_source = spec.tie_out.totals or spec.source
            period_totals, _ = rows_in_period(totals, totals_source, self.period)
        tie = self._tally.report(period_totals)
        blockers = []
        if self.rows_rejected and spec.reject_policy == "reject_batch":
            blockers.append(
                f"{self.rows_rejected} row(s) rejected and the pipeline's reject_policy is "
                'reject_batch; fix the mapping or the data, or set reject_policy = "hold_rejected"'
            )
        blockers += self._empty_blocker()
        if not tie.ok:
            blockers.append("the tie-out failed; nothing may be submitted until the figures agree")
        if spec.tie_out.totals is not None and totals is None:
            blockers.append(
                "the pipeline's tie_out.totals were not fetched; a run that cannot tie out "
                "may not be submitted"
            )
        self._reversal_lines = self._reversals.count
        facts = RunFacts(
            pipeline=self.pipeline,
            customer=spec.customer,
            period=self.period,
            header=self.header,
            channel=spec.channel,
            reject_policy=spec.reject_policy,
            restatement_mode=spec.restatement,
            rows_total=self.rows_total,
            rows_other_periods=self.rows_other,
            rows_mapped=self.rows_mapped,
            rows_rejected=self.rows_rejected,
            changes=dict(self._changes),
            lines_to_post=self._reversals.count + self._bookings.count,
            reversals=self._reversals.count,
            tie_out=tie,
            rejection_examples=tuple(self._examples),
            blockers=tuple(blockers),
            completeness=self._completeness(),
            data_changes=self._data_changes.facts(),
            money=self._money.facts(),
        )
        self._ready = facts.ready
        files: list[WrittenFile] = []
        written: list[Path] = []
        if write:
            out = self.workdir
            remove_stale_files(out)
            if facts.ready and facts.lines_to_post and self._dxso is not None:
                receipts = self._receipts(self._invoice_links) if self._receipts else ()
                files = self._dxso.write(
                    iter(self._reversals),
                    out,
                    header=self.header,
                    generator_info=self._sender(),
                    receipts=receipts,
                )
                written += [item.path for item in files]
            elif facts.ready and facts.lines_to_post:
                files = write_split(
                    self.header,
                    self.lines(),
                    out,
                    pipeline=self.pipeline,
                    expected_client_id=self.header.client_id,
                    max_bookings=self.max_bookings,
                )
                written += [item.path for item in files]
            written += write_reports(facts, files, out)
            held_path = out / "held.jsonl"
            if self.rows_rejected:
                (self._scratch / "held.jsonl").replace(held_path)
                written.append(held_path)
            else:
                held_path.unlink(missing_ok=True)
            written += self._write_unassigned(out / UNASSIGNED_FILE)
        self._finished = StreamedRun(facts, tuple(files), tuple(written))
        return self._finished

    def _sender(self) -> str:
        """``generator_info`` of DXSO files: configured, else the customer's name."""
        configured = self.spec.dxso.generator_info if self.spec.dxso else ""
        customer = self.config.model.customers[self.spec.customer]
        return (configured or customer.name or self.spec.customer)[:40]

    def _empty_blocker(self) -> list[str]:
        """Looker returned no rows for a period with posted bookings: reversing them all
        needs an explicit ``allow_empty`` (an outage or a wrong filter looks the same)."""
        if self._selected or not self._posted_keys or not self.corrections or self.allow_empty:
            return []
        return [
            f"Looker returned no rows for {self.period} although {self._posted_keys} "
            "booking(s) were posted; nothing is reversed. If the month is really empty, "
            "replay the run with --allow-empty"
        ]

    def _write_unassigned(self, path: Path) -> list[Path]:
        if not self._unassigned.count:
            path.unlink(missing_ok=True)
            return []
        with path.open("w", encoding="utf-8") as handle:
            for record in self._unassigned:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return [path]

    @property
    def rows_unassigned(self) -> int:
        return self._unassigned.count + self._unassigned_extra

    def _completeness(self) -> Completeness:
        warnings = []
        if self._selected == 0:
            warnings.append(f"Looker returned no rows for {self.period}")
        unassigned = self.rows_unassigned
        if unassigned:
            warnings.append(
                f"{unassigned} row(s) of {self.pipeline} have no readable period in "
                f"{self._period_field}; they are held as {RejectReason.NO_PERIOD.value} and "
                "are in no month's batch (correct the period in Looker)"
            )
        if self._uncovered:
            shown = ", ".join(self._uncovered[:6]) + (", ..." if len(self._uncovered) > 6 else "")
            warnings.append(
                f"Looker has rows of {self.pipeline} in {len(self._uncovered)} earlier "
                f"period(s) that no run has taken on ({shown}); no schedule reaches them: "
                f"run each with `ml-connector run {self.pipeline} --period YYYY-MM`"
            )
        values = tuple(sorted(self._unassigned_values))
        return Completeness(unassigned, values, tuple(warnings), self._uncovered)

    def lines(self) -> Iterator[BookingLine | RenderedLine]:
        """The batch read back from the spills: reversals first, then new bookings (those
        the mapper rendered and checked for this batch's header as their text)."""
        digits = self.header.sachkontenlaenge + 1
        return chain(iter(self._reversals), self._bookings.batch(digits))

    def traces(self) -> Iterator[RowTrace]:
        """One trace per row of the period (extract order), then one per gone key
        reversed by this batch; positions only when the batch is ready."""
        for piece in self.trace_pieces():
            rest = json.loads("{" + piece.rest + "}")
            booking = json.loads(piece.booking)
            yield RowTrace(
                rest["row_key"], rest["source"], booking, rest["rejection"], piece.position
            )

    def trace_pieces(self) -> Iterator[TracePiece]:
        """:meth:`traces` as the canonical JSON they were spilled in (not parsed)."""
        if self._traces is None:
            raise RuntimeError("the run was started without trace_rows")
        if self._finished is None:
            raise RuntimeError("finish the run first")
        ready = self._ready
        for place, booking, rest in self._traces:
            at: int | None = None
            if place != "-":
                if not ready and place[0] == "r":
                    continue  # gone keys are reversed only by a batch that is sent
                offset = int(place[1:])
                at = offset if place[0] == "r" else self._reversal_lines + offset
                at = at if ready else None
            yield TracePiece(booking, rest, at)


def _same_rules(checked: BatchHeader | None, header: BatchHeader) -> bool:
    """Whether lines checked against ``checked`` pass the writer's line checks of ``header``."""
    if checked is None:
        return False
    return (checked.sachkontenlaenge, checked.datum_vom, checked.datum_bis) == (
        header.sachkontenlaenge,
        header.datum_vom,
        header.datum_bis,
    )


def _reversal(lines_json: str) -> tuple[BookingLine, ...]:
    return tuple(reversal_of(line_from_json(item)) for item in json.loads(lines_json))
