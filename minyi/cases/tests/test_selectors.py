"""Selectors: filters and queues on top of visibility, overdue derivation, search by tracking number."""

from __future__ import annotations

from datetime import timedelta

import pytest

from minyi.cases import policies, selectors
from minyi.cases.selectors import CaseFilters
from minyi.cases.tests.factories import NOW, act, create_case, drive
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core.exceptions import NotFound

S = CaseStatus
A = CaseAction
pytestmark = pytest.mark.django_db


def pks(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


@pytest.fixture
def cases(org):
    c = {
        "submitted": create_case(title="学校周边交通拥堵"),
        "petition": create_case(kind="petition", title="征地补偿款未发放"),
        "accepted": drive(create_case(title="拖欠农民工工资"), S.ACCEPTED, org)[0],
        "returned": drive(create_case(), S.RETURNED, org)[0],
        "in_progress_a": drive(create_case(category=org.category, region=org.region), S.IN_PROGRESS, org)[0],
        "assigned_b": drive(create_case(), S.ASSIGNED, org, department=org.dept_b)[0],
        "replied_a": drive(create_case(), S.REPLIED, org)[0],
        "closed_a": drive(create_case(), S.CLOSED, org)[0],
    }
    replied = drive(create_case(), S.REPLIED, org)[0]
    c["dissatisfied"] = act(
        replied,
        A.EVALUATE,
        policies.citizen_actor(case=replied),
        data={"rating": "dissatisfied", "reason": "没解决"},
        now=NOW + timedelta(hours=6),
    )
    return c


def test_queues(org, cases):
    assert pks(selectors.case_list_for_user(user=org.intake, filters=CaseFilters(queue="to_accept"))) == {
        cases["submitted"].pk,
        cases["petition"].pk,
    }
    assert pks(
        selectors.case_list_for_user(user=org.dispatcher, filters=CaseFilters(queue="to_dispatch"))
    ) == {
        cases["accepted"].pk,
        cases["returned"].pk,
    }
    assert pks(selectors.case_list_for_user(user=org.handler_a, filters=CaseFilters(queue="mine"))) == {
        cases["in_progress_a"].pk
    }
    assert pks(selectors.case_list_for_user(user=org.handler_b, filters=CaseFilters(queue="mine"))) == {
        cases["assigned_b"].pk
    }
    assert pks(
        selectors.case_list_for_user(user=org.supervisor, filters=CaseFilters(queue="supervision"))
    ) == {cases["dissatisfied"].pk}


def test_queue_respects_visibility(org, cases):
    # the handler's supervision queue only holds its own department's cases (none dissatisfied in B)
    assert (
        pks(selectors.case_list_for_user(user=org.handler_b, filters=CaseFilters(queue="supervision")))
        == set()
    )
    # the intake officer does not see the dispatcher's queue
    assert pks(selectors.case_list_for_user(user=org.intake, filters=CaseFilters(queue="to_dispatch"))) == {
        cases["accepted"].pk
    }
    # an anonymous visitor sees nothing whatever the filter
    assert pks(selectors.case_list_for_user(user=None, filters=CaseFilters())) == set()


def test_supervision_queue_includes_pending_extension_and_review(org, cases):
    case = act(cases["in_progress_a"], A.REQUEST_EXTENSION, org.handler_a, note="需勘验", data={"days": 5})
    review = drive(create_case(), S.UNDER_REVIEW, org)[0]
    assert pks(
        selectors.case_list_for_user(user=org.supervisor, filters=CaseFilters(queue="supervision"))
    ) == {
        cases["dissatisfied"].pk,
        case.pk,
        review.pk,
    }


def test_filters(org, cases):
    sup = org.supervisor
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(status=S.CLOSED))) == {
        cases["closed_a"].pk
    }
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(kind="petition"))) == {
        cases["petition"].pk
    }
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(category=org.category.pk))) == {
        cases["in_progress_a"].pk
    }
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(region=org.region.pk))) == {
        cases["in_progress_a"].pk
    }
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(department=org.dept_b.pk))) == {
        cases["assigned_b"].pk
    }
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(needs_supervision=True))) == {
        cases["dissatisfied"].pk
    }
    # filters combine
    assert (
        pks(
            selectors.case_list_for_user(
                user=sup, filters=CaseFilters(status=S.CLOSED, department=org.dept_b.pk)
            )
        )
        == set()
    )


def test_list_is_newest_first(org):
    old = create_case(now=NOW - timedelta(days=2))
    new = create_case(now=NOW)
    mid = create_case(now=NOW - timedelta(days=1))
    listed = list(selectors.case_list_for_user(user=org.supervisor).values_list("pk", flat=True))
    assert listed == [new.pk, mid.pk, old.pk]


def test_search_by_tracking_number_and_text(org, cases):
    number = cases["accepted"].tracking_number
    sup = org.supervisor
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(q=number))) == {
        cases["accepted"].pk
    }
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(q=f"  {number.lower()} "))) == {
        cases["accepted"].pk
    }
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(q="农民工"))) == {
        cases["accepted"].pk
    }
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(q="不存在的内容"))) == set()
    # search never widens visibility
    assert pks(selectors.case_list_for_user(user=org.handler_b, filters=CaseFilters(q=number))) == set()
    # hostile input is just text
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(q="' OR 1=1 --"))) == set()
    assert pks(selectors.case_list_for_user(user=sup, filters=CaseFilters(q="%"))) == set()


def test_overdue_is_derived_from_due_at(org, cases):
    case = cases["in_progress_a"]
    due = case.due_at
    assert not selectors.is_overdue(case, due)
    assert selectors.is_overdue(case, due + timedelta(seconds=1))
    assert case.pk not in pks(selectors.cases_overdue(now=due))
    assert case.pk in pks(selectors.cases_overdue(now=due + timedelta(seconds=1)))
    # a replied or closed case is never overdue, whatever its old deadlines
    later = NOW + timedelta(days=365)
    overdue = pks(selectors.cases_overdue(now=later))
    assert cases["replied_a"].pk not in overdue and cases["closed_a"].pk not in overdue
    assert not selectors.is_overdue(cases["closed_a"], later)
    # every open case is overdue a year later
    assert {
        cases[k].pk for k in ("submitted", "accepted", "returned", "in_progress_a", "assigned_b")
    } <= overdue


def test_overdue_and_due_soon_filters(org, cases):
    case = cases["in_progress_a"]
    just_after = case.due_at + timedelta(seconds=1)
    listed = pks(
        selectors.case_list_for_user(user=org.handler_a, filters=CaseFilters(overdue=True), now=just_after)
    )
    assert listed == {case.pk}
    not_overdue = pks(
        selectors.case_list_for_user(user=org.handler_a, filters=CaseFilters(overdue=False), now=just_after)
    )
    assert case.pk not in not_overdue and cases["closed_a"].pk in not_overdue
    soon = pks(
        selectors.case_list_for_user(
            user=org.handler_a, filters=CaseFilters(due_soon=True), now=case.due_at - timedelta(hours=2)
        )
    )
    assert soon == {case.pk}
    assert (
        pks(
            selectors.case_list_for_user(
                user=org.handler_a, filters=CaseFilters(due_soon=True), now=case.due_at - timedelta(days=2)
            )
        )
        == set()
    )


def test_case_get_for_user(org, cases):
    case = cases["in_progress_a"]
    assert selectors.case_get_for_user(user=org.handler_a, case_id=case.pk) == case
    with pytest.raises(NotFound):
        selectors.case_get_for_user(user=org.handler_b, case_id=case.pk)
    with pytest.raises(NotFound):
        selectors.case_get_for_user(user=org.supervisor, case_id=10**9)


def test_timeline_and_replies_for_the_public(org):
    org.dept_a.reply_needs_approval = True
    org.dept_a.save()
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    case = act(
        case, A.REQUEST_EXTENSION, org.handler_a, note="内部", data={"days": 3}, now=NOW + timedelta(hours=5)
    )
    case = act(case, A.REPLY, org.handler_a, data={"text": "草稿"}, now=NOW + timedelta(hours=6))
    case = act(case, A.REJECT_REPLY, org.head_a, note="重写", now=NOW + timedelta(hours=7))
    case = act(case, A.REPLY, org.head_a, data={"text": "正式答复"}, now=NOW + timedelta(hours=8))
    staff = [e.action for e in selectors.case_timeline(case=case, public=False)]
    public = [e.action for e in selectors.case_timeline(case=case, public=True)]
    assert staff == [
        "submit",
        "accept",
        "assign",
        "start",
        "request_extension",
        "reply_submitted",
        "reject_reply",
        "reply",
    ]
    assert public == ["submit", "accept", "assign", "start", "reply"]
    assert [r.text for r in selectors.case_replies(case=case, public=True)] == ["正式答复"]
    assert [r.text for r in selectors.case_replies(case=case, public=False)] == ["草稿", "正式答复"]
