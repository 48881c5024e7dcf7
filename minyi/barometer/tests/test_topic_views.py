"""The hot-topic pages: the list and its heat formula, a topic's page, scope (404 outside), assignment with and
without dispatch, following, notifications, hostile input, the CSV of a topic's cases."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from minyi.barometer import hot
from minyi.barometer.models import Topic, TopicEvent
from minyi.barometer.tests.test_hot import MATTER_A, add_cases, seed, topic_of
from minyi.cases.models import Case, CaseEvent
from minyi.cases.tests.factories import NOW, drive, fresh
from minyi.cases.workflow import CaseStatus
from minyi.core.models import Notification

pytestmark = pytest.mark.django_db

S = CaseStatus


@pytest.fixture
def world(org):
    """Matter A (5 cases: 2 accepted, 1 returned, 2 submitted), matter B (4), noise; one run of the job."""
    made = seed()
    a = made["a"]
    a[0], _ = drive(a[0], S.ACCEPTED, org, now=NOW - timedelta(days=5))
    a[1], _ = drive(a[1], S.ACCEPTED, org, now=NOW - timedelta(days=5))
    a[2], _ = drive(a[2], S.RETURNED, org, now=NOW - timedelta(days=5))
    hot.run_topics(now=NOW)
    made["topic_a"] = topic_of(a)
    made["topic_b"] = topic_of(made["b"])
    return made


def login(user) -> Client:
    client = Client()
    client.force_login(fresh(user))
    return client


def url(name: str, topic: Topic | int | None = None) -> str:
    if topic is None:
        return reverse(f"barometer:{name}")
    return reverse(f"barometer:{name}", args=[topic if isinstance(topic, int) else topic.pk])


def assign(client: Client, topic: Topic, department, *, note: str = "", dispatch: bool = False, **extra):
    data = {"department": department if isinstance(department, str) else department.pk, "note": note, **extra}
    if dispatch:
        data["dispatch"] = "on"
    return client.post(url("topic_assign", topic), data)


# ---------------------------------------------------------------------------------------------- the list


def test_the_list_ranks_the_topics_and_writes_out_the_heat_formula(org, world):
    response = login(org.dispatcher).get(url("topics"))
    assert response.status_code == 200
    page = response.content.decode()
    a, b = world["topic_a"], world["topic_b"]
    assert page.index(a.label) < page.index(b.label)  # rank 1 first
    assert a.title in page and "车位" in page
    assert "热度 = 10 × (1 × ln(1 + 本期诉求数) + 1 × ln(1 + 人数) + 0.5 × ln(1 + 附议数)" in page
    assert "0.8 × ln(1 + 涉及区域数)" in page
    assert "新出现" in page and "trend-new" in page
    assert f"{a.heat:.1f}" in page
    assert "更新于" in page
    # the heat formula's text follows the weights the job uses
    assert all(f"{w:g} ×" in page for w in hot.mining.HEAT_WEIGHTS.values())


def test_the_list_filters(org, world):
    client = login(org.dispatcher)
    a = world["topic_a"]
    a.followers.add(org.dispatcher)
    followed = client.get(url("topics"), {"show": "followed"}).content.decode()
    assert a.label in followed and world["topic_b"].label not in followed
    assert (
        "交办本部门的" not in followed and "已交办" in followed
    )  # a dispatcher has no department of their own
    assert a.label not in client.get(url("topics"), {"show": "department"}).content.decode()
    assign(client, a, org.dept_a)
    assert a.label in client.get(url("topics"), {"show": "department"}).content.decode()
    gone = client.get(url("topics"), {"show": "gone"}).content.decode()
    assert "暂无热点" in gone
    # a value that is not a filter shows the active topics
    assert client.get(url("topics"), {"show": "<script>"}).status_code == 200


def test_a_failed_last_run_is_shown(org, world, monkeypatch):
    monkeypatch.setattr(hot.mining, "mine_topics", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        hot.run_topics(now=NOW)
    page = login(org.supervisor).get(url("topics")).content.decode()
    assert "最近一次分析未完成" in page and world["topic_a"].label in page


# ---------------------------------------------------------------------------------------------- scope


def test_who_sees_the_topics(org, world, client):
    a, b = world["topic_a"], world["topic_b"]
    for user in (org.dispatcher, org.supervisor, org.leader):
        assert login(user).get(url("topic", a)).status_code == 200
    # a department head sees only topics that touch their department: none yet
    head = login(org.head_a)
    assert head.get(url("topics")).status_code == 200
    assert a.label not in head.get(url("topics")).content.decode()
    assert head.get(url("topic", a)).status_code == 404
    assert head.get(url("topic_cases", a)).status_code == 404
    assert head.post(url("topic_follow", a)).status_code == 404
    # staff without a barometer role: 403; a citizen: 404 (no staff area); anonymous: the login page
    assert login(org.intake).get(url("topics")).status_code == 403
    assert login(org.citizen).get(url("topics")).status_code == 404
    response = client.get(url("topic", a))
    assert response.status_code == 302 and "login" in response["Location"]
    assert login(org.dispatcher).get(url("topic", 999_999)).status_code == 404

    # once A's cases are with department A, its head sees A (and only the cases they may open), not B
    assign(login(org.dispatcher), a, org.dept_a, dispatch=True)
    head = login(org.head_a)
    listing = head.get(url("topics")).content.decode()
    assert a.label in listing and b.label not in listing
    page = head.get(url("topic", a)).content.decode()
    dispatched = world["a"][:3]
    assert all(c.tracking_number in page for c in dispatched)
    assert world["a"][3].tracking_number not in page  # still submitted: not the department's
    assert "另有 2 件不在您的查看范围内" in page
    assert head.get(url("topic", b)).status_code == 404
    assert login(org.handler_b).get(url("topic", a)).status_code == 404
    # a head may not assign
    assert assign(head, a, org.dept_b).status_code == 403


# ---------------------------------------------------------------------------------------------- assign


def test_assign_without_dispatch(org, world, django_capture_on_commit_callbacks):
    a = world["topic_a"]
    client = login(org.dispatcher)
    case_events = CaseEvent.objects.filter(case__in=world["a"]).count()
    with django_capture_on_commit_callbacks(execute=True):
        response = assign(client, a, org.dept_a, note="请统筹处理翠湖花园车位问题")
    assert response.status_code == 302 and response["Location"] == url("topic", a)
    a.refresh_from_db()
    assert a.department == org.dept_a and a.assigned_by == org.dispatcher and a.assigned_at is not None
    (event,) = TopicEvent.objects.filter(topic=a, action="assign")
    assert event.note == "请统筹处理翠湖花园车位问题"
    assert event.data["department"] == org.dept_a.pk and event.data["dispatch"] is False
    assert CaseEvent.objects.filter(case__in=world["a"]).count() == case_events  # no case moved
    # the department's head hears of it
    (note,) = Notification.objects.filter(recipient=org.head_a, topic="barometer_topic_assigned")
    assert a.label[:20] in note.subject and url("topic", a) in note.body
    page = client.get(url("topic", a)).content.decode()
    assert "已将热点交办给" in page and "请统筹处理翠湖花园车位问题" in page and "已交办" in page


def test_assign_with_dispatch_moves_the_waiting_cases(org, world, django_capture_on_commit_callbacks):
    a = world["topic_a"]
    waiting = world["a"][:3]  # two accepted, one returned
    with django_capture_on_commit_callbacks(execute=True):
        response = assign(login(org.dispatcher), a, org.dept_b, note="统一交办", dispatch=True)
    assert response.status_code == 302
    for case in waiting:
        case = Case.objects.get(pk=case.pk)
        assert (case.status, case.department_id) == (S.ASSIGNED, org.dept_b.pk)
        event = CaseEvent.objects.filter(case=case, action="assign").order_by("-created_at", "-id").first()
        assert event.to_status == S.ASSIGNED and event.actor == org.dispatcher
        assert event.data["department"] == org.dept_b.pk and a.label in event.note
    for case in world["a"][3:]:
        assert Case.objects.get(pk=case.pk).status == S.SUBMITTED
    (event,) = TopicEvent.objects.filter(topic=a, action="assign")
    assert (event.data["dispatched"], event.data["skipped"]) == (3, 0)
    # the department's handlers hear of each case, as for any assignment
    assert Notification.objects.filter(recipient=org.handler_b, topic="assigned").count() == 3


def test_cases_the_actor_may_not_assign_are_skipped_and_counted(org, world):
    # a supervisor may assign a topic, but the workflow lets only dispatchers assign cases
    a = world["topic_a"]
    response = assign(login(org.supervisor), a, org.dept_a, dispatch=True)
    assert response.status_code == 302
    (event,) = TopicEvent.objects.filter(topic=a, action="assign")
    assert (event.data["dispatched"], event.data["skipped"]) == (0, 3)
    assert Case.objects.get(pk=world["a"][0].pk).status == S.ACCEPTED
    page = login(org.supervisor).get(url("topic", a)).content.decode()
    assert "跳过 3 件" in page


def test_hostile_input_in_the_assignment(org, world):
    a = world["topic_a"]
    client = login(org.dispatcher)
    hostile = "<script>alert(1)</script>\u202e\u200b' OR 1=1; DROP TABLE cases_case; --\x07\u3000请处理"
    assert assign(client, a, org.dept_a, note=hostile).status_code == 302
    event = TopicEvent.objects.get(topic=a, action="assign")
    # bidi, zero-width and control characters go; the ideographic space stays; the rest is kept as text
    assert event.note == "<script>alert(1)</script>' OR 1=1; DROP TABLE cases_case; --\u3000请处理"
    page = client.get(url("topic", a)).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    for bad in ({"department": "1 OR 1=1"}, {"department": ""}, {"department": "999999"}):
        response = client.post(url("topic_assign", a), {"note": "x", **bad})
        assert response.status_code == 400, bad
        assert "请检查交办信息" in response.content.decode()
    too_long = client.post(url("topic_assign", a), {"department": org.dept_a.pk, "note": "长" * 2001})
    assert too_long.status_code == 400
    gb18030 = "翠湖花园".encode("gb18030")
    response = client.post(
        url("topic_assign", a),
        b"department=%d&note=%s" % (org.dept_a.pk, b"".join(b"%%%02X" % c for c in gb18030)),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400 and "UTF-8" in response.content.decode()
    assert TopicEvent.objects.filter(topic=a, action="assign").count() == 1
    assert client.get(url("topic_assign", a)).status_code == 405


def test_an_inactive_department_is_refused(org, world):
    org.dept_b.is_active = False
    org.dept_b.save()
    response = assign(login(org.dispatcher), world["topic_a"], org.dept_b)
    assert response.status_code == 400


# ---------------------------------------------------------------------------------------------- follow


def test_follow_toggles(org, world):
    a = world["topic_a"]
    client = login(org.leader)
    response = client.post(url("topic_follow", a))
    assert response.status_code == 302 and response["Location"] == url("topic", a)
    assert a.followers.filter(pk=org.leader.pk).exists()
    page = client.get(url("topic", a)).content.decode()
    assert "取消关注" in page and "已关注该热点" in page
    assert a.label in client.get(url("topics"), {"show": "followed"}).content.decode()

    response = client.post(url("topic_follow", a), {"next": "https://evil.example/steal"})
    assert response["Location"] == url("topic", a)
    assert not a.followers.filter(pk=org.leader.pk).exists()
    response = client.post(url("topic_follow", a), {"next": url("topics") + "?show=followed"})
    assert response["Location"] == url("topics") + "?show=followed"
    actions = list(TopicEvent.objects.filter(topic=a).values_list("action", flat=True))
    assert actions == ["follow", "unfollow", "follow"]
    assert client.get(url("topic_follow", a)).status_code == 405


def test_a_follower_is_notified_when_the_topic_rises(org, world, django_capture_on_commit_callbacks):
    a = world["topic_a"]
    login(org.leader).post(url("topic_follow", a))
    later = NOW + timedelta(days=35)
    add_cases(MATTER_A * 2, start=later - timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=True):
        hot.run_topics(now=later)
    (note,) = Notification.objects.filter(recipient=org.leader, topic="barometer_topic")
    assert "上升" in note.subject
    page = login(org.leader).get(url("topic", a)).content.decode()
    assert "上升" in page


# ---------------------------------------------------------------------------------------------- the topic page


def test_the_topic_page_has_its_history_chart_data_and_table(org, world):
    a = world["topic_a"]
    later = NOW + timedelta(days=35)
    add_cases(MATTER_A * 2, start=later - timedelta(days=20))
    hot.run_topics(now=later)
    response = login(org.dispatcher).get(url("topic", a))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="topic-history-data"' in page and 'id="history-table"' in page
    assert "2026-03-02" in page and "2026-04-06" in page  # one point per day (Shanghai time)
    # strict CSP: no inline script or style
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "style=" not in page and "<style" not in page
    assert "barometer-topics.js" in page and "barometer-topics.css" in page
    # the appeals link to the staff case page; the previous window's cases are marked
    assert reverse("cases:detail", args=[world["a"][0].pk]) in page
    assert "上期" in page


def test_the_cases_of_a_topic_as_csv(org, world):
    a = world["topic_a"]
    odd = add_cases(
        [('=HYPERLINK("http://evil")翠湖花园车位捆绑', MATTER_A[0][1])], start=NOW - timedelta(days=1)
    )
    hot.run_topics(now=NOW)
    response = login(org.dispatcher).get(url("topic_cases", a))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"minyi-topic-{a.pk}-" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["受理编号", "标题", "状态"]
    numbers = {row[0] for row in rows[1:]}
    assert numbers == {c.tracking_number for c in world["a"] + odd}
    evil = next(row for row in rows[1:] if row[0] == odd[0].tracking_number)
    assert not evil[1].startswith("=")
    assert rows[1][-1].startswith("http://testserver/staff/")

    # a head sees only their department's cases in it
    assign(login(org.dispatcher), a, org.dept_a, dispatch=True)
    body = b"".join(login(org.head_a).get(url("topic_cases", a)).streaming_content).decode("utf-8-sig")
    numbers = {row[0] for row in list(csv.reader(io.StringIO(body)))[1:]}
    assert numbers == {c.tracking_number for c in world["a"][:3]}
