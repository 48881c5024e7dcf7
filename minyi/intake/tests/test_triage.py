"""Triage on arrival (minyi.intake.triage): every part recorded, the case filled in, repeats flagged, idempotent."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from minyi.cases.models import CaseEvent
from minyi.cases.tests.factories import NOW, CategoryFactory, create_case
from minyi.core.models import Notification
from minyi.intake.models import ClassifierVersion, DuplicateCandidate, Triage, TriageState
from minyi.intake.services import submission_ingest
from minyi.intake.triage import contact_keys, routing_history_refresh, triage_case, triage_pending
from minyi.routing.models import Place, RoutingHistory, RoutingRule
from minyi.text.classify import Classifier

pytestmark = pytest.mark.django_db

GROUP_TEXT = (
    "阳光花园小区几十户业主的房子漏水三年没人管，多次反映一直没有解决。"
    "业主们说下周一要集体到市政府门口静坐，我的电话13912345678。"
)


@pytest.fixture
def place(org):
    return Place.objects.create(name="阳光花园", kind=Place.Kind.ESTATE, region=org.region)


@pytest.fixture
def rule(org):
    return RoutingRule.objects.create(category=org.category, region=None, department=org.dept_a)


def test_every_part_is_recorded_and_the_case_filled_in(org, place, rule):
    # given: a citizen's case in a category with a rule, naming an estate of the gazetteer; no model yet
    case = create_case(
        title="小区房屋漏水", content=GROUP_TEXT, category=org.category, contact={"phone": "139"}
    )
    # when
    triage = triage_case(case_id=case.pk, now=NOW)
    # then
    assert triage is not None
    stored = Triage.objects.get(case=case)
    assert "阳光花园" in stored.normalized_text and "阳光花园" in stored.tokens.split()
    assert stored.category_state == TriageState.NEEDS_PERSON  # no active model: a person decides
    assert stored.classifier_id is None
    assert (stored.region_id, stored.place_id) == (org.region.pk, place.pk)
    assert any(m["text"] == "阳光花园" for m in stored.place_matches)
    assert stored.department_id == org.dept_a.pk and stored.department_source == "rule"
    kinds = [span[0] for span in stored.pii_spans["content"]]
    assert "mobile" in kinds
    start, end = next((s[1], s[2]) for s in stored.pii_spans["content"] if s[0] == "mobile")
    assert case.content[start:end] == "13912345678"
    assert stored.risk_level == "high"
    assert {"group", "gathering"} <= {r["code"] for r in stored.risk_reasons}
    case.refresh_from_db()
    assert case.region_id == org.region.pk  # the case had no region: triage fills it
    assert case.category_id == org.category.pk  # it had a category: kept
    event = CaseEvent.objects.get(case=case, action="triage")
    assert event.is_public is False and event.actor is None
    assert event.data["risk_level"] == "high" and event.data["changes"] == {"region": [None, org.region.pk]}
    assert "13912345678" not in json.dumps(event.data, ensure_ascii=False)


def test_a_high_risk_case_alerts_the_supervisors(org, django_capture_on_commit_callbacks):
    case = create_case(title="讨薪", content=GROUP_TEXT)
    with django_capture_on_commit_callbacks(execute=True):
        triage_case(case_id=case.pk, now=NOW)
    alert = Notification.objects.get(topic="risk", channel=Notification.Channel.INAPP)
    assert alert.recipient == org.supervisor and alert.case_id == case.pk
    assert case.tracking_number in alert.subject


def test_a_quiet_case_alerts_nobody(org, django_capture_on_commit_callbacks):
    case = create_case(title="路灯不亮", content="人民路上的路灯坏了好几天，晚上走路不方便。")
    with django_capture_on_commit_callbacks(execute=True):
        triage = triage_case(case_id=case.pk, now=NOW)
    assert triage.risk_level in ("none", "low")
    assert not Notification.objects.filter(topic="risk").exists()


def _model_bytes(labels_texts: dict[str, list[str]]) -> bytes:
    texts = [t for ts in labels_texts.values() for t in ts]
    labels = [label for label, ts in labels_texts.items() for _ in ts]
    model = Classifier(random_state=0).fit(texts, labels)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.npz")
        model.save(path)
        with open(path, "rb") as handle:
            return handle.read()


@pytest.fixture
def model(org):
    other = CategoryFactory(name="劳动保障", code="labour")
    property_texts = [
        f"小区物业{w}问题，物业公司不作为" for w in ("电梯", "保洁", "停车", "绿化", "收费", "门禁")
    ] * 3
    labour_texts = [
        f"公司拖欠{w}工资，老板不发工资" for w in ("三个月", "半年", "加班", "年底", "农民工", "员工")
    ] * 3
    blob = _model_bytes({org.category.code: property_texts, other.code: labour_texts})
    version = ClassifierVersion.objects.create(
        created_at=NOW, model_file=blob, sha256="", size=len(blob), labels=[org.category.code, other.code],
        is_active=True, activated_at=NOW,
    )  # fmt: skip
    return version, other


def test_the_active_classifier_suggests_and_fills_the_category(org, model):
    version, labour = model
    case = create_case(title="工资", content="公司老板拖欠我们三个月工资不发")
    triage = triage_case(case_id=case.pk, now=NOW)
    assert triage.classifier_id == version.pk
    assert triage.category_id == labour.pk and triage.category_state == TriageState.SUGGESTED
    assert 0.5 <= triage.category_confidence <= 1
    assert triage.category_top[0][0] == labour.code
    case.refresh_from_db()
    assert case.category_id == labour.pk


def test_a_staff_logged_category_is_the_staff_s(org, model):
    case = create_case(
        title="工资", content="公司老板拖欠我们三个月工资不发", category=org.category, logged_by=org.intake
    )
    triage = triage_case(case_id=case.pk, now=NOW)
    assert triage.category_state == TriageState.STAFF
    case.refresh_from_db()
    assert case.category_id == org.category.pk  # never overwritten by the suggestion


def test_a_repeat_from_the_same_contact_is_flagged(org):
    text = "和平小区东门外的垃圾站每天早上五点开始压缩作业，噪音很大，附近居民无法休息，请求整改。"
    first = create_case(title="垃圾站噪音", content=text, contact={"phone": "13800001111"})
    triage_case(case_id=first.pk, now=NOW)
    # the same person, the same matter, a few words changed
    again = create_case(
        title="垃圾站噪音扰民", content=text + "已经第二次反映了。", contact={"phone": "+86 138-0000-1111"}
    )
    other = create_case(title="垃圾站噪音", content=text, contact={"phone": "13900002222"})
    triage_case(case_id=again.pk, now=NOW)
    triage_case(case_id=other.pk, now=NOW)
    again.refresh_from_db()
    other.refresh_from_db()
    assert again.is_repeat and again.duplicate_of_id == first.pk
    assert not other.is_repeat and other.duplicate_of_id is None
    same = DuplicateCandidate.objects.get(case=again, candidate=first)
    assert same.same_contact and same.similarity >= 0.5
    assert DuplicateCandidate.objects.get(case=other, candidate=first).same_contact is False
    # candidates are earlier cases only
    assert not DuplicateCandidate.objects.filter(case=first).exists()


def test_contact_keys_normalise_phones_and_mail():
    assert contact_keys(phone="+86 138-0000-1111") == contact_keys(phone="13800001111") == {"tel:13800001111"}
    assert contact_keys(email=" A@Example.CN ") == {"mail:a@example.cn"}
    assert contact_keys(phone="12") == set()


def test_triage_is_idempotent_and_force_replaces(org):
    text = "和平小区东门外的垃圾站每天早上五点开始压缩作业，噪音很大，附近居民无法休息。"
    first = create_case(content=text)
    second = create_case(content=text)
    triage_case(case_id=first.pk, now=NOW)
    triage_case(case_id=second.pk, now=NOW)
    assert triage_case(case_id=second.pk, now=NOW) is None  # already triaged: left alone
    assert CaseEvent.objects.filter(case=second, action="triage").count() == 1
    again = triage_case(case_id=second.pk, force=True, now=NOW)
    assert again is not None
    assert Triage.objects.filter(case=second).count() == 1
    assert DuplicateCandidate.objects.filter(case=second).count() == 1
    assert triage_case(case_id=999_999) is None


def test_submissions_are_triaged_on_arrival(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        receipt = submission_ingest(
            channel="web", data={"title": "路灯不亮", "content": "人民路路灯坏了，电话13512345678。"}
        )
    triage = Triage.objects.get(case=receipt.case)
    assert [s[0] for s in triage.pii_spans["content"]] == ["mobile"]


def test_the_sweep_triages_what_was_missed(org):
    cases = [create_case(content=f"第{i}件：小区电梯坏了") for i in range(3)]
    triage_case(case_id=cases[0].pk, now=NOW)
    assert triage_pending(now=NOW) == 2
    assert Triage.objects.count() == 3
    assert triage_pending(now=NOW) == 0


@pytest.mark.parametrize(
    "content",
    [
        "<script>alert('x')</script><img src=x onerror=alert(1)>小区停水",
        "'; DROP TABLE cases_case; -- 小区停电",
        "控制\x01\x07\x1b字符\u202e反向\u200b零宽\ufeff",
        "重复" * 10_000,
        "\U0001f600\U0001f4a9 emoji only",
    ],
)
def test_hostile_text_is_triaged_without_error(org, content):
    case = create_case(title="测试", content=content)
    triage = triage_case(case_id=case.pk, now=NOW)
    assert Triage.objects.filter(case=case).exists()
    assert triage.normalized_text  # something was understood, nothing crashed
    assert "\u202e" not in triage.normalized_text and "\u200b" not in triage.normalized_text


def test_history_is_the_fallback_when_no_rule_applies(org):
    for _ in range(3):
        case = create_case(category=org.category, region=org.region)
        type(case).objects.filter(pk=case.pk).update(department=org.dept_b)
    case = create_case(category=org.category, region=org.region)
    type(case).objects.filter(pk=case.pk).update(department=org.dept_a)
    assert routing_history_refresh(now=NOW) == 4  # two (category, region) rows + two anywhere rows
    assert RoutingHistory.objects.filter(region__isnull=True, department=org.dept_b, cases=3).exists()
    new = create_case(category=org.category, region=org.region)
    triage = triage_case(case_id=new.pk, now=NOW)
    assert (triage.department_id, triage.department_source) == (org.dept_b.pk, "history")
