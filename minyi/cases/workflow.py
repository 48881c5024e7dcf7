"""The case workflow: one table, pure functions over it. No database access here.

ARCHITECTURE.md §3 is the source; docs/workflow.md is generated from TRANSITIONS (`minyi cases_workflow_doc`)
and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from minyi.core.exceptions import Conflict


class CaseStatus(models.TextChoices):
    SUBMITTED = "submitted", _("待受理")
    ACCEPTED = "accepted", _("已受理")
    DECLINED = "declined", _("不予受理")
    REFERRED = "referred", _("已转送")
    ASSIGNED = "assigned", _("已交办")
    RETURNED = "returned", _("已退单")
    IN_PROGRESS = "in_progress", _("办理中")
    REPLIED = "replied", _("已答复")
    CLOSED = "closed", _("已办结")
    MERGED = "merged", _("已并案")
    UNDER_REVIEW = "under_review", _("复查中")


class CaseAction(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    REFER = "refer"
    ASSIGN = "assign"
    RETURN = "return"
    START = "start"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    REPLY = "reply"
    APPROVE_REPLY = "approve_reply"
    REJECT_REPLY = "reject_reply"
    EVALUATE = "evaluate"
    CLOSE = "close"
    REOPEN = "reopen"
    MERGE = "merge"
    REQUEST_REVIEW = "request_review"
    DECIDE_REVIEW = "decide_review"
    ESCALATE = "escalate"
    ADD_INFO = "add_info"


ACTION_LABELS = {
    CaseAction.ACCEPT: _("受理"),
    CaseAction.DECLINE: pgettext_lazy("case action", "不予受理"),
    CaseAction.REFER: _("转送"),
    CaseAction.ASSIGN: _("交办"),
    CaseAction.RETURN: _("退单"),
    CaseAction.START: _("开始办理"),
    CaseAction.REQUEST_EXTENSION: _("申请延期"),
    CaseAction.APPROVE_EXTENSION: _("批准延期"),
    CaseAction.DENY_EXTENSION: _("驳回延期"),
    CaseAction.REPLY: _("答复"),
    CaseAction.APPROVE_REPLY: _("审核通过答复"),
    CaseAction.REJECT_REPLY: _("退回答复"),
    CaseAction.EVALUATE: pgettext_lazy("case action", "评价"),
    CaseAction.CLOSE: _("办结"),
    CaseAction.REOPEN: _("重办"),
    CaseAction.MERGE: _("并案"),
    CaseAction.REQUEST_REVIEW: _("申请复查"),
    CaseAction.DECIDE_REVIEW: _("复查决定"),
    CaseAction.ESCALATE: _("督办"),
    CaseAction.ADD_INFO: _("补充材料"),
}

#: Events that are not actions of the table but appear in a timeline.
EVENT_LABELS = {
    "submit": _("提交诉求"),
    "reply_submitted": _("提交答复，待负责人审核"),
    "merged_in": _("有诉求并入本件"),
    "triage": _("智能研判"),
    "triage_review": _("核定研判结果"),
    "import": _("导入历史件"),
    "publish": _("公开"),
    "unpublish": _("撤回公开"),
    "publication_edit": _("修改公开文本"),
    "publication_held": _("暂不公开"),
}


def event_label(action: str) -> str:
    """The label of a timeline event: an action of the table, or one of EVENT_LABELS."""
    label = ACTION_LABELS.get(action) if action in CaseAction._value2member_map_ else EVENT_LABELS.get(action)
    return str(label) if label is not None else action


# Who may act. Staff roles are accounts.Role values; "citizen" is the person behind the case
# (proved by the query code, or by owning account); "system" is a scheduled job.
INTAKE, DISPATCHER, HANDLER, HEAD, SUPERVISOR = "intake", "dispatcher", "handler", "head", "supervisor"
CITIZEN, SYSTEM = "citizen", "system"

S = CaseStatus
#: States in which the case still waits for work by the organisation.
OPEN_STATES = frozenset({S.SUBMITTED, S.ACCEPTED, S.ASSIGNED, S.RETURNED, S.IN_PROGRESS, S.UNDER_REVIEW})
#: States after which nothing more is expected (reopen and review can still revive CLOSED).
FINAL_STATES = frozenset({S.DECLINED, S.REFERRED, S.CLOSED, S.MERGED})
#: States in which a deadline clock runs; "overdue" is due_at < now in one of these.
CLOCK_RUNNING = OPEN_STATES
#: States not yet dispatched to a department (the intake officer's world).
UNDISPATCHED = frozenset({S.SUBMITTED, S.ACCEPTED})


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CaseStatus]
    target: CaseStatus | None  # None: the status does not change
    roles: frozenset[str]
    note_required: bool = False
    requires: tuple[str, ...] = ()  # payload fields that must be present
    guard: str = ""  # human description of the extra rule the service enforces
    alternative_targets: tuple[CaseStatus, ...] = field(default=())  # other outcomes decided by the payload


def _t(sources, target, roles, **kw) -> Transition:
    return Transition(frozenset(sources), target, frozenset(roles), **kw)


A = CaseAction
TRANSITIONS: dict[CaseAction, Transition] = {
    A.ACCEPT: _t({S.SUBMITTED}, S.ACCEPTED, {INTAKE}),
    A.DECLINE: _t(
        {S.SUBMITTED}, S.DECLINED, {INTAKE}, note_required=True, guard="the citizen is told the reason"
    ),
    A.REFER: _t(
        {S.SUBMITTED, S.ACCEPTED}, S.REFERRED, {INTAKE}, note_required=True, requires=("referred_to",)
    ),
    A.ASSIGN: _t({S.ACCEPTED, S.RETURNED}, S.ASSIGNED, {DISPATCHER}, requires=("department",)),
    A.RETURN: _t({S.ASSIGNED}, S.RETURNED, {HANDLER, HEAD}, note_required=True),
    A.START: _t({S.ASSIGNED}, S.IN_PROGRESS, {HANDLER, HEAD}),
    A.REQUEST_EXTENSION: _t(
        {S.IN_PROGRESS},
        None,
        {HANDLER, HEAD},
        note_required=True,
        requires=("days",),
        guard="no request pending; fewer extensions than the policy allows; days within the policy's limit",
    ),
    A.APPROVE_EXTENSION: _t(
        {S.IN_PROGRESS}, None, {HEAD, SUPERVISOR}, guard="an extension request is pending; the due date moves"
    ),
    A.DENY_EXTENSION: _t(
        {S.IN_PROGRESS}, None, {HEAD, SUPERVISOR}, note_required=True, guard="a request is pending"
    ),
    A.REPLY: _t(
        {S.IN_PROGRESS},
        S.REPLIED,
        {HANDLER, HEAD},
        requires=("text",),
        guard="where the department's policy requires approval, a handler's reply waits for the head",
        alternative_targets=(S.IN_PROGRESS,),
    ),
    A.APPROVE_REPLY: _t({S.IN_PROGRESS}, S.REPLIED, {HEAD}, guard="a reply is waiting for approval"),
    A.REJECT_REPLY: _t(
        {S.IN_PROGRESS}, None, {HEAD}, note_required=True, guard="a reply is waiting for approval"
    ),
    A.EVALUATE: _t(
        {S.REPLIED},
        S.CLOSED,
        {CITIZEN},
        requires=("rating",),
        guard="within the evaluation window, once per reply; dissatisfied needs a reason and stays replied "
        "in the supervisor's queue",
        alternative_targets=(S.REPLIED,),
    ),
    A.CLOSE: _t(
        {S.REPLIED},
        S.CLOSED,
        {SUPERVISOR, SYSTEM},
        guard="supervisor: after a dissatisfied rating, with a note; system: the evaluation window passed unrated",
    ),
    A.REOPEN: _t({S.REPLIED, S.CLOSED}, S.ASSIGNED, {SUPERVISOR}, note_required=True),
    A.MERGE: _t(
        OPEN_STATES, S.MERGED, {DISPATCHER}, requires=("into",), guard="into another open, unmerged case"
    ),
    A.REQUEST_REVIEW: _t(
        {S.REPLIED, S.CLOSED},
        S.UNDER_REVIEW,
        {CITIZEN},
        note_required=True,
        guard="within the review period after the reply",
    ),
    A.DECIDE_REVIEW: _t(
        {S.UNDER_REVIEW},
        S.CLOSED,
        {SUPERVISOR},
        note_required=True,
        requires=("decision",),
        guard="decision 'upheld' closes; 'redo' sends it back to the department",
        alternative_targets=(S.ASSIGNED,),
    ),
    A.ESCALATE: _t(
        OPEN_STATES,
        None,
        {SUPERVISOR, SYSTEM},
        guard="a flag and an event; system escalates once per deadline",
    ),
    A.ADD_INFO: _t(OPEN_STATES | {S.REPLIED}, None, {CITIZEN}, requires=("text",)),
}


#: Events whose note the citizen may read on their own case: reasons addressed to them, and what they wrote.
#: Other notes (a reopen instruction, a return reason) are the organisation's internal working.
CITIZEN_VISIBLE_NOTES = frozenset(
    {A.DECLINE, A.REFER, A.EVALUATE, A.CLOSE, A.REQUEST_REVIEW, A.DECIDE_REVIEW, A.ADD_INFO}
)


class InvalidTransition(Conflict):
    """The action is not allowed from the case's current status (HTTP 409)."""

    code = "invalid_transition"

    def __init__(self, current: str, action: str) -> None:
        allowed = [a.value for a in allowed_actions(current)]
        message = _("当前状态“%(status)s”下不能执行“%(action)s”。可执行的操作：%(allowed)s") % {
            "status": CaseStatus(current).label if current in CaseStatus.values else current,
            "action": ACTION_LABELS.get(action, action)
            if action in CaseAction._value2member_map_
            else action,
            "allowed": "、".join(str(ACTION_LABELS[CaseAction(a)]) for a in allowed) or "—",
        }
        super().__init__(message, fields={"status": current, "action": action, "allowed": allowed})
        self.current, self.action, self.allowed = current, action, allowed


def parse_action(name: str) -> CaseAction:
    try:
        return CaseAction(name)
    except ValueError:
        raise InvalidTransition("", name) from None


def next_status(current: str, action: CaseAction | str) -> CaseStatus:
    """The status after `action` in its main outcome; raises InvalidTransition when not allowed from `current`."""
    t = TRANSITIONS.get(CaseAction(action)) if action in CaseAction._value2member_map_ else None
    if t is None or current not in t.sources:
        raise InvalidTransition(current, str(action))
    return t.target or CaseStatus(current)


def allowed_actions(current: str) -> list[CaseAction]:
    return [a for a, t in TRANSITIONS.items() if current in t.sources]


def actions_for_roles(current: str, roles: set[str] | frozenset[str]) -> list[CaseAction]:
    return [a for a in allowed_actions(current) if TRANSITIONS[a].roles & roles]
