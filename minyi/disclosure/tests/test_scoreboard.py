"""The scoreboard's rollups and rates (minyi.disclosure.scoreboard), on a hand-made set of cases whose answers are
worked out by hand below. Cases go through the real workflow at chosen times (`act`); where the workflow cannot
say it (a missed handling deadline, a repeat appeal), a timestamp or flag is set with QuerySet.update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from minyi.accounts.models import Department, Region
from minyi.cases import policies
from minyi.cases.models import Case
from minyi.cases.tests.factories import NOW, SHANGHAI, DepartmentFactory, RegionFactory, act, create_case
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.disclosure import scoreboard
from minyi.disclosure.models import RollupWatermark, ScoreRollup

A = CaseAction
S = CaseStatus
H = timedelta(hours=1)
MARCH = scoreboard.month_period(2026, 3)
APRIL = scoreboard.month_period(2026, 4)


@dataclass
class HandMade:
    dept_a: Department
    dept_b: Department
    dept_c: Department
    north: Region  # org.region (江北区)
    south: Region
    cases: dict[str, Case]


def _citizen(case: Case) -> policies.Actor:
    return policies.citizen_actor(case=case)


def _assign(org, case: Case, department: Department, *, at: datetime) -> Case:
    case = act(case, A.ACCEPT, org.intake, now=at - H)
    return act(case, A.ASSIGN, org.dispatcher, data={"department": department.pk}, now=at)


def _reply(case: Case, handler, *, start: datetime, reply: datetime) -> Case:
    case = act(case, A.START, handler, now=start)
    return act(case, A.REPLY, handler, data={"text": "已处理完毕。"}, now=reply)


def build_hand_made(org) -> HandMade:
    """Ten cases received in March 2026 (plus one merged, which does not count) and one in April.

    All March cases arrive at T = 2026-03-02 09:00 local unless said otherwise. Response window: 24 hours.

    department A, region north unless said:
      a1  assigned T+2h, started T+3h, replied T+4h, rated satisfied (resolved not answered)
      a2  assigned T+2h, started T+27h (late), replied T+28h, no rating; a repeat appeal
      a3  (region south) assigned T+2h, started T+3h, replied T+4h, rated dissatisfied + not resolved, reopened
          T+6h (assigned again), started T+7h, replied T+8h after its deadline (T+7h), then rated basically
          satisfied + resolved: the latest evaluation wins
      a4  assigned T+2h, never started
      a5  assigned T+2h, then merged into a4: not counted anywhere
    department B, region south:
      b1  assigned T+2h, started T+3h, replied T+4h, rated satisfied + resolved
      b2  assigned T+2h, started T+3h, replied T+4h, rated dissatisfied + not resolved
      b3  assigned T+2h, started T+30h (late)
    department C, region north:
      c1  assigned T+2h, nothing else
    no department, no region:
      n1  submitted at T, never accepted
      n2  submitted 2026-03-31 23:30 local (15:30 UTC): March
      n3  submitted 2026-04-01 07:30 local (2026-03-31 23:30 UTC): April
    """
    t = NOW
    south = RegionFactory(name="江南区", code="jc-jn", parent=org.region.parent)
    dept_c = DepartmentFactory(name="市城管委", code="cgw")
    north = org.region
    cases: dict[str, Case] = {}

    case = _assign(org, create_case(now=t, region=north), org.dept_a, at=t + 2 * H)
    case = _reply(case, org.handler_a, start=t + 3 * H, reply=t + 4 * H)
    cases["a1"] = act(case, A.EVALUATE, _citizen(case), data={"rating": "satisfied"}, now=t + 5 * H)

    case = _assign(org, create_case(now=t, region=north), org.dept_a, at=t + 2 * H)
    cases["a2"] = _reply(case, org.handler_a, start=t + 27 * H, reply=t + 28 * H)

    case = _assign(org, create_case(now=t, region=south), org.dept_a, at=t + 2 * H)
    case = _reply(case, org.handler_a, start=t + 3 * H, reply=t + 4 * H)
    case = act(
        case,
        A.EVALUATE,
        _citizen(case),
        note="电梯还是坏的",
        data={"rating": "dissatisfied", "resolved": False},
        now=t + 5 * H,
    )
    case = act(case, A.REOPEN, org.supervisor, note="未修好，重办", now=t + 6 * H)
    case = _reply(case, org.handler_a, start=t + 7 * H, reply=t + 8 * H)
    cases["a3"] = act(
        case,
        A.EVALUATE,
        _citizen(case),
        data={"rating": "basically_satisfied", "resolved": True},
        now=t + 9 * H,
    )

    cases["a4"] = _assign(org, create_case(now=t, region=north), org.dept_a, at=t + 2 * H)
    case = _assign(org, create_case(now=t, region=north), org.dept_a, at=t + 2 * H)
    cases["a5"] = act(
        case, A.MERGE, org.dispatcher, note="同一事项", data={"into": cases["a4"].pk}, now=t + 3 * H
    )

    case = _assign(org, create_case(now=t, region=south), org.dept_b, at=t + 2 * H)
    case = _reply(case, org.handler_b, start=t + 3 * H, reply=t + 4 * H)
    cases["b1"] = act(
        case, A.EVALUATE, _citizen(case), data={"rating": "satisfied", "resolved": True}, now=t + 5 * H
    )
    case = _assign(org, create_case(now=t, region=south), org.dept_b, at=t + 2 * H)
    case = _reply(case, org.handler_b, start=t + 3 * H, reply=t + 4 * H)
    cases["b2"] = act(
        case,
        A.EVALUATE,
        _citizen(case),
        note="没有解决",
        data={"rating": "dissatisfied", "resolved": False},
        now=t + 5 * H,
    )
    case = _assign(org, create_case(now=t, region=south), org.dept_b, at=t + 2 * H)
    cases["b3"] = act(case, A.START, org.handler_b, now=t + 30 * H)

    cases["c1"] = _assign(org, create_case(now=t, region=north), dept_c, at=t + 2 * H)

    cases["n1"] = create_case(now=t)
    cases["n2"] = create_case(now=datetime(2026, 3, 31, 23, 30, tzinfo=SHANGHAI))
    cases["n3"] = create_case(now=datetime(2026, 4, 1, 7, 30, tzinfo=SHANGHAI))

    # What the workflow cannot express at a chosen time: a3's handling deadline had passed when it was replied
    # to again; triage marked a2 as a repeat appeal.
    Case.objects.filter(pk=cases["a3"].pk).update(handle_due_at=t + 7 * H)
    Case.objects.filter(pk=cases["a2"].pk).update(is_repeat=True)
    return HandMade(org.dept_a, org.dept_b, dept_c, north, south, cases)


@pytest.fixture
def hand_made(org) -> HandMade:
    return build_hand_made(org)


def _by_id(rows):
    return {row["id"]: row for row in rows}


# ---------------------------------------------------------------------------------------------- known answers


def test_the_hand_made_cases_give_the_rates_worked_out_by_hand(hand_made):
    scoreboard.rollup_rebuild()
    board = scoreboard.board_get(MARCH)
    departments = _by_id(board["departments"])
    a = departments[hand_made.dept_a.pk]
    # a1..a4 (a5 is merged). Responded on time: a1 (1 h after assignment) and a3 (first start T+3h, before its
    # latest assignment at T+6h); a2 (25 h) and a4 (never) were not.
    assert a["counts"]["received"] == 4
    assert a["counts"]["assigned"] == 4
    assert a["counts"]["responded_on_time"] == 2
    assert a["rates"]["response_rate"] == pytest.approx(2 / 4)
    # Replied: a1 (4 h), a2 (28 h), a3 (8 h, last reply); on time: a1, a2 (a3 missed its deadline).
    assert a["counts"]["replied"] == 3
    assert a["counts"]["replied_on_time"] == 2
    assert a["counts"]["reply_seconds"] == (4 + 28 + 8) * 3600
    assert a["rates"]["on_time_rate"] == pytest.approx(2 / 3)
    assert a["rates"]["avg_reply_days"] == pytest.approx(40 / 3 / 24)
    # Rated: a1 (satisfied), a3 (latest: basically satisfied, resolved). The first, dissatisfied rating of a3
    # does not count: otherwise satisfaction would be 1/2 and resolution 0/1.
    assert (a["counts"]["rated"], a["counts"]["satisfied"]) == (2, 2)
    assert (a["counts"]["resolution_answered"], a["counts"]["resolved"]) == (1, 1)
    assert a["rates"]["satisfaction_rate"] == 1.0
    assert a["rates"]["resolution_rate"] == 1.0
    assert a["counts"]["reopened"] == 1
    assert a["rates"]["reopen_rate"] == pytest.approx(1 / 3)
    assert a["counts"]["repeats"] == 1
    assert a["rates"]["repeat_rate"] == pytest.approx(1 / 4)

    b = departments[hand_made.dept_b.pk]
    # 2 of 3 responded on time -> 66.7 %; 1 of 2 satisfied; 1 of 2 resolved; both replies on time.
    assert b["counts"]["received"] == 3
    assert b["rates"]["response_rate"] == pytest.approx(2 / 3)
    assert b["rates"]["satisfaction_rate"] == pytest.approx(1 / 2)
    assert b["rates"]["resolution_rate"] == pytest.approx(1 / 2)
    assert b["rates"]["on_time_rate"] == 1.0
    assert b["rates"]["avg_reply_days"] == pytest.approx(4 / 24)
    assert b["rates"]["reopen_rate"] == 0.0
    assert b["rates"]["repeat_rate"] == 0.0


def test_a_zero_denominator_gives_no_rate_while_a_zero_numerator_gives_zero(hand_made):
    scoreboard.rollup_rebuild()
    c = _by_id(scoreboard.board_get(MARCH)["departments"])[hand_made.dept_c.pk]
    assert c["counts"]["received"] == 1
    assert c["rates"]["response_rate"] == 0.0  # assigned, not responded: a real 0 %
    assert c["rates"]["repeat_rate"] == 0.0
    for key in ("resolution_rate", "satisfaction_rate", "on_time_rate", "avg_reply_days", "reopen_rate"):
        assert c["rates"][key] is None, key


def test_rates_of_an_empty_row_are_all_none():
    assert set(scoreboard.rates(dict.fromkeys(scoreboard.COUNTERS, 0)).values()) == {None}


def test_merged_cases_are_left_out_and_the_overall_row_holds_every_other_case(hand_made):
    scoreboard.rollup_rebuild()
    board = scoreboard.board_get(MARCH)
    # 4 (A) + 3 (B) + 1 (C) + n1 + n2; a5 is merged, n3 was received in April (local time).
    assert board["overall"]["counts"]["received"] == 10
    assert board["unattributed"] == {"department": 2, "region": 2}
    assert sum(row["counts"]["received"] for row in board["departments"]) == 8
    regions = _by_id(board["regions"])
    assert regions[hand_made.north.pk]["counts"]["received"] == 4  # a1, a2, a4, c1
    assert regions[hand_made.south.pk]["counts"]["received"] == 4  # a3, b1, b2, b3
    # overall response: A 2 + B 2 + C 0 of 4 + 3 + 1 assigned
    assert board["overall"]["rates"]["response_rate"] == pytest.approx(4 / 8)
    assert not ScoreRollup.objects.filter(received=0).exists()


def test_rankings_follow_satisfaction_then_response_and_put_missing_figures_last(hand_made):
    scoreboard.rollup_rebuild()
    board = scoreboard.board_get(MARCH)
    assert [(row["id"], row["rank"]) for row in board["departments"]] == [
        (hand_made.dept_a.pk, 1),  # satisfaction 100 %
        (hand_made.dept_b.pk, 2),  # 50 %
        (hand_made.dept_c.pk, 3),  # none rated
    ]
    # north: a1 satisfied only -> 100 %; south: a3 ok, b1 ok, b2 not -> 66.7 %
    assert [row["id"] for row in board["regions"]] == [hand_made.north.pk, hand_made.south.pk]


def test_equal_figures_share_a_rank_and_are_listed_by_received():
    def row(code, received, satisfied):
        counts = dict.fromkeys(scoreboard.COUNTERS, 0) | {
            "received": received,
            "rated": 2,
            "satisfied": satisfied,
        }
        return {"code": code, "counts": counts, "rates": scoreboard.rates(counts)}

    ranked = scoreboard._rank([row("x", 1, 1), row("y", 5, 1), row("z", 3, 2)])
    assert [(r["code"], r["rank"]) for r in ranked] == [("z", 1), ("y", 2), ("x", 2)]


def test_the_day_is_the_local_date_so_2330_on_the_last_day_of_a_month_stays_in_that_month(hand_made):
    scoreboard.rollup_rebuild()
    days = set(ScoreRollup.objects.filter(department=None).values_list("day", flat=True))
    assert days == {date(2026, 3, 2), date(2026, 3, 31), date(2026, 4, 1)}
    april = scoreboard.board_get(APRIL)
    assert april["overall"]["counts"]["received"] == 1  # n3: 2026-03-31 23:30 UTC is April 1st in Shanghai
    assert april["departments"] == [] and april["regions"] == []
    march_31 = scoreboard.parse_period(date_from="2026-03-31", date_to="2026-03-31")
    assert scoreboard.board_get(march_31)["overall"]["counts"]["received"] == 1  # n2


# ---------------------------------------------------------------------------------------------- refresh


def test_the_first_refresh_builds_everything_and_a_second_finds_nothing_new(hand_made):
    assert scoreboard.rollup_refresh() == 3  # 2026-03-02, 03-31, 04-01
    rows = sorted(ScoreRollup.objects.values_list("id", flat=True))
    mark = RollupWatermark.objects.get(name=scoreboard.WATERMARK)
    assert mark.cases_updated_to == Case.objects.order_by("-updated_at").first().updated_at
    assert mark.refreshed_at is not None
    # Nothing changed: the overlap window re-reads the recent cases, which rebuilds the same figures.
    scoreboard.rollup_refresh()
    assert ScoreRollup.objects.count() == len(rows)
    assert scoreboard.board_get(MARCH)["overall"]["counts"]["received"] == 10


def _age_everything(*, cases_by: timedelta, watermark_by: timedelta) -> None:
    """As if the cases had last changed `cases_by` ago and the last refresh had seen them `watermark_by` ago."""
    now = timezone.now()
    Case.objects.update(updated_at=now - cases_by)
    RollupWatermark.objects.filter(name=scoreboard.WATERMARK).update(cases_updated_to=now - watermark_by)


def test_an_incremental_refresh_picks_up_a_change_and_rebuilds_only_the_touched_day(hand_made, org):
    scoreboard.rollup_refresh()
    _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
    untouched = set(ScoreRollup.objects.exclude(day=date(2026, 3, 31)).values_list("id", flat=True))
    before = list(ScoreRollup.objects.filter(day=date(2026, 3, 31)).values_list("id", flat=True))

    n2 = hand_made.cases["n2"]
    _assign(org, n2, org.dept_b, at=datetime(2026, 4, 1, 10, 0, tzinfo=SHANGHAI))
    with CaptureQueriesContext(connection) as queries:
        assert scoreboard.rollup_refresh() == 1
    assert set(ScoreRollup.objects.exclude(day=date(2026, 3, 31)).values_list("id", flat=True)) == untouched
    after = ScoreRollup.objects.get(day=date(2026, 3, 31))
    assert after.id not in before
    assert (after.department_id, after.received, after.assigned) == (org.dept_b.pk, 1, 1)
    # lock, the changed days, the two aggregates, delete, insert, watermark: a handful, whatever the case count
    assert len(queries) <= 12
    assert scoreboard.board_get(MARCH)["unattributed"]["department"] == 1


def test_a_refresh_with_nothing_changed_since_the_watermark_rebuilds_nothing(hand_made):
    scoreboard.rollup_refresh()
    _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
    rows = set(ScoreRollup.objects.values_list("id", flat=True))
    assert scoreboard.rollup_refresh() == 0
    assert set(ScoreRollup.objects.values_list("id", flat=True)) == rows


def test_a_refresh_sees_a_change_stamped_just_before_the_watermark(hand_made):
    """A transaction that stamped updated_at before the last refresh but committed after it is not lost."""
    scoreboard.rollup_refresh()
    _age_everything(cases_by=timedelta(hours=1), watermark_by=timedelta(minutes=30))
    mark = RollupWatermark.objects.get(name=scoreboard.WATERMARK).cases_updated_to
    late = hand_made.cases["n1"]
    Case.objects.filter(pk=late.pk).update(is_repeat=True, updated_at=mark - timedelta(minutes=1))
    assert scoreboard.rollup_refresh() == 1
    assert ScoreRollup.objects.get(day=date(2026, 3, 2), department=None).repeats == 1


def test_merging_a_case_later_takes_it_out_at_the_next_refresh(hand_made, org):
    scoreboard.rollup_refresh()
    assert scoreboard.board_get(MARCH)["overall"]["counts"]["received"] == 10
    act(
        hand_made.cases["n1"],
        A.MERGE,
        org.dispatcher,
        data={"into": hand_made.cases["a4"].pk},
        now=NOW + 40 * H,
    )
    scoreboard.rollup_refresh()
    from django.core.cache import cache

    cache.clear()
    assert scoreboard.board_get(MARCH)["overall"]["counts"]["received"] == 9


def test_the_rebuild_makes_the_same_few_queries_whatever_the_number_of_cases(org):
    def queries_for_rebuild() -> int:
        with CaptureQueriesContext(connection) as queries:
            scoreboard.rollup_rebuild()
        return len(queries)

    for _i in range(3):
        create_case(now=NOW, region=org.region)
    scoreboard.rollup_rebuild()  # the first run creates the watermark row
    few = queries_for_rebuild()
    for _i in range(12):
        create_case(now=NOW + H, region=org.region)
    assert queries_for_rebuild() == few
    assert ScoreRollup.objects.get().received == 15


def test_a_rebuild_drops_the_rows_of_days_that_no_longer_hold_cases(org):
    ScoreRollup.objects.create(day=date(2020, 1, 1), received=5)
    create_case(now=NOW)
    assert scoreboard.rollup_rebuild() == 1
    assert list(ScoreRollup.objects.values_list("day", "received")) == [(date(2026, 3, 2), 1)]


def test_a_rebuild_of_an_empty_database_writes_nothing(db):
    ScoreRollup.objects.create(day=date(2020, 1, 1), received=5)
    assert scoreboard.rollup_rebuild() == 0
    assert not ScoreRollup.objects.exists()
    assert RollupWatermark.objects.get(name=scoreboard.WATERMARK).cases_updated_to is None


def test_the_response_window_follows_the_setting(hand_made, settings):
    settings.MINYI_RESPONSE_HOURS = 36  # a2 (25 h) and b3 (28 h) become on time
    scoreboard.rollup_rebuild()
    departments = _by_id(scoreboard.board_get(MARCH)["departments"])
    assert departments[hand_made.dept_a.pk]["rates"]["response_rate"] == pytest.approx(3 / 4)
    assert departments[hand_made.dept_b.pk]["rates"]["response_rate"] == 1.0


def test_the_refresh_locks_the_watermark_row(hand_made):
    with CaptureQueriesContext(connection) as queries:
        scoreboard.rollup_refresh()
    if connection.features.has_select_for_update:
        assert any(
            "FOR UPDATE" in q["sql"] and "disclosure_rollupwatermark" in q["sql"]
            for q in queries.captured_queries
        )


def test_the_command_refreshes_and_rebuilds(hand_made, capsys):
    from django.core.management import call_command

    call_command("disclosure_rollup")
    assert "3 changed day(s)" in capsys.readouterr().out
    call_command("disclosure_rollup", "--full")
    assert "3 day(s) (full)" in capsys.readouterr().out
    assert ScoreRollup.objects.filter(day=date(2026, 3, 2)).exists()


def test_the_beat_schedule_runs_the_refresh_every_ten_minutes():
    from config.celery import app

    entry = app.conf.beat_schedule["disclosure-rollup"]
    assert entry["schedule"] == 10 * 60
    assert entry["args"] == ("minyi.disclosure.scoreboard.rollup_refresh", {})


# ---------------------------------------------------------------------------------------------- reading


def test_the_board_sums_rollups_only_and_is_cached(hand_made):
    scoreboard.rollup_rebuild()
    with CaptureQueriesContext(connection) as queries:
        board = scoreboard.board_get(MARCH)
    assert board["overall"]["counts"]["received"] == 10
    assert len(queries) <= 4
    assert not [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        assert (
            scoreboard.board_get(scoreboard.parse_period(date_from="2026-03-01", date_to="2026-03-31"))
            == board
        )
    assert len(queries) == 0  # same days, same cache entry


def test_the_trend_has_twelve_months_ending_with_the_current_one(hand_made):
    scoreboard.rollup_rebuild()
    with CaptureQueriesContext(connection) as queries:
        trend = scoreboard.trend_get("department", hand_made.dept_b.pk, today=date(2026, 4, 15))
    assert not [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    months = trend["months"]
    assert [m["month"] for m in months][:2] == ["2025-05", "2025-06"]
    assert months[-1]["month"] == "2026-04"
    assert months[-2]["counts"]["received"] == 3
    assert months[-2]["rates"]["response_rate"] == pytest.approx(2 / 3)
    assert months[0]["rates"]["response_rate"] is None
    assert trend["subject"] == {
        "kind": "department",
        "id": hand_made.dept_b.pk,
        "code": "rsj",
        "name": "市人社局",
    }


def test_a_trend_of_an_unknown_or_inactive_department_is_not_found(hand_made):
    from minyi.core.exceptions import NotFound

    Department.objects.filter(pk=hand_made.dept_c.pk).update(is_active=False)
    for kind, pk in [
        ("department", hand_made.dept_c.pk),
        ("department", 999999),
        ("region", 999999),
        ("x", 1),
    ]:
        with pytest.raises(NotFound):
            scoreboard.trend_get(kind, pk)
    with pytest.raises(NotFound):
        scoreboard.trend_get("department", 2**70)


def test_an_inactive_department_stays_in_the_ranking_marked_inactive(hand_made):
    Department.objects.filter(pk=hand_made.dept_c.pk).update(is_active=False)
    scoreboard.rollup_rebuild()
    c = _by_id(scoreboard.board_get(MARCH)["departments"])[hand_made.dept_c.pk]
    assert c["active"] is False


def test_every_rate_has_a_definition_naming_its_numerator_and_denominator():
    definitions = {item["key"]: item for item in scoreboard.definitions()}
    for key, numerator, denominator in scoreboard.RATES:
        assert (definitions[key]["numerator"], definitions[key]["denominator"]) == (numerator, denominator)
        assert definitions[key]["label"] and definitions[key]["definition"]
    assert "24 小时" in definitions["response_rate"]["definition"]
    assert {"cohort", "ranking", "no_denominator"} <= set(definitions)


# ---------------------------------------------------------------------------------------------- periods

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("params", "start", "end", "kind", "key"),
    [
        ({}, date(2026, 12, 1), date(2026, 12, 31), "month", "2026-12"),
        ({"period": "2026-03"}, date(2026, 3, 1), date(2026, 3, 31), "month", "2026-03"),
        ({"period": " 2024-02 "}, date(2024, 2, 1), date(2024, 2, 29), "month", "2024-02"),
        ({"period": "2026-Q1"}, date(2026, 1, 1), date(2026, 3, 31), "quarter", "2026-Q1"),
        ({"period": "2025-q4"}, date(2025, 10, 1), date(2025, 12, 31), "quarter", "2025-Q4"),
        ({"period": "2024"}, date(2024, 1, 1), date(2024, 12, 31), "year", "2024"),
        ({"period": "2000"}, date(2000, 1, 1), date(2000, 12, 31), "year", "2000"),
        (
            {"date_from": "2026-03-05", "date_to": "2026-03-05"},
            date(2026, 3, 5),
            date(2026, 3, 5),
            "range",
            None,
        ),
        (
            {"date_from": "2024-01-01", "date_to": "2024-12-31"},
            date(2024, 1, 1),
            date(2024, 12, 31),
            "range",
            None,
        ),
        (
            {"date_from": "2026-11-20", "date_to": "2027-01-10"},
            date(2026, 11, 20),
            date(2027, 1, 10),
            "range",
            None,
        ),
        (
            {"period": "", "date_from": "", "date_to": ""},
            date(2026, 12, 1),
            date(2026, 12, 31),
            "month",
            "2026-12",
        ),
    ],
)
def test_good_periods(params, start, end, kind, key):
    period = scoreboard.parse_period(today=TODAY, **params)
    assert (period.start, period.end, period.kind) == (start, end, kind)
    if key:
        assert period.key == key
        assert scoreboard.parse_period(period=period.key, today=TODAY) == period


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "2026-13"}, "格式不正确"),
        ({"period": "2026-00"}, "格式不正确"),
        ({"period": "2026-Q5"}, "格式不正确"),
        ({"period": "26-03"}, "格式不正确"),
        ({"period": "２０２６-03"}, "格式不正确"),  # full-width digits
        ({"period": "2026-03'; DROP TABLE cases_case;--"}, "格式不正确"),
        ({"period": "<script>alert(1)</script>"}, "格式不正确"),
        ({"period": "2026\u200b-03"}, "格式不正确"),
        ({"period": "2026-03\x00"}, "格式不正确"),
        ({"period": "\u202e2026-03"}, "格式不正确"),
        ({"period": "9" * 10_000}, "格式不正确"),
        ({"period": "2026-03", "date_from": "2026-03-01", "date_to": "2026-03-02"}, "只选择一种"),
        ({"date_from": "2026-03-01"}, "同时填写"),
        ({"date_to": "2026-03-01"}, "同时填写"),
        ({"date_from": "2026-02-30", "date_to": "2026-03-01"}, "格式不正确"),
        ({"date_from": "20260301", "date_to": "20260302"}, "格式不正确"),
        ({"date_from": "2026-03-05", "date_to": "2026-03-04"}, "不能晚于"),
        ({"date_from": "2024-01-01", "date_to": "2025-01-01"}, "366"),
        ({"period": "1999"}, "2000-01-01"),
        ({"period": "1999-12"}, "2000-01-01"),
        ({"date_from": "1999-12-31", "date_to": "2000-01-31"}, "2000-01-01"),
        ({"period": "2027"}, "未来"),
        ({"period": "2027-01"}, "未来"),
        ({"date_from": "2026-12-02", "date_to": "2026-12-03"}, "未来"),
    ],
)
def test_bad_periods_are_refused_with_a_message(params, message):
    with pytest.raises(scoreboard.PeriodError) as caught:
        scoreboard.parse_period(today=TODAY, **params)
    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_period"
    assert message in caught.value.message
    assert "<script>" not in caught.value.message and "DROP" not in caught.value.message
    assert caught.value.fields


def test_period_options_are_all_accepted():
    options = scoreboard.period_options(today=TODAY)
    assert options[0] == ("2026-12", "2026年12月")
    assert ("2026-Q4", "2026年第4季度") in options and ("2024", "2024年") in options
    for key, _label in options:
        scoreboard.parse_period(period=key, today=TODAY)


def test_the_rollup_day_field_round_trips_time_zone_midnights(org):
    """Midnight local is 16:00 UTC the day before: the case at 00:00 local belongs to the new day."""
    create_case(now=datetime(2026, 5, 1, 0, 0, tzinfo=SHANGHAI))
    create_case(now=datetime(2026, 4, 30, 23, 59, 59, tzinfo=SHANGHAI))
    scoreboard.rollup_rebuild()
    assert sorted(ScoreRollup.objects.values_list("day", "received")) == [
        (date(2026, 4, 30), 1),
        (date(2026, 5, 1), 1),
    ]


def test_counters_are_computed_in_the_database_not_per_case(hand_made):
    """Each batch is a grouped aggregate: the number of rows read back is the number of groups, not cases."""
    with CaptureQueriesContext(connection) as queries:
        scoreboard.rollup_rebuild()
    grouped = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert grouped and all("cases_case" in sql for sql in grouped)


def test_a_refresh_that_rebuilds_days_makes_cached_boards_stale(
    hand_made, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scoreboard.rollup_rebuild()
    before = scoreboard.board_get(MARCH)["overall"]["counts"]["repeats"]
    march = (datetime(2026, 3, 1, tzinfo=SHANGHAI), datetime(2026, 4, 1, tzinfo=SHANGHAI))
    case = Case.objects.filter(created_at__range=march, is_repeat=False).exclude(status="merged").first()
    Case.objects.filter(pk=case.pk).update(is_repeat=True, updated_at=timezone.now())
    assert scoreboard.board_get(MARCH)["overall"]["counts"]["repeats"] == before  # cached, no refresh yet
    with django_capture_on_commit_callbacks(execute=True):
        assert scoreboard.rollup_refresh() >= 1
    assert scoreboard.board_get(MARCH)["overall"]["counts"]["repeats"] == before + 1
