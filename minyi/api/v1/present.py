"""Cases as the API shows them: the citizen's view (public) and the staff view.

What the citizen sees of the history: public events only, with the department (never a staff member's
name or role), and a note only where the note was written for, or by, the citizen.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from minyi.accounts.models import User
from minyi.cases import policies, selectors
from minyi.cases.models import Case, CaseContact, CaseEvent, Evaluation, Reply
from minyi.cases.workflow import CITIZEN_VISIBLE_NOTES, CaseAction, CaseStatus, event_label
from minyi.routing.services import sla_for

#: Public details per action: event data key -> key shown to the citizen.
_PUBLIC_DETAILS = {
    CaseAction.REFER: {"referred_to": "referred_to"},
    CaseAction.ASSIGN: {"department_name": "department"},
    CaseAction.EVALUATE: {"rating": "rating"},
    CaseAction.DECIDE_REVIEW: {"decision": "decision"},
    CaseAction.MERGE: {"into_tracking_number": "into"},
    CaseAction.ADD_INFO: {"text": "text"},
    "merged_in": {"tracking_number": "tracking_number"},
}


def action_label(action: str) -> str:
    return event_label(action)


def status_choice(value: str) -> dict[str, str]:
    label = CaseStatus(value).label if value in CaseStatus.values else value
    return {"value": value, "label": str(label)}


def _named(obj) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {"id": obj.pk, "code": getattr(obj, "code", ""), "name": obj.name}


# ---------------------------------------------------------------------------------------------- public


def _latest_sent(replies: list[Reply]) -> Reply | None:
    sent = [r for r in replies if r.state == Reply.State.SENT]
    return max(sent, key=lambda r: (r.sent_at or r.created_at, r.pk)) if sent else None


def _evaluation_state(case: Case, latest: Reply | None, now: datetime) -> dict[str, Any]:
    if latest is None:
        return {"state": "none"}
    evaluation = Evaluation.objects.filter(reply=latest).first()
    if evaluation is not None:
        return {
            "state": "done",
            "rating": evaluation.rating,
            "rating_label": str(evaluation.get_rating_display()),
        }
    due = case.evaluation_due_at
    if case.status == CaseStatus.REPLIED and not case.needs_supervision and (due is None or now <= due):
        return {"state": "open", "due_at": due}
    # The window passed, or the case moved on (closed by the system, reopened) without a rating.
    return {"state": "expired", "due_at": due}


def _public_event(event: CaseEvent) -> dict[str, Any]:
    details = {
        shown: event.data[key]
        for key, shown in _PUBLIC_DETAILS.get(event.action, {}).items()
        if isinstance(event.data, dict) and event.data.get(key) not in (None, "")
    }
    return {
        "action": event.action,
        "label": action_label(event.action),
        "from_status": event.from_status,
        "to_status": event.to_status,
        "at": event.created_at,
        "note": event.note if event.action in CITIZEN_VISIBLE_NOTES else "",
        "details": details,
    }


def public_view(case: Case, *, now: datetime) -> dict[str, Any]:
    replies = selectors.case_replies(case=case, public=True)
    latest = _latest_sent(replies)
    evaluation = _evaluation_state(case, latest, now)
    review_until = None
    if case.replied_at is not None:
        review_until = case.replied_at + timedelta(
            days=sla_for(kind=case.kind, priority=case.priority).review_request_days
        )
    actions = [a.value for a in policies.available_actions(policies.citizen_actor(case=case), case, now=now)]
    return {
        "tracking_number": case.tracking_number,
        "status": status_choice(case.status),
        "kind": {"value": case.kind, "label": str(case.get_kind_display())},
        "title": case.title,
        "content": case.content,
        "category": case.category.name if case.category_id else None,
        "region": case.region.name if case.region_id else None,
        "department": case.department.name if case.department_id else None,
        "submitted_at": case.created_at,
        "replies": [
            {
                "text": r.text,
                "department": r.department.name if r.department_id else None,
                "sent_at": r.sent_at,
            }
            for r in replies
        ],
        "history": [_public_event(e) for e in selectors.case_timeline(case=case, public=True)],
        "evaluation": evaluation,
        "review_request_until": review_until,
        "actions": actions,
        "merged_into": _followed(case),
    }


def _followed(case: Case) -> dict[str, Any] | None:
    """The main case a merged case follows (selectors.followed_case), in the API's shape."""
    followed = selectors.followed_case(case=case)
    if followed is None:
        return None
    return {
        "tracking_number": followed["tracking_number"],
        "status": status_choice(followed["status"]),
        "department": followed["department"],
        "replied_at": followed["replied_at"],
        "closed_at": followed["closed_at"],
        "replies": followed["replies"],
    }


# ---------------------------------------------------------------------------------------------- staff


def _person(user: User | None) -> str | None:
    if user is None:
        return None
    return user.display_name or user.username


def case_item(case: Case, *, now: datetime) -> dict[str, Any]:
    return {
        "id": case.pk,
        "tracking_number": case.tracking_number,
        "status": status_choice(case.status),
        "kind": {"value": case.kind, "label": str(case.get_kind_display())},
        "priority": {"value": case.priority, "label": str(case.get_priority_display())},
        "channel": case.channel,
        "title": case.title,
        "category": _named(case.category),
        "region": _named(case.region),
        "department": _named(case.department),
        "created_at": case.created_at,
        "due_at": case.due_at,
        "overdue": selectors.is_overdue(case, now),
        "needs_supervision": case.needs_supervision,
        "escalation_count": case.escalation_count,
        "external_number": case.external_number,
        "is_repeat": case.is_repeat,
    }


def case_detail(
    case: Case, *, actor: policies.Actor, now: datetime, include_contact: bool = False
) -> dict[str, Any]:
    """The staff view. Contact details only when asked for and allowed; every such read is logged."""
    from minyi.cases.services import case_record_contact_view

    contact_available = policies.can_view_contact(actor, case)
    contact = None
    if include_contact and contact_available:
        row = CaseContact.objects.filter(case=case).first()
        if row is not None:
            contact = {"name": row.name, "phone": row.phone, "email": row.email}
            case_record_contact_view(case=case, user=actor.user, purpose="api")
    replies = selectors.case_replies(case=case, public=False)
    people = User.objects.in_bulk(
        {uid for r in replies for uid in (r.author_id, r.approved_by_id) if uid is not None}
    )
    return {
        **case_item(case, now=now),
        "content": case.content,
        "address": case.address,
        "latitude": case.latitude,
        "longitude": case.longitude,
        "is_anonymous": case.is_anonymous,
        "deadlines": {
            "accept_due_at": case.accept_due_at,
            "handle_due_at": case.handle_due_at,
            "review_due_at": case.review_due_at,
            "evaluation_due_at": case.evaluation_due_at,
            "due_at": case.due_at,
        },
        "accepted_at": case.accepted_at,
        "assigned_at": case.assigned_at,
        "replied_at": case.replied_at,
        "closed_at": case.closed_at,
        "extension_count": case.extension_count,
        "pending_extension_days": case.pending_extension_days,
        "reopen_count": case.reopen_count,
        "merged_into": case.merged_into.tracking_number if case.merged_into_id else None,
        "contact": contact,
        "contact_available": contact_available,
        "replies": [
            {
                "id": r.pk,
                "text": r.text,
                "state": r.state,
                "department": r.department.name if r.department_id else None,
                "author": _person(people.get(r.author_id)),
                "approved_by": _person(people.get(r.approved_by_id)),
                "created_at": r.created_at,
                "sent_at": r.sent_at,
            }
            for r in replies
        ],
        "timeline": [
            {
                "id": e.pk,
                "action": e.action,
                "label": action_label(e.action),
                "actor": _person(e.actor),
                "actor_role": e.actor_role,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "note": e.note,
                "data": e.data if isinstance(e.data, dict) else {},
                "is_public": e.is_public,
                "at": e.created_at,
            }
            for e in selectors.case_timeline(case=case, public=False)
        ],
        "evaluations": [
            {
                "rating": ev.rating,
                "resolved": ev.resolved,
                "reason": ev.reason,
                "reply_id": ev.reply_id,
                "created_at": ev.created_at,
            }
            for ev in case.evaluations.order_by("created_at", "id")
        ],
        "allowed_actions": [a.value for a in policies.available_actions(actor, case)],
        "triage": triage_view(case, actor=actor),
    }


def _choice(value: str, label: Any) -> dict[str, str]:
    return {"value": value, "label": str(label)}


def triage_view(case: Case, *, actor: policies.Actor) -> dict[str, Any] | None:
    """What triage found (minyi.intake.triage) and each part's state; the candidates the actor may see."""
    from minyi.intake.triage import duplicate_rows, risk_label, triage_get

    triage = triage_get(case=case)
    if triage is None:
        return None
    return {
        "triaged_at": triage.triaged_at,
        "category": {
            "state": _choice(triage.category_state, triage.get_category_state_display()),
            "suggested": _named(triage.category),
            "confidence": triage.category_confidence,
            "top": [{"code": row[0], "p": row[1]} for row in triage.category_top if len(row) > 1],
            "classifier": triage.classifier_id,
        },
        "region": {
            "state": _choice(triage.region_state, triage.get_region_state_display()),
            "suggested": _named(triage.region),
            "place": {"id": triage.place.pk, "name": triage.place.name} if triage.place_id else None,
            "mentions": [m.get("text", "") for m in triage.place_matches],
        },
        "department": {
            "state": _choice(triage.department_state, triage.get_department_state_display()),
            "suggested": _named(triage.department),
            "source": triage.department_source,
        },
        "pii": {
            "state": _choice(triage.pii_state, triage.get_pii_state_display()),
            "spans": triage.pii_spans,
        },
        "duplicates": {
            "state": _choice(triage.duplicates_state, triage.get_duplicates_state_display()),
            "candidates": [
                {
                    "id": row["case"].pk,
                    "tracking_number": row["case"].tracking_number,
                    "similarity": row["candidate"].similarity,
                    "same_contact": row["candidate"].same_contact,
                    "state": row["candidate"].state,
                }
                for row in duplicate_rows(case=case, actor=actor)
            ],
            "duplicate_of": case.duplicate_of.tracking_number if case.duplicate_of_id else None,
        },
        "risk": {
            "state": _choice(triage.risk_state, triage.get_risk_state_display()),
            "score": triage.risk_score,
            "level": _choice(triage.risk_level, triage.get_risk_level_display()),
            "reasons": [
                {
                    "code": r.get("code"),
                    "label": risk_label(r.get("code", "")),
                    "evidence": r.get("evidence", ""),
                }
                for r in triage.risk_reasons
            ],
        },
    }
