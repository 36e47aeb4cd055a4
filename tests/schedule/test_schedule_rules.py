"""Schedule rules: parsing, close calendars with German holidays, cron, periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector.errors import ConfigurationError
from ml_connector.schedule import (
    CloseCalendarRule,
    CronRule,
    WorkingDays,
    due_runs,
    next_runs,
    parse_rule,
    period_for,
)
from ml_connector.schedule.fire import upcoming

BERLIN = ZoneInfo("Europe/Berlin")
STATES = [
    "BW",
    "BY",
    "BE",
    "BB",
    "HB",
    "HH",
    "HE",
    "MV",
    "NI",
    "NW",
    "RP",
    "SL",
    "SN",
    "ST",
    "SH",
    "TH",
]


def test_parse_and_print_round_trip() -> None:
    rule = parse_rule("workday 3 after month-end at 06:00 tz=Europe/Berlin holidays=DE-BY")
    assert rule == CloseCalendarRule(3, 6, 0, "Europe/Berlin", "DE", "BY")
    assert parse_rule(str(rule)) == rule
    assert parse_rule("workday 2 at 7:30") == CloseCalendarRule(2, 7, 30)
    cron = parse_rule("cron 0 6 * * 1-5 tz=UTC period=current")
    assert cron == CronRule("0 6 * * 1-5", "UTC", "current")
    assert parse_rule(str(cron)) == cron
    assert parse_rule("0 6 3 * *") == CronRule("0 6 3 * *", "Europe/Berlin", "previous")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("hourly", "unknown schedule rule"),
        ("cron 0 6 * *", "invalid cron"),
        ("cron 0 6 * * * tz=Mars/Base", "unknown time zone"),
        ("workday 0 at 06:00", "between 1 and 15"),
        ("workday 3 at 25:00", "time of day"),
        ("workday 3 at 06:00 holidays=DE-XX", "holiday region"),
        ("workday 3 at 06:00 colour=red", "unknown option"),
        ("workday three at 06:00", "invalid close-calendar"),
    ],
)
def test_bad_rules_are_configuration_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_rule(text)


def test_bavarian_epiphany_and_new_year_are_skipped() -> None:
    rule = parse_rule("workday 3 at 06:00 holidays=DE-BY")
    [fire] = next_runs(rule, datetime(2026, 12, 31, tzinfo=UTC))
    # 1 Jan 2027 holiday (Fri), 4 and 5 Jan working days, 6 Jan Epiphany in Bavaria
    assert fire == datetime(2027, 1, 7, 6, 0, tzinfo=BERLIN)
    assert period_for(rule, fire) == "2026-12"
    berlin = parse_rule("workday 3 at 06:00 holidays=DE-BE")
    assert next_runs(berlin, datetime(2026, 12, 31, tzinfo=UTC)) == [
        datetime(2027, 1, 6, 6, 0, tzinfo=BERLIN)
    ]


def test_due_runs_catch_up_within_the_window() -> None:
    rule = parse_rule("workday 1 at 06:00")
    schedules = [("gl", rule)]
    # 2 Nov 2026 (Mon) is the first working day after October's end
    fire = datetime(2026, 11, 2, 6, 0, tzinfo=BERLIN)
    assert due_runs(schedules, fire - timedelta(seconds=1)) == []
    assert due_runs(schedules, fire) == [("gl", fire, "2026-10")]
    assert due_runs(schedules, fire + timedelta(days=2)) == [("gl", fire, "2026-10")]
    assert due_runs(schedules, fire + timedelta(days=4)) == []
    rows = upcoming([("a", rule), ("b", parse_rule("cron 0 5 * * * tz=UTC"))], fire, 2)
    assert [name for name, _, _ in rows] == ["b", "b", "a", "a"]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_runs(parse_rule("workday 1 at 06:00"), datetime(2026, 1, 1))


instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(
    after=instants,
    n=st.integers(1, 10),
    state=st.sampled_from(STATES),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    count=st.integers(1, 4),
)
def test_close_calendar_fires_on_the_nth_working_day(
    after: datetime, n: int, state: str, hour: int, minute: int, count: int
) -> None:
    rule = CloseCalendarRule(n, hour, minute, "Europe/Berlin", "DE", state)
    calendar = WorkingDays("DE", state)
    fires = next_runs(rule, after, count)
    assert len(fires) == count
    previous = after
    for fire in fires:
        assert fire.astimezone(UTC) > previous.astimezone(UTC)
        previous = fire
        assert fire.tzinfo == BERLIN
        local = fire.astimezone(BERLIN)
        assert (local.hour, local.minute) == (hour, minute)  # working days never change clocks
        day = local.date()
        assert calendar.is_working_day(day)
        first = day.replace(day=1)
        working_before = sum(
            calendar.is_working_day(first + timedelta(days=i)) for i in range(day.day - 1)
        )
        assert working_before == n - 1
        closed = (first - timedelta(days=1)).strftime("%Y-%m")
        assert period_for(rule, fire) == closed
    months = [(f.year, f.month) for f in fires]
    assert len(set(months)) == len(months)


dst_weeks = st.sampled_from(
    [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)]
).flatmap(
    lambda d: st.datetimes(
        min_value=datetime.combine(d - timedelta(days=4), datetime.min.time()),
        max_value=datetime.combine(d + timedelta(days=3), datetime.min.time()),
        timezones=st.just(BERLIN),
    )
)


@settings(max_examples=150, deadline=None)
@given(after=dst_weeks, hour=st.sampled_from([0, 1, 2, 3, 6, 23]), minute=st.sampled_from([0, 30]))
def test_cron_in_dst_change_weeks(after: datetime, hour: int, minute: int) -> None:
    rule = CronRule(f"{minute} {hour} * * *", "Europe/Berlin")
    fires = next_runs(rule, after, 4)
    previous = after
    for fire in fires:
        assert fire.astimezone(UTC) > previous.astimezone(UTC)  # same-zone ">" ignores fold
        assert fire.astimezone(UTC) - previous.astimezone(UTC) <= timedelta(days=1, hours=1)
        previous = fire
        assert fire.tzinfo == BERLIN
        local = fire.astimezone(BERLIN)
        day = local.date()
        start = datetime.combine(day, datetime.min.time(), BERLIN).utcoffset()
        end = datetime.combine(day, datetime.max.time(), BERLIN).utcoffset()
        if start != end and hour == 2 and start is not None and end is not None and end > start:
            # spring forward: 02:xx does not exist that night; the run happens at 03:00
            assert (local.hour, local.minute) == (3, 0)
        else:
            assert (local.hour, local.minute) == (hour, minute)
