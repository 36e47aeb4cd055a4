"""Booking periods (calendar months) and the fiscal year they belong to."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

__all__ = ["Period"]

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar month, written ``YYYY-MM``; one EXTF batch covers at most one period."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"2026-10"`` -> ``Period(2026, 10)``; ``ValueError`` for anything else."""
        match = _PERIOD.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a period; write it as YYYY-MM, e.g. 2026-10")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def contains(self, day: date) -> bool:
        return self.year == day.year and self.month == day.month

    def fiscal_year_start(self, start_month: int) -> date:
        """First day of the fiscal year (starting in ``start_month``) that holds this period."""
        year = self.year if self.month >= start_month else self.year - 1
        return date(year, start_month, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
