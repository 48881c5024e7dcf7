"""Staff accept or correct each part of a triage (minyi.intake.review): the case changes, the triage records the
decision, a `triage_review` event is written, and the policy decides who may."""

from __future__ import annotations

import json

import pytest

from minyi.cases.models import Case, CaseEvent
from minyi.cases.tests.factories import NOW, CategoryFactory, RegionFactory, create_case, drive
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import Forbidden, NotFound, ValidationFailed
from minyi.core.models import Notification
from minyi.intake.models import DuplicateCandidate, Triage, TriageState
from minyi.intake.review import Correction, triage_merge, triage_review
from minyi.intake.triage import triage_case

pytestmark = pytest.mark.django_db

TEXT = "和平小区东门外的垃圾站每天早上五点开始压缩作业，噪音很大，附近居民无法休息，电话13800001111。"


@pytest.fixture
def triaged(org):
    case = create_case(title="垃圾站噪音", content=TEXT)
    triage_case(case_id=case.pk, now=NOW)
    Triage.objects.filter(case=case).update(category=org.category, category_state=TriageState.SUGGESTED)
    return Case.objects.get(pk=case.pk)


def _events(case, part):
    return list(CaseEvent.objects.filter(case=case, action="triage_review", data__part=part))


def test_accepting_the_category_gives_the_case_the_suggestion(org, triaged):
    triage = triage_review(
        case_id=triaged.pk, actor=org.actor(org.intake), part="category", decision="accept", now=NOW
    )
    assert triage.category_state == TriageState.ACCEPTED
    assert Case.objects.get(pk=triaged.pk).category_id == org.category.pk
    (event,) = _events(triaged, "category")
    assert event.data["decision"] == "accept" and event.data["changes"] == {
        "category": [None, org.category.pk]
    }
    assert event.actor == org.intake and event.is_public is False


def test_correcting_the_category_takes_the_one_given(org, triaged):
    other = CategoryFactory(name="环境噪音", code="noise")
    triage = triage_review(
        case_id=triaged.pk, actor=org.actor(org.dispatcher), part="category", decision="correct",
        correction=Correction(category=other.pk), note="是噪音问题", now=NOW,
    )  # fmt: skip
    assert triage.category_state == TriageState.CORRECTED
    assert Case.objects.get(pk=triaged.pk).category_id == other.pk
    assert _events(triaged, "category")[0].note == "是噪音问题"


def test_choosing_the_suggested_category_counts_as_accepting(org, triaged):
    triage = triage_review(
        case_id=triaged.pk, actor=org.actor(org.intake), part="category", decision="correct",
        correction=Correction(category=org.category.pk), now=NOW,
    )  # fmt: skip
    assert triage.category_state == TriageState.ACCEPTED


def test_nothing_to_accept_and_bad_values_are_refused_without_writing(org, triaged):
    Triage.objects.filter(case=triaged).update(category=None, category_state=TriageState.NEEDS_PERSON)
    with pytest.raises(ValidationFailed):
        triage_review(case_id=triaged.pk, actor=org.actor(org.intake), part="category", decision="accept")
    with pytest.raises(ValidationFailed):
        triage_review(
            case_id=triaged.pk, actor=org.actor(org.intake), part="category", decision="correct",
            correction=Correction(category=987654),
        )  # fmt: skip
    with pytest.raises(ValidationFailed):
        triage_review(case_id=triaged.pk, actor=org.actor(org.intake), part="category", decision="maybe")
    assert not _events(triaged, "category")
    assert Triage.objects.get(case=triaged).category_state == TriageState.NEEDS_PERSON


def test_who_may_review(org, triaged):
    # a handler of another department does not see the case at all
    with pytest.raises(NotFound):
        triage_review(case_id=triaged.pk, actor=org.actor(org.handler_b), part="category", decision="accept")
    # a leader sees it but changes nothing
    with pytest.raises(Forbidden):
        triage_review(case_id=triaged.pk, actor=org.actor(org.leader), part="category", decision="accept")
    # the department suggestion is the dispatcher's, not the intake officer's
    with pytest.raises(Forbidden):
        triage_review(case_id=triaged.pk, actor=org.actor(org.intake), part="department", decision="accept")
    with pytest.raises(NotFound):
        triage_review(case_id=triaged.pk, actor=org.actor(org.dispatcher), part="nonsense", decision="accept")
    assert not CaseEvent.objects.filter(case=triaged, action="triage_review").exists()


def test_a_closed_case_is_corrected_by_a_supervisor_only(org):
    case = create_case(title="垃圾站噪音", content=TEXT)
    case, _clock = drive(case, CaseStatus.CLOSED, org)
    triage_case(case_id=case.pk, now=NOW)
    other = CategoryFactory(name="环境噪音", code="noise2")
    with pytest.raises(NotFound):  # a dispatcher's world is open cases
        triage_review(
            case_id=case.pk, actor=org.actor(org.dispatcher), part="category", decision="correct",
            correction=Correction(category=other.pk),
        )  # fmt: skip
    with pytest.raises(Forbidden):  # the handler sees the department's closed case but no longer changes it
        triage_review(
            case_id=case.pk, actor=org.actor(org.handler_a), part="category", decision="correct",
            correction=Correction(category=other.pk),
        )  # fmt: skip
    triage_review(
        case_id=case.pk, actor=org.actor(org.supervisor), part="category", decision="correct",
        correction=Correction(category=other.pk),
    )  # fmt: skip
    assert Case.objects.get(pk=case.pk).category_id == other.pk


def test_region_and_department(org, triaged):
    street = RegionFactory(name="和平街道", code="hp", parent=org.region)
    triage_review(
        case_id=triaged.pk, actor=org.actor(org.intake), part="region", decision="correct",
        correction=Correction(region=street.pk),
    )  # fmt: skip
    assert Case.objects.get(pk=triaged.pk).region_id == street.pk
    triage = triage_review(
        case_id=triaged.pk, actor=org.actor(org.dispatcher), part="department", decision="correct",
        correction=Correction(department=org.dept_b.pk),
    )  # fmt: skip
    assert (triage.department_id, triage.department_source) == (org.dept_b.pk, "staff")
    assert triage.department_state == TriageState.CORRECTED
    assert Case.objects.get(pk=triaged.pk).department_id is None  # dispatching is the workflow's assign


def test_pii_spans_are_dropped_and_added_without_logging_the_data(org, triaged):
    triage = Triage.objects.get(case=triaged)
    assert [s[0] for s in triage.pii_spans["content"]] == ["mobile"]
    triage = triage_review(
        case_id=triaged.pk, actor=org.actor(org.intake), part="pii", decision="correct",
        correction=Correction(drop_spans=["content:0"], add_phrases=["和平小区东门"]),
    )  # fmt: skip
    spans = triage.pii_spans["content"]
    assert spans == [["staff", 0, len("和平小区东门")]]
    assert triage.pii_state == TriageState.CORRECTED
    event = _events(triaged, "pii")[0]
    blob = json.dumps(event.data, ensure_ascii=False)
    assert "13800001111" not in blob and "和平小区东门" not in blob
    assert event.data["dropped"] == 1 and event.data["added"] == 1
    with pytest.raises(ValidationFailed):  # a phrase that is not in the text adds nothing
        triage_review(
            case_id=triaged.pk, actor=org.actor(org.intake), part="pii", decision="correct",
            correction=Correction(add_phrases=["不存在的文字"]),
        )  # fmt: skip


def test_duplicates_are_dismissed_and_the_repeat_flag_set_or_cleared(org):
    first = create_case(title="垃圾站噪音", content=TEXT, contact={"phone": "13700000000"})
    triage_case(case_id=first.pk, now=NOW)
    second = create_case(title="垃圾站噪音", content=TEXT, contact={"phone": "13600000000"})
    triage_case(case_id=second.pk, now=NOW)
    assert DuplicateCandidate.objects.filter(case=second, candidate=first).exists()
    triage_review(
        case_id=second.pk, actor=org.actor(org.dispatcher), part="duplicates", decision="correct",
        correction=Correction(repeat=True),
    )  # fmt: skip
    second.refresh_from_db()
    assert second.is_repeat and second.duplicate_of_id == first.pk
    triage_review(
        case_id=second.pk, actor=org.actor(org.dispatcher), part="duplicates", decision="correct",
        correction=Correction(dismiss=[first.pk], repeat=False),
    )  # fmt: skip
    second.refresh_from_db()
    assert not second.is_repeat and second.duplicate_of_id is None
    assert DuplicateCandidate.objects.get(case=second, candidate=first).state == "dismissed"
    with pytest.raises(ValidationFailed):  # nothing left to be a repeat of
        triage_review(
            case_id=second.pk, actor=org.actor(org.dispatcher), part="duplicates", decision="correct",
            correction=Correction(repeat=True),
        )  # fmt: skip


def test_merging_a_duplicate_tells_the_person_who_then_follows_the_main_case(
    org, django_capture_on_commit_callbacks
):
    main = create_case(title="垃圾站噪音", content=TEXT, contact={"email": "main@example.cn"})
    triage_case(case_id=main.pk, now=NOW)
    dup = create_case(title="垃圾站噪音", content=TEXT, contact={"email": "dup@example.cn"})
    triage_case(case_id=dup.pk, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        triage_merge(
            case_id=dup.pk, candidate_id=main.pk, actor=org.actor(org.dispatcher), note="同一事项", now=NOW
        )
    dup.refresh_from_db()
    assert dup.status == CaseStatus.MERGED and dup.merged_into_id == main.pk
    assert DuplicateCandidate.objects.get(case=dup, candidate=main).state == "merged"
    assert Notification.objects.filter(address="dup@example.cn", case_id=dup.pk).exists()
    # the main case is answered: both people hear it
    with django_capture_on_commit_callbacks(execute=True):
        main, _clock = drive(main, CaseStatus.REPLIED, org)
    replied = Notification.objects.filter(subject__contains="已答复")
    assert {n.address for n in replied} >= {"main@example.cn", "dup@example.cn"}


def test_risk_corrections_need_a_note(org, triaged):
    with pytest.raises(ValidationFailed):
        triage_review(
            case_id=triaged.pk, actor=org.actor(org.supervisor), part="risk", decision="correct",
            correction=Correction(risk_level="high"),
        )  # fmt: skip
    triage = triage_review(
        case_id=triaged.pk, actor=org.actor(org.supervisor), part="risk", decision="correct",
        correction=Correction(risk_level="high"), note="来电人情绪激动", now=NOW,
    )  # fmt: skip
    assert (triage.risk_level, triage.risk_state) == ("high", TriageState.CORRECTED)
    assert _events(triaged, "risk")[0].data["to"] == "high"
