"""The REST API alone drives a case through every path of the workflow table (minyi.cases.workflow), and
refuses what the table refuses: wrong status 409 (naming what is allowed), wrong role 403, a case the
caller may not see 404, a missing reason or field 400 — each time storing nothing.

The scenarios are generated from TRANSITIONS (every row x every source status x every human role), plus one
scenario per alternative outcome; `test_every_row_has_a_path` fails when the table grows a row, a role or
an outcome that no scenario covers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from minyi.api.tests.conftest import Api, Appeal
from minyi.cases import services
from minyi.cases.models import CaseEvent
from minyi.cases.workflow import (
    CITIZEN,
    SYSTEM,
    TRANSITIONS,
    CaseAction,
    CaseStatus,
    allowed_actions,
)

A, S = CaseAction, CaseStatus

#: The order in which states are tried when a test needs "some status" (all reachable through the API).
STATES = [
    S.SUBMITTED,
    S.ACCEPTED,
    S.ASSIGNED,
    S.IN_PROGRESS,
    S.REPLIED,
    S.CLOSED,
    S.UNDER_REVIEW,
    S.RETURNED,
    S.DECLINED,
    S.REFERRED,
    S.MERGED,
]
assert set(STATES) == set(S), "every status is reachable in these tests"

#: Table role -> the token (or the citizen) that plays it in department A.
PLAYERS = {"intake": "intake", "dispatcher": "dispatcher", "handler": "handler", "head": "head"}
PLAYERS |= {"supervisor": "supervisor", CITIZEN: CITIZEN}


def _merge_target(api: Api, appeal: Appeal) -> dict:
    return {"into": api.submit(title="同一部电梯（主件）").tracking_number}


#: What each action is sent with: (note, data or a function building data). A new action with no entry
#: here fails at collection.
PAYLOADS: dict[CaseAction, tuple[str, dict | Callable[[Api, Appeal], dict]]] = {
    A.ACCEPT: ("", {}),
    A.DECLINE: ("不属于本平台受理范围，请向法院起诉。", {}),
    A.REFER: ("属于司法程序事项。", {"referred_to": "江北区人民法院"}),
    A.ASSIGN: ("请按时办理。", lambda api, appeal: {"department": api.org.dept_a.pk}),
    A.RETURN: ("不属于本部门职责。", {}),
    A.START: ("", {}),
    A.REQUEST_EXTENSION: ("需要协调多部门现场勘查。", {"days": 10}),
    A.APPROVE_EXTENSION: ("同意延期。", {}),
    A.DENY_EXTENSION: ("理由不充分。", {}),
    A.REPLY: ("", {"text": "经核查，物业公司已于本周完成电梯维修，并已通过检验。"}),
    A.APPROVE_REPLY: ("", {}),
    A.REJECT_REPLY: ("答复未说明检验结果。", {}),
    A.EVALUATE: ("", {"rating": "satisfied", "resolved": True}),
    A.CLOSE: ("已与群众沟通，电梯已修复，予以办结。", {}),
    A.REOPEN: ("群众反映问题未解决，重新办理。", {}),
    A.MERGE: ("同一事项，并案办理。", _merge_target),
    A.REQUEST_REVIEW: ("电梯仍然经常停运，申请复查。", {}),
    A.DECIDE_REVIEW: ("原处理意见正确，予以维持。", {"decision": "upheld"}),
    A.ESCALATE: ("请加快办理。", {}),
    A.ADD_INFO: ("", {"text": "补充：停运期间已有老人摔倒。"}),
}


def _request_extension(api: Api, appeal: Appeal) -> None:
    api.act("handler", appeal.id, "request_extension", note="需要现场勘查", data={"days": 10})


def _pending_reply(api: Api, appeal: Appeal) -> None:
    detail = api.act("handler_c", appeal.id, "reply", data={"text": "初步答复：已联系物业。"})
    assert detail["status"]["value"] == S.IN_PROGRESS


def _dissatisfied(api: Api, appeal: Appeal) -> None:
    api.citizen(appeal, "evaluate", note="电梯依旧停运", data={"rating": "dissatisfied"})


#: Preconditions some actions need beyond the status (the table's guards).
PREPARE: dict[CaseAction, Callable[[Api, Appeal], None]] = {
    A.APPROVE_EXTENSION: _request_extension,
    A.DENY_EXTENSION: _request_extension,
    A.APPROVE_REPLY: _pending_reply,
    A.REJECT_REPLY: _pending_reply,
    A.CLOSE: _dissatisfied,
}
#: Actions played in the department whose replies need the head's approval (head_c there).
IN_APPROVAL_DEPT = {A.APPROVE_REPLY, A.REJECT_REPLY}


@dataclass(frozen=True)
class Path:
    action: CaseAction
    source: CaseStatus
    role: str
    expect: CaseStatus
    event: str
    variant: str = "main"
    player: str = ""
    note: str | None = None
    data: dict | None = None
    approval_dept: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def id(self) -> str:
        return f"{self.action}-{self.source}-{self.role}-{self.variant}"


def _paths() -> list[Path]:
    paths = []
    for action, t in TRANSITIONS.items():
        for source in sorted(t.sources):
            for role in sorted(t.roles - {SYSTEM}):
                in_c = action in IN_APPROVAL_DEPT
                player = {"handler": "handler_c", "head": "head_c"}.get(role, role) if in_c else PLAYERS[role]
                paths.append(
                    Path(
                        action,
                        source,
                        role,
                        t.target or source,
                        action.value,
                        player=player,
                        approval_dept=in_c,
                    )
                )
    # The alternative outcomes.
    paths += [
        Path(A.REPLY, S.IN_PROGRESS, "handler", S.IN_PROGRESS, "reply_submitted", "needs-approval",
             player="handler_c", approval_dept=True),
        Path(A.REPLY, S.IN_PROGRESS, "head", S.REPLIED, "reply", "head-in-approval-dept",
             player="head_c", approval_dept=True),
        Path(A.EVALUATE, S.REPLIED, CITIZEN, S.REPLIED, "evaluate", "dissatisfied", player=CITIZEN,
             note="电梯依旧停运", data={"rating": "dissatisfied", "resolved": False}),
        Path(A.EVALUATE, S.REPLIED, CITIZEN, S.CLOSED, "evaluate", "basically", player=CITIZEN,
             data={"rating": "basically_satisfied"}),
        Path(A.DECIDE_REVIEW, S.UNDER_REVIEW, "supervisor", S.ASSIGNED, "decide_review", "redo",
             player="supervisor", note="原答复未解决问题，重办。", data={"decision": "redo"}),
    ]  # fmt: skip
    return paths


PATHS = _paths()
#: Actions whose system role is exercised through the scheduled services (see the tests at the end).
SYSTEM_PATHS = {A.CLOSE, A.ESCALATE}


def test_every_row_has_a_path():
    assert {p.action for p in PATHS} == set(CaseAction)
    for action, t in TRANSITIONS.items():
        for source in t.sources:
            for role in t.roles - {SYSTEM}:
                assert any(p.action == action and p.source == source and p.role == role for p in PATHS)
        for alternative in t.alternative_targets:
            assert any(p.action == action and p.expect == alternative for p in PATHS), (action, alternative)
    assert {a for a, t in TRANSITIONS.items() if SYSTEM in t.roles} == SYSTEM_PATHS
    assert set(PAYLOADS) == set(CaseAction)


def _events(appeal: Appeal) -> int:
    return CaseEvent.objects.filter(case_id=appeal.id).count()


def _send(
    api: Api, path: Path, appeal: Appeal, *, note: str | None = None, data: dict | None = None, expect=200
):
    base_note, base_data = PAYLOADS[path.action]
    note = base_note if note is None else note
    if data is None:
        data = base_data(api, appeal) if callable(base_data) else dict(base_data)
    if path.player == CITIZEN:
        return api.citizen(appeal, path.action, note=note, data=data, expect=expect)
    return api.act(path.player, appeal.id, path.action, note=note, data=data, expect=expect)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.id)
def test_path(api, path):
    appeal = api.to_state(path.source, department=api.approval_dept if path.approval_dept else None)
    if path.action in PREPARE:
        PREPARE[path.action](api, appeal)
    before = _events(appeal)

    _send(api, path, appeal, note=path.note, data=path.data)

    detail = api.detail("supervisor", appeal.id)
    assert detail["status"]["value"] == path.expect
    last = detail["timeline"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == (path.event, path.source, path.expect)
    assert _events(appeal) == before + 1
    if path.action == A.EVALUATE and path.variant == "dissatisfied":
        assert detail["needs_supervision"] is True
        view = api.track(appeal)
        assert view["evaluation"]["state"] == "done"
        assert "evaluate" not in view["actions"] and "request_review" in view["actions"]
    if path.action == A.MERGE:
        main = detail["merged_into"]
        assert main and main != appeal.tracking_number
    if path.action == A.APPROVE_EXTENSION:
        assert detail["extension_count"] == 1 and detail["pending_extension_days"] is None
    if path.action == A.REPLY and path.expect == S.REPLIED:
        assert api.track(appeal)["replies"][-1]["text"] == PAYLOADS[A.REPLY][1]["text"]


# ---------------------------------------------------------------------------------------------- refusals


def _first(states) -> CaseStatus:
    return next(s for s in STATES if s in states)


def _main_path(action: CaseAction) -> Path:
    return next(
        p
        for p in PATHS
        if p.action == action and p.variant == "main" and p.source == _first(TRANSITIONS[action].sources)
    )


@pytest.mark.parametrize("action", list(CaseAction))
def test_wrong_status_is_409_naming_what_is_allowed(api, action):
    t = TRANSITIONS[action]
    state = _first(set(S) - t.sources)
    appeal = api.to_state(state)
    before = _events(appeal)
    path = _main_path(action)
    if CITIZEN in t.roles:
        body = api.citizen(
            appeal, action, note="说明", data={"rating": "satisfied", "text": "补充"}, expect=409
        )
    else:
        body = api.act("supervisor", appeal.id, action, note="说明", data={"department": 1}, expect=409)
    assert body["error"]["code"] == "invalid_transition"
    assert body["error"]["fields"]["allowed"] == [a.value for a in allowed_actions(state)]
    assert body["error"]["message"]
    assert api.status(appeal) == state
    assert _events(appeal) == before
    assert path.source != state


@pytest.mark.parametrize("action", list(CaseAction))
def test_wrong_role_is_403(api, action):
    path = _main_path(action)
    appeal = api.to_state(path.source, department=api.approval_dept if path.approval_dept else None)
    if action in PREPARE:
        PREPARE[action](api, appeal)
    before = _events(appeal)
    if path.player == CITIZEN:
        # A citizen's action is refused to staff, even to the supervisor who sees every case.
        body = api.act(
            "supervisor",
            appeal.id,
            action,
            note="说明",
            data={"rating": "satisfied", "text": "x"},
            expect=403,
        )
    else:
        # The leader sees every case and may change none; the citizen may not act for staff.
        body = api.act(
            "leader", appeal.id, action, note="说明", data={"department": api.org.dept_a.pk}, expect=403
        )
        citizen = api.citizen(appeal, action, note="说明", data={"department": api.org.dept_a.pk}, expect=403)
        assert citizen["error"]["code"] == "forbidden"
    assert body["error"]["code"] == "forbidden"
    assert api.status(appeal) == path.source
    assert _events(appeal) == before


@pytest.mark.parametrize("action", list(CaseAction))
def test_invisible_case_is_404(api, action):
    path = _main_path(action)
    appeal = api.to_state(path.source, department=api.approval_dept if path.approval_dept else None)
    before = _events(appeal)
    if path.player == CITIZEN:
        wrong = Appeal(appeal.tracking_number, "WRONGCODE234", appeal.id)
        body = api.citizen(wrong, action, note="说明", data={"rating": "satisfied", "text": "x"}, expect=404)
        unknown = Appeal("MY2000010100001", appeal.query_code, appeal.id)
        assert api.citizen(unknown, action, note="说明", expect=404) == body
    else:
        # handler_b works in another department: the case does not exist for them.
        body = api.act("handler_b", appeal.id, action, note="说明", data={"department": 1}, expect=404)
        assert api.act("handler_b", 10**9, action, note="说明", expect=404) == body
    assert body["error"]["code"] == "not_found"
    assert _events(appeal) == before


REQUIRED = [(a, "note") for a, t in TRANSITIONS.items() if t.note_required] + [
    (a, key) for a, t in TRANSITIONS.items() for key in t.requires
]


@pytest.mark.parametrize(("action", "missing"), REQUIRED, ids=lambda v: str(v))
def test_missing_reason_or_field_is_400(api, action, missing):
    path = _main_path(action)
    appeal = api.to_state(path.source, department=api.approval_dept if path.approval_dept else None)
    if action in PREPARE:
        PREPARE[action](api, appeal)
    before = _events(appeal)
    note, data = PAYLOADS[action]
    data = data(api, appeal) if callable(data) else dict(data)
    if missing == "note":
        note = " \n\t "
    else:
        data.pop(missing)
    body = _send(api, path, appeal, note=note, data=data, expect=400)
    assert body["error"]["code"] == "validation_error"
    assert missing in body["error"]["fields"]
    assert api.status(appeal) == path.source
    assert _events(appeal) == before


def test_unknown_action_is_409_with_the_allowed_list(api):
    appeal = api.to_state(S.ASSIGNED)
    body = api.act("handler", appeal.id, "fly_to_the_moon", expect=409)
    assert body["error"]["code"] == "invalid_transition"
    assert body["error"]["fields"]["allowed"] == [a.value for a in allowed_actions(S.ASSIGNED)]
    body = api.citizen(appeal, "%3Cb%3Eevil", expect=409)
    assert body["error"]["fields"]["action"] == "<b>evil"
    assert body["error"]["fields"]["allowed"] == [a.value for a in allowed_actions(S.ASSIGNED)]


def test_intake_loses_sight_of_an_assigned_case(api):
    appeal = api.to_state(S.ASSIGNED)
    assert api.detail("intake", appeal.id, expect=404)["error"]["code"] == "not_found"
    assert api.act("intake", appeal.id, "accept", expect=404)["error"]["code"] == "not_found"


def test_an_action_that_hides_the_case_still_answers_with_its_outcome(api):
    appeal = api.to_state(S.SUBMITTED)
    detail = api.act("intake", appeal.id, "decline", note="不属于受理范围")
    assert detail["status"]["value"] == S.DECLINED
    assert detail["allowed_actions"] == []
    assert api.detail("intake", appeal.id, expect=404)["error"]["code"] == "not_found"


# ---------------------------------------------------------------------------------------------- system paths


def test_system_closes_unrated_cases_and_staff_other_than_supervisor_may_not(api):
    appeal = api.to_state(S.REPLIED)
    # A supervisor may close only after dissatisfaction (the guard), a handler never (the role).
    assert api.act("supervisor", appeal.id, "close", note="办结", expect=409)["error"]["code"] == "conflict"
    assert api.act("handler", appeal.id, "close", note="办结", expect=403)["error"]["code"] == "forbidden"
    assert api.citizen(appeal, "close", note="办结", expect=403)["error"]["code"] == "forbidden"

    closed = services.cases_close_unrated(now=timezone.now() + timedelta(days=30))

    assert closed >= 1
    detail = api.detail("supervisor", appeal.id)
    last = detail["timeline"][-1]
    assert detail["status"]["value"] == S.CLOSED
    assert (last["action"], last["actor_role"], last["actor"]) == ("close", SYSTEM, None)
    assert api.track(appeal)["evaluation"]["state"] == "expired"


def test_system_escalates_overdue_cases_and_handlers_may_not(api):
    appeal = api.to_state(S.IN_PROGRESS)
    assert api.act("handler", appeal.id, "escalate", note="催办", expect=403)["error"]["code"] == "forbidden"
    assert api.act("head", appeal.id, "escalate", note="催办", expect=403)["error"]["code"] == "forbidden"

    escalated = services.cases_mark_overdue(now=timezone.now() + timedelta(days=120))

    assert escalated >= 1
    detail = api.detail("supervisor", appeal.id)
    last = detail["timeline"][-1]
    assert detail["status"]["value"] == S.IN_PROGRESS
    assert detail["escalation_count"] == 1
    assert (last["action"], last["actor_role"]) == ("escalate", SYSTEM)
    assert detail["timeline"][-1]["is_public"] is False
    assert "escalate" not in [e["action"] for e in api.track(appeal)["history"]]
