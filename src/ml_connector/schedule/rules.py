"""Schedule rules and their one-line syntax (what a configuration file holds).

Two kinds of rule::

    cron <minute> <hour> <day> <month> <weekday> [tz=<zone>] [period=previous|current]
    workday <n> [after month-end] at <HH:MM> [tz=<zone>] [holidays=<CC>[-<STATE>]]

A bare five-field cron expression (``0 6 3 * *``) means ``cron 0 6 3 * *`` with the
defaults. Examples::

    cron 0 6 3 * * tz=Europe/Berlin
    workday 3 after month-end at 06:00 tz=Europe/Berlin holidays=DE-BY

``workday 3`` is the third working day after the end of a month (Monday to Friday,
not a public holiday of the region). ``tz`` defaults to ``Europe/Berlin``,
``holidays`` to ``DE`` (nationwide holidays only; add the federal state, e.g.
``DE-BY``, ``DE-NW``, for its own holidays). A run fired by a rule processes the
month that just closed (``period=previous``, the default); a cron rule can take
``period=current`` instead (e.g. daily syncs of the running month).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from ml_connector.errors import ConfigurationError
from ml_connector.schedule.workdays import WorkingDays, parse_region

__all__ = ["CloseCalendarRule", "CronRule", "ScheduleRule", "parse_rule"]

DEFAULT_TZ = "Europe/Berlin"
PeriodChoice = Literal["previous", "current"]


@dataclass(frozen=True, slots=True)
class CronRule:
    """A five-field cron expression evaluated in ``tz``."""

    expression: str
    tz: str = DEFAULT_TZ
    period: PeriodChoice = "previous"

    def __str__(self) -> str:
        text = f"cron {self.expression} tz={self.tz}"
        return text if self.period == "previous" else f"{text} period={self.period}"


@dataclass(frozen=True, slots=True)
class CloseCalendarRule:
    """The ``workday``-th working day after month end, at ``hour:minute`` in ``tz``."""

    workday: int
    hour: int
    minute: int
    tz: str = DEFAULT_TZ
    country: str = "DE"
    subdiv: str | None = None

    @property
    def calendar(self) -> WorkingDays:
        """The working-day calendar of the rule's region."""
        return WorkingDays(self.country, self.subdiv)

    @property
    def period(self) -> PeriodChoice:
        """A close-calendar run always processes the month that just closed."""
        return "previous"

    def __str__(self) -> str:
        region = self.country + (f"-{self.subdiv}" if self.subdiv else "")
        return (
            f"workday {self.workday} after month-end at {self.hour:02d}:{self.minute:02d}"
            f" tz={self.tz} holidays={region}"
        )


ScheduleRule = CronRule | CloseCalendarRule

_WORKDAY = re.compile(
    r"^workday\s+(?P<n>\d+)(?:\s+after\s+month-end)?\s+at\s+(?P<h>\d{1,2}):(?P<m>\d{2})$"
)


def _options(tokens: list[str], allowed: set[str], text: str) -> tuple[list[str], dict[str, str]]:
    rest: list[str] = []
    options: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep:
            if key not in allowed:
                raise ConfigurationError(
                    f"unknown option {key!r} in schedule {text!r}",
                    hint=f"allowed: {', '.join(sorted(allowed))}",
                )
            options[key] = value
        else:
            rest.append(token)
    return rest, options


def _zone(name: str, text: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"unknown time zone {name!r} in schedule {text!r}", hint="e.g. tz=Europe/Berlin"
        ) from exc
    return name


def parse_rule(text: str) -> ScheduleRule:
    """Parse one schedule rule (syntax in the module docstring)."""
    tokens = text.split()
    if not tokens:
        raise ConfigurationError("empty schedule rule")
    kind = tokens[0].lower()
    if kind == "cron":
        rest, opts = _options(tokens[1:], {"tz", "period"}, text)
        expression = " ".join(rest)
        if len(rest) != 5 or not croniter.is_valid(expression):
            raise ConfigurationError(
                f"invalid cron expression {expression!r} in schedule {text!r}",
                hint="five fields: minute hour day month weekday, e.g. '0 6 3 * *'",
            )
        try:
            croniter(expression).get_next()
        except CroniterBadDateError:
            raise ConfigurationError(
                f"the cron expression {expression!r} in schedule {text!r} never fires",
                hint="check day and month, e.g. there is no 31 February",
            ) from None
        period = opts.get("period", "previous")
        if period not in ("previous", "current"):
            raise ConfigurationError(f"period must be previous or current in {text!r}")
        return CronRule(expression, _zone(opts.get("tz", DEFAULT_TZ), text), period)  # type: ignore[arg-type]
    if kind == "workday":
        rest, opts = _options(tokens, {"tz", "holidays"}, text)
        match = _WORKDAY.match(" ".join(rest).lower())
        if match is None:
            raise ConfigurationError(
                f"invalid close-calendar rule {text!r}",
                hint="e.g. 'workday 3 after month-end at 06:00 tz=Europe/Berlin holidays=DE-BY'",
            )
        n, hour, minute = int(match["n"]), int(match["h"]), int(match["m"])
        if not 1 <= n <= 15:
            raise ConfigurationError(f"workday must be between 1 and 15 in {text!r}")
        if hour > 23 or minute > 59:
            raise ConfigurationError(f"invalid time of day in {text!r}")
        country, subdiv = parse_region(opts.get("holidays", "DE"))
        return CloseCalendarRule(
            n, hour, minute, _zone(opts.get("tz", DEFAULT_TZ), text), country, subdiv
        )
    if len(tokens) == 5 and croniter.is_valid(text.strip()):
        return parse_rule("cron " + text)  # a bare cron expression
    raise ConfigurationError(
        f"unknown schedule rule {text!r}",
        hint="rules start with 'cron' or 'workday', or are a five-field cron expression",
    )
