"""Tie-out: the mapped bookings against Looker's own control totals, before anything is sent.

Per group (e.g. period and GL account) the amounts and row counts of the extract must
equal the totals Looker reports for the same data, within the pipeline's tolerance.
Booked rows and held (rejected) rows are both counted, so a held row explains its share
of the total instead of breaking the tie-out; a row lost, duplicated or changed between
the detail extract and the totals does break it.

The booked side is computed from the booking lines themselves (signed Umsatz) unless
``detail_amount`` names a column, which is needed when the mapping changes amounts
(e.g. grossing up net revenue for a tax key).  For a balanced extract the signed
amounts must also sum to zero (debit == credit).

A held row whose ``detail_amount`` is empty counts in its group's row count with
0.00 (Looker's sum skips an empty value too) and is named in the report's notes; it
does not fail the tie-out, so the rest of the period can be posted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from ml_connector.mapping.lookups import normalise_key
from ml_connector.mapping.mapper import MappedRow, Rejection, RowOutcome

if TYPE_CHECKING:
    from ml_connector.config.models import TieOut
    from ml_connector.formats.extf.models import BookingLine
    from ml_connector.mapping.spec import CompiledMapping

__all__ = [
    "MAX_LISTED_HELD_PROBLEMS",
    "TieOutGroup",
    "TieOutReport",
    "TieOutTally",
    "signed_line_amount",
    "tie_out",
]

_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class TieOutGroup:
    """One group's comparison; ``ok`` when amount and count agree within tolerance."""

    key: tuple[str, ...]
    looker_amount: Decimal | None
    looker_count: int | None
    booked_amount: Decimal
    booked_count: int
    held_amount: Decimal
    held_count: int
    ok: bool
    problem: str | None = None

    @property
    def difference(self) -> Decimal:
        """Looker total minus what the extract accounts for (booked + held)."""
        return (self.looker_amount or _ZERO) - self.booked_amount - self.held_amount


@dataclass(frozen=True, slots=True)
class TieOutReport:
    """The whole tie-out; ``ok`` is False if any check failed (the run must stop)."""

    ok: bool
    totals_checked: bool
    balanced_checked: bool
    debit_total: Decimal
    credit_total: Decimal
    groups: tuple[TieOutGroup, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Held rows without an amount, named (counted with 0.00; not a failure)."""

    @property
    def failed_groups(self) -> tuple[TieOutGroup, ...]:
        return tuple(g for g in self.groups if not g.ok)


def signed_line_amount(line: BookingLine, mapping: CompiledMapping) -> Decimal:
    """The line's amount with the sign convention of the mapping's ``amount``."""
    debit = line.soll_haben == "S"
    if mapping.amount_account == "gegenkonto":
        debit = not debit
    positive = debit if mapping.sign == "debit_positive" else not debit
    amount = line.umsatz if positive else -line.umsatz
    return -amount if line.generalumkehr else amount


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _row_amount(outcome: RowOutcome, settings: TieOut, mapping: CompiledMapping) -> Decimal | None:
    if settings.detail_amount is not None:
        return _decimal(outcome.row.get(settings.detail_amount))
    if isinstance(outcome, MappedRow):
        return sum((signed_line_amount(line, mapping) for line in outcome.lines), _ZERO)
    return None


def tie_out(
    outcomes: Sequence[RowOutcome],
    totals: Iterable[Mapping[str, object]] | None,
    settings: TieOut,
    mapping: CompiledMapping,
) -> TieOutReport:
    """Compare ``outcomes`` (all rows of one period) with the Looker ``totals`` rows."""
    tally = TieOutTally(settings, mapping)
    for outcome in outcomes:
        tally.add(outcome)
    return tally.report(totals)


@dataclass(slots=True)
class _Sum:
    amount: Decimal = _ZERO
    count: int = 0


#: held rows without a usable amount listed one by one in the problems (the rest counted)
MAX_LISTED_HELD_PROBLEMS = 1000


class TieOutTally:
    """The tie-out fed one row outcome at a time: memory bounded by the number of groups.

    :meth:`add` every outcome of the period (in extract order), then :meth:`report`
    once with the Looker totals; :func:`tie_out` is the same over a sequence.
    """

    def __init__(self, settings: TieOut, mapping: CompiledMapping) -> None:
        self.settings = settings
        self.mapping = mapping
        self.debit = _ZERO
        self.credit = _ZERO
        self.booked: dict[tuple[str, ...], _Sum] = {}
        self.held: dict[tuple[str, ...], _Sum] = {}
        self.held_problems: list[str] = []
        self.held_problems_unlisted = 0
        self.held_notes: list[str] = []

    def key_of(self, row: Mapping[str, object]) -> tuple[str, ...]:
        """The group of a detail or totals row."""
        return tuple(
            "" if row.get(c) is None else normalise_key(row.get(c)) for c in self.settings.group_by
        )

    def add(self, outcome: RowOutcome) -> None:
        """Account for one mapped or rejected row."""
        amount = _row_amount(outcome, self.settings, self.mapping)
        mapped = isinstance(outcome, MappedRow)
        if mapped:
            signed = amount or _ZERO
            if signed > 0:
                self.debit += signed
            else:
                self.credit -= signed
        if not self.settings.group_by:
            return
        target = self.booked if mapped else self.held
        entry = target.setdefault(self.key_of(outcome.row), _Sum())
        if amount is None and isinstance(outcome, Rejection):
            self._unaccounted(outcome)
        entry.amount += amount or _ZERO
        entry.count += 1

    def _unaccounted(self, outcome: Rejection) -> None:
        """A held row without a usable amount: a note when its amount is empty, else a
        problem with the fix."""
        where = f"row {outcome.index + 1} ({outcome.row_key})"
        column = self.settings.detail_amount
        if column is not None and _empty(outcome.row.get(column)):
            if len(self.held_notes) < MAX_LISTED_HELD_PROBLEMS:
                self.held_notes.append(f"{where}: held with no amount in {column}; counted as 0.00")
            return
        if column is None:
            text = "held row has no amount; set tie_out.detail_amount so held rows count"
        else:
            text = f"held row's {column} is not a number; correct it in Looker"
        if len(self.held_problems) < MAX_LISTED_HELD_PROBLEMS:
            self.held_problems.append(f"{where}: {text}")
        else:
            self.held_problems_unlisted += 1

    def report(self, totals: Iterable[Mapping[str, object]] | None) -> TieOutReport:
        """Compare what was added with the Looker ``totals`` rows of the period."""
        settings = self.settings
        problems: list[str] = []
        tolerance = settings.tolerance
        debit, credit = self.debit, self.credit
        if settings.balanced and abs(debit - credit) > tolerance:
            problems.append(
                f"extract is not balanced: debit {debit} != credit {credit} "
                f"(difference {debit - credit}, tolerance {tolerance})"
            )
        groups: list[TieOutGroup] = []
        totals_checked = (
            totals is not None and bool(settings.group_by) and settings.amount is not None
        )
        if totals_checked:
            assert totals is not None
            problems += self.held_problems
            if self.held_problems_unlisted:
                problems.append(
                    f"... and {self.held_problems_unlisted} more held rows without a usable amount"
                )
            groups = self._compare_groups(totals, problems)
        return TieOutReport(
            ok=not problems,
            totals_checked=totals_checked,
            balanced_checked=settings.balanced,
            debit_total=debit,
            credit_total=credit,
            groups=tuple(groups),
            problems=tuple(problems),
            notes=tuple(self.held_notes) if totals_checked else (),
        )

    def _compare_groups(
        self, totals: Iterable[Mapping[str, object]], problems: list[str]
    ) -> list[TieOutGroup]:
        settings = self.settings
        amount_column = settings.amount
        assert amount_column is not None
        booked, held = self.booked, self.held
        looker: dict[tuple[str, ...], _Sum] = {}
        counted = settings.count is not None
        for row in totals:
            entry = looker.setdefault(self.key_of(row), _Sum())
            entry.amount += _decimal(row.get(amount_column)) or _ZERO
            if settings.count is not None:
                entry.count += int(_decimal(row.get(settings.count)) or 0)
        groups = []
        for key in sorted(set(booked) | set(held) | set(looker)):
            b, h = booked.get(key, _Sum()), held.get(key, _Sum())
            total = looker.get(key)
            label = "/".join(key)
            problem = None
            if total is None:
                problem = f"{label}: rows in the extract but no Looker total"
            else:
                diff = total.amount - b.amount - h.amount
                if abs(diff) > settings.tolerance:
                    problem = (
                        f"{label}: Looker total {total.amount}, extract {b.amount + h.amount} "
                        f"(difference {diff})"
                    )
                elif counted and total.count != b.count + h.count:
                    problem = (
                        f"{label}: Looker counts {total.count} rows, "
                        f"extract has {b.count + h.count}"
                    )
            if problem:
                problems.append(problem)
            groups.append(
                TieOutGroup(
                    key=key,
                    looker_amount=total.amount if total else None,
                    looker_count=total.count if total and counted else None,
                    booked_amount=b.amount,
                    booked_count=b.count,
                    held_amount=h.amount,
                    held_count=h.count,
                    ok=problem is None,
                    problem=problem,
                )
            )
        return groups
