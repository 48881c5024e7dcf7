"""The barometer's rollups on a handful of cases made in the test (no shared set): the rebuild's query count does
not grow with the cases, stale days disappear, an empty database writes nothing."""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.test.utils import CaptureQueriesContext

from minyi.accounts.models import Region
from minyi.barometer import rollups
from minyi.barometer.models import BarometerWatermark, DailyRollup
from minyi.barometer.tests.rollup_set import LATER, H, T
from minyi.cases.tests.factories import create_case


def test_the_rebuild_makes_the_same_few_queries_whatever_the_number_of_cases(db):
    region = Region.objects.create(name="某区", code="some")

    def queries_for_rebuild() -> int:
        with CaptureQueriesContext(connection) as queries:
            rollups.rollup_rebuild(now=LATER)
        return len(queries)

    for _i in range(3):
        create_case(now=T, region=region)
    rollups.rollup_rebuild(now=LATER)  # the first run creates the watermark rows
    few = queries_for_rebuild()
    for _i in range(12):
        create_case(now=T + H, region=region)
    assert queries_for_rebuild() == few
    assert DailyRollup.objects.get().received == 15


def test_a_rebuild_drops_the_rows_of_days_that_no_longer_hold_cases_and_an_empty_one_writes_nothing(db):
    DailyRollup.objects.create(day=date(2020, 1, 1), channel="web", kind="complaint", received=5)
    assert rollups.rollup_rebuild() == 0
    assert not DailyRollup.objects.exists()
    assert BarometerWatermark.objects.get(name=rollups.WATERMARK).cases_updated_to is None
    create_case(now=T)
    assert rollups.rollup_rebuild() == 1
    assert list(DailyRollup.objects.values_list("day", "received")) == [(date(2026, 3, 2), 1)]
