"""GET /api/v1/cases and GET /api/v1/cases/{id}: visibility, filters, pagination, contact details."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from minyi.cases.models import Case, PersonalDataAccess
from minyi.cases.workflow import CaseStatus

S = CaseStatus


def ids(body: dict) -> set[int]:
    return {item["id"] for item in body["items"]}


def test_each_role_lists_what_it_may_see(api):
    submitted = api.to_state(S.SUBMITTED)
    in_a = api.to_state(S.IN_PROGRESS)
    in_b = api.to_state(S.ASSIGNED, department=api.org.dept_b)

    everything = {submitted.id, in_a.id, in_b.id}
    assert ids(api.staff_get("supervisor", "/api/v1/cases").json()) == everything
    assert ids(api.staff_get("leader", "/api/v1/cases").json()) == everything
    assert ids(api.staff_get("dispatcher", "/api/v1/cases").json()) == everything
    assert ids(api.staff_get("intake", "/api/v1/cases").json()) == {submitted.id}
    assert ids(api.staff_get("handler", "/api/v1/cases").json()) == {in_a.id}
    assert ids(api.staff_get("handler_parent", "/api/v1/cases").json()) == {in_a.id}  # sub-departments
    assert ids(api.staff_get("handler_b", "/api/v1/cases").json()) == {in_b.id}
    body = api.staff_get("handler", "/api/v1/cases").json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["tracking_number"] == in_a.tracking_number
    assert item["status"] == {"value": "in_progress", "label": "办理中"}
    assert item["department"]["id"] == api.org.dept_a.pk
    assert "content" not in item and "contact" not in item


def test_filters(api, org):
    first = api.submit(
        kind="help", category=org.category.code, region=org.region.code, title="电梯停运 老人被困"
    )
    second = api.submit(kind="complaint", title="路灯不亮", content="滨江路路灯坏了")
    third = api.to_state(S.ASSIGNED)

    def found(**params):
        response = api.staff_get("supervisor", "/api/v1/cases", **params)
        assert response.status_code == 200, response.content
        return ids(response.json())

    assert found(status="submitted") == {first.id, second.id}
    assert found(status="assigned") == {third.id}
    assert found(kind="help") == {first.id}
    assert found(category=org.category.code) == found(category=str(org.category.pk)) == {first.id}
    assert found(region=org.region.code) == {first.id}
    assert found(department=org.dept_a.pk) == {third.id}
    assert found(q=second.tracking_number) == {second.id}
    assert found(q=second.tracking_number.lower()) == {second.id}
    assert found(q="路灯") == {second.id}
    assert found(q="停运") == {first.id, third.id}
    assert found(q="被困 电梯") == found(q="电梯\u3000被困") == {first.id}  # every word, in any order
    assert found(q="电梯 路灯") == set()
    assert found(q="'; DROP TABLE cases_case; --") == set()
    assert found(overdue="false") == {first.id, second.id, third.id}
    assert found(overdue="true") == set()


def test_overdue_filter(api):
    appeal = api.to_state(S.ASSIGNED)
    Case.objects.filter(pk=appeal.id).update(due_at=timezone.now() - timedelta(hours=1))
    fresh = api.to_state(S.ASSIGNED)
    body = api.staff_get("supervisor", "/api/v1/cases", overdue="true").json()
    assert ids(body) == {appeal.id}
    assert body["items"][0]["overdue"] is True
    assert ids(api.staff_get("supervisor", "/api/v1/cases", overdue="false").json()) == {fresh.id}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"kind": "bribe"}, "kind"),
        ({"category": "nope"}, "category"),
        ({"region": "999999"}, "region"),
        ({"queue": "secret"}, "queue"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"department": "x"}, "department"),
        ({"overdue": "sometimes"}, "overdue"),
    ],
)
def test_bad_filters_are_400(api, params, field):
    response = api.staff_get("supervisor", "/api/v1/cases", **params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]


def test_pagination(api):
    appeals = [api.submit(title=f"第{i}件") for i in range(7)]
    page = api.staff_get("supervisor", "/api/v1/cases", limit=3, offset=0).json()
    assert (page["count"], page["limit"], page["offset"], len(page["items"])) == (7, 3, 0, 3)
    assert [i["id"] for i in page["items"]] == [a.id for a in reversed(appeals)][:3]  # newest first
    last = api.staff_get("supervisor", "/api/v1/cases", limit=3, offset=6).json()
    assert (last["count"], len(last["items"])) == (7, 1)
    beyond = api.staff_get("supervisor", "/api/v1/cases", limit=3, offset=50).json()
    assert (beyond["count"], beyond["items"]) == (7, [])
    capped = api.staff_get("supervisor", "/api/v1/cases", limit=500).json()
    assert (capped["limit"], capped["count"], len(capped["items"])) == (200, 7, 7)


def test_the_list_does_not_make_a_query_per_case(api, django_assert_max_num_queries, org):
    api.token("supervisor")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = api.staff_get("supervisor", "/api/v1/cases", limit=200)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        api.to_state(S.ASSIGNED)
    few = queries()
    for i in range(12):
        api.submit(title=f"批量{i}", category=org.category.code, region=org.region.code)
    for _ in range(3):
        api.to_state(S.ASSIGNED)
    many = queries()
    assert many == few
    with django_assert_max_num_queries(8):
        assert api.staff_get("supervisor", "/api/v1/cases", limit=200).json()["count"] == 17


def test_detail_shows_replies_timeline_and_the_callers_actions(api):
    appeal = api.to_state(S.REPLIED)
    detail = api.detail("supervisor", appeal.id)
    assert detail["tracking_number"] == appeal.tracking_number
    assert [e["action"] for e in detail["timeline"]] == ["submit", "accept", "assign", "start", "reply"]
    assert detail["timeline"][1]["actor"] == "t_intake" and detail["timeline"][1]["actor_role"] == "intake"
    assert detail["replies"][0]["state"] == "sent" and detail["replies"][0]["author"] == "t_handler_a"
    # The supervisor's, by status, role and guard: nobody rated the reply dissatisfied, so no "close".
    assert detail["allowed_actions"] == ["reopen"]
    assert api.detail("handler", appeal.id)["allowed_actions"] == []
    assert api.detail("leader", appeal.id)["allowed_actions"] == []
    assert api.detail("supervisor", 10**9, expect=404)["error"]["code"] == "not_found"
    assert api.detail("handler_b", appeal.id, expect=404) == api.detail("handler_b", 10**9, expect=404)


def test_contact_details_only_on_request_for_allowed_roles_and_every_read_is_logged(api):
    appeal = api.submit(contact_name="李四", contact_phone="13912345678", contact_email="lisi@example.cn")

    plain = api.detail("intake", appeal.id)
    assert plain["contact"] is None and plain["contact_available"] is True
    assert not PersonalDataAccess.objects.exists()

    shown = api.detail("intake", appeal.id, include="contact")
    assert shown["contact"] == {"name": "李四", "phone": "13912345678", "email": "lisi@example.cn"}
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.case_id, access.purpose) == (api.org.intake, appeal.id, "api")

    leader = api.detail("leader", appeal.id, include="contact")
    assert leader["contact"] is None and leader["contact_available"] is False
    assert PersonalDataAccess.objects.count() == 1

    anonymous = api.submit(is_anonymous=True, contact_phone="13912345678")
    hidden = api.detail("supervisor", anonymous.id, include="contact")
    assert hidden["contact"] is None and hidden["contact_available"] is False
    assert PersonalDataAccess.objects.count() == 1
