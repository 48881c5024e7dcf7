"""Early warning: surges per place, street, category and topic on a quiet background, risk alerts, updates without
duplicates, escalation, closed alerts, notifications, the thresholds from the admin settings, the staff actions
and their events; and the detector on a part of the real hot_messages.csv timeline with an injected burst."""

from __future__ import annotations

import csv
import itertools
from datetime import date, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from minyi.accounts.models import Region
from minyi.barometer import warnings
from minyi.barometer.models import Alert, AlertCase, AlertEvent, BarometerSettings, Topic, TopicMember
from minyi.cases.models import Case
from minyi.cases.services import HistoryCase, cases_import_history
from minyi.cases.tests.factories import NOW, SHANGHAI, CategoryFactory, RegionFactory
from minyi.core.exceptions import Conflict, Forbidden, ValidationFailed
from minyi.core.models import Notification
from minyi.intake.models import Triage
from minyi.routing.models import Place

pytestmark = pytest.mark.django_db

TODAY = NOW.date()  # Monday 2026-03-02; NOW is 09:00
BURST_DAYS = [TODAY - timedelta(days=2), TODAY - timedelta(days=1), TODAY]
_numbers = itertools.count(1)


# ---------------------------------------------------------------------------------------------- building data


def add_cases(
    days: dict[date, int],
    *,
    place: Place | None = None,
    category=None,
    region=None,
    department=None,
    risk: tuple[int, str, list[str]] | None = None,
    title: str = "小区噪音扰民",
) -> list[Case]:
    """`n` cases on each day (00:30, 00:35, ... local: always before NOW on its day), in one bulk insert, each with
    a triage that found `place` (and `risk`: score, level, codes)."""
    items = []
    for day, n in sorted(days.items()):
        for i in range(n):
            number = next(_numbers)
            at = datetime.combine(day, time(0, 30), tzinfo=SHANGHAI) + timedelta(minutes=5 * i)
            items.append(
                HistoryCase(
                    tracking_number=f"WARN{number:08d}",
                    external_number="",
                    created_at=at,
                    title=title,
                    content="夜间施工噪音很大，影响休息。",
                    status="replied" if department else "closed",
                    category_id=category.pk if category else None,
                    region_id=region.pk if region else None,
                    department_id=department.pk if department else None,
                )
            )
    with transaction.atomic():
        cases = cases_import_history(items=items, now=NOW)
        score, level, codes = risk or (0, Triage.RiskLevel.NONE, [])
        Triage.objects.bulk_create(
            [
                Triage(
                    case=case,
                    place=place,
                    risk_score=score,
                    risk_level=level,
                    risk_reasons=[{"code": c, "evidence": "", "weight": 10} for c in codes],
                    triaged_at=NOW,
                )
                for case in cases
            ]
        )
    return cases


def every(n_days: int, *, back: int = 112, per_day: int = 1, skip_recent: int = 3) -> dict[date, int]:
    """A background: `per_day` cases every `n_days` days over `back` days, none in the last `skip_recent` days."""
    return {
        TODAY - timedelta(days=k): per_day for k in range(skip_recent, back) if k % n_days == 0
    }  # fmt: skip


def burst(per_day: int, days=BURST_DAYS) -> dict[date, int]:
    return dict.fromkeys(days, per_day)


@pytest.fixture
def place(org):
    return Place.objects.create(name="幸福里小区", kind=Place.Kind.ESTATE, region=org.region)


@pytest.fixture
def quiet(org, place):
    """The background: the place gets a case every 4 days; another place one a day, steadily (no alert)."""
    other = Place.objects.create(name="和平路", kind=Place.Kind.ROAD, region=org.region)
    add_cases(every(4), place=place, department=org.dept_a)
    add_cases(every(1, skip_recent=0, back=60), place=other, department=org.dept_b)
    return other


def run(**kw):
    return warnings.run_detection(now=kw.pop("now", NOW), **kw)


def active(fingerprint: str):
    return Alert.objects.exclude(state=Alert.State.CLOSED).filter(fingerprint=fingerprint)


# ---------------------------------------------------------------------------------------------- surges


def test_a_burst_at_a_place_raises_one_alert_with_its_cases_level_and_reasons(org, place, quiet):
    # given a quiet place and a burst of 4 cases a day over the last 3 days, in department A
    cases = add_cases(burst(4), place=place, department=org.dept_a)
    # when
    stats = run()
    # then one alert, for that place, holding exactly the burst's cases
    assert stats["raised"] == 1, stats
    alert = Alert.objects.get()
    assert (alert.source, alert.key, alert.place_id, alert.fingerprint) == (
        "place", str(place.pk), place.pk, f"place:{place.pk}"
    )  # fmt: skip
    assert set(AlertCase.objects.filter(alert=alert).values_list("case_id", flat=True)) == {
        c.pk for c in cases
    }
    assert (alert.start, alert.end, alert.count) == (BURST_DAYS[0], TODAY, 12)
    assert alert.baseline < 3 and alert.ratio > 4 and alert.threshold <= 12
    # 12 cases at more than 3 times the baseline, fewer than 15 or 30: orange
    assert alert.level == "orange"
    assert alert.department_id == org.dept_a.pk and alert.state == "open"
    surge = next(r for r in alert.reasons if r["code"] == "surge")
    assert surge["params"]["count"] == 12 and surge["params"]["days"] == 3
    assert not any(r["code"] == "risk" for r in alert.reasons)
    text = warnings.reason_text(surge)
    assert "12 件" in text and "基线" in text
    assert "幸福里小区" in alert.label
    assert list(AlertEvent.objects.filter(alert=alert).values_list("action", flat=True)) == [
        "raised",
        "notified",
    ]


def test_the_alert_notifies_the_supervisors_and_the_responsible_department_only(org, place, quiet):
    add_cases(burst(4), place=place, department=org.dept_a)
    run()
    alert = Alert.objects.get()
    told = set(
        Notification.objects.filter(topic="alert", channel="inapp").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"t_supervisor", "t_head_a", "t_handler_a"}
    notified = AlertEvent.objects.get(alert=alert, action="notified")
    assert notified.data["recipients"] == 3
    note = Notification.objects.filter(topic="alert", channel="inapp").first()
    assert "橙色预警" in note.subject and f"/staff/barometer/alerts/{alert.pk}/" in note.body
    assert "13800138000" not in note.body + note.subject


def test_a_second_run_updates_the_same_alert_and_raises_its_level_when_the_burst_grows(org, place, quiet):
    add_cases(burst(4), place=place, department=org.dept_a)
    run()
    alert = Alert.objects.get()
    # a second run on the same data changes nothing: no new event, no duplicate
    stats = run()
    assert stats["raised"] == 0 and stats["unchanged"] == 1, stats
    assert AlertEvent.objects.filter(alert=alert).count() == 2
    # when the burst grows to 37 cases (30 or more, above 5 times the baseline): the same alert, red
    more = add_cases(dict(zip(BURST_DAYS, (8, 9, 8), strict=True)), place=place, department=org.dept_a)
    stats = run(now=NOW + timedelta(hours=1))
    assert stats["escalated"] == 1 and stats["raised"] == 0, stats
    assert active(f"place:{place.pk}").count() == 1
    alert.refresh_from_db()
    assert alert.level == "red" and alert.count == 12 + len(more) == 37
    assert AlertCase.objects.filter(alert=alert).count() == 37
    escalated = AlertEvent.objects.get(alert=alert, action="escalated")
    assert escalated.data["level"] == ["orange", "red"] and escalated.data["cases_added"] == 25
    assert AlertEvent.objects.filter(alert=alert, action="notified").count() == 2
    assert Notification.objects.filter(topic="alert", recipient=org.supervisor).count() == 2


def test_the_level_is_never_lowered_by_a_later_run(org, place, quiet):
    add_cases(burst(4), place=place, department=org.dept_a)
    run()
    alert = Alert.objects.get()
    Alert.objects.filter(pk=alert.pk).update(level="red")
    run(now=NOW + timedelta(hours=1))
    alert.refresh_from_db()
    assert alert.level == "red"


def test_high_risk_cases_of_a_surge_raise_its_level(org, place, quiet):
    add_cases(burst(4), place=place, department=org.dept_a)
    add_cases(
        {TODAY: 1},
        place=place,
        department=org.dept_a,
        risk=(65, Triage.RiskLevel.HIGH, ["group", "gathering"]),
    )
    run()
    alert = Alert.objects.get(source="place")
    assert alert.level == "red" and alert.risk_score == 65
    risk = next(r for r in alert.reasons if r["code"] == "risk")
    assert risk["params"] == {"codes": ["gathering", "group"], "score": 65, "cases": 1}
    assert "聚集" in warnings.reason_text(risk)


def test_a_high_risk_case_alone_raises_a_risk_alert(org):
    # given one case triaged high (self-harm), no surge anywhere
    (case,) = add_cases({TODAY: 1}, department=org.dept_b, risk=(70, Triage.RiskLevel.HIGH, ["self_harm"]))
    add_cases(
        {TODAY - timedelta(days=1): 1}, risk=(45, Triage.RiskLevel.MEDIUM, ["gathering"])
    )  # medium: none
    # when
    stats = run()
    # then a risk alert of that case, orange (a risk alone is never red), for its department
    assert stats["raised"] == 1, stats
    alert = Alert.objects.get()
    assert (alert.source, alert.key, alert.level, alert.department_id) == (
        "risk",
        str(case.pk),
        "orange",
        org.dept_b.pk,
    )
    assert case.tracking_number in alert.label and alert.risk_score == 70
    assert list(AlertCase.objects.filter(alert=alert).values_list("case_id", flat=True)) == [case.pk]
    assert "有自伤自杀倾向" in " ".join(warnings.reason_texts(alert.reasons))
    told = set(
        Notification.objects.filter(topic="alert", channel="inapp").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"t_supervisor", "t_handler_b"}


def test_an_old_high_risk_case_raises_nothing(org):
    add_cases({TODAY - timedelta(days=10): 1}, risk=(70, Triage.RiskLevel.HIGH, ["self_harm"]))
    assert run()["raised"] == 0


def test_a_closed_alert_is_not_raised_again_by_the_same_burst_but_a_new_burst_raises_a_new_one(
    org, place, quiet
):
    add_cases(burst(4), place=place, department=org.dept_a)
    run()
    first = Alert.objects.get()
    warnings.close(first, org.supervisor, "已约谈施工单位，夜间停工。")
    # the same burst, an hour later: suppressed
    stats = run(now=NOW + timedelta(hours=1))
    assert stats["raised"] == 0 and stats["suppressed"] == 1, stats
    # two days later, a new burst of its own: a new alert, the closed one untouched
    later = NOW + timedelta(days=2)
    add_cases(dict.fromkeys([TODAY + timedelta(days=1), TODAY + timedelta(days=2)], 6), place=place,
              department=org.dept_a)  # fmt: skip
    stats = run(now=later)
    assert stats["raised"] == 1, stats
    second = active(f"place:{place.pk}").get()
    assert second.pk != first.pk
    first.refresh_from_db()
    assert first.state == "closed" and first.close_note == "已约谈施工单位，夜间停工。"


def test_the_admin_thresholds_change_the_outcome(org, place, quiet):
    add_cases(burst(4), place=place, department=org.dept_a)
    row = BarometerSettings.get()
    row.surge_min_count = 13
    row.save()
    assert run()["raised"] == 0
    assert not Alert.objects.exists()
    row.surge_min_count = 5
    row.orange_ratio = 100
    row.orange_count = 100
    row.save()
    run()
    assert Alert.objects.get().level == "yellow"


def test_a_surge_of_a_street_and_of_a_livelihood_category(org):
    # given a street under the district, a community in it, and a livelihood category; quiet backgrounds
    street = RegionFactory(name="幸福街道", code="xf-street", level=Region.Level.STREET, parent=org.region)
    community = RegionFactory(
        name="幸福社区", code="xf-community", level=Region.Level.COMMUNITY, parent=street
    )
    category = CategoryFactory(name="噪音扰民", code="noise", is_livelihood=True)
    add_cases(every(5), region=community, category=category, department=org.dept_a)
    cases = add_cases(burst(3) | {TODAY: 4}, region=community, category=category, department=org.dept_a)
    # when
    run()
    # then the street and the category both surge on the same cases: one matter, one alert, the street's (the
    # more specific subject; the category's surge is folded into it), which says the matter is a livelihood one
    alert = Alert.objects.get()
    assert alert.source == "region" and alert.region_id == street.pk and alert.key == str(street.pk)
    assert set(AlertCase.objects.filter(alert=alert).values_list("case_id", flat=True)) == {
        c.pk for c in cases
    }
    assert any(r["code"] == "livelihood" for r in alert.reasons)
    assert "涉及重点民生领域" in warnings.reason_texts(alert.reasons)


def test_with_folding_off_the_category_gets_its_own_alert_beside_the_street(org, monkeypatch):
    monkeypatch.setattr(warnings, "FOLD_SHARE", 1.01)  # no surge is ever 101 % another's
    street = RegionFactory(name="幸福街道", code="xf-street", level=Region.Level.STREET, parent=org.region)
    community = RegionFactory(
        name="幸福社区", code="xf-community", level=Region.Level.COMMUNITY, parent=street
    )
    category = CategoryFactory(name="噪音扰民", code="noise", is_livelihood=True)
    add_cases(every(5), region=community, category=category, department=org.dept_a)
    add_cases(burst(3) | {TODAY: 4}, region=community, category=category, department=org.dept_a)
    run()
    assert set(Alert.objects.values_list("source", flat=True)) == {"region", "category"}
    assert Alert.objects.get(source="category").category_id == category.pk


def test_a_topic_surge_goes_to_the_topics_assigned_department(org):
    topic = Topic.objects.create(
        label="夜间施工·噪音", first_seen_at=NOW, last_seen_at=NOW, is_active=True, department=org.dept_b,
        window_start=NOW - timedelta(days=30), window_end=NOW,
    )  # fmt: skip
    background = add_cases(every(6, back=55), department=org.dept_a)
    cases = add_cases(burst(4), department=org.dept_a)
    TopicMember.objects.bulk_create([TopicMember(topic=topic, case=c) for c in background + cases])
    run()
    alert = Alert.objects.get(source="topic")
    assert alert.topic_id == topic.pk and alert.department_id == org.dept_b.pk
    assert "夜间施工·噪音" in alert.label
    assert AlertCase.objects.filter(alert=alert).count() == 12


def test_without_a_department_only_the_supervisors_are_told(org, place, quiet):
    add_cases(burst(4), place=place)
    run()
    alert = Alert.objects.get()
    assert alert.department_id is None
    assert set(
        Notification.objects.filter(topic="alert", channel="inapp").values_list(
            "recipient__username", flat=True
        )
    ) == {"t_supervisor"}


def test_a_department_found_later_is_told_of_the_alert(org, place, quiet):
    cases = add_cases(burst(4), place=place)
    run()
    alert = Alert.objects.get()
    assert alert.department_id is None
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(department=org.dept_b)
    stats = run(now=NOW + timedelta(hours=1))
    assert stats["updated"] == 1, stats
    alert.refresh_from_db()
    assert alert.department_id == org.dept_b.pk and alert.level == "orange"
    told = Notification.objects.filter(topic="alert", channel="inapp", recipient=org.handler_b)
    assert told.count() == 1
    assert AlertEvent.objects.filter(alert=alert, action="notified").count() == 2


def test_the_command_runs_and_a_dry_run_stores_nothing(org, place, quiet):
    add_cases(burst(4), place=place, department=org.dept_a)
    out = StringIO()
    call_command("barometer_alerts", "--now", NOW.isoformat(), "--dry-run", stdout=out)
    assert "dry run" in out.getvalue() and "1 raised" in out.getvalue()
    assert not Alert.objects.exists() and not Notification.objects.exists()
    call_command("barometer_alerts", "--now", NOW.isoformat(), stdout=out)
    assert Alert.objects.count() == 1


def test_the_command_refuses_a_bad_moment():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("barometer_alerts", "--now", "yesterday<script>")


# ---------------------------------------------------------------------------------------------- handling


@pytest.fixture
def alert(org, place, quiet):
    add_cases(burst(4), place=place, department=org.dept_a)
    run()
    return Alert.objects.get()


def test_acknowledge_close_reopen_permissions_and_events(org, alert):
    # another department's handler may not; a leader may not (reads only)
    for user in (org.handler_b, org.leader, org.dispatcher):
        with pytest.raises(Forbidden):
            warnings.acknowledge(alert, user)
    # the responsible department's handler acknowledges
    warnings.acknowledge(alert, org.handler_a, "已安排现场核查")
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == org.handler_a
    with pytest.raises(Conflict):
        warnings.acknowledge(alert, org.head_a)
    # closing needs a note
    with pytest.raises(ValidationFailed):
        warnings.close(alert, org.head_a, "   ")
    warnings.close(alert, org.head_a, "已处置完毕")
    alert.refresh_from_db()
    assert alert.state == "closed" and alert.closed_by == org.head_a and alert.close_note == "已处置完毕"
    with pytest.raises(Conflict):
        warnings.close(alert, org.supervisor, "再关一次")
    # only a supervisor reopens, with a note
    with pytest.raises(Forbidden):
        warnings.reopen(alert, org.head_a, "还没好")
    with pytest.raises(ValidationFailed):
        warnings.reopen(alert, org.supervisor, "")
    warnings.reopen(alert, org.supervisor, "群众反映仍在施工")
    alert.refresh_from_db()
    assert alert.state == "open" and alert.closed_at is None and alert.close_note == ""
    events = list(
        AlertEvent.objects.filter(alert=alert).values_list("action", "actor__username", "actor_role", "note")
    )
    assert events[2:] == [
        ("acknowledged", "t_handler_a", "handler", "已安排现场核查"),
        ("closed", "t_head_a", "head", "已处置完毕"),
        ("reopened", "t_supervisor", "supervisor", "群众反映仍在施工"),
    ]


def test_events_are_append_only(alert):
    with pytest.raises(TypeError):
        AlertEvent.objects.filter(alert=alert).update(note="changed")
    with pytest.raises(TypeError):
        AlertEvent.objects.filter(alert=alert).delete()


def test_reopening_when_a_newer_alert_holds_the_subject_is_a_conflict(org, place, alert):
    warnings.close(alert, org.supervisor, "已处置")
    add_cases(dict.fromkeys([TODAY + timedelta(days=1), TODAY + timedelta(days=2)], 6), place=place,
              department=org.dept_a)  # fmt: skip
    run(now=NOW + timedelta(days=2))
    assert active(alert.fingerprint).exists()
    with pytest.raises(Conflict):
        warnings.reopen(alert, org.supervisor, "重新打开")
    alert.refresh_from_db()
    assert alert.state == "closed"


@pytest.mark.parametrize(
    "note",
    ["<script>alert(1)</script>", "'; DROP TABLE barometer_alert; --", "说明\u202e\u200b\u200d", "𠀀" * 50],
)
def test_hostile_notes_are_stored_as_text(org, alert, note):
    warnings.close(alert, org.supervisor, note)
    alert.refresh_from_db()
    assert alert.close_note == note.strip() and alert.state == "closed"


@pytest.mark.parametrize("note", ["a\x00b", "长" * (warnings.MAX_NOTE_CHARS + 1)])
def test_bad_notes_are_refused_and_nothing_changes(org, alert, note):
    with pytest.raises(ValidationFailed):
        warnings.close(alert, org.supervisor, note)
    alert.refresh_from_db()
    assert alert.state == "open"
    assert not AlertEvent.objects.filter(alert=alert, action="closed").exists()


def test_reason_text_survives_odd_reasons():
    assert warnings.reason_text({"code": "surge", "params": {"count": "x"}}) == "surge"
    assert warnings.reason_text({"code": "mystery"}) == "mystery"
    assert warnings.reason_text({}) == "未知依据"
    assert warnings.reason_text("not a dict")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- the real timeline


@pytest.mark.data
def test_the_detector_on_a_real_timeline_with_an_injected_burst(org, shared_data):
    """A few hundred real messages of hot_messages.csv keep their own dates (留言时间, parsed by minyi.text.dates),
    shifted so that the last of them falls before NOW, spread over five places by their message id; a burst of 15
    cases at one of the places over the last two days is injected. Only that place alarms."""
    from minyi.text.dates import parse_datetime

    with (shared_data / "hot_messages.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("留言时间")]
    stamps = []
    for r in rows:
        try:
            stamps.append((parse_datetime(r["留言时间"]), r["留言编号"], r["留言主题"]))
        except ValueError:
            continue
    stamps.sort()
    # the last 100 days of the timeline before its thin tail (after 8 January 2020 only a few messages), thinned
    # evenly to about 300 messages: the shape of the real timeline (weekdays, busy weeks) at a test's size
    end = datetime(2020, 1, 8, 23, 59)
    span = [s for s in stamps if end - timedelta(days=100) <= s[0] <= end]
    chosen = span[:: max(len(span) // 300, 1)]
    assert 150 <= len(chosen) <= 600, len(chosen)
    shift = datetime.combine(TODAY - timedelta(days=2), time(0, 0)) - datetime.combine(end.date(), time(0, 0))
    places = [
        Place.objects.create(name=f"小区{i}", kind=Place.Kind.ESTATE, region=org.region) for i in range(5)
    ]
    by_place: dict[int, dict[date, int]] = {i: {} for i in range(5)}
    for when, number, _title in chosen:
        day = (when + shift).date()
        slot = int(number) % 5 if number.isdigit() else 0
        by_place[slot][day] = by_place[slot].get(day, 0) + 1
    for i, days in by_place.items():
        add_cases(days, place=places[i], department=org.dept_a)
    # the injected burst: 15 more cases at place 2 over the last two days
    target = places[2]
    injected = add_cases(burst(7, days=BURST_DAYS[1:]) | {TODAY: 8}, place=target, department=org.dept_a)
    stats = run()
    place_alerts = Alert.objects.filter(source="place")
    assert [a.place_id for a in place_alerts] == [target.pk], stats
    alert = place_alerts.get()
    alert_cases = set(AlertCase.objects.filter(alert=alert).values_list("case_id", flat=True))
    assert {c.pk for c in injected} <= alert_cases
    assert alert.level in ("orange", "red") and alert.count >= 15


# ---------------------------------------------------------------------------------------------- one matter, one alert


def _finding(source: str, key: str, ids, level: str, *, surge: bool = True) -> warnings.Finding:
    day = date(2026, 3, 1)
    facts = [warnings.CaseFacts(pk, day, None, False, 0, "none", ()) for pk in ids]
    burst = (
        warnings.surges.Surge(
            key=key, start=day, end=day, count=len(ids), baseline=1.0, threshold=5, ratio=9.0, p_value=1e-6
        )
        if surge
        else None
    )
    return warnings.Finding(source=source, key=key, surge=burst, start=day, end=day, cases=facts, level=level)


def test_a_surge_mostly_made_of_a_more_specific_one_is_folded_into_it():
    topic = _finding("topic", "1", range(1, 11), "orange")
    place = _finding("place", "7", range(1, 10), "orange")  # 9 of its 9 cases are the topic's
    category = _finding("category", "3", range(1, 13), "yellow")  # 10 of 12 (83 %) are the topic's
    street = _finding("region", "5", [*range(1, 6), *range(50, 60)], "orange")  # 5 of 15: another matter too
    risk = _finding("risk", "2", [2], "orange", surge=False)
    kept, folded = warnings.consolidate([category, street, place, risk, topic])
    assert [f.fingerprint for f in kept] == ["region:5", "risk:2", "topic:1"]
    assert folded == 2


def test_a_surge_at_a_higher_level_is_not_folded_into_a_lower_one():
    topic = _finding("topic", "1", range(1, 11), "yellow")
    place = _finding("place", "7", range(1, 11), "red")
    kept, folded = warnings.consolidate([topic, place])
    assert {f.fingerprint for f in kept} == {"topic:1", "place:7"} and folded == 0
