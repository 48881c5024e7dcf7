"""Deadline arithmetic: pure functions, tested without a database.

Working-day deadlines end at the end of the n-th working day after the start day (the start day itself
does not count), in the time zone of `start`. Calendar-day deadlines end at the end of the n-th day.
Hour deadlines are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

IsWorkday = Callable[[date], bool]

WORKING_DAYS = "working_days"
CALENDAR_DAYS = "calendar_days"
HOURS = "hours"

_END_OF_DAY = time(23, 59, 59)


def weekday_is_workday(day: date) -> bool:
    return day.weekday() < 5


def _end_of(day: date, like: datetime) -> datetime:
    return datetime.combine(day, _END_OF_DAY, tzinfo=like.tzinfo)


def add_working_days(start: datetime, n: int, is_workday: IsWorkday = weekday_is_workday) -> datetime:
    """End of the n-th working day after `start`'s date. n == 0 means the end of `start`'s own day."""
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    if n < 0:
        raise ValueError("n must not be negative")
    day = start.date()
    remaining = n
    # A year has ~250 working days; 10 years of non-working days in a row means a broken calendar.
    guard = 0
    while remaining > 0:
        day += timedelta(days=1)
        guard += 1
        if guard > 3660 + n:
            raise ValueError("calendar has no working days")
        if is_workday(day):
            remaining -= 1
    return _end_of(day, start)


def add_calendar_days(start: datetime, n: int) -> datetime:
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    if n < 0:
        raise ValueError("n must not be negative")
    return _end_of(start.date() + timedelta(days=n), start)


def add_hours(start: datetime, n: int) -> datetime:
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    return start + timedelta(hours=n)


def due_after(
    start: datetime, amount: int, unit: str, is_workday: IsWorkday = weekday_is_workday
) -> datetime:
    if unit == WORKING_DAYS:
        return add_working_days(start, amount, is_workday)
    if unit == CALENDAR_DAYS:
        return add_calendar_days(start, amount)
    if unit == HOURS:
        return add_hours(start, amount)
    raise ValueError(f"unknown unit {unit!r}")


def working_days_between(start: date, end: date, is_workday: IsWorkday = weekday_is_workday) -> int:
    """Working days in (start, end]; negative when end is before start."""
    if end < start:
        return -working_days_between(end, start, is_workday)
    return sum(1 for i in range(1, (end - start).days + 1) if is_workday(start + timedelta(days=i)))
