"""case_transition, action by action: resulting state, the event, notifications, and nothing changed on refusal."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from django.core import mail

from minyi.cases import policies, services
from minyi.cases.models import Case, CaseContact, CaseEvent, Evaluation, Reply
from minyi.cases.tests.factories import NOW, SHANGHAI, act, create_case, drive
from minyi.cases.workflow import CaseAction, CaseStatus, InvalidTransition
from minyi.core.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from minyi.core.models import Notification

S = CaseStatus
A = CaseAction
pytestmark = pytest.mark.django_db

LATER = NOW + timedelta(days=1)  # Tuesday 2026-03-03 09:00


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def parsed(data: dict) -> dict:
    """Event data with ISO datetimes turned back into datetimes (offsets differ, instants must not)."""
    out = {}
    for key, value in data.items():
        if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
            value = datetime.fromisoformat(value)
        out[key] = value
    return out


def snapshot(case: Case) -> dict:
    """Everything a refused action must leave untouched."""
    stored = Case.objects.get(pk=case.pk)
    return {
        "fields": {
            f.attname: getattr(stored, f.attname)
            for f in Case._meta.concrete_fields
            if f.name != "updated_at"
        },
        "events": list(CaseEvent.objects.filter(case=case).values_list("pk", flat=True)),
        "all_events": CaseEvent.objects.count(),
        "replies": list(Reply.objects.filter(case=case).values_list("pk", "state", "text")),
        "evaluations": Evaluation.objects.filter(case=case).count(),
        "notifications": Notification.objects.count(),
    }


def refused(case, action, actor, error, *, note="", data=None, now=LATER, capture=None):
    """Assert that the action raises `error` and leaves the case, its events and replies as they were."""
    before = snapshot(case)
    with pytest.raises(error) as info:
        services.case_transition(
            case_id=case.pk, action=action, actor=_actor(actor), note=note, data=data, now=now
        )
    assert snapshot(case) == before
    return info.value


def _actor(who):
    if isinstance(who, policies.Actor):
        return who
    return policies.actor_for_user(type(who).objects.get(pk=who.pk))


def last_event(case: Case) -> CaseEvent:
    return CaseEvent.objects.filter(case=case).order_by("-created_at", "-id").first()


def run(case, action, actor, capture, *, note="", data=None, now=LATER) -> Case:
    """Perform the action and run the after-commit callbacks (notifications, e-mail)."""
    with capture(execute=True):
        return act(case, action, actor, note=note, data=data, now=now)


# ------------------------------------------------------------------------------------------------ submit


def test_case_create_sets_acceptance_deadline_and_submit_event(org):
    # when: Monday 09:00, complaint (1 working day to accept)
    case = create_case(now=NOW, submitted_by=org.citizen)
    # then
    assert case.status == S.SUBMITTED
    assert case.accept_due_at == at(2026, 3, 3, 23, 59, 59)
    assert case.due_at == case.accept_due_at
    event = CaseEvent.objects.get(case=case)
    assert (event.action, event.from_status, event.to_status) == ("submit", "", S.SUBMITTED)
    assert event.actor == org.citizen and event.actor_role == "citizen"
    assert case.contact.phone == "13800138000"


def test_anonymous_case_stores_no_contact(org):
    case = create_case(is_anonymous=True, contact={"name": "李四", "phone": "13900139000"})
    assert case.is_anonymous
    assert not CaseContact.objects.filter(case=case).exists()


# ------------------------------------------------------------------------------------------------ accept


def test_accept(org, django_capture_on_commit_callbacks):
    case = create_case()
    mail.outbox.clear()
    # when
    case = run(case, A.ACCEPT, org.intake, django_capture_on_commit_callbacks, now=NOW + timedelta(hours=1))
    # then: 5 working days from Monday 2026-03-02 -> end of Monday 2026-03-09
    assert case.status == S.ACCEPTED
    assert case.accepted_at == NOW + timedelta(hours=1)
    assert case.handle_due_at == at(2026, 3, 9, 23, 59, 59)
    assert case.due_at == case.handle_due_at
    assert case.status_changed_at == NOW + timedelta(hours=1)
    event = last_event(case)
    assert event.action == "accept"
    assert event.actor == org.intake and event.actor_role == "intake"
    assert (event.from_status, event.to_status) == (S.SUBMITTED, S.ACCEPTED)
    assert event.note == ""
    assert parsed(event.data) == {"handle_due_at": case.handle_due_at}
    assert event.is_public
    # the citizen is told by e-mail
    note = Notification.objects.get(case_id=case.pk)
    assert note.channel == Notification.Channel.EMAIL and note.address == case.contact.email
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [case.contact.email]
    assert case.tracking_number in mail.outbox[0].subject


def test_petition_deadlines_are_calendar_days(org):
    case = create_case(kind="petition", now=NOW)
    assert case.accept_due_at == at(2026, 3, 17, 23, 59, 59)  # 15 calendar days
    case = act(case, A.ACCEPT, org.intake, now=NOW)
    assert case.handle_due_at == at(2026, 5, 1, 23, 59, 59)  # 60 calendar days


def test_urgent_hotline_case_is_due_in_24_hours(org):
    case = create_case(priority="urgent", now=NOW)
    assert case.accept_due_at == NOW + timedelta(hours=2)
    case = act(case, A.ACCEPT, org.intake, now=NOW + timedelta(minutes=30))
    assert case.handle_due_at == NOW + timedelta(minutes=30, hours=24)


def test_accept_twice_is_invalid_and_changes_nothing(org):
    case = act(create_case(), A.ACCEPT, org.intake)
    error = refused(case, A.ACCEPT, org.intake, InvalidTransition)
    assert error.status_code == 409
    assert "assign" in error.allowed and "accept" not in error.allowed


def test_accept_by_wrong_roles(org):
    case = create_case()
    refused(case, A.ACCEPT, org.dispatcher, Forbidden)  # sees it, may not accept
    refused(case, A.ACCEPT, org.handler_a, NotFound)  # does not even see it
    refused(case, A.ACCEPT, org.leader, Forbidden)
    refused(case, A.ACCEPT, policies.citizen_actor(case=case), Forbidden)


def test_unknown_case_and_unknown_action(org):
    with pytest.raises(NotFound):
        services.case_transition(case_id=10**9, action=A.ACCEPT, actor=_actor(org.intake))
    case = create_case()
    refused(case, "explode", org.intake, InvalidTransition)


def test_overlong_note_is_refused(org):
    case = create_case()
    refused(case, A.DECLINE, org.intake, ValidationFailed, note="长" * (services.MAX_NOTE_CHARS + 1))


# ------------------------------------------------------------------------------------------------ decline / refer


def test_decline_needs_a_reason(org):
    case = create_case()
    refused(case, A.DECLINE, org.intake, ValidationFailed, note="")
    refused(case, A.DECLINE, org.intake, ValidationFailed, note="   \n ")


def test_decline_tells_the_citizen_the_reason(org, django_capture_on_commit_callbacks):
    case = create_case()
    case = run(
        case, A.DECLINE, org.intake, django_capture_on_commit_callbacks, note="属于司法程序，请依法起诉"
    )
    assert case.status == S.DECLINED
    assert case.closed_at == LATER and case.due_at is None
    event = last_event(case)
    assert (event.action, event.note, event.to_status) == ("decline", "属于司法程序，请依法起诉", S.DECLINED)
    assert len(mail.outbox) == 1
    assert "属于司法程序，请依法起诉" in mail.outbox[0].body


def test_refer_needs_body_and_reason(org, django_capture_on_commit_callbacks):
    case = create_case()
    refused(case, A.REFER, org.intake, ValidationFailed, note="属法院管辖", data={})
    refused(case, A.REFER, org.intake, ValidationFailed, note="", data={"referred_to": "江北区人民法院"})
    case = run(
        case,
        A.REFER,
        org.intake,
        django_capture_on_commit_callbacks,
        note="属法院管辖",
        data={"referred_to": "江北区人民法院"},
    )
    assert case.status == S.REFERRED and case.closed_at == LATER
    assert last_event(case).data == {"referred_to": "江北区人民法院"}
    assert "江北区人民法院" in mail.outbox[0].body


def test_refer_from_accepted(org):
    case = act(create_case(), A.ACCEPT, org.intake)
    case = act(case, A.REFER, org.intake, note="外地事项", data={"referred_to": "邻市信访局"}, now=LATER)
    assert case.status == S.REFERRED


# ------------------------------------------------------------------------------------------------ assign / return / start


def test_assign_needs_a_valid_department(org):
    case = act(create_case(), A.ACCEPT, org.intake)
    refused(case, A.ASSIGN, org.dispatcher, ValidationFailed, data={})
    refused(case, A.ASSIGN, org.dispatcher, ValidationFailed, data={"department": "abc"})
    refused(case, A.ASSIGN, org.dispatcher, ValidationFailed, data={"department": 10**9})
    org.dept_b.is_active = False
    org.dept_b.save()
    refused(case, A.ASSIGN, org.dispatcher, ValidationFailed, data={"department": org.dept_b.pk})


def test_assign_notifies_the_department(org, django_capture_on_commit_callbacks):
    case = act(create_case(contact={}), A.ACCEPT, org.intake, now=NOW)
    handle_due = case.handle_due_at
    # when
    case = run(
        case, A.ASSIGN, org.dispatcher, django_capture_on_commit_callbacks, data={"department": org.dept_a.pk}
    )
    # then
    assert case.status == S.ASSIGNED
    assert case.department == org.dept_a
    assert case.assigned_at == LATER
    assert case.handle_due_at == handle_due  # the clock started at acceptance
    assert case.due_at == handle_due
    event = last_event(case)
    assert event.actor == org.dispatcher and event.actor_role == "dispatcher"
    assert event.data == {"department": org.dept_a.pk, "department_name": "市住建局物业监管科"}
    notified = set(
        Notification.objects.filter(case_id=case.pk, channel="inapp").values_list("recipient", flat=True)
    )
    assert notified == {org.handler_a.pk, org.head_a.pk}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([org.handler_a.email, org.head_a.email])


def test_return_needs_reason_and_clears_department(org):
    case = drive(create_case(), S.ASSIGNED, org)[0]
    refused(case, A.RETURN, org.handler_a, ValidationFailed, note="")
    refused(case, A.RETURN, org.handler_b, NotFound, note="不归我们管")
    case = act(case, A.RETURN, org.handler_a, note="不属于本部门职责", now=LATER)
    assert case.status == S.RETURNED and case.department is None
    event = last_event(case)
    assert event.data == {"department": org.dept_a.pk}
    assert not event.is_public
    # the dispatcher assigns it again, elsewhere
    case = act(case, A.ASSIGN, org.dispatcher, data={"department": org.dept_b.pk}, now=LATER)
    assert case.status == S.ASSIGNED and case.department == org.dept_b


def test_start(org):
    case = drive(create_case(), S.ASSIGNED, org)[0]
    refused(case, A.START, org.dispatcher, Forbidden)
    case = act(case, A.START, org.handler_a, now=LATER)
    assert case.status == S.IN_PROGRESS
    assert last_event(case).actor_role == "handler"


# ------------------------------------------------------------------------------------------------ extensions


def test_extension_request_guards(org):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    refused(case, A.REQUEST_EXTENSION, org.handler_a, ValidationFailed, note="", data={"days": 10})
    refused(case, A.REQUEST_EXTENSION, org.handler_a, ValidationFailed, note="需现场勘验", data={})
    for bad in (0, -3, 31, "十", None, 1.5e9):
        refused(
            case, A.REQUEST_EXTENSION, org.handler_a, ValidationFailed, note="需现场勘验", data={"days": bad}
        )
    refused(case, A.REQUEST_EXTENSION, org.supervisor, Forbidden, note="x", data={"days": 3})


def test_extension_approved_moves_the_due_date_by_exactly_the_days(org, django_capture_on_commit_callbacks):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    due = case.handle_due_at
    # when: the handler asks for 30 days (the maximum)
    case = run(
        case,
        A.REQUEST_EXTENSION,
        org.handler_a,
        django_capture_on_commit_callbacks,
        note="需现场勘验",
        data={"days": 30},
    )
    # then
    assert case.pending_extension_days == 30 and case.handle_due_at == due
    event = last_event(case)
    assert (event.action, event.data, event.is_public) == ("request_extension", {"days": 30}, False)
    approvers = set(
        Notification.objects.filter(case_id=case.pk, channel="inapp", topic="extension").values_list(
            "recipient", flat=True
        )
    )
    assert approvers == {org.head_a.pk, org.supervisor.pk}
    # a second request while one is pending is refused
    refused(case, A.REQUEST_EXTENSION, org.handler_a, Conflict, note="再申请", data={"days": 5})
    # the handler may not approve
    refused(case, A.APPROVE_EXTENSION, org.handler_a, Forbidden)
    # when: the supervisor approves
    case = act(case, A.APPROVE_EXTENSION, org.supervisor, now=LATER + timedelta(hours=1))
    # then
    assert case.handle_due_at == due + timedelta(days=30)
    assert case.due_at == case.handle_due_at
    assert case.extension_count == 1 and case.pending_extension_days is None
    assert case.status == S.IN_PROGRESS
    event = last_event(case)
    assert parsed(event.data) == {"days": 30, "handle_due_at": case.handle_due_at}
    assert (event.from_status, event.to_status) == (S.IN_PROGRESS, S.IN_PROGRESS)
    # only one extension per case
    refused(case, A.REQUEST_EXTENSION, org.handler_a, Conflict, note="再延期", data={"days": 1})


def test_extension_approved_by_the_head(org):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    due = case.handle_due_at
    case = act(case, A.REQUEST_EXTENSION, org.handler_a, note="等待检测报告", data={"days": "7"}, now=LATER)
    case = act(case, A.APPROVE_EXTENSION, org.head_a, now=LATER)
    assert case.handle_due_at == due + timedelta(days=7)
    assert last_event(case).actor_role == "head"


def test_extension_denied(org):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    due = case.handle_due_at
    refused(case, A.APPROVE_EXTENSION, org.supervisor, Conflict)  # nothing pending
    refused(case, A.DENY_EXTENSION, org.supervisor, Conflict, note="理由不足")
    case = act(case, A.REQUEST_EXTENSION, org.handler_a, note="需协调", data={"days": 10}, now=LATER)
    refused(case, A.DENY_EXTENSION, org.supervisor, ValidationFailed, note="")
    case = act(case, A.DENY_EXTENSION, org.supervisor, note="理由不足", now=LATER)
    assert case.pending_extension_days is None and case.handle_due_at == due and case.extension_count == 0
    assert last_event(case).data == {"days": 10}
    # a denied request does not use up the allowance
    case = act(case, A.REQUEST_EXTENSION, org.handler_a, note="补充理由", data={"days": 5}, now=LATER)
    assert case.pending_extension_days == 5


# ------------------------------------------------------------------------------------------------ replies


def test_reply_without_approval(org, django_capture_on_commit_callbacks):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    refused(case, A.REPLY, org.handler_a, ValidationFailed, data={"text": "  "})
    refused(case, A.REPLY, org.handler_a, ValidationFailed, data={})
    mail.outbox.clear()
    # when
    case = run(
        case, A.REPLY, org.handler_a, django_capture_on_commit_callbacks, data={"text": "已维修完毕。"}
    )
    # then
    assert case.status == S.REPLIED
    assert case.replied_at == LATER
    assert case.evaluation_due_at == LATER + timedelta(days=7)
    assert case.due_at is None
    reply = Reply.objects.get(case=case)
    assert (reply.state, reply.text, reply.author, reply.sent_at) == (
        Reply.State.SENT,
        "已维修完毕。",
        org.handler_a,
        LATER,
    )
    assert reply.department == org.dept_a
    event = last_event(case)
    assert event.action == "reply" and event.to_status == S.REPLIED
    assert event.data["reply_id"] == reply.pk
    assert parsed(event.data)["review_request_until"] == LATER + timedelta(days=30)
    assert parsed(event.data)["evaluation_due_at"] == LATER + timedelta(days=7)
    assert [m.to for m in mail.outbox] == [[case.contact.email]]


def test_reply_needing_head_approval(org, django_capture_on_commit_callbacks):
    org.dept_a.reply_needs_approval = True
    org.dept_a.save()
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    # when: the handler replies
    case = run(case, A.REPLY, org.handler_a, django_capture_on_commit_callbacks, data={"text": "初稿"})
    # then: it waits for the head
    assert case.status == S.IN_PROGRESS and case.replied_at is None
    reply = Reply.objects.get(case=case)
    assert reply.state == Reply.State.PENDING
    event = last_event(case)
    assert (event.action, event.from_status, event.to_status, event.is_public) == (
        "reply_submitted",
        S.IN_PROGRESS,
        S.IN_PROGRESS,
        False,
    )
    heads = set(
        Notification.objects.filter(case_id=case.pk, channel="inapp", topic="reply_approval").values_list(
            "recipient", flat=True
        )
    )
    assert heads == {org.head_a.pk}
    assert not Notification.objects.filter(
        case_id=case.pk, channel="email", address=case.contact.email
    ).exists()
    # a second reply while one waits is refused; the handler may not approve
    refused(case, A.REPLY, org.handler_a, Conflict, data={"text": "第二稿"})
    refused(case, A.APPROVE_REPLY, org.handler_a, Forbidden)
    # when: the head rejects it
    refused(case, A.REJECT_REPLY, org.head_a, ValidationFailed, note="")
    case = act(case, A.REJECT_REPLY, org.head_a, note="请写明维修时间", now=LATER)
    assert Reply.objects.get(pk=reply.pk).state == Reply.State.REJECTED
    assert case.status == S.IN_PROGRESS
    refused(case, A.APPROVE_REPLY, org.head_a, Conflict)  # nothing pending now
    # when: the handler replies again and the head approves with an edit
    case = act(case, A.REPLY, org.handler_a, data={"text": "第二稿"}, now=LATER)
    case = act(
        case,
        A.APPROVE_REPLY,
        org.head_a,
        data={"text": "定稿：已于3月3日修复。"},
        now=LATER + timedelta(hours=2),
    )
    # then
    assert case.status == S.REPLIED and case.replied_at == LATER + timedelta(hours=2)
    sent = Reply.objects.get(case=case, state=Reply.State.SENT)
    assert (
        sent.text == "定稿：已于3月3日修复。"
        and sent.approved_by == org.head_a
        and sent.author == org.handler_a
    )
    assert last_event(case).action == "approve_reply"


def test_head_reply_needs_no_approval(org):
    org.dept_a.reply_needs_approval = True
    org.dept_a.save()
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    case = act(case, A.REPLY, org.head_a, data={"text": "负责人直接答复"}, now=LATER)
    assert case.status == S.REPLIED
    assert Reply.objects.get(case=case).approved_by == org.head_a


# ------------------------------------------------------------------------------------------------ evaluation


def test_evaluate_satisfied_closes(org):
    case, _clock = drive(create_case(), S.REPLIED, org)
    citizen = policies.citizen_actor(case=case)
    refused(case, A.EVALUATE, citizen, ValidationFailed, data={})
    refused(case, A.EVALUATE, citizen, ValidationFailed, data={"rating": "great"})
    refused(case, A.EVALUATE, org.supervisor, Forbidden, data={"rating": "satisfied"})
    case = act(case, A.EVALUATE, citizen, data={"rating": "satisfied", "resolved": "true"}, now=LATER)
    assert case.status == S.CLOSED and case.closed_at == LATER
    evaluation = Evaluation.objects.get(case=case)
    assert (evaluation.rating, evaluation.resolved) == ("satisfied", True)
    event = last_event(case)
    assert event.actor is None and event.actor_role == "citizen"
    assert event.data["rating"] == "satisfied" and event.data["resolved"] is True


def test_evaluate_basically_satisfied_closes(org):
    case = drive(create_case(), S.REPLIED, org)[0]
    case = act(
        case, A.EVALUATE, policies.citizen_actor(case=case), data={"rating": "basically_satisfied"}, now=LATER
    )
    assert case.status == S.CLOSED


def test_dissatisfied_needs_a_reason_and_goes_to_the_supervisor(org, django_capture_on_commit_callbacks):
    case = drive(create_case(), S.REPLIED, org)[0]
    citizen = policies.citizen_actor(case=case)
    refused(case, A.EVALUATE, citizen, ValidationFailed, data={"rating": "dissatisfied"})
    refused(case, A.EVALUATE, citizen, ValidationFailed, data={"rating": "dissatisfied", "reason": "   "})
    # when
    case = run(
        case,
        A.EVALUATE,
        citizen,
        django_capture_on_commit_callbacks,
        data={"rating": "dissatisfied", "reason": "电梯仍然坏着"},
    )
    # then
    assert case.status == S.REPLIED and case.needs_supervision and case.closed_at is None
    assert Evaluation.objects.get(case=case).reason == "电梯仍然坏着"
    event = last_event(case)
    assert (event.from_status, event.to_status, event.data["rating"]) == (
        S.REPLIED,
        S.REPLIED,
        "dissatisfied",
    )
    supervisors = set(
        Notification.objects.filter(case_id=case.pk, channel="inapp", topic="dissatisfied").values_list(
            "recipient", flat=True
        )
    )
    assert supervisors == {org.supervisor.pk}
    # the same reply cannot be rated twice
    refused(case, A.EVALUATE, citizen, Conflict, data={"rating": "satisfied"})


def test_reason_may_come_as_the_note(org):
    case = drive(create_case(), S.REPLIED, org)[0]
    case = act(
        case,
        A.EVALUATE,
        policies.citizen_actor(case=case),
        note="没有解决",
        data={"rating": "dissatisfied"},
        now=LATER,
    )
    assert Evaluation.objects.get(case=case).reason == "没有解决"


def test_evaluation_window(org):
    case, clock = drive(create_case(), S.REPLIED, org)
    citizen = policies.citizen_actor(case=case)
    assert case.evaluation_due_at == clock + timedelta(days=7)
    refused(
        case,
        A.EVALUATE,
        citizen,
        Conflict,
        data={"rating": "satisfied"},
        now=case.evaluation_due_at + timedelta(seconds=1),
    )
    # at the last moment it is still accepted
    case = act(case, A.EVALUATE, citizen, data={"rating": "satisfied"}, now=case.evaluation_due_at)
    assert case.status == S.CLOSED


# ------------------------------------------------------------------------------------------------ close


def test_supervisor_closes_only_after_dissatisfaction(org, django_capture_on_commit_callbacks):
    case = drive(create_case(), S.REPLIED, org)[0]
    refused(case, A.CLOSE, org.supervisor, Conflict, note="办结")
    case = act(
        case,
        A.EVALUATE,
        policies.citizen_actor(case=case),
        data={"rating": "dissatisfied", "reason": "没修"},
        now=LATER,
    )
    refused(case, A.CLOSE, org.supervisor, ValidationFailed, note="")
    refused(case, A.CLOSE, org.dispatcher, Forbidden, note="办结")
    # when
    case = run(
        case, A.CLOSE, org.supervisor, django_capture_on_commit_callbacks, note="经核实已修复，予以办结"
    )
    # then
    assert case.status == S.CLOSED and not case.needs_supervision and case.closed_at == LATER
    assert last_event(case).note == "经核实已修复，予以办结"
    assert "经核实已修复，予以办结" in mail.outbox[-1].body


def test_system_closes_only_after_the_window(org):
    case, _clock = drive(create_case(), S.REPLIED, org)
    refused(case, A.CLOSE, policies.SYSTEM_ACTOR, Conflict, now=case.evaluation_due_at)
    case = act(case, A.CLOSE, policies.SYSTEM_ACTOR, now=case.evaluation_due_at + timedelta(minutes=1))
    assert case.status == S.CLOSED
    event = last_event(case)
    assert event.actor is None and event.actor_role == "system"
    assert event.data == {"reason": "evaluation_window_passed"}


def test_system_does_not_close_a_rated_case(org):
    case = drive(create_case(), S.REPLIED, org)[0]
    case = act(
        case,
        A.EVALUATE,
        policies.citizen_actor(case=case),
        data={"rating": "dissatisfied", "reason": "没修"},
        now=LATER,
    )
    refused(case, A.CLOSE, policies.SYSTEM_ACTOR, Conflict, now=case.evaluation_due_at + timedelta(days=1))


# ------------------------------------------------------------------------------------------------ reopen


def test_reopen_gives_a_fresh_deadline(org, django_capture_on_commit_callbacks):
    case = drive(create_case(), S.CLOSED, org)[0]
    refused(case, A.REOPEN, org.supervisor, ValidationFailed, note="")
    refused(case, A.REOPEN, org.handler_a, Forbidden, note="重办")
    refused(case, A.REOPEN, org.dispatcher, NotFound, note="重办")  # closed cases are not in its world
    reopen_at = at(2026, 3, 6, 15, 0)  # Friday
    # when
    case = run(
        case,
        A.REOPEN,
        org.supervisor,
        django_capture_on_commit_callbacks,
        note="群众反映未解决",
        now=reopen_at,
    )
    # then: 5 working days from Friday -> Friday 2026-03-13
    assert case.status == S.ASSIGNED
    assert case.reopen_count == 1
    assert case.department == org.dept_a
    assert case.assigned_at == reopen_at
    assert case.handle_due_at == at(2026, 3, 13, 23, 59, 59)
    assert case.due_at == case.handle_due_at
    assert case.closed_at is None
    event = last_event(case)
    assert (event.action, event.from_status, event.to_status) == ("reopen", S.CLOSED, S.ASSIGNED)
    assert parsed(event.data) == {"department": org.dept_a.pk, "handle_due_at": case.handle_due_at}
    assert set(Notification.objects.filter(case_id=case.pk, channel="inapp", topic="assigned", created_at__isnull=False)
               .values_list("recipient", flat=True)) >= {org.handler_a.pk}  # fmt: skip


def test_reopen_to_another_department(org):
    case = drive(create_case(), S.REPLIED, org)[0]
    case = act(case, A.REOPEN, org.supervisor, note="改派", data={"department": org.dept_b.pk}, now=LATER)
    assert case.department == org.dept_b and case.status == S.ASSIGNED
    refused(
        drive(create_case(), S.CLOSED, org)[0],
        A.REOPEN,
        org.supervisor,
        ValidationFailed,
        note="x",
        data={"department": 10**9},
    )


def test_reopen_twice_counts(org):
    case = drive(create_case(), S.CLOSED, org)[0]
    case = act(case, A.REOPEN, org.supervisor, note="一次", now=LATER)
    case = act(case, A.START, org.handler_a, now=LATER)
    case = act(case, A.REPLY, org.handler_a, data={"text": "再答复"}, now=LATER)
    case = act(case, A.REOPEN, org.supervisor, note="两次", now=LATER)
    assert case.reopen_count == 2


# ------------------------------------------------------------------------------------------------ merge


def test_merge_into_another_open_case(org, django_capture_on_commit_callbacks):
    main = act(create_case(title="主件"), A.ACCEPT, org.intake)
    dup = create_case(title="重复件")
    # when
    dup = run(
        dup,
        A.MERGE,
        org.dispatcher,
        django_capture_on_commit_callbacks,
        note="同一小区同一电梯",
        data={"into": main.tracking_number},
    )
    # then
    assert (
        dup.status == S.MERGED and dup.merged_into == main and dup.closed_at == LATER and dup.due_at is None
    )
    event = last_event(dup)
    assert event.data == {"into": main.pk, "into_tracking_number": main.tracking_number}
    assert event.actor == org.dispatcher
    merged_in = last_event(main)
    assert merged_in.action == "merged_in"
    assert merged_in.data == {"case": dup.pk, "tracking_number": dup.tracking_number}
    assert merged_in.from_status == merged_in.to_status == S.ACCEPTED
    assert Case.objects.get(pk=main.pk).status == S.ACCEPTED
    assert main.tracking_number in mail.outbox[-1].body


def test_merge_by_id(org):
    main = create_case()
    dup = act(create_case(), A.MERGE, org.dispatcher, data={"into": str(main.pk)})
    assert dup.merged_into_id == main.pk


def test_merge_refusals(org):
    dup = create_case()
    refused(dup, A.MERGE, org.dispatcher, ValidationFailed, data={"into": dup.pk})
    refused(dup, A.MERGE, org.dispatcher, ValidationFailed, data={"into": "MY000"})
    refused(dup, A.MERGE, org.dispatcher, ValidationFailed, data={})
    closed = drive(create_case(), S.CLOSED, org)[0]
    declined = drive(create_case(), S.DECLINED, org)[0]
    merged = drive(create_case(), S.MERGED, org)[0]
    for target in (closed, declined, merged):
        before = snapshot(target)
        with pytest.raises((Conflict, ValidationFailed)):
            services.case_transition(
                case_id=dup.pk, action=A.MERGE, actor=_actor(org.dispatcher), data={"into": target.pk}
            )
        assert snapshot(target)["events"] == before["events"]
    assert Case.objects.get(pk=dup.pk).status == S.SUBMITTED
    assert CaseEvent.objects.filter(action="merged_in").count() == 1  # only the one made by drive(MERGED)


def test_closed_case_cannot_be_merged(org):
    main = create_case()
    closed = drive(create_case(), S.CLOSED, org)[0]
    refused(closed, A.MERGE, org.dispatcher, (InvalidTransition, NotFound), data={"into": main.pk})


# ------------------------------------------------------------------------------------------------ review


def test_request_review_within_30_days(org, django_capture_on_commit_callbacks):
    case, _clock = drive(create_case(), S.CLOSED, org)
    replied_at = case.replied_at
    citizen = policies.citizen_actor(case=case)
    refused(case, A.REQUEST_REVIEW, citizen, ValidationFailed, note="")
    refused(
        case, A.REQUEST_REVIEW, citizen, Conflict, note="不服", now=replied_at + timedelta(days=30, seconds=1)
    )
    # when: on the 30th day
    when = replied_at + timedelta(days=30)
    case = run(
        case, A.REQUEST_REVIEW, citizen, django_capture_on_commit_callbacks, note="处理结果不公", now=when
    )
    # then
    assert case.status == S.UNDER_REVIEW
    assert case.review_due_at == when + timedelta(days=30)
    assert case.due_at == case.review_due_at
    assert case.closed_at is None
    assert parsed(last_event(case).data) == {"review_due_at": case.review_due_at}
    assert set(
        Notification.objects.filter(case_id=case.pk, channel="inapp", topic="review").values_list(
            "recipient", flat=True
        )
    ) == {org.supervisor.pk}


def test_decide_review_upheld_closes(org):
    case = drive(create_case(), S.UNDER_REVIEW, org)[0]
    refused(case, A.DECIDE_REVIEW, org.supervisor, ValidationFailed, note="维持", data={"decision": "maybe"})
    refused(case, A.DECIDE_REVIEW, org.supervisor, ValidationFailed, note="", data={"decision": "upheld"})
    refused(case, A.DECIDE_REVIEW, org.dispatcher, Forbidden, note="维持", data={"decision": "upheld"})
    case = act(
        case, A.DECIDE_REVIEW, org.supervisor, note="原处理意见正确", data={"decision": "upheld"}, now=LATER
    )
    assert case.status == S.CLOSED and case.closed_at == LATER and case.due_at is None
    assert last_event(case).data == {"decision": "upheld"}


def test_decide_review_redo_reassigns(org):
    case = drive(create_case(), S.UNDER_REVIEW, org)[0]
    case = act(
        case,
        A.DECIDE_REVIEW,
        org.supervisor,
        note="事实不清，重办",
        data={"decision": "redo"},
        now=NOW + timedelta(days=3),
    )
    assert case.status == S.ASSIGNED
    assert case.department == org.dept_a
    assert case.handle_due_at == at(2026, 3, 12, 23, 59, 59)  # Thursday + 5 working days
    assert case.reopen_count == 0
    event = last_event(case)
    assert event.to_status == S.ASSIGNED and event.data["decision"] == "redo"


# ------------------------------------------------------------------------------------------------ escalate


def test_supervisor_escalates_an_open_case(org, django_capture_on_commit_callbacks):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    refused(case, A.ESCALATE, org.dispatcher, Forbidden)
    refused(case, A.ESCALATE, org.leader, Forbidden)
    case = run(case, A.ESCALATE, org.supervisor, django_capture_on_commit_callbacks, note="群众多次来电")
    assert case.status == S.IN_PROGRESS
    assert case.escalation_count == 1 and case.escalated_at == LATER
    event = last_event(case)
    assert (event.action, event.is_public, event.note) == ("escalate", False, "群众多次来电")
    recipients = set(
        Notification.objects.filter(case_id=case.pk, channel="inapp", topic="escalated").values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {org.handler_a.pk, org.head_a.pk, org.supervisor.pk}
    # a supervisor may escalate again (it is a flag, not bound to the deadline)
    case = act(case, A.ESCALATE, org.supervisor, note="再次督办", now=LATER)
    assert case.escalation_count == 2


def test_system_escalates_only_when_overdue_and_once_per_deadline(org):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    due = case.due_at
    refused(case, A.ESCALATE, policies.SYSTEM_ACTOR, Conflict, now=due)
    case = act(case, A.ESCALATE, policies.SYSTEM_ACTOR, now=due + timedelta(seconds=1))
    assert case.escalation_count == 1 and case.escalated_for_due_at == due
    refused(case, A.ESCALATE, policies.SYSTEM_ACTOR, Conflict, now=due + timedelta(days=2))
    # a new deadline (an approved extension) may be escalated once more when it passes
    case = act(
        case, A.REQUEST_EXTENSION, org.handler_a, note="需协调", data={"days": 3}, now=due + timedelta(days=2)
    )
    case = act(case, A.APPROVE_EXTENSION, org.supervisor, now=due + timedelta(days=2))
    refused(case, A.ESCALATE, policies.SYSTEM_ACTOR, Conflict, now=due + timedelta(days=2))
    case = act(case, A.ESCALATE, policies.SYSTEM_ACTOR, now=due + timedelta(days=3, seconds=1))
    assert case.escalation_count == 2


def test_cannot_escalate_a_finished_case(org):
    case = drive(create_case(), S.CLOSED, org)[0]
    refused(case, A.ESCALATE, org.supervisor, InvalidTransition)


def test_cases_mark_overdue_is_idempotent(org, django_capture_on_commit_callbacks):
    overdue = drive(create_case(), S.IN_PROGRESS, org)[0]
    fresh_case = create_case(now=NOW + timedelta(days=30))
    closed = drive(create_case(), S.CLOSED, org)[0]
    when = overdue.due_at + timedelta(hours=1)
    assert fresh_case.due_at > when
    with django_capture_on_commit_callbacks(execute=True):
        assert services.cases_mark_overdue(now=when) == 1
    assert Case.objects.get(pk=overdue.pk).escalation_count == 1
    assert Case.objects.get(pk=closed.pk).escalation_count == 0
    assert (
        Notification.objects.filter(case_id=overdue.pk, topic="escalated", recipient=org.supervisor).count()
        == 1
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.cases_mark_overdue(now=when + timedelta(days=1)) == 0
    assert (
        Notification.objects.filter(case_id=overdue.pk, topic="escalated", recipient=org.supervisor).count()
        == 1
    )


def test_cases_close_unrated(org):
    unrated, clock = drive(create_case(), S.REPLIED, org)
    rated = drive(create_case(), S.REPLIED, org)[0]
    rated = act(
        rated,
        A.EVALUATE,
        policies.citizen_actor(case=rated),
        data={"rating": "dissatisfied", "reason": "差"},
        now=clock,
    )
    young = drive(create_case(now=NOW + timedelta(days=5)), S.REPLIED, org, now=NOW + timedelta(days=5))[0]
    when = unrated.evaluation_due_at + timedelta(minutes=1)
    assert services.cases_close_unrated(now=when) == 1
    assert Case.objects.get(pk=unrated.pk).status == S.CLOSED
    assert Case.objects.get(pk=rated.pk).status == S.REPLIED
    assert Case.objects.get(pk=young.pk).status == S.REPLIED
    assert services.cases_close_unrated(now=when) == 0


# ------------------------------------------------------------------------------------------------ add_info


def test_citizen_adds_information(org, django_capture_on_commit_callbacks):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    citizen = policies.citizen_actor(case=case)
    refused(case, A.ADD_INFO, citizen, ValidationFailed, data={"text": ""})
    case = run(
        case, A.ADD_INFO, citizen, django_capture_on_commit_callbacks, data={"text": "补充：4号楼电梯也坏了"}
    )
    assert case.status == S.IN_PROGRESS
    event = last_event(case)
    assert (event.action, event.actor_role, event.data) == (
        "add_info",
        "citizen",
        {"text": "补充：4号楼电梯也坏了"},
    )
    recipients = set(
        Notification.objects.filter(case_id=case.pk, channel="inapp", topic="info_added").values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {org.handler_a.pk, org.head_a.pk}


def test_registered_citizen_acts_on_own_case(org):
    case = drive(create_case(submitted_by=org.citizen), S.REPLIED, org)[0]
    case = act(case, A.EVALUATE, org.citizen, data={"rating": "satisfied"}, now=LATER)
    assert case.status == S.CLOSED


def test_citizen_cannot_act_on_another_case(org):
    mine = create_case(submitted_by=org.citizen)
    other = drive(create_case(), S.IN_PROGRESS, org)[0]
    refused(other, A.ADD_INFO, policies.citizen_actor(case=mine), NotFound, data={"text": "x"})
    refused(other, A.ADD_INFO, org.citizen, NotFound, data={"text": "x"})
    refused(other, A.ADD_INFO, policies.Actor(kind=policies.CITIZEN), NotFound, data={"text": "x"})
    refused(other, A.ADD_INFO, org.handler_b, NotFound, data={"text": "x"})


def test_staff_cannot_act_as_the_citizen(org):
    case = drive(create_case(), S.REPLIED, org)[0]
    refused(case, A.EVALUATE, org.handler_a, Forbidden, data={"rating": "satisfied"})
    refused(case, A.ADD_INFO, org.supervisor, Forbidden, data={"text": "x"})


# ------------------------------------------------------------------------------------------------ the event log


def test_case_events_are_append_only(org):
    case = create_case()
    event = CaseEvent.objects.get(case=case)
    event.note = "篡改"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        CaseEvent.objects.filter(case=case).update(note="篡改")
    with pytest.raises(TypeError):
        CaseEvent.objects.filter(case=case).delete()
    assert CaseEvent.objects.get(case=case).note == ""


def test_every_transition_leaves_one_event_chain(org):
    case = drive(create_case(), S.UNDER_REVIEW, org)[0]
    case = act(case, A.DECIDE_REVIEW, org.supervisor, note="重办", data={"decision": "redo"}, now=LATER)
    events = list(CaseEvent.objects.filter(case=case).order_by("created_at", "id"))
    assert [e.action for e in events] == [
        "submit",
        "accept",
        "assign",
        "start",
        "reply",
        "request_review",
        "decide_review",
    ]
    for previous, current in itertools.pairwise(events):
        assert previous.to_status == current.from_status
        assert previous.created_at <= current.created_at
    assert events[-1].to_status == case.status


def test_every_transition_and_triage_review_sends_case_changed_after_commit(
    org, django_capture_on_commit_callbacks
):
    from minyi.cases.signals import case_changed

    heard: list[tuple[int, str, int]] = []

    def receiver(sender, *, case_id, action, event_id, **kwargs):
        heard.append((case_id, action, event_id))

    case_changed.connect(receiver, dispatch_uid="test-heard")
    try:
        case = create_case()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.case_transition(case_id=case.pk, action=A.ACCEPT, actor=org.actor(org.intake), now=NOW)
        assert heard == []  # nothing before the commit
        for callback in callbacks:
            callback()
        event = CaseEvent.objects.filter(case=case).latest("id")
        assert heard == [(case.pk, "accept", event.pk)]
        with django_capture_on_commit_callbacks(execute=True):
            services.case_annotate(case_id=case.pk, actor=policies.SYSTEM_ACTOR, action="triage", now=NOW)
            services.case_annotate(case_id=case.pk, actor=policies.SYSTEM_ACTOR, action="publish", now=NOW)
        assert [action for _id, action, _event in heard] == ["accept", "triage"]  # publication sends nothing
    finally:
        case_changed.disconnect(dispatch_uid="test-heard")
