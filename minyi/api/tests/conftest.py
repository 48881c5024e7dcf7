"""Fixtures for the API tests: the organisation from minyi/cases/tests/factories.py, bearer tokens for its
staff, and `api`, a small client that speaks only HTTP to /api/v1 (no service calls), so the tests show
that the REST API alone can drive a case through its life."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from minyi.accounts.models import ApiToken, Department, Role
from minyi.cases.tests.factories import DepartmentFactory, Org, UserFactory, member
from minyi.cases.workflow import CaseStatus

S = CaseStatus


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    """Most tests send many requests from one address; the rate-limit tests switch it back on."""
    settings.MINYI_RATE_LIMIT_ENABLED = False


@dataclass
class Appeal:
    tracking_number: str
    query_code: str
    id: int


class Api:
    """HTTP to /api/v1 with the tokens of the organisation's staff."""

    def __init__(self, org: Org, approval_dept: Department, handler_c, head_c) -> None:
        self.org = org
        self.client = Client()
        self.approval_dept = approval_dept
        self.users = {
            "intake": org.intake,
            "dispatcher": org.dispatcher,
            "handler": org.handler_a,
            "head": org.head_a,
            "supervisor": org.supervisor,
            "leader": org.leader,
            "handler_b": org.handler_b,
            "handler_parent": org.handler_parent,
            "handler_c": handler_c,
            "head_c": head_c,
            "citizen_account": org.citizen,
        }
        self._tokens: dict[str, str] = {}

    def token(self, who: str) -> str:
        if who not in self._tokens:
            _token, raw = ApiToken.issue(self.users[who])
            self._tokens[who] = raw
        return self._tokens[who]

    # ------------------------------------------------------------------ raw HTTP

    def post_json(self, path: str, body: Any, **headers) -> Any:
        return self.client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)

    def staff_get(self, who: str, path: str, **params) -> Any:
        return self.client.get(path, params, headers={"Authorization": f"Bearer {self.token(who)}"})

    def staff_post(self, who: str, path: str, body: Any) -> Any:
        return self.post_json(path, body, Authorization=f"Bearer {self.token(who)}")

    # ------------------------------------------------------------------ the citizen

    def submit(self, expect: int = 201, key: str | None = None, **fields) -> Appeal | Any:
        body = {
            "title": "小区电梯停运",
            "content": "3号楼电梯停运两周，老人上下楼困难，请尽快修复。",
            **fields,
        }
        headers = {"Idempotency-Key": key} if key else {}
        response = self.post_json("/api/v1/appeals", body, **headers)
        assert response.status_code == expect, response.content.decode()
        if expect != 201:
            return response
        receipt = response.json()
        found = self.staff_get("supervisor", "/api/v1/cases", q=receipt["tracking_number"]).json()
        assert found["count"] == 1
        return Appeal(receipt["tracking_number"], receipt["query_code"], found["items"][0]["id"])

    def track(self, appeal: Appeal, expect: int = 200) -> Any:
        response = self.client.get(
            f"/api/v1/appeals/{appeal.tracking_number}", {"query_code": appeal.query_code}
        )
        assert response.status_code == expect, response.content.decode()
        return response.json()

    def citizen(self, appeal: Appeal, action: str, *, note: str = "", data: dict | None = None, expect=200):
        response = self.post_json(
            f"/api/v1/appeals/{appeal.tracking_number}/actions/{action}",
            {"query_code": appeal.query_code, "note": note, "data": data or {}},
        )
        assert response.status_code == expect, response.content.decode()
        return response.json()

    # ------------------------------------------------------------------ staff

    def detail(self, who: str, case_id: int, expect: int = 200, **params) -> Any:
        response = self.staff_get(who, f"/api/v1/cases/{case_id}", **params)
        assert response.status_code == expect, response.content.decode()
        return response.json()

    def act(
        self, who: str, case_id: int, action: str, *, note: str = "", data: dict | None = None, expect=200
    ):
        response = self.staff_post(
            who, f"/api/v1/cases/{case_id}/actions/{action}", {"note": note, "data": data or {}}
        )
        assert response.status_code == expect, response.content.decode()
        return response.json()

    def status(self, appeal: Appeal) -> str:
        return self.detail("supervisor", appeal.id)["status"]["value"]

    # ------------------------------------------------------------------ whole paths

    def to_state(self, state: str, *, department: Department | None = None) -> Appeal:
        """A new appeal, driven through the API to `state` along the ordinary path."""
        department = department or self.org.dept_a
        handler = {self.org.dept_a.pk: "handler", self.approval_dept.pk: "handler_c"}.get(
            department.pk, "handler_b"
        )
        appeal = self.submit()
        if state == S.SUBMITTED:
            return appeal
        if state == S.DECLINED:
            self.act("intake", appeal.id, "decline", note="不属于受理范围")
        elif state == S.REFERRED:
            self.act(
                "intake", appeal.id, "refer", note="属于法院管辖", data={"referred_to": "江北区人民法院"}
            )
        elif state == S.MERGED:
            main = self.submit(title="同一部电梯")
            self.act("dispatcher", appeal.id, "merge", note="同一事项", data={"into": main.tracking_number})
        else:
            self.act("intake", appeal.id, "accept")
            if state != S.ACCEPTED:
                self.act("dispatcher", appeal.id, "assign", data={"department": department.pk})
                if state == S.RETURNED:
                    self.act(handler, appeal.id, "return", note="不属于本部门职责")
                elif state != S.ASSIGNED:
                    self.act(handler, appeal.id, "start")
                    if state != S.IN_PROGRESS:
                        self.act(handler, appeal.id, "reply", data={"text": "已督促物业公司完成维修。"})
                        if state == S.CLOSED:
                            self.citizen(appeal, "evaluate", data={"rating": "satisfied"})
                        elif state == S.UNDER_REVIEW:
                            self.citizen(appeal, "request_review", note="电梯仍然停运")
        assert self.status(appeal) == state
        return appeal


@pytest.fixture
def approval_org(org):
    """A third department whose handlers' replies wait for the head's approval."""
    dept_c = DepartmentFactory(name="市市场监管局", code="scjg", reply_needs_approval=True)
    handler_c = member(UserFactory(username="t_handler_c"), dept_c, Role.HANDLER)
    head_c = member(UserFactory(username="t_head_c", display_name="王科长"), dept_c, Role.HEAD)
    return dept_c, handler_c, head_c


@pytest.fixture
def api(org, approval_org) -> Api:
    dept_c, handler_c, head_c = approval_org
    return Api(org, dept_c, handler_c, head_c)
