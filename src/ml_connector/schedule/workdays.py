"""Working days: Monday to Friday except public holidays of a country / federal state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays

from ml_connector.errors import ConfigurationError

__all__ = ["WorkingDays", "parse_region"]


@lru_cache(maxsize=256)
def _holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    table = holidays.country_holidays(country, subdiv=subdiv, years=year)
    return frozenset(table.keys())


def parse_region(text: str) -> tuple[str, str | None]:
    """``"DE-BY"`` -> ``("DE", "BY")``; ``"DE"`` -> ``("DE", None)``; validated."""
    country, _, subdiv = text.strip().upper().partition("-")
    try:
        holidays.country_holidays(country, subdiv=subdiv or None, years=2026)
    except (NotImplementedError, KeyError) as exc:
        raise ConfigurationError(
            f"unknown holiday region {text!r}",
            hint="use a country code with an optional state, e.g. DE or DE-BY",
        ) from exc
    return country, subdiv or None


@dataclass(frozen=True, slots=True)
class WorkingDays:
    """The working-day calendar of one region (``subdiv`` e.g. ``"BY"`` for Bavaria)."""

    country: str = "DE"
    subdiv: str | None = None

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday in this region."""
        return day in _holidays(self.country, self.subdiv, day.year)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and not a public holiday."""
        return day.weekday() < 5 and not self.is_holiday(day)

    def nth_after(self, day: date, n: int) -> date:
        """The ``n``-th working day strictly after ``day`` (``n`` >= 1)."""
        if n < 1:
            raise ValueError("n is 1-based")
        current = day
        while n:
            current += timedelta(days=1)
            if self.is_working_day(current):
                n -= 1
        return current
