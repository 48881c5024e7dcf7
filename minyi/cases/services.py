"""Every write to a case. `case_transition` is the one entry point for status changes; each call appends a
CaseEvent in the same transaction, and notifications go out after commit.

Nothing outside this module assigns `Case.status` (tests/test_status_guard.py enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from minyi.accounts.models import Department, Role
from minyi.cases import policies, workflow
from minyi.cases.models import Case, CaseContact, CaseEvent, Evaluation, Reply
from minyi.cases.policies import Actor
from minyi.cases.signals import case_changed
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core.bulk import bulk_insert
from minyi.core.exceptions import Conflict, NotFound, ValidationFailed
from minyi.core.notify import notify_address, notify_users
from minyi.routing.services import Sla, due_after, sla_for

S = CaseStatus
MAX_NOTE_CHARS = 5000


@dataclass
class _Change:
    """What one action did, filled in by its handler and recorded by case_transition."""

    to_status: CaseStatus
    fields: set[str]
    data: dict[str, Any]
    public: bool = True
    event_action: str = ""
    after_commit: list = field(default_factory=list)

    def notify(self, fn, **kwargs) -> None:
        self.after_commit.append((fn, kwargs))


# ---------------------------------------------------------------------------------------------- creation


def case_create(
    *,
    tracking_number: str,
    query_code_hash: str,
    kind: str,
    channel: str,
    title: str,
    content: str,
    priority: str = "ordinary",
    category_id: int | None = None,
    region_id: int | None = None,
    address: str = "",
    latitude=None,
    longitude=None,
    is_anonymous: bool = False,
    contact: dict[str, str] | None = None,
    submitted_by=None,
    logged_by=None,
    publication_consent: bool = True,
    now: datetime | None = None,
) -> Case:
    """Store a new case in `submitted` with its acceptance deadline and a `submit` event.

    `publication_consent` False: the person asked that the case not be published (minyi.disclosure holds it).
    Called by minyi.intake only, which has validated and cleaned the input. Must run inside a transaction.
    """
    now = now or timezone.now()
    sla = sla_for(kind=kind, priority=priority)
    accept_due = due_after(start=now, amount=sla.accept_within, unit=sla.unit)
    case = Case(
        tracking_number=tracking_number,
        query_code_hash=query_code_hash,
        kind=kind,
        channel=channel,
        priority=priority,
        title=title,
        content=content,
        category_id=category_id,
        region_id=region_id,
        address=address,
        latitude=latitude,
        longitude=longitude,
        is_anonymous=is_anonymous,
        publication_consent=bool(publication_consent),
        submitted_by=submitted_by,
        logged_by=logged_by,
        accept_due_at=accept_due,
        due_at=accept_due,
        status_changed_at=now,
        created_at=now,
    )
    # Field validation only: the database enforces the unique number and the check constraints itself,
    # and re-checking them here cost half of every submission's queries.
    case.full_clean(exclude=["query_code_hash"], validate_unique=False, validate_constraints=False)
    case.save()
    contact = {k: v for k, v in (contact or {}).items() if v}
    if contact and not is_anonymous:
        CaseContact.objects.create(case=case, **contact)
    CaseEvent.objects.create(
        case=case,
        action="submit",
        actor=logged_by or submitted_by,
        actor_role=policies.STAFF if logged_by else policies.CITIZEN,
        from_status="",
        to_status=S.SUBMITTED,
        data={"channel": channel, "accept_due_at": accept_due.isoformat()},
        created_at=now,
    )
    return case


# ---------------------------------------------------------------------------------------------- helpers


def _text(
    data: dict[str, Any], key: str, *, required: bool, max_chars: int = settings.MINYI_MAX_CONTENT_CHARS
) -> str:
    value = data.get(key)
    value = "" if value is None else str(value)
    if required and not value.strip():
        raise ValidationFailed(_("请填写“%(field)s”。") % {"field": key}, fields={key: _("必填")})
    if len(value) > max_chars:
        raise ValidationFailed(
            _("“%(field)s”不能超过 %(n)s 字。") % {"field": key, "n": max_chars}, fields={key: _("过长")}
        )
    return value


def _handle_deadline(case: Case, sla: Sla, now: datetime) -> datetime:
    return due_after(start=now, amount=sla.handle_within, unit=sla.unit)


def _department_staff(department_id: int | None, roles=(Role.HANDLER, Role.HEAD)):
    from minyi.accounts.models import User

    if not department_id:
        return User.objects.none()
    return User.objects.filter(
        is_active=True, memberships__department_id=department_id, memberships__role__in=roles
    ).distinct()


def _supervisors():
    from minyi.accounts.models import User

    return User.objects.filter(is_active=True, memberships__role=Role.SUPERVISOR).distinct()


def _citizen_emails(case: Case) -> list[tuple[int, str]]:
    """(case id, e-mail) of the person behind `case`, and of everyone whose case was merged into it: they follow
    the main case (并案), so they hear what happens to it."""
    rows = (
        CaseContact.objects.filter(Q(case=case) | Q(case__merged_into=case))
        .exclude(email="")
        .values_list("case_id", "email")
    )
    return sorted(rows)


def _tell_citizen(case: Case, subject: str, body: str) -> None:
    for case_id, address in _citizen_emails(case):
        notify_address(address=address, subject=subject, body=body, case_id=case_id, topic="citizen")


def _latest_sent_reply(case: Case) -> Reply | None:
    return case.replies.filter(state=Reply.State.SENT).order_by("-sent_at", "-id").first()


def _send_reply(case: Case, reply: Reply, sla: Sla, now: datetime, change: _Change) -> None:
    reply.state = Reply.State.SENT
    reply.sent_at = now
    reply.save(update_fields=["state", "sent_at", "approved_by"])
    case.replied_at = now
    if case.responded_at is None:
        case.responded_at = now
        change.fields.add("responded_at")
    case.evaluation_due_at = now + timedelta(days=sla.evaluation_days)
    case.due_at = None
    change.fields |= {"replied_at", "evaluation_due_at", "due_at"}
    change.data.update(
        {
            "reply_id": reply.pk,
            "evaluation_due_at": case.evaluation_due_at.isoformat(),
            "review_request_until": (now + timedelta(days=sla.review_request_days)).isoformat(),
        }
    )
    change.notify(
        _tell_citizen,
        case=case,
        subject=_("您的诉求 %(no)s 已答复") % {"no": case.tracking_number},
        body=_("您的诉求已答复，请凭受理编号和查询码查看答复并评价。"),
    )


# ---------------------------------------------------------------------------------------------- actions


def _accept(case, actor, note, data, sla, now, change):
    case.accepted_at = now
    case.handle_due_at = _handle_deadline(case, sla, now)
    case.due_at = case.handle_due_at
    change.fields |= {"accepted_at", "handle_due_at", "due_at"}
    change.data["handle_due_at"] = case.handle_due_at.isoformat()
    change.notify(
        _tell_citizen,
        case=case,
        subject=_("您的诉求 %(no)s 已受理") % {"no": case.tracking_number},
        body=_("您的诉求已受理，我们将在时限内办理并答复。"),
    )


def _finish(case, now, change) -> None:
    case.closed_at = now
    case.due_at = None
    change.fields |= {"closed_at", "due_at"}


def _decline(case, actor, note, data, sla, now, change):
    _finish(case, now, change)
    change.notify(
        _tell_citizen,
        case=case,
        subject=_("您的诉求 %(no)s 不予受理") % {"no": case.tracking_number},
        body=_("不予受理的理由：%(reason)s") % {"reason": note},
    )


def _refer(case, actor, note, data, sla, now, change):
    body = _text(data, "referred_to", required=True, max_chars=200)
    change.data["referred_to"] = body
    _finish(case, now, change)
    change.notify(
        _tell_citizen,
        case=case,
        subject=_("您的诉求 %(no)s 已转送") % {"no": case.tracking_number},
        body=_("您的诉求已转送至：%(body)s。%(note)s") % {"body": body, "note": note},
    )


def _assign(case, actor, note, data, sla, now, change):
    try:
        department = Department.objects.get(pk=int(data.get("department")), is_active=True)
    except (TypeError, ValueError, Department.DoesNotExist):
        raise ValidationFailed(_("请选择有效的承办部门。"), fields={"department": _("无效")})
    case.department = department
    case.assigned_at = now
    if case.handle_due_at is None:
        case.handle_due_at = _handle_deadline(case, sla, now)
    case.due_at = case.handle_due_at
    change.fields |= {"department", "assigned_at", "handle_due_at", "due_at"}
    change.data.update({"department": department.pk, "department_name": department.name})
    change.notify(
        notify_users,
        users=list(_department_staff(department.pk)),
        subject=_("新交办诉求 %(no)s") % {"no": case.tracking_number},
        body=case.title,
        case_id=case.pk,
        topic="assigned",
    )


def _return(case, actor, note, data, sla, now, change):
    change.data["department"] = case.department_id
    case.department = None
    change.fields.add("department")
    change.public = False


def _request_extension(case, actor, note, data, sla, now, change):
    if case.pending_extension_days:
        raise Conflict(_("已有待审批的延期申请。"))
    if case.extension_count >= sla.extension_max_count:
        raise Conflict(_("延期次数已达上限（%(n)s 次）。") % {"n": sla.extension_max_count})
    try:
        days = int(data.get("days"))
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= sla.extension_max_days:
        raise ValidationFailed(
            _("延期天数须在 1 到 %(n)s 天之间。") % {"n": sla.extension_max_days}, fields={"days": _("无效")}
        )
    case.pending_extension_days = days
    change.fields.add("pending_extension_days")
    change.data["days"] = days
    change.public = False
    approvers = _department_staff(case.department_id, roles=(Role.HEAD,)) | _supervisors()
    change.notify(
        notify_users,
        users=list(approvers.distinct()),
        subject=_("延期申请待审批 %(no)s") % {"no": case.tracking_number},
        body=note,
        case_id=case.pk,
        topic="extension",
    )


def _approve_extension(case, actor, note, data, sla, now, change):
    days = case.pending_extension_days
    if not days:
        raise Conflict(_("没有待审批的延期申请。"))
    base = case.handle_due_at or now
    case.handle_due_at = base + timedelta(days=days)
    case.due_at = case.handle_due_at
    case.extension_count += 1
    case.pending_extension_days = None
    change.fields |= {"handle_due_at", "due_at", "extension_count", "pending_extension_days"}
    change.data.update({"days": days, "handle_due_at": case.handle_due_at.isoformat()})
    change.public = False


def _deny_extension(case, actor, note, data, sla, now, change):
    if not case.pending_extension_days:
        raise Conflict(_("没有待审批的延期申请。"))
    change.data["days"] = case.pending_extension_days
    case.pending_extension_days = None
    change.fields.add("pending_extension_days")
    change.public = False


def _reply(case, actor, note, data, sla, now, change):
    text = _text(data, "text", required=True)
    if case.replies.filter(state=Reply.State.PENDING).exists():
        raise Conflict(_("已有待审核的答复。"))
    department = case.department
    is_head = case.department_id in actor.head_department_ids
    reply = Reply.objects.create(
        case=case,
        text=text,
        author=actor.user,
        department=department,
        state=Reply.State.PENDING,
        created_at=now,
    )
    change.data["reply_id"] = reply.pk
    if department is not None and department.reply_needs_approval and not is_head:
        change.to_status = S.IN_PROGRESS
        change.event_action = "reply_submitted"
        change.public = False
        change.notify(
            notify_users,
            users=list(_department_staff(case.department_id, roles=(Role.HEAD,))),
            subject=_("答复待审核 %(no)s") % {"no": case.tracking_number},
            body=case.title,
            case_id=case.pk,
            topic="reply_approval",
        )
        return
    if is_head:
        reply.approved_by = actor.user
    _send_reply(case, reply, sla, now, change)


def _start(case, actor, note, data, sla, now, change):
    if case.responded_at is None:
        case.responded_at = now
        change.fields.add("responded_at")


def _pending_reply(case) -> Reply:
    reply = case.replies.filter(state=Reply.State.PENDING).first()
    if reply is None:
        raise Conflict(_("没有待审核的答复。"))
    return reply


def _approve_reply(case, actor, note, data, sla, now, change):
    reply = _pending_reply(case)
    if data.get("text"):
        reply.text = _text(data, "text", required=True)
        reply.save(update_fields=["text"])
    reply.approved_by = actor.user
    _send_reply(case, reply, sla, now, change)


def _reject_reply(case, actor, note, data, sla, now, change):
    reply = _pending_reply(case)
    reply.state = Reply.State.REJECTED
    reply.save(update_fields=["state"])
    change.data["reply_id"] = reply.pk
    change.public = False


def _evaluate(case, actor, note, data, sla, now, change):
    rating = str(data.get("rating") or "")
    if rating not in Evaluation.Rating.values:
        raise ValidationFailed(_("请选择评价结果。"), fields={"rating": _("无效")})
    reply = _latest_sent_reply(case)
    if reply is None:
        raise Conflict(_("尚无可评价的答复。"))
    if Evaluation.objects.filter(reply=reply).exists():
        raise Conflict(_("该答复已评价。"))
    if case.evaluation_due_at and now > case.evaluation_due_at:
        raise Conflict(_("评价期限已过。"))
    resolved = data.get("resolved")
    if isinstance(resolved, str):
        resolved = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            resolved.lower()
        )
    reason = _text(
        {"reason": note or data.get("reason", "")}, "reason", required=False, max_chars=MAX_NOTE_CHARS
    )
    if rating == Evaluation.Rating.DISSATISFIED and not reason.strip():
        raise ValidationFailed(_("不满意时请说明理由。"), fields={"reason": _("必填")})
    Evaluation.objects.create(
        case=case, reply=reply, rating=rating, resolved=resolved, reason=reason, created_at=now
    )
    change.data.update({"rating": rating, "resolved": resolved, "reply_id": reply.pk})
    if rating == Evaluation.Rating.DISSATISFIED:
        change.to_status = S.REPLIED
        case.needs_supervision = True
        change.fields.add("needs_supervision")
        change.notify(
            notify_users,
            users=list(_supervisors()),
            subject=_("群众不满意 %(no)s") % {"no": case.tracking_number},
            body=reason,
            case_id=case.pk,
            topic="dissatisfied",
        )
        return
    _finish(case, now, change)


def _close(case, actor, note, data, sla, now, change):
    if actor.kind == policies.SYSTEM:
        reply = _latest_sent_reply(case)
        if not case.evaluation_due_at or now <= case.evaluation_due_at:
            raise Conflict(_("评价期限未到，不能自动办结。"))
        if reply is not None and Evaluation.objects.filter(reply=reply).exists():
            raise Conflict(_("群众已评价。"))
        change.data["reason"] = "evaluation_window_passed"
    else:
        if not case.needs_supervision:
            raise Conflict(_("只有群众不满意的诉求才能由督办员办结。"))
        if not note.strip():
            raise ValidationFailed(_("请填写办结说明。"), fields={"note": _("必填")})
    case.needs_supervision = False
    change.fields.add("needs_supervision")
    _finish(case, now, change)
    change.notify(
        _tell_citizen,
        case=case,
        subject=_("您的诉求 %(no)s 已办结") % {"no": case.tracking_number},
        body=note or _("评价期限已过，诉求已办结。"),
    )


def _redo(case, sla, now, change, department_id=None) -> None:
    if department_id:
        try:
            case.department = Department.objects.get(pk=int(department_id), is_active=True)
        except (TypeError, ValueError, Department.DoesNotExist):
            raise ValidationFailed(_("请选择有效的承办部门。"), fields={"department": _("无效")})
    if case.department_id is None:
        raise Conflict(_("该诉求没有承办部门，请指定部门。"))
    case.assigned_at = now
    case.handle_due_at = _handle_deadline(case, sla, now)
    case.due_at = case.handle_due_at
    case.closed_at = None
    case.needs_supervision = False
    case.escalated_for_due_at = None
    change.fields |= {
        "department",
        "assigned_at",
        "handle_due_at",
        "due_at",
        "closed_at",
        "needs_supervision",
        "escalated_for_due_at",
    }
    change.data.update({"department": case.department_id, "handle_due_at": case.handle_due_at.isoformat()})
    change.notify(
        notify_users,
        users=list(_department_staff(case.department_id)),
        subject=_("诉求重办 %(no)s") % {"no": case.tracking_number},
        body=case.title,
        case_id=case.pk,
        topic="assigned",
    )


def _reopen(case, actor, note, data, sla, now, change):
    case.reopen_count += 1
    change.fields.add("reopen_count")
    _redo(case, sla, now, change, data.get("department"))


def _merge(case, actor, note, data, sla, now, change):
    into = data.get("into")
    target = None
    if into:
        candidates = policies.visible_cases(actor)
        key = str(into).strip()
        target = candidates.filter(Q(tracking_number=key) | Q(pk=int(key) if key.isdigit() else -1)).first()
    if target is None:
        raise ValidationFailed(_("请指定要并入的主诉求。"), fields={"into": _("无效")})
    if target.pk == case.pk:
        raise ValidationFailed(_("不能并入自身。"), fields={"into": _("无效")})
    if target.status not in (workflow.OPEN_STATES | {S.REPLIED}) or target.merged_into_id:
        raise Conflict(_("主诉求已办结或已并案，不能并入。"))
    case.merged_into = target
    change.fields.add("merged_into")
    change.data.update({"into": target.pk, "into_tracking_number": target.tracking_number})
    _finish(case, now, change)
    CaseEvent.objects.create(
        case=target,
        action="merged_in",
        actor=actor.user,
        actor_role=actor.role_for(CaseAction.MERGE),
        from_status=target.status,
        to_status=target.status,
        note=note,
        data={"case": case.pk, "tracking_number": case.tracking_number},
        created_at=now,
    )
    change.notify(
        _tell_citizen,
        case=case,
        subject=_("您的诉求 %(no)s 已并案办理") % {"no": case.tracking_number},
        body=_("您的诉求与 %(main)s 反映的是同一事项，已并入该件一并办理。")
        % {"main": target.tracking_number},
    )


def _request_review(case, actor, note, data, sla, now, change):
    if case.replied_at is None or now > case.replied_at + timedelta(days=sla.review_request_days):
        raise Conflict(_("已超过申请复查的期限（答复后 %(n)s 日内）。") % {"n": sla.review_request_days})
    case.review_due_at = now + timedelta(days=sla.review_decide_days)
    case.due_at = case.review_due_at
    case.closed_at = None
    change.fields |= {"review_due_at", "due_at", "closed_at"}
    change.data["review_due_at"] = case.review_due_at.isoformat()
    change.notify(
        notify_users,
        users=list(_supervisors()),
        subject=_("复查申请 %(no)s") % {"no": case.tracking_number},
        body=note,
        case_id=case.pk,
        topic="review",
    )


def _decide_review(case, actor, note, data, sla, now, change):
    decision = str(data.get("decision") or "")
    if decision not in ("upheld", "redo"):
        raise ValidationFailed(_("复查决定须为“维持”或“重办”。"), fields={"decision": _("无效")})
    change.data["decision"] = decision
    if decision == "redo":
        change.to_status = S.ASSIGNED
        _redo(case, sla, now, change, data.get("department"))
    else:
        _finish(case, now, change)
    change.notify(
        _tell_citizen,
        case=case,
        subject=_("您的诉求 %(no)s 复查结果") % {"no": case.tracking_number},
        body=note,
    )


def _escalate(case, actor, note, data, sla, now, change):
    if actor.kind == policies.SYSTEM:
        if not case.due_at or case.due_at >= now:
            raise Conflict(_("诉求未超期。"))
        if case.escalated_for_due_at == case.due_at:
            raise Conflict(_("该时限已督办。"))
    case.escalation_count += 1
    case.escalated_at = now
    case.escalated_for_due_at = case.due_at
    change.fields |= {"escalation_count", "escalated_at", "escalated_for_due_at"}
    change.data.update(
        {"due_at": case.due_at.isoformat() if case.due_at else None, "count": case.escalation_count}
    )
    change.public = False
    recipients = _department_staff(case.department_id) | _supervisors()
    change.notify(
        notify_users,
        users=list(recipients.distinct()),
        subject=_("督办：%(no)s %(title)s") % {"no": case.tracking_number, "title": case.title[:40]},
        body=note or _("该诉求已超过办理时限。"),
        case_id=case.pk,
        topic="escalated",
    )


def _add_info(case, actor, note, data, sla, now, change):
    text = _text(data, "text", required=True)
    change.data["text"] = text
    if case.department_id:
        change.notify(
            notify_users,
            users=list(_department_staff(case.department_id)),
            subject=_("群众补充材料 %(no)s") % {"no": case.tracking_number},
            body=case.title,
            case_id=case.pk,
            topic="info_added",
        )


_HANDLERS = {
    CaseAction.ACCEPT: _accept,
    CaseAction.DECLINE: _decline,
    CaseAction.REFER: _refer,
    CaseAction.ASSIGN: _assign,
    CaseAction.RETURN: _return,
    CaseAction.START: _start,
    CaseAction.REQUEST_EXTENSION: _request_extension,
    CaseAction.APPROVE_EXTENSION: _approve_extension,
    CaseAction.DENY_EXTENSION: _deny_extension,
    CaseAction.REPLY: _reply,
    CaseAction.APPROVE_REPLY: _approve_reply,
    CaseAction.REJECT_REPLY: _reject_reply,
    CaseAction.EVALUATE: _evaluate,
    CaseAction.CLOSE: _close,
    CaseAction.REOPEN: _reopen,
    CaseAction.MERGE: _merge,
    CaseAction.REQUEST_REVIEW: _request_review,
    CaseAction.DECIDE_REVIEW: _decide_review,
    CaseAction.ESCALATE: _escalate,
    CaseAction.ADD_INFO: _add_info,
}
assert set(_HANDLERS) == set(CaseAction), "every action in the table has a handler"


@transaction.atomic
def case_transition(
    *,
    case_id: int,
    action: CaseAction | str,
    actor: Actor,
    note: str = "",
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Case:
    """Perform `action` on the case, as `actor`. The one place where a case's status changes.

    Locks the case row, checks the policy (404 / 409 / 403), applies the action's own rule, saves,
    appends a CaseEvent, and queues notifications for after commit. On any error nothing is written.
    """
    now = now or timezone.now()
    data = dict(data or {})
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("未找到该诉求。"))
    action = workflow.parse_action(str(action))
    actor = policies.require(actor, action, case)
    transition = workflow.TRANSITIONS[action]
    note = _text({"note": note}, "note", required=transition.note_required, max_chars=MAX_NOTE_CHARS)
    for key in transition.requires:
        if key != "text" and data.get(key) in (None, ""):
            raise ValidationFailed(_("缺少必填项：%(field)s") % {"field": key}, fields={key: _("必填")})

    old_status = case.status
    change = _Change(to_status=workflow.next_status(old_status, action), fields=set(), data={})
    sla = sla_for(kind=case.kind, priority=case.priority)
    _HANDLERS[action](case, actor, note, data, sla, now, change)

    if change.to_status != old_status:
        case.status = change.to_status
        case.status_changed_at = now
        change.fields |= {"status", "status_changed_at"}
    case.save(update_fields=[*sorted(change.fields), "updated_at"])
    event = CaseEvent.objects.create(
        case=case,
        action=change.event_action or action.value,
        actor=actor.user,
        actor_role=actor.role_for(action),
        from_status=old_status,
        to_status=case.status,
        note=note,
        data=change.data,
        is_public=change.public,
        created_at=now,
    )
    for fn, kwargs in change.after_commit:
        transaction.on_commit(lambda fn=fn, kwargs=kwargs: fn(**kwargs), robust=True)
    transaction.on_commit(
        lambda: case_changed.send_robust(
            sender=Case, case_id=case.pk, action=event.action, event_id=event.pk
        ),
        robust=True,
    )
    return case


def case_record_contact_view(*, case: Case, user, purpose: str = "view") -> None:
    """Log that `user` saw the person's contact details (called by every view that shows them)."""
    from minyi.cases.models import PersonalDataAccess

    PersonalDataAccess.objects.create(user=user, case=case, purpose=purpose[:40])


def cases_mark_overdue(*, now: datetime | None = None) -> int:
    """Escalate every overdue case once per deadline, as the system. Idempotent. Returns how many."""
    from minyi.cases.selectors import cases_overdue

    now = now or timezone.now()
    count = 0
    for case_id in (
        cases_overdue(now=now)
        .filter(Q(escalated_for_due_at__isnull=True) | ~Q(escalated_for_due_at=F("due_at")))
        .values_list("pk", flat=True)
    ):
        try:
            case_transition(case_id=case_id, action=CaseAction.ESCALATE, actor=policies.SYSTEM_ACTOR, now=now)
        except Conflict:
            continue  # changed meanwhile: no longer overdue or already escalated
        count += 1
    return count


def cases_close_unrated(*, now: datetime | None = None) -> int:
    """Close, as the system, replied cases whose evaluation window passed without a rating. Idempotent."""
    now = now or timezone.now()
    count = 0
    ids = Case.objects.filter(
        status=S.REPLIED, needs_supervision=False, evaluation_due_at__lt=now
    ).values_list("pk", flat=True)
    for case_id in list(ids):
        try:
            case_transition(case_id=case_id, action=CaseAction.CLOSE, actor=policies.SYSTEM_ACTOR, now=now)
        except Conflict:
            continue
        count += 1
    return count


# ---------------------------------------------------------------------------------------------- triage

#: Fields of a case that triage and its review may set, besides the workflow (never the status).
ANNOTATABLE_FIELDS = frozenset({"category_id", "region_id", "is_repeat", "duplicate_of_id", "is_private"})
#: Events written by case_annotate about triage (policy: require_triage_review for the part).
TRIAGE_ANNOTATIONS = frozenset({"triage", "triage_review"})
#: Events written by case_annotate about publication (policy: require_publication).
PUBLICATION_ANNOTATIONS = frozenset({"publish", "unpublish", "publication_edit", "publication_held"})
ANNOTATION_ACTIONS = TRIAGE_ANNOTATIONS | PUBLICATION_ANNOTATIONS


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@transaction.atomic
def case_annotate(
    *,
    case_id: int,
    actor: Actor,
    action: str,
    part: str | None = None,
    changes: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Case:
    """Record what triage found, or a person's review of it, on the case: set the allowed fields in `changes`
    (ANNOTATABLE_FIELDS) and append a non-public CaseEvent `action` whose data holds `data` and every field's
    old and new value. The system may annotate any case; staff need policies.require_triage_review for `part`.
    """
    if action not in ANNOTATION_ACTIONS:
        raise ValueError(f"unknown annotation {action!r}")
    changes = dict(changes or {})
    unknown = set(changes) - ANNOTATABLE_FIELDS
    if unknown:
        raise ValueError(f"case_annotate cannot set {sorted(unknown)}")
    now = now or timezone.now()
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("未找到该诉求。"))
    if actor.kind != policies.SYSTEM:
        if action in PUBLICATION_ANNOTATIONS:
            actor = policies.require_publication(actor, case)
        else:
            actor = policies.require_triage_review(actor, case, part or "")
    note = _text({"note": note}, "note", required=False, max_chars=MAX_NOTE_CHARS)
    changed: dict[str, list[Any]] = {}
    for name, value in changes.items():
        old = getattr(case, name)
        if old != value:
            setattr(case, name, value)
            changed[name.removesuffix("_id")] = [_json_value(old), _json_value(value)]
    if changed:
        case.save(
            update_fields=[
                *sorted(k.removesuffix("_id") for k in changes if k.removesuffix("_id") in changed),
                "updated_at",
            ]
        )
    event = CaseEvent.objects.create(
        case=case,
        action=action,
        actor=actor.user,
        actor_role=actor.kind
        if actor.kind != policies.STAFF
        else (sorted(actor.roles)[0] if actor.roles else ""),
        from_status=case.status,
        to_status=case.status,
        note=note,
        data={**(data or {}), **({"part": part} if part else {}), "changes": changed},
        is_public=False,
        created_at=now,
    )
    if action in TRIAGE_ANNOTATIONS:
        # A review can change what the public copy must mask (personal data) or whether the case may be shown
        # at all; publication annotations are written by the receivers themselves and send nothing.
        transaction.on_commit(
            lambda: case_changed.send_robust(sender=Case, case_id=case.pk, action=action, event_id=event.pk),
            robust=True,
        )
    return case


# ---------------------------------------------------------------------------------------------- history import

#: The states an imported case may end in: history is finished work (or waiting only for the person's rating).
HISTORY_STATES = frozenset({S.CLOSED, S.DECLINED, S.REFERRED, S.REPLIED})
_RATINGS = frozenset(Evaluation.Rating.values)
#: Stored as the query code of imported cases: no code ever matches it (the people behind history hold none).
NO_QUERY_CODE = "!"


@dataclass
class HistoryCase:
    """One finished case from another system's records, as minyi.intake.importer hands it over."""

    tracking_number: str
    external_number: str
    created_at: datetime
    title: str
    content: str
    status: str = S.CLOSED
    kind: str = "complaint"
    priority: str = "ordinary"
    category_id: int | None = None
    region_id: int | None = None
    department_id: int | None = None
    address: str = ""
    contact: dict[str, str] = field(default_factory=dict)
    reply: str = ""
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    rating: str = ""
    resolved: bool | None = None
    event_data: dict[str, Any] = field(default_factory=dict)


def cases_import_history(*, items: list[HistoryCase], actor=None, now: datetime | None = None) -> list[Case]:
    """Store finished cases of another system in bulk, in their final state, with their replies and ratings,
    and an `import` event each (the case's one event: what happened before minyi is in its data).

    Called by minyi.intake.importer inside the transaction of one batch, with validated items. Bulk inserts:
    a constant number of queries per call, whatever its size.
    """
    if not items:
        return []
    now = now or timezone.now()
    for item in items:
        if item.status not in HISTORY_STATES:
            raise ValueError(f"history cannot be imported in status {item.status!r}")
    cases = []
    for item in items:
        replied_at = item.replied_at if item.reply else None
        closed_at = item.closed_at or (replied_at if item.status == S.CLOSED else None)
        if item.status in (S.CLOSED, S.DECLINED, S.REFERRED) and closed_at is None:
            closed_at = replied_at or item.created_at
        cases.append(
            Case(
                tracking_number=item.tracking_number,
                query_code_hash=NO_QUERY_CODE,
                external_number=item.external_number[:64],
                kind=item.kind,
                channel="import",
                priority=item.priority,
                title=item.title[:200],
                content=item.content,
                category_id=item.category_id,
                region_id=item.region_id,
                department_id=item.department_id,
                address=item.address[:255],
                status=item.status,
                is_anonymous=not any(item.contact.values()),
                accepted_at=item.created_at if item.status != S.DECLINED else None,
                assigned_at=item.created_at if item.department_id else None,
                replied_at=replied_at,
                closed_at=closed_at if item.status != S.REPLIED else None,
                evaluation_due_at=(replied_at + settings.MINYI_EVALUATION_WINDOW)
                if item.status == S.REPLIED and replied_at
                else None,
                status_changed_at=closed_at or replied_at or item.created_at,
                created_at=item.created_at,
            )
        )
    bulk_insert(cases)
    contacts = [
        CaseContact(case=case, **{k: v for k, v in item.contact.items() if v})
        for case, item in zip(cases, items, strict=True)
        if any(item.contact.values())
    ]
    bulk_insert(contacts)
    replies = []
    rated = []
    for case, item in zip(cases, items, strict=True):
        if case.replied_at is not None:
            reply = Reply(
                case=case,
                text=item.reply,
                department_id=item.department_id,
                state=Reply.State.SENT,
                created_at=case.replied_at,
                sent_at=case.replied_at,
            )
            replies.append(reply)
            if item.rating in _RATINGS:
                rated.append((case, item, reply))
    bulk_insert(replies)
    bulk_insert(
        [
            Evaluation(
                case=case,
                reply=reply,
                rating=item.rating,
                resolved=item.resolved,
                created_at=case.closed_at or case.replied_at,
            )
            for case, item, reply in rated
        ],
        batch_size=1000,
    )
    user = getattr(actor, "user", actor)
    bulk_insert(
        [
            CaseEvent(
                case=case,
                action="import",
                actor=user if getattr(user, "pk", None) else None,
                actor_role=policies.SYSTEM if user is None else policies.STAFF,
                from_status="",
                to_status=case.status,
                data={
                    **item.event_data,
                    "submitted_at": case.created_at.isoformat(),
                    "replied_at": _json_value(case.replied_at),
                    "closed_at": _json_value(case.closed_at),
                },
                is_public=True,
                created_at=now,
            )
            for case, item in zip(cases, items, strict=True)
        ],
        batch_size=1000,
    )
    return cases
