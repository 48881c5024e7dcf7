"""Deadline arithmetic, pure: no database (pytest-django refuses DB access in these plain functions).

The Chinese calendar comes from routing.calendar.make_is_workday, which reads chinese-calendar for the years
it knows and admin overrides on top. Expected dates are the State Council's published arrangements.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from minyi.core import deadlines
from minyi.core.deadlines import (
    CALENDAR_DAYS,
    HOURS,
    WORKING_DAYS,
    add_calendar_days,
    add_hours,
    add_working_days,
    due_after,
    weekday_is_workday,
    working_days_between,
)
from minyi.routing.calendar import make_is_workday, package_knows

SH = ZoneInfo("Asia/Shanghai")
EOD = time(23, 59, 59)
CHINA = make_is_workday({})


def at(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def end_of(y, m, d) -> datetime:
    return datetime.combine(date(y, m, d), EOD, tzinfo=SH)


# ---------------------------------------------------------------------------------------------- weekends


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (at(2026, 3, 2), 0, end_of(2026, 3, 2)),  # Monday, n=0: end of the same day
        (at(2026, 3, 2), 1, end_of(2026, 3, 3)),
        (at(2026, 3, 2), 5, end_of(2026, 3, 9)),  # Mon + 5 -> next Mon
        (at(2026, 3, 6), 1, end_of(2026, 3, 9)),  # Friday + 1 -> Monday
        (at(2026, 3, 7), 1, end_of(2026, 3, 9)),  # Saturday + 1 -> Monday
        (at(2026, 3, 8), 1, end_of(2026, 3, 9)),  # Sunday + 1 -> Monday
        (at(2026, 3, 6, 23, 59), 2, end_of(2026, 3, 10)),
        (at(2026, 3, 2), 10, end_of(2026, 3, 16)),
    ],
)
def test_working_days_over_weekends(start, n, due):
    assert add_working_days(start, n, weekday_is_workday) == due
    assert add_working_days(start, n) == due  # Monday-Friday is the default calendar


def test_start_day_does_not_count_even_early_in_the_morning():
    assert add_working_days(at(2026, 3, 2, 0, 1), 1) == end_of(2026, 3, 3)


# ---------------------------------------------------------------------------------------------- Chinese holidays


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # National Day 2026: 10-01..10-07 off; Sunday 09-20 and Saturday 10-10 are make-up working days.
        (at(2026, 9, 30), 1, end_of(2026, 10, 8)),
        (at(2026, 9, 30), 2, end_of(2026, 10, 9)),
        (at(2026, 9, 30), 3, end_of(2026, 10, 10)),  # a Saturday that is a working day
        (at(2026, 9, 30), 4, end_of(2026, 10, 12)),  # Sunday 10-11 is off
        (at(2026, 10, 3), 1, end_of(2026, 10, 8)),  # submitted during the holiday
        (at(2026, 9, 19), 1, end_of(2026, 9, 20)),  # Saturday + 1 -> the make-up Sunday
        # Mid-Autumn 2026: 09-25 (Fri) .. 09-27 off
        (at(2026, 9, 24), 1, end_of(2026, 9, 28)),
        # Spring Festival 2025: 01-28..02-04 off; Sunday 01-26 and Saturday 02-08 are working days.
        (at(2025, 1, 25), 1, end_of(2025, 1, 26)),
        (at(2025, 1, 27), 1, end_of(2025, 2, 5)),
        (at(2025, 1, 27), 4, end_of(2025, 2, 8)),
        (at(2025, 1, 27), 5, end_of(2025, 2, 10)),
        # the hotline's 5 working days across National Day 2025 (10-01..10-08 off, 09-28 and 10-11 worked)
        (at(2025, 9, 26), 5, end_of(2025, 10, 10)),
    ],
)
def test_chinese_holidays_and_make_up_days(start, n, due):
    assert add_working_days(start, n, CHINA) == due


@pytest.mark.parametrize(
    ("day", "is_workday"),
    [
        (date(2026, 10, 1), False),
        (date(2026, 10, 7), False),
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday, make-up
        (date(2026, 9, 20), True),  # Sunday, make-up
        (date(2026, 10, 11), False),
        (date(2025, 1, 29), False),  # Spring Festival
        (date(2025, 1, 26), True),
        (date(2025, 5, 1), False),  # Labour Day
    ],
)
def test_calendar_days(day, is_workday):
    assert CHINA(day) is is_workday


# ---------------------------------------------------------------------------------------------- admin overrides


def test_unknown_year_falls_back_to_monday_to_friday():
    assert not package_knows(2027)
    assert package_knows(2026)
    # 2027-10-01 is a Friday: without data it is an ordinary working day
    assert CHINA(date(2027, 10, 1)) is True
    assert CHINA(date(2027, 10, 2)) is False
    assert add_working_days(at(2027, 9, 30), 1, CHINA) == end_of(2027, 10, 1)


def test_admin_overrides_win_for_an_unknown_year():
    holidays = {date(2027, 10, d): False for d in range(1, 8)}
    calendar = make_is_workday({**holidays, date(2027, 9, 26): True, date(2027, 10, 9): True})
    assert calendar(date(2027, 10, 1)) is False
    assert calendar(date(2027, 9, 26)) is True  # a Sunday entered as a make-up working day
    assert add_working_days(at(2027, 9, 30), 1, calendar) == end_of(2027, 10, 8)
    assert add_working_days(at(2027, 9, 30), 2, calendar) == end_of(2027, 10, 9)  # Saturday make-up
    assert add_working_days(at(2027, 9, 25), 1, calendar) == end_of(2027, 9, 26)


def test_admin_overrides_win_over_the_package():
    # an extra closure (a typhoon day) on Tuesday 2026-03-03, and a worked Saturday 2026-03-07
    calendar = make_is_workday({date(2026, 3, 3): False, date(2026, 3, 7): True})
    assert add_working_days(at(2026, 3, 2), 1, calendar) == end_of(2026, 3, 4)
    assert add_working_days(at(2026, 3, 2), 4, calendar) == end_of(2026, 3, 7)
    # and an override may also turn a package holiday into a working day
    assert make_is_workday({date(2026, 10, 5): True})(date(2026, 10, 5)) is True


def test_a_calendar_without_working_days_is_refused():
    with pytest.raises(ValueError):
        add_working_days(at(2026, 3, 2), 1, lambda day: False)


# ---------------------------------------------------------------------------------------------- calendar days, hours


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (at(2026, 3, 2), 0, end_of(2026, 3, 2)),
        (at(2026, 3, 2), 15, end_of(2026, 3, 17)),
        (at(2026, 3, 2), 60, end_of(2026, 5, 1)),
        (at(2026, 9, 30), 1, end_of(2026, 10, 1)),  # holidays count as calendar days
        (at(2027, 12, 31, 23, 30), 1, end_of(2028, 1, 1)),
        (at(2028, 2, 28), 1, end_of(2028, 2, 29)),  # leap year
    ],
)
def test_calendar_day_deadlines(start, n, due):
    assert add_calendar_days(start, n) == due


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (at(2026, 3, 2, 10), 0, at(2026, 3, 2, 10)),
        (at(2026, 3, 2, 10), 24, at(2026, 3, 3, 10)),
        (at(2026, 9, 30, 20), 24, at(2026, 10, 1, 20)),  # urgent cases do not stop for holidays
        (at(2026, 3, 2, 10, 17), 2, at(2026, 3, 2, 12, 17)),
    ],
)
def test_hour_deadlines_are_exact(start, n, due):
    assert add_hours(start, n) == due


def test_result_keeps_the_time_zone_of_the_start():
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, still Monday in UTC
    due = add_working_days(start, 1)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 3, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("fn", [add_working_days, add_calendar_days, add_hours])
def test_naive_datetimes_are_refused(fn):
    with pytest.raises(ValueError):
        fn(datetime(2026, 3, 2, 10, 0), 1)


@pytest.mark.parametrize("fn", [add_working_days, add_calendar_days])
def test_negative_amounts_are_refused(fn):
    with pytest.raises(ValueError):
        fn(at(2026, 3, 2), -1)


@pytest.mark.parametrize(
    ("unit", "due"),
    [
        (WORKING_DAYS, end_of(2026, 10, 9)),
        (CALENDAR_DAYS, end_of(2026, 10, 2)),
        (HOURS, at(2026, 9, 30, 12)),
    ],
)
def test_due_after_dispatches_on_the_unit(unit, due):
    assert due_after(at(2026, 9, 30), 2, unit, CHINA) == due


def test_due_after_refuses_an_unknown_unit():
    with pytest.raises(ValueError):
        due_after(at(2026, 3, 2), 1, "fortnights")


def test_working_days_between():
    assert working_days_between(date(2026, 3, 2), date(2026, 3, 9)) == 5
    assert working_days_between(date(2026, 3, 9), date(2026, 3, 2)) == -5
    assert working_days_between(date(2026, 3, 2), date(2026, 3, 2)) == 0
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 10), CHINA) == 3


def test_units_match_the_sla_model_tokens():
    from minyi.routing.models import SlaPolicy

    assert {WORKING_DAYS, CALENDAR_DAYS, HOURS} == set(SlaPolicy.Unit.values)
    assert deadlines.weekday_is_workday(date(2026, 3, 7)) is False
