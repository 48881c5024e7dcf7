"""The hot-topics job (minyi.barometer.hot.run_topics): topics from a small hand-made set of cases, stable ids and
trends across runs, retired topics, empty and tiny windows, failures, followers' notices, what is read per case.

The helpers at the top (`seed`, `MATTER_A`, ...) are shared with test_topic_views.py.
"""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from minyi.barometer import hot
from minyi.barometer.models import BarometerSettings, Topic, TopicMember, TopicRun, TopicSnapshot
from minyi.cases.models import Case
from minyi.cases.tests.factories import NOW, create_case, drive
from minyi.core.models import Notification
from minyi.disclosure.models import Publication
from minyi.intake.models import Triage
from minyi.text import topics as mining

pytestmark = pytest.mark.django_db

#: One matter: the parking spaces of one estate sold bundled with its flats.
MATTER_A = [
    ("翠湖花园小区车位捆绑销售", "翠湖花园开发商把车位和房子捆绑销售，不买车位不给办理交房手续。"),
    ("翠湖花园开发商强制捆绑车位", "翠湖花园小区开发商要求业主必须购买车位才能收房，车位捆绑销售不合理。"),
    ("反映翠湖花园车位捆绑销售问题", "翠湖花园开发商车位捆绑销售，每个车位要价二十万，业主不买就不交房。"),
    ("翠湖花园交房要求购买车位", "我是翠湖花园业主，开发商交房时强制捆绑销售车位，请相关部门查处。"),
    ("翠湖花园车位捆绑", "翠湖花园小区车位捆绑销售，开发商不买车位不交钥匙。"),
]
#: Another: one road's night works.
MATTER_B = [
    ("滨江路夜间施工噪音扰民", "滨江路工地每天夜间施工到凌晨两点，噪音很大，附近居民无法休息。"),
    ("滨江路工地深夜施工噪音", "滨江路地铁工地深夜施工，噪音扰民严重，孩子无法入睡。"),
    ("投诉滨江路夜间施工", "滨江路施工工地夜间作业噪音扰民，晚上十二点以后还在打桩。"),
    ("滨江路施工噪音太大", "滨江路工地夜间施工噪音太大，影响周边小区居民睡眠。"),
]
NOISE = [
    ("社保卡补办咨询", "请问社保卡丢失后在哪里补办，需要带什么材料？"),
    ("路灯不亮", "人民路与解放路交叉口的路灯坏了一个月了，晚上很黑。"),
    ("表扬派出所民警", "感谢城东派出所民警帮我找回丢失的钱包。"),
    ("公交车班次太少", "12路公交车班次太少，早高峰要等四十分钟。"),
]

_phones = itertools.count(13900000001)


def add_cases(texts, *, start, step=timedelta(hours=5), phone: str | None = None, **kwargs) -> list[Case]:
    """One case per (title, content), from `start` on, each with its own phone number unless told."""
    cases = []
    for i, (title, content) in enumerate(texts):
        contact = {"name": "李四", "phone": phone or str(next(_phones))}
        cases.append(
            create_case(now=start + i * step, title=title, content=content, contact=contact, **kwargs)
        )
    return cases


def seed(*, now=NOW, region=None) -> dict[str, list[Case]]:
    """Matter A (5 cases), matter B (4) and 4 unrelated cases, all in the 30 days before `now`."""
    return {
        "a": add_cases(MATTER_A, start=now - timedelta(days=6), region=region),
        "b": add_cases(MATTER_B, start=now - timedelta(days=4)),
        "noise": add_cases(NOISE, start=now - timedelta(days=9)),
    }


def members(topic: Topic) -> set[int]:
    return set(TopicMember.objects.filter(topic=topic).values_list("case_id", flat=True))


def active() -> list[Topic]:
    return list(Topic.objects.filter(is_active=True).order_by("rank"))


def topic_of(cases: list[Case]) -> Topic:
    """The topic that holds the first of `cases`."""
    return Topic.objects.get(members__case=cases[0])


# ---------------------------------------------------------------------------------------------- one run


def test_two_matters_become_two_topics():
    made = seed()
    run = hot.run_topics(now=NOW)

    assert run.status == TopicRun.Status.OK and run.error == ""
    assert run.cases == 13 and run.topics == 2
    assert run.window_end == NOW and run.window_start == NOW - timedelta(days=30)
    assert run.finished_at is not None and run.elapsed_ms > 0
    first, second = active()
    assert (first.rank, second.rank) == (1, 2)
    assert first.heat >= second.heat
    assert members(first) == {c.pk for c in made["a"]}
    assert members(second) == {c.pk for c in made["b"]}
    assert "车位" in first.keywords and "翠湖" in first.label
    assert "滨江路" in second.keywords
    assert first.representative_case_id in members(first)
    assert first.title in {title for title, _ in MATTER_A}
    assert first.size == 5 and first.previous == 0 and first.people == 5 and first.supports == 0
    assert first.trend == second.trend == Topic.Trend.NEW
    assert first.first_seen_at == first.last_seen_at == NOW
    assert first.heat == pytest.approx(
        mining.heat(size=5, people=5, supports=0, regions=0, growth=5.0), abs=1e-3
    )
    assert TopicSnapshot.objects.filter(run=run).count() == 2
    assert TopicMember.objects.filter(is_current=True).count() == 9
    # the member positions start at the representative case
    assert TopicMember.objects.get(topic=first, position=0).case_id == first.representative_case_id


def test_zero_cases_and_five_cases_both_work():
    run = hot.run_topics(now=NOW)
    assert (run.status, run.cases, run.topics) == (TopicRun.Status.OK, 0, 0)
    assert not Topic.objects.exists()

    few = add_cases(MATTER_A[:3], start=NOW - timedelta(days=2)) + add_cases(
        NOISE[:2], start=NOW - timedelta(days=3)
    )
    run = hot.run_topics(now=NOW)
    assert (run.status, run.cases, run.topics) == (TopicRun.Status.OK, 5, 1)
    (topic,) = active()
    assert members(topic) == {c.pk for c in few[:3]}


def test_merged_cases_and_cases_outside_the_windows_are_not_read(org):
    made = seed()
    add_cases(MATTER_A, start=NOW - timedelta(days=200))  # long before both windows
    add_cases(MATTER_A[:2], start=NOW + timedelta(hours=1))  # after `now`
    merged, _clock = drive(made["a"][0], "merged", org, now=NOW - timedelta(days=6))
    run = hot.run_topics(now=NOW)
    # 13 seeded, one of them merged (into a new case "主件", created at the seed time, which is read)
    assert run.cases == 13
    assert merged.pk not in members(topic_of(made["a"][1:]))


def test_triage_tokens_are_read_and_the_text_is_the_fallback():
    made = seed()
    # a case whose own words are elsewhere, but whose triage says it is about matter A
    odd = create_case(now=NOW - timedelta(days=1), title="来信", content="详见附件。", contact={})
    Triage.objects.create(
        case=odd,
        normalized_text="翠湖花园 车位 捆绑 销售",
        tokens="翠湖 花园 车位 捆绑 销售 开发商 交房",
        triaged_at=NOW,
    )
    hot.run_topics(now=NOW)
    assert members(topic_of(made["a"])) == {c.pk for c in made["a"]} | {odd.pk}


def test_people_supports_and_regions(org, make_case):
    same_phone = "+86 139-0000-7777"
    cases = add_cases(MATTER_A[:3], start=NOW - timedelta(days=5), phone=same_phone, region=org.region)
    cases += add_cases(MATTER_A[3:], start=NOW - timedelta(days=3), submitted_by=org.citizen)
    Publication.objects.create(
        case=cases[0], title="t", content="c", kind="complaint", case_status="submitted",
        received_at=cases[0].created_at, support_count=7,
    )  # fmt: skip
    run = hot.run_topics(now=NOW)
    (topic,) = active()
    assert topic.size == 5
    assert topic.people == 2  # one phone number (written two ways), one account
    assert topic.supports == 7
    assert topic.regions == 1
    assert run.cases == 5


def test_person_key_never_holds_the_phone_number(caplog):
    key = hot.person_key(user_id=None, phone="139 0000 7777")
    assert key and "13900007777" not in key and "7777" not in key
    assert hot.person_key(user_id=None, phone="+86 13900007777") == key
    assert hot.person_key(user_id=5, phone="13900007777") == "u5"
    assert hot.person_key(user_id=None, phone="12") is None
    assert hot.person_key(user_id=None, phone="", external_user="u-88") not in (None, "u-88")
    assert hot.person_key(user_id=None, phone=None) is None

    caplog.set_level(logging.DEBUG)
    add_cases(MATTER_A, start=NOW - timedelta(days=5), phone="13900007777")
    hot.run_topics(now=NOW)
    stored = [
        *Topic.objects.values_list("label", "keywords", "title", "signature"),
        *TopicRun.objects.values_list("error"),
    ]
    assert "13900007777" not in repr(stored)
    assert "13900007777" not in caplog.text


# ---------------------------------------------------------------------------------------------- across runs


def test_a_second_run_keeps_the_ids_changes_the_trend_and_adds_a_snapshot():
    made = seed()
    hot.run_topics(now=NOW)
    a, b = topic_of(made["a"]), topic_of(made["b"])

    later = NOW + timedelta(days=35)  # the first run's cases are now the previous window
    more_a = add_cases(MATTER_A * 2, start=later - timedelta(days=20))  # 10 against 5: rising
    more_b = add_cases(MATTER_B, start=later - timedelta(days=10))  # 4 against 4: steady
    run = hot.run_topics(now=later)

    assert run.topics == 2 and run.stats.matched == 2 and run.stats.created == 0
    a2, b2 = Topic.objects.get(pk=a.pk), Topic.objects.get(pk=b.pk)
    assert Topic.objects.count() == 2
    assert (a2.size, a2.previous, a2.growth) == (10, 5, 1.0)
    assert a2.trend == Topic.Trend.RISING
    assert (b2.size, b2.previous, b2.trend) == (4, 4, Topic.Trend.STEADY)
    assert a2.first_seen_at == NOW and a2.last_seen_at == later
    assert members(a2) == {c.pk for c in made["a"] + more_a}
    current = set(TopicMember.objects.filter(topic=a2, is_current=True).values_list("case_id", flat=True))
    assert current == {c.pk for c in more_a}
    assert members(b2) == {c.pk for c in made["b"] + more_b}
    history = list(TopicSnapshot.objects.filter(topic=a2).values_list("taken_at", "size", "trend"))
    assert history == [(NOW, 5, "new"), (later, 10, "rising")]


def test_a_matter_that_stops_is_gone_and_comes_back_with_its_id():
    made = seed()
    hot.run_topics(now=NOW)
    a, b = topic_of(made["a"]), topic_of(made["b"])

    later = NOW + timedelta(days=35)
    add_cases(MATTER_A, start=later - timedelta(days=10))
    run = hot.run_topics(now=later)
    assert run.topics == 1 and run.stats.gone == 1
    b.refresh_from_db()
    assert (b.is_active, b.trend, b.rank) == (False, Topic.Trend.GONE, None)
    assert members(b) == {c.pk for c in made["b"]}  # kept for its page
    assert not TopicMember.objects.filter(topic=b, is_current=True).exists()
    assert TopicSnapshot.objects.filter(topic=b).count() == 1
    assert active() == [Topic.objects.get(pk=a.pk)]
    assert active()[0].rank == 1

    back = later + timedelta(days=5)
    add_cases(MATTER_B, start=back - timedelta(days=2))
    run = hot.run_topics(now=back)
    b.refresh_from_db()
    assert b.is_active and b.trend != Topic.Trend.GONE and run.stats.revived == 1
    assert Topic.objects.count() == 2


def test_rerunning_at_the_same_moment_changes_nothing_but_adds_snapshots():
    made = seed()
    hot.run_topics(now=NOW)
    before = list(Topic.objects.order_by("pk").values_list("pk", "rank", "size", "label"))
    run = hot.run_topics(now=NOW)
    assert list(Topic.objects.order_by("pk").values_list("pk", "rank", "size", "label")) == before
    assert run.stats.matched == 2 and TopicSnapshot.objects.count() == 4
    assert members(topic_of(made["a"])) == {c.pk for c in made["a"]}


def test_settings_window_and_minimum_size_apply():
    seed()
    config = BarometerSettings.get()
    config.topic_min_size = 5
    config.save()
    run = hot.run_topics(now=NOW)
    assert run.topics == 1  # matter B has 4 cases only
    config.topic_window_days = 4
    config.topic_min_size = 2
    config.save()
    run = hot.run_topics(now=NOW)
    assert run.window_start == NOW - timedelta(days=4)
    assert run.cases == 9  # A (previous window) and B; the unrelated cases are 9 days old
    assert run.topics == 1  # A's cases are all in the previous window: no current topic
    (topic,) = active()
    assert "滨江路" in topic.keywords and (topic.size, topic.previous) == (4, 0)


# ---------------------------------------------------------------------------------------------- failures


def test_a_failure_in_mining_records_a_failed_run_and_keeps_the_topics(monkeypatch):
    seed()
    hot.run_topics(now=NOW)
    before = list(Topic.objects.order_by("pk").values_list("pk", "rank", "trend", "is_active"))

    def broken(*args, **kwargs):
        raise RuntimeError("clustering exploded")

    monkeypatch.setattr(hot.mining, "mine_topics", broken)
    with pytest.raises(RuntimeError):
        hot.run_topics(now=NOW + timedelta(days=1))
    failed = TopicRun.objects.order_by("-pk").first()
    assert failed.status == TopicRun.Status.FAILED
    assert failed.error == "RuntimeError: clustering exploded"
    assert failed.finished_at is not None
    assert list(Topic.objects.order_by("pk").values_list("pk", "rank", "trend", "is_active")) == before


def test_a_failure_while_writing_rolls_the_write_phase_back(monkeypatch):
    made = seed()
    hot.run_topics(now=NOW)
    before = list(Topic.objects.order_by("pk").values_list("pk", "rank", "size", "trend", "is_active"))
    member_rows = sorted(TopicMember.objects.values_list("topic_id", "case_id", "is_current"))
    later = NOW + timedelta(days=35)
    add_cases(MATTER_A, start=later - timedelta(days=3))

    real = hot.bulk_insert

    def broken(objs, **kwargs):
        # the snapshots are the last write: the topics and their members are written by then
        if objs and isinstance(objs[0], TopicSnapshot):
            raise RuntimeError("disk full")
        return real(objs, **kwargs)

    monkeypatch.setattr(hot, "bulk_insert", broken)
    with pytest.raises(RuntimeError):
        hot.run_topics(now=later)
    assert TopicRun.objects.order_by("-pk").first().status == TopicRun.Status.FAILED
    assert (
        list(Topic.objects.order_by("pk").values_list("pk", "rank", "size", "trend", "is_active")) == before
    )
    assert sorted(TopicMember.objects.values_list("topic_id", "case_id", "is_current")) == member_rows
    assert TopicSnapshot.objects.count() == 2
    assert members(topic_of(made["b"])) == {c.pk for c in made["b"]}


# ---------------------------------------------------------------------------------------------- followers


def test_followers_hear_when_a_topic_turns_rising_or_enters_the_top_ten(
    org, django_capture_on_commit_callbacks
):
    made = seed()
    hot.run_topics(now=NOW)
    a, b = topic_of(made["a"]), topic_of(made["b"])
    a.followers.add(org.supervisor, org.dispatcher)
    b.followers.add(org.leader)

    later = NOW + timedelta(days=35)
    add_cases(MATTER_A * 2, start=later - timedelta(days=20))
    add_cases(MATTER_B, start=later - timedelta(days=10))
    with django_capture_on_commit_callbacks(execute=True):
        run = hot.run_topics(now=later)
    assert run.stats.notified == 2
    notes = Notification.objects.filter(channel=Notification.Channel.INAPP, topic="barometer_topic")
    assert sorted(n.recipient.username for n in notes) == ["t_dispatcher", "t_supervisor"]
    assert "上升" in notes[0].subject and a.label[:10] in notes[0].subject
    assert f"/staff/barometer/topics/{a.pk}/" in notes[0].body

    # rising again, still rank 1: no second notice
    with django_capture_on_commit_callbacks(execute=True):
        hot.run_topics(now=later)
    assert notes.count() == 2


def test_a_followed_topic_that_comes_back_into_the_top_ten_is_announced(
    org, django_capture_on_commit_callbacks
):
    made = seed()
    hot.run_topics(now=NOW)
    b = topic_of(made["b"])
    b.followers.add(org.leader)
    later = NOW + timedelta(days=35)
    add_cases(MATTER_A, start=later - timedelta(days=10))
    hot.run_topics(now=later)  # B gone
    add_cases(MATTER_B, start=later + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        hot.run_topics(now=later + timedelta(days=3))
    (note,) = Notification.objects.filter(recipient=org.leader, topic="barometer_topic")
    assert "前 10 名" in note.subject


# ---------------------------------------------------------------------------------------------- the command


def test_the_command_prints_the_run_summary(capsys):
    seed()
    call_command("barometer_topics", now=NOW.isoformat())
    out = capsys.readouterr().out
    assert "13 cases read" in out and "2 topics" in out and "(ok)" in out
    assert TopicRun.objects.get().status == "ok"


def test_the_command_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("barometer_topics", now="yesterday\u202e")
    with pytest.raises(CommandError):
        call_command("barometer_topics", window_days=0)


def test_the_read_is_one_streamed_query():
    seed()
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        rows = list(hot._rows(NOW - timedelta(days=60), NOW))
    assert len(rows) == 13
    selects = [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    assert len(selects) == 1


def test_old_snapshots_are_thinned_to_one_a_day():
    made = seed()
    day = NOW.replace(hour=9)
    for hours in (0, 5, 10):  # three runs on one day (Shanghai time 09:00, 14:00, 19:00)
        hot.run_topics(now=day + timedelta(hours=hours))
    a = topic_of(made["a"])
    assert a.snapshots.count() == 3
    run = hot.run_topics(now=day + timedelta(days=hot.SNAPSHOT_HOURLY_DAYS, hours=11))
    kept = list(a.snapshots.order_by("taken_at").values_list("taken_at", flat=True))
    assert kept == [day + timedelta(hours=10), day + timedelta(days=hot.SNAPSHOT_HOURLY_DAYS, hours=11)]
    assert run.stats.pruned == 4  # two earlier runs × two topics
    assert hot.run_topics(now=day + timedelta(days=hot.SNAPSHOT_HOURLY_DAYS, hours=12)).stats.pruned == 0
