"""When rules fire, and which period a fire time processes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from croniter import croniter

from ml_connector.schedule.rules import CloseCalendarRule, CronRule, ScheduleRule

__all__ = ["due_runs", "iter_fires", "month_period", "next_runs", "period_for"]


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time-zone-aware datetime is required")


def _later(a: datetime, b: datetime) -> bool:
    """``a > b`` as instants (same-zone comparison in Python ignores ``fold``)."""
    return a.astimezone(UTC) > b.astimezone(UTC)


def _previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def _close_fires(rule: CloseCalendarRule, after: datetime) -> Iterator[datetime]:
    zone = ZoneInfo(rule.tz)
    calendar = rule.calendar
    local = after.astimezone(zone)
    month_start = _previous_month(local.date())  # the fire of a month lies in that month
    while True:
        last_of_previous = month_start - timedelta(days=1)
        day = calendar.nth_after(last_of_previous, rule.workday)
        naive = datetime(day.year, day.month, day.day, rule.hour, rule.minute)
        fire = naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        if _later(fire, after):
            yield fire
        month_start = (month_start + timedelta(days=32)).replace(day=1)


def _cron_fires(rule: CronRule, after: datetime) -> Iterator[datetime]:
    zone = ZoneInfo(rule.tz)
    it = croniter(rule.expression, after.astimezone(zone))
    while True:
        fire: datetime = it.get_next(datetime)
        fire = fire.astimezone(UTC).astimezone(zone)
        if _later(fire, after):
            yield fire


def iter_fires(rule: ScheduleRule, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after ``after``, ascending, in the rule's time zone."""
    _require_aware(after)
    if isinstance(rule, CloseCalendarRule):
        return _close_fires(rule, after)
    return _cron_fires(rule, after)


def next_runs(rule: ScheduleRule, after: datetime, n: int = 1) -> list[datetime]:
    """The next ``n`` fire times strictly after ``after`` (aware, in the rule's zone)."""
    return list(islice(iter_fires(rule, after), n))


def period_for(rule: ScheduleRule, fire: datetime) -> str:
    """The period (``YYYY-MM``) a run fired at ``fire`` processes.

    The month that just closed, seen from the fire's local date; ``period=current``
    cron rules process the fire's own month.
    """
    local = fire.astimezone(ZoneInfo(rule.tz)).date()
    month = local if rule.period == "current" else _previous_month(local)
    return f"{month.year:04d}-{month.month:02d}"


def month_period(rule: str, moment: datetime, tz: str) -> str:
    """The period (``YYYY-MM``) ``rule`` gives for ``moment`` in zone ``tz``.

    ``previous_month``: the month before ``moment``'s local date; ``current_month``: its own.
    """
    _require_aware(moment)
    local = moment.astimezone(ZoneInfo(tz)).date()
    if rule == "previous_month":
        local = _previous_month(local)
    elif rule != "current_month":
        raise ValueError(f"unknown period rule {rule!r} (previous_month or current_month)")
    return f"{local.year:04d}-{local.month:02d}"


def due_runs(
    schedules: Iterable[tuple[str, ScheduleRule]],
    now: datetime,
    catch_up: timedelta = timedelta(days=3),
) -> list[tuple[str, datetime, str]]:
    """(name, fire time, period) of every fire in ``(now - catch_up, now]``.

    A worker calls this periodically and enqueues each; enqueueing is idempotent per
    (pipeline, period), so overlapping windows and several workers do no harm, and a
    worker that was down catches up on fires missed within ``catch_up``.
    """
    _require_aware(now)
    due: list[tuple[str, datetime, str]] = []
    for name, rule in schedules:
        for fire in iter_fires(rule, now - catch_up):
            if _later(fire, now):
                break
            due.append((name, fire, period_for(rule, fire)))
    return due


def upcoming(
    schedules: Sequence[tuple[str, ScheduleRule]], after: datetime, n: int
) -> list[tuple[str, datetime, str]]:
    """The next ``n`` fires of each schedule with their periods, sorted by time."""
    rows = [
        (name, fire, period_for(rule, fire))
        for name, rule in schedules
        for fire in next_runs(rule, after, n)
    ]
    return sorted(rows, key=lambda row: (row[1], row[0]))


__all__ += ["upcoming"]
