"""The working-day calendar: package data, admin overrides (CalendarDay rows), fallback for unknown years."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from minyi.routing import calendar
from minyi.routing.calendar import calendar_is_workday, make_is_workday, package_knows
from minyi.routing.models import CalendarDay
from minyi.routing.services import due_after

SH = ZoneInfo("Asia/Shanghai")

# ---------------------------------------------------------------------------------------------- pure (no DB)


def test_make_is_workday_without_overrides_follows_the_package():
    is_workday = make_is_workday({})
    assert is_workday(date(2026, 10, 1)) is False
    assert is_workday(date(2026, 10, 10)) is True  # Saturday, make-up day
    assert is_workday(date(2026, 3, 2)) is True


def test_overrides_beat_the_package_and_the_fallback():
    is_workday = make_is_workday({date(2026, 10, 10): False, date(2027, 2, 6): True})
    assert is_workday(date(2026, 10, 10)) is False
    assert is_workday(date(2027, 2, 6)) is True  # a Saturday in a year the package does not know


def test_unknown_year_is_monday_to_friday():
    assert not package_knows(2027)
    is_workday = make_is_workday({})
    week = [date(2027, 3, d) for d in range(1, 8)]  # Monday 2027-03-01 .. Sunday
    assert [is_workday(d) for d in week] == [True, True, True, True, True, False, False]


def test_without_the_package_the_calendar_still_works(monkeypatch):
    monkeypatch.setattr(calendar, "_package_says", lambda day: None)
    is_workday = make_is_workday({date(2026, 10, 1): False})
    assert is_workday(date(2026, 10, 1)) is False
    assert is_workday(date(2026, 10, 10)) is False  # plain Saturday without the package
    assert is_workday(date(2026, 10, 8)) is True


def test_answers_are_memoised_per_predicate(monkeypatch):
    calls = []

    def spy(day):
        calls.append(day)
        return True

    monkeypatch.setattr(calendar, "_package_says", spy)
    is_workday = make_is_workday({})
    for _ in range(3):
        is_workday(date(2026, 3, 2))
    assert calls == [date(2026, 3, 2)]


# ---------------------------------------------------------------------------------------------- with the database


@pytest.mark.django_db
def test_calendar_days_from_the_database_win():
    CalendarDay.objects.create(date=date(2027, 10, 1), is_workday=False, name="国庆节")
    CalendarDay.objects.create(date=date(2027, 9, 26), is_workday=True, name="国庆调休")
    CalendarDay.objects.create(date=date(2026, 3, 3), is_workday=False, name="台风停工")
    is_workday = calendar_is_workday()
    assert is_workday(date(2027, 10, 1)) is False
    assert is_workday(date(2027, 9, 26)) is True
    assert is_workday(date(2026, 3, 3)) is False
    assert is_workday(date(2026, 3, 4)) is True


@pytest.mark.django_db
def test_routing_due_after_uses_the_admin_calendar():
    start = datetime(2027, 9, 30, 10, 0, tzinfo=SH)  # Thursday
    assert due_after(start=start, amount=1, unit="working_days") == datetime(
        2027, 10, 1, 23, 59, 59, tzinfo=SH
    )
    for d in range(1, 8):
        CalendarDay.objects.create(date=date(2027, 10, d), is_workday=False, name="国庆节")
    assert due_after(start=start, amount=1, unit="working_days") == datetime(
        2027, 10, 8, 23, 59, 59, tzinfo=SH
    )


@pytest.mark.django_db
def test_due_after_counts_in_local_time():
    # 2026-03-02 17:00 UTC is already Tuesday 01:00 in Shanghai: the count starts from Tuesday
    start = datetime(2026, 3, 2, 17, 0, tzinfo=ZoneInfo("UTC"))
    assert due_after(start=start, amount=1, unit="working_days") == datetime(
        2026, 3, 4, 23, 59, 59, tzinfo=SH
    )


@pytest.mark.django_db
def test_calendar_day_is_unique_per_date():
    from django.db import IntegrityError, transaction

    CalendarDay.objects.create(date=date(2027, 1, 1), is_workday=False, name="元旦")
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarDay.objects.create(date=date(2027, 1, 1), is_workday=True)
