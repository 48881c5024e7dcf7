"""The barometer's daily rollups (minyi.barometer.rollups) on the hand-made set of minyi/barometer/tests/rollup_set.py,
whose counters are worked out by hand there: rebuild, refresh of only the changed days (cases, supports, triage,
deadlines passing with the clock), merged cases, the latest evaluation, the command and the generation."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from minyi.barometer import rollups
from minyi.barometer.models import BarometerWatermark, DailyRollup
from minyi.barometer.tests import rollup_set
from minyi.barometer.tests.rollup_set import LATER, H, T
from minyi.cases.models import Case, CaseEvent
from minyi.cases.tests.factories import SHANGHAI, act, build_org
from minyi.disclosure.models import Support
from minyi.intake.models import Triage

MARCH_2 = date(2026, 3, 2)
MARCH_3 = date(2026, 3, 3)
FEB_10 = date(2026, 2, 10)
MARCH_2_2025 = date(2025, 3, 2)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The hand-made set, built once for the module (and rolled back at its end), rolled up at LATER."""
    with django_db_blocker.unblock(), transaction.atomic():
        org = build_org()
        data = rollup_set.build(org)
        rollups.rollup_rebuild(now=LATER)
        yield {"org": org, "set": data}
        transaction.set_rollback(True)


def _row(day: date, category, region, department, *, channel: str = "web", kind: str = "complaint") -> dict:
    return (
        DailyRollup.objects.filter(
            day=day,
            category=category,
            region=region,
            department=department,
            channel=channel,
            kind=kind,
        )
        .values(*rollups.COUNTERS)
        .get()
    )


def _sum(name: str, **filters) -> int:
    return sum(DailyRollup.objects.filter(**filters).values_list(name, flat=True))


def _age_everything(*, cases_by: timedelta, watermark_by: timedelta) -> None:
    """As if the cases had last changed `cases_by` ago and the last refresh had seen them `watermark_by` ago."""
    now = timezone.now()
    Case.objects.update(updated_at=now - cases_by)
    BarometerWatermark.objects.filter(name=rollups.WATERMARK).update(cases_updated_to=now - watermark_by)


# ---------------------------------------------------------------------------------------------- known answers


def test_the_counters_of_department_a_are_those_worked_out_by_hand(db, world):
    s = world["set"]
    # p1 and p2 (web complaints): p1 on time everywhere; p2 started 25 h after its assignment (late), replied
    # after its deadline (overdue), rated dissatisfied and not resolved.
    assert _row(MARCH_2, s.property, s.north, s.dept_a) == {
        "received": 2,
        "assigned": 2,
        "responded_on_time": 1,
        "replied": 2,
        "replied_on_time": 1,
        "rated": 2,
        "satisfied": 1,
        "resolution_answered": 2,
        "resolved": 1,
        "overdue": 1,
        "high_risk": 0,
        "supports": 0,
    }
    # p3 (help): never started, its deadline (T+5h) passed before LATER: overdue; triage risk high.
    p3 = _row(MARCH_2, s.property, s.north, s.dept_a, kind="help")
    assert (p3["received"], p3["assigned"], p3["responded_on_time"], p3["replied"]) == (1, 1, 0, 0)
    assert (p3["overdue"], p3["high_risk"]) == (1, 1)


def test_the_latest_evaluation_counts_and_supports_and_medium_risk_are_counted(db, world):
    s = world["set"]
    # r1: first rated dissatisfied (resolution not answered), then basically satisfied and resolved; r2: in
    # progress, its deadline (T+100h) still ahead at LATER. Both responded within 24 h of their latest assignment.
    assert _row(MARCH_2, s.roads, s.south, s.dept_b) == {
        "received": 2,
        "assigned": 2,
        "responded_on_time": 2,
        "replied": 1,
        "replied_on_time": 1,
        "rated": 1,
        "satisfied": 1,
        "resolution_answered": 1,
        "resolved": 1,
        "overdue": 0,
        "high_risk": 1,
        "supports": 2,
    }


def test_channel_kind_region_and_unattributed_cases_have_their_own_rows(db, world):
    s = world["set"]
    s1 = _row(MARCH_2, s.roads, s.street, s.dept_c, channel="phone")
    assert (s1["received"], s1["assigned"], s1["responded_on_time"], s1["high_risk"]) == (
        1,
        1,
        0,
        0,
    )  # risk low
    assert _row(MARCH_2, None, None, None, kind="suggestion")["received"] == 1  # n1
    assert _row(MARCH_3, None, None, None)["received"] == 1  # n2: 23:30 local on 03-03 is still 03-03
    assert _row(FEB_10, s.property, s.north, s.dept_a)["satisfied"] == 1  # f1
    y1 = _row(MARCH_2_2025, s.property, s.north, s.dept_a)
    assert (y1["received"], y1["overdue"]) == (1, 1)
    assert set(DailyRollup.objects.values_list("day", flat=True)) == {MARCH_2, MARCH_3, FEB_10, MARCH_2_2025}


def test_merged_cases_count_nowhere_not_even_their_supports_or_risk(db, world):
    # p1, p2, p3, r1, r2, s1, n1 on 03-02; p4 (merged into p3, high risk, one support) is left out.
    assert _sum("received", day=MARCH_2) == 7
    assert _sum("supports") == 2
    assert _sum("high_risk") == 2  # p3 (high), r1 (medium)
    assert not DailyRollup.objects.filter(received=0).exists()


def test_overdue_follows_the_moment_of_the_rebuild(db, world):
    s = world["set"]
    rollups.rollup_rebuild(now=T + 3 * H)  # p3's deadline (T+5h) is still ahead
    assert _row(MARCH_2, s.property, s.north, s.dept_a, kind="help")["overdue"] == 0
    assert _row(MARCH_2, s.property, s.north, s.dept_a)["overdue"] == 1  # p2 was replied late: that stays
    rollups.rollup_rebuild(now=T + 101 * H)  # r2's deadline (T+100h) has passed too
    assert _row(MARCH_2, s.roads, s.south, s.dept_b)["overdue"] == 1


def test_the_response_window_follows_the_setting(db, world, settings):
    s = world["set"]
    settings.MINYI_RESPONSE_HOURS = 26  # p2 started 25 h after its assignment: now on time
    rollups.rollup_rebuild(now=LATER)
    assert _row(MARCH_2, s.property, s.north, s.dept_a)["responded_on_time"] == 2


# ---------------------------------------------------------------------------------------------- refresh


def test_the_first_refresh_builds_everything_and_a_second_at_the_same_moment_finds_nothing(db, world):
    BarometerWatermark.objects.all().delete()
    DailyRollup.objects.all().delete()
    before = timezone.now()
    assert rollups.rollup_refresh(now=LATER) == 4
    mark = BarometerWatermark.objects.get(name=rollups.WATERMARK)
    assert before <= mark.cases_updated_to <= timezone.now()  # the clock when it read
    assert mark.refreshed_at == LATER
    _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
    rows = set(DailyRollup.objects.values_list("id", flat=True))
    assert rollups.rollup_refresh(now=LATER) == 0
    assert set(DailyRollup.objects.values_list("id", flat=True)) == rows


def test_an_incremental_refresh_rebuilds_only_the_touched_day(db, world):
    org = world["org"]
    _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
    untouched = set(DailyRollup.objects.exclude(day=MARCH_3).values_list("id", flat=True))
    before = set(DailyRollup.objects.filter(day=MARCH_3).values_list("id", flat=True))
    rollup_set.assign(
        org, world["set"].cases["n2"], org.dept_b, at=datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)
    )
    with CaptureQueriesContext(connection) as queries:
        assert rollups.rollup_refresh(now=LATER) == 1
    assert set(DailyRollup.objects.exclude(day=MARCH_3).values_list("id", flat=True)) == untouched
    after = DailyRollup.objects.get(day=MARCH_3)
    assert after.id not in before
    assert (after.department_id, after.received, after.assigned) == (org.dept_b.pk, 1, 1)
    # lock, changed days, deadlines, two side watermarks, delete, insert, watermark: a handful, whatever the size
    assert len(queries) <= 20


def test_a_deadline_passing_rebuilds_its_day_without_any_change_to_the_case(db, world):
    s = world["set"]
    rollups.rollup_rebuild(now=T + 3 * H)
    _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
    assert _row(MARCH_2, s.property, s.north, s.dept_a, kind="help")["overdue"] == 0
    # p3's deadline (T+5h) passes between the two refreshes; nobody touched the case.
    assert rollups.rollup_refresh(now=T + 6 * H) == 1
    assert _row(MARCH_2, s.property, s.north, s.dept_a, kind="help")["overdue"] == 1
    # Nothing else falls due before T+100h: the next refreshes rebuild nothing until r2's deadline passes.
    assert rollups.rollup_refresh(now=T + 50 * H) == 0
    assert _row(MARCH_2, s.roads, s.south, s.dept_b)["overdue"] == 0
    assert rollups.rollup_refresh(now=T + 101 * H) == 1
    assert _row(MARCH_2, s.roads, s.south, s.dept_b)["overdue"] == 1


def test_a_new_support_rebuilds_its_cases_day(db, world):
    s = world["set"]
    _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
    publication = s.cases["r1"].publication
    Support.objects.create(publication=publication, voter="c", created_at=timezone.now())
    assert rollups.rollup_refresh(now=LATER) == 1
    assert _row(MARCH_2, s.roads, s.south, s.dept_b)["supports"] == 3


def test_a_triage_review_that_changes_only_the_risk_rebuilds_its_cases_day(db, world):
    s = world["set"]
    _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
    s1 = s.cases["s1"]
    Triage.objects.filter(case=s1).update(risk_level=Triage.RiskLevel.HIGH)
    CaseEvent.objects.create(case=s1, action="triage_review", created_at=timezone.now(), is_public=False)
    assert rollups.rollup_refresh(now=LATER) == 1
    assert _row(MARCH_2, s.roads, s.street, s.dept_c, channel="phone")["high_risk"] == 1


def test_merging_a_case_later_takes_it_out_at_the_next_refresh(db, world):
    org, s = world["org"], world["set"]
    assert _sum("received", day=MARCH_2) == 7
    act(s.cases["n1"], "merge", org.dispatcher, data={"into": s.cases["p3"].pk}, now=T + 40 * H)
    rollups.rollup_refresh(now=LATER)
    assert _sum("received", day=MARCH_2) == 6


def test_the_refresh_locks_the_watermark_row(db, world):
    with CaptureQueriesContext(connection) as queries:
        rollups.rollup_refresh(now=LATER)
    if connection.features.has_select_for_update:
        assert any(
            "FOR UPDATE" in q["sql"] and "barometer_barometerwatermark" in q["sql"]
            for q in queries.captured_queries
        )


def test_a_commit_that_changed_rollups_starts_a_new_generation_and_warms_the_default_dashboard(
    db, world, django_capture_on_commit_callbacks
):
    from minyi.barometer import dashboard

    first = rollups.generation()
    with django_capture_on_commit_callbacks(execute=True):
        rollups.rollup_rebuild(now=LATER)
    assert rollups.generation() == first + 1
    today = dashboard.score.today_local()
    key = dashboard._cache_key(
        dashboard.Filters(period=dashboard.default_period(today), default_period=True),
        dashboard.Scope(all=True),
        today,
    )
    assert cache.get(key) is not None
    with django_capture_on_commit_callbacks(execute=True):
        _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
        assert rollups.rollup_refresh(now=LATER) == 0
    assert rollups.generation() == first + 1  # nothing changed: the cached dashboards stay


def test_the_command_refreshes_and_rebuilds(db, world, capsys):
    call_command("barometer_rollup")
    assert "changed day(s)" in capsys.readouterr().out
    call_command("barometer_rollup", "--rebuild")
    assert "4 day(s) (full)" in capsys.readouterr().out
    assert DailyRollup.objects.filter(day=MARCH_2).exists()
