"""Schedules: cron expressions and close-calendar rules (pure; no engine, no I/O).

See :mod:`ml_connector.schedule.rules` for the rule syntax a configuration holds,
:func:`~ml_connector.schedule.fire.next_runs` for the next fire times and
:func:`~ml_connector.schedule.fire.period_for` for the period a fire time processes.
"""

from ml_connector.schedule.fire import due_runs, month_period, next_runs, period_for
from ml_connector.schedule.rules import (
    CloseCalendarRule,
    CronRule,
    ScheduleRule,
    parse_rule,
)
from ml_connector.schedule.workdays import WorkingDays

__all__ = [
    "CloseCalendarRule",
    "CronRule",
    "ScheduleRule",
    "WorkingDays",
    "due_runs",
    "month_period",
    "next_runs",
    "parse_rule",
    "period_for",
]
