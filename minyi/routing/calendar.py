"""The working-day calendar: chinese-calendar for the years it knows, admin-entered days on top.

Admin entries (CalendarDay) always win, so a year the package does not know yet (2027 at the time of
writing) is made right by entering its holidays and make-up working days. Without entries, an unknown
year falls back to Monday–Friday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

IsWorkday = Callable[[date], bool]


def _package_says(day: date) -> bool | None:
    try:
        import chinese_calendar
    except ImportError:  # pragma: no cover - a dependency, but the calendar must still work without it
        return None
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def make_is_workday(overrides: dict[date, bool]) -> IsWorkday:
    """A pure predicate from explicit overrides plus the package; memoised per call site."""
    cache: dict[date, bool] = {}

    def is_workday(day: date) -> bool:
        hit = cache.get(day)
        if hit is not None:
            return hit
        if day in overrides:
            value = overrides[day]
        else:
            known = _package_says(day)
            value = known if known is not None else day.weekday() < 5
        cache[day] = value
        return value

    return is_workday


def calendar_is_workday(start: date | None = None) -> IsWorkday:
    """The calendar from the database (CalendarDay rows from `start` on) and the package."""
    from minyi.routing.models import CalendarDay

    qs = CalendarDay.objects.all()
    if start is not None:
        qs = qs.filter(date__gte=start)
    return make_is_workday(dict(qs.values_list("date", "is_workday")))


def package_knows(year: int) -> bool:
    return _package_says(date(year, 6, 1)) is not None and _package_says(date(year, 12, 31)) is not None
