"""The triage in the staff API: GET /api/v1/cases/{id} shows it; POST /api/v1/cases/{id}/triage/{part} reviews it."""

from __future__ import annotations

import pytest

from minyi.cases.models import Case, CaseEvent
from minyi.intake.models import Triage, TriageState
from minyi.intake.triage import triage_case

pytestmark = pytest.mark.django_db

TEXT = "和平小区东门外的垃圾站每天早上五点开始压缩作业，几十户居民无法休息，电话13800001111，准备集体去市政府静坐。"


def test_the_case_detail_carries_the_triage_and_staff_review_it(api, org):
    appeal = api.submit(title="垃圾站噪音", content=TEXT)
    assert api.detail("intake", appeal.id)["triage"] is None  # not yet triaged: the task runs after commit
    triage_case(case_id=appeal.id)
    Triage.objects.filter(case_id=appeal.id).update(category=org.category)
    body = api.detail("intake", appeal.id)
    triage = body["triage"]
    assert triage["category"]["suggested"]["id"] == org.category.pk
    assert triage["risk"]["level"]["value"] == "high"
    assert {r["code"] for r in triage["risk"]["reasons"]} >= {"group", "gathering"}
    assert [span[0] for span in triage["pii"]["spans"]["content"]] == ["mobile"]
    assert "13800001111" not in str(triage)  # offsets, never the data
    assert body["is_repeat"] is False and body["external_number"] == ""
    # accept the category
    response = api.staff_post("intake", f"/api/v1/cases/{appeal.id}/triage/category", {"decision": "accept"})
    assert response.status_code == 200, response.content.decode()
    assert response.json()["triage"]["category"]["state"]["value"] == TriageState.ACCEPTED
    assert Case.objects.get(pk=appeal.id).category_id == org.category.pk
    assert CaseEvent.objects.filter(case_id=appeal.id, action="triage_review").count() == 1


def test_triage_review_errors_share_the_error_shape(api, org):
    appeal = api.submit(title="垃圾站噪音", content=TEXT)
    triage_case(case_id=appeal.id)
    url = f"/api/v1/cases/{appeal.id}/triage/risk"
    response = api.staff_post("supervisor", url, {"decision": "correct", "risk_level": "low"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"note": "必填"}
    response = api.staff_post("leader", url, {"decision": "accept"})
    assert response.status_code == 403  # leaders read, never change
    response = api.staff_post("handler_b", url, {"decision": "accept"})
    assert response.status_code == 404
    response = api.staff_post("supervisor", f"/api/v1/cases/{appeal.id}/triage/bogus", {"decision": "accept"})
    assert response.status_code == 404
