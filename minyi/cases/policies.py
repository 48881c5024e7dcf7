"""Every rule about who may see and do what with a case. Views and APIs ask here; they hold no rules.

An Actor is who is acting: a staff user with roles, the citizen behind one case, or the system.
A case the actor may not see raises NotFound (HTTP 404), never a hint that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from minyi.accounts.models import Department, Membership, Role
from minyi.cases import workflow
from minyi.cases.models import Case
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core.exceptions import Forbidden, NotFound

if TYPE_CHECKING:
    from minyi.accounts.models import User

STAFF = "staff"
CITIZEN = "citizen"
SYSTEM = "system"

#: Roles that may read a person's contact details (each read is logged).
CONTACT_ROLES = frozenset({Role.INTAKE, Role.DISPATCHER, Role.HANDLER, Role.HEAD, Role.SUPERVISOR})
#: Roles that see every case.
SEE_ALL_ROLES = frozenset({Role.SUPERVISOR, Role.LEADER, Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    kind: str
    user: User | None = None
    roles: frozenset[str] = frozenset()
    #: departments (with their sub-departments) where the user is a handler or head
    department_ids: frozenset[int] = frozenset()
    head_department_ids: frozenset[int] = frozenset()
    #: for a citizen: the case they proved with tracking number + query code
    case_id: int | None = None
    label: str = field(default="", compare=False)

    @property
    def is_staff_actor(self) -> bool:
        return self.kind == STAFF

    def role_for(self, action: CaseAction) -> str:
        """The role under which this actor performs `action`, for the event record."""
        if self.kind != STAFF:
            return self.kind
        allowed = workflow.TRANSITIONS[action].roles & self.roles
        return sorted(allowed)[0] if allowed else (sorted(self.roles)[0] if self.roles else "")


SYSTEM_ACTOR = Actor(kind=SYSTEM, roles=frozenset({workflow.SYSTEM}), label="system")


def _subtree_ids(department_ids: set[int]) -> frozenset[int]:
    if not department_ids:
        return frozenset()
    paths = list(Department.objects.filter(pk__in=department_ids).values_list("path", flat=True))
    q = Q()
    for path in paths:
        q |= Q(path__startswith=path)
    return frozenset(Department.objects.filter(q).values_list("pk", flat=True))


def actor_for_user(user: User) -> Actor:
    """The staff actor for a logged-in user; a user without memberships acts as a registered citizen."""
    if not user or not user.is_authenticated or not user.is_active:
        return Actor(kind=CITIZEN)
    cached = getattr(user, "_minyi_actor", None)
    if cached is not None:
        return cached
    rows = list(Membership.objects.filter(user=user).values_list("role", "department_id"))
    roles = {role for role, _dept in rows}
    if user.is_superuser:
        roles.add(Role.ADMIN)
    if not roles:
        actor = Actor(kind=CITIZEN, user=user, label=user.username)
    else:
        handling = {dept for role, dept in rows if role in (Role.HANDLER, Role.HEAD)}
        heads = {dept for role, dept in rows if role == Role.HEAD}
        actor = Actor(
            kind=STAFF,
            user=user,
            roles=frozenset(roles),
            department_ids=_subtree_ids(handling),
            head_department_ids=_subtree_ids(heads),
            label=user.username,
        )
    user._minyi_actor = actor
    return actor


def citizen_actor(*, case: Case) -> Actor:
    """The person behind `case`, once they have proved it (query code, or owning account)."""
    return Actor(kind=CITIZEN, roles=frozenset({workflow.CITIZEN}), case_id=case.pk, label="citizen")


def _as_actor(who: User | Actor | None) -> Actor:
    if isinstance(who, Actor):
        return who
    if who is None:
        return Actor(kind=CITIZEN)
    return actor_for_user(who)


def visibility_q(actor: Actor) -> Q | None:
    """The filter for the cases `actor` may see; None means every case."""
    if actor.kind == SYSTEM:
        return None
    if actor.kind == CITIZEN:
        if actor.case_id is not None:
            return Q(pk=actor.case_id)
        if actor.user is not None:
            return Q(submitted_by=actor.user)
        return Q(pk__in=[])
    if actor.roles & SEE_ALL_ROLES:
        return None
    q = Q(pk__in=[])
    if Role.DISPATCHER in actor.roles:
        q |= Q(status__in=[*workflow.OPEN_STATES, CaseStatus.REPLIED])
    if Role.INTAKE in actor.roles:
        q |= Q(status__in=workflow.UNDISPATCHED) | Q(logged_by=actor.user)
    if actor.department_ids:
        q |= Q(department_id__in=actor.department_ids)
    return q


def visible_cases(who: User | Actor | None) -> QuerySet[Case]:
    actor = _as_actor(who)
    q = visibility_q(actor)
    qs = Case.objects.all()
    return qs if q is None else qs.filter(q)


def can_view(who: User | Actor | None, case: Case) -> bool:
    return visible_cases(who).filter(pk=case.pk).exists()


def can_view_contact(who: User | Actor | None, case: Case) -> bool:
    actor = _as_actor(who)
    if actor.kind != STAFF or not (actor.roles & CONTACT_ROLES):
        return False
    if case.is_anonymous:
        return False
    return can_view(actor, case)


def _role_applies(actor: Actor, action: CaseAction, case: Case) -> bool:
    roles = workflow.TRANSITIONS[action].roles
    if actor.kind == SYSTEM:
        return workflow.SYSTEM in roles
    if actor.kind == CITIZEN:
        return workflow.CITIZEN in roles and (
            actor.case_id == case.pk or (actor.user is not None and case.submitted_by_id == actor.user.pk)
        )
    for role in roles & actor.roles:
        if role in (Role.HANDLER, Role.HEAD):
            if case.department_id in (
                actor.head_department_ids if role == Role.HEAD else actor.department_ids
            ):
                return True
        else:
            return True
    return False


def require(who: User | Actor, action: CaseAction | str, case: Case) -> Actor:
    """Raise unless `who` may perform `action` on `case` now. Returns the actor.

    NotFound (404) when the case is not visible; InvalidTransition (409, naming what is allowed)
    when the status does not allow the action; Forbidden (403) when the role does not.
    """
    actor = _as_actor(who)
    if not can_view(actor, case):
        raise NotFound(_("未找到该诉求。"))
    action = workflow.parse_action(str(action))
    workflow.next_status(case.status, action)
    if not _role_applies(actor, action, case):
        raise Forbidden(_("您无权对该诉求执行“%(action)s”。") % {"action": workflow.ACTION_LABELS[action]})
    return actor


def guard_allows(actor: Actor, action: CaseAction, case: Case, *, now: datetime | None = None) -> bool:
    """The action's own rule (the table's `guard`), as far as it can be judged before the form is filled in.

    case_transition enforces the same rules on submit; this keeps buttons that would only fail from showing.
    """
    from minyi.cases.models import Evaluation, Reply
    from minyi.routing.services import sla_for

    now = now or timezone.now()
    if action in (CaseAction.APPROVE_EXTENSION, CaseAction.DENY_EXTENSION):
        return bool(case.pending_extension_days)
    if action == CaseAction.REQUEST_EXTENSION:
        sla = sla_for(kind=case.kind, priority=case.priority)
        return not case.pending_extension_days and case.extension_count < sla.extension_max_count
    if action in (CaseAction.APPROVE_REPLY, CaseAction.REJECT_REPLY, CaseAction.REPLY):
        pending = Reply.objects.filter(case=case, state=Reply.State.PENDING).exists()
        return pending if action != CaseAction.REPLY else not pending
    if action == CaseAction.EVALUATE:
        if case.needs_supervision or (case.evaluation_due_at and now > case.evaluation_due_at):
            return False
        latest = Reply.objects.filter(case=case, state=Reply.State.SENT).order_by("-sent_at", "-id").first()
        return latest is not None and not Evaluation.objects.filter(reply=latest).exists()
    if action == CaseAction.REQUEST_REVIEW:
        sla = sla_for(kind=case.kind, priority=case.priority)
        return case.replied_at is not None and now <= case.replied_at + timedelta(
            days=sla.review_request_days
        )
    if action == CaseAction.CLOSE:
        if actor.kind == SYSTEM:
            return bool(
                case.evaluation_due_at and now > case.evaluation_due_at and not case.needs_supervision
            )
        return case.needs_supervision
    if action == CaseAction.ESCALATE and actor.kind == SYSTEM:
        return bool(case.due_at and case.due_at < now and case.escalated_for_due_at != case.due_at)
    return True


def available_actions(who: User | Actor, case: Case, *, now: datetime | None = None) -> list[CaseAction]:
    """The actions `who` may perform on `case` now: status, role and the action's own rule."""
    actor = _as_actor(who)
    return [
        a
        for a in workflow.allowed_actions(case.status)
        if _role_applies(actor, a, case) and guard_allows(actor, a, case, now=now)
    ]


def can_act_at_all(who: User | Actor) -> bool:
    actor = _as_actor(who)
    return actor.kind == STAFF and bool(actor.roles - {Role.LEADER, Role.ADMIN})


def is_staff(who: User | Actor | None) -> bool:
    return _as_actor(who).kind == STAFF


#: Roles that may log a phone call, letter or visit as a new case on someone's behalf.
LOG_APPEAL_ROLES = frozenset({Role.INTAKE, Role.DISPATCHER, Role.SUPERVISOR})


def can_log_appeal(who: User | Actor | None) -> bool:
    """May `who` register an appeal received by phone, letter or visit (staff log, minyi.intake)?"""
    actor = _as_actor(who)
    return actor.kind == STAFF and bool(actor.roles & LOG_APPEAL_ROLES)


# ---------------------------------------------------------------------------------------------- triage review

#: The parts of a triage that staff accept or correct (minyi.intake.triage), and which roles may, per part.
TRIAGE_PARTS = ("category", "region", "department", "pii", "duplicates", "risk")
_CLASSIFY_ROLES = frozenset({Role.INTAKE, Role.DISPATCHER, Role.HANDLER, Role.HEAD, Role.SUPERVISOR})
TRIAGE_ROLES: dict[str, frozenset[str]] = {
    "category": _CLASSIFY_ROLES,
    "region": _CLASSIFY_ROLES,
    "pii": _CLASSIFY_ROLES,
    "department": frozenset({Role.DISPATCHER, Role.SUPERVISOR}),
    "duplicates": frozenset({Role.DISPATCHER, Role.SUPERVISOR}),
    "risk": frozenset({Role.INTAKE, Role.DISPATCHER, Role.SUPERVISOR}),
}
#: After these states only a supervisor corrects a triage (a closed case's category still teaches the model).
_SETTLED = workflow.FINAL_STATES


def _triage_role_applies(actor: Actor, part: str, case: Case) -> bool:
    roles = TRIAGE_ROLES.get(part, frozenset()) & actor.roles
    if Role.SUPERVISOR in roles:
        return True
    if case.status in _SETTLED:
        return False
    for role in roles:
        if role in (Role.HANDLER, Role.HEAD):
            if case.department_id in actor.department_ids:
                return True
        else:
            return True
    return False


def can_review_triage(who: User | Actor | None, case: Case, part: str) -> bool:
    """May `who` accept or correct `part` of the case's triage now?"""
    actor = _as_actor(who)
    return actor.kind == STAFF and _triage_role_applies(actor, part, case) and can_view(actor, case)


def require_triage_review(who: User | Actor | None, case: Case, part: str) -> Actor:
    """Raise unless `who` may review `part` of the case's triage: NotFound (404) if the case is not visible,
    Forbidden (403) if the role does not allow it. Returns the actor."""
    actor = _as_actor(who)
    if not can_view(actor, case):
        raise NotFound(_("未找到该诉求。"))
    if part not in TRIAGE_PARTS:
        raise NotFound(_("未找到该研判项。"))
    if actor.kind != STAFF or not _triage_role_applies(actor, part, case):
        raise Forbidden(_("您无权核定该研判结果。"))
    return actor


# ---------------------------------------------------------------------------------------------- bulk import

#: Roles that may import history from spreadsheets (the staff import page; the CLI is for the server's operators).
IMPORT_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})


def can_import(who: User | Actor | None) -> bool:
    actor = _as_actor(who)
    return actor.kind == STAFF and bool(actor.roles & IMPORT_ROLES)


def can_export(who: User | Actor | None) -> bool:
    """May `who` download the case list (only the cases they may see, as on the workbench)?

    Every staff role may, leaders too (they read everything); an administrator only when they also hold a
    staff role, since configuring the system is no reason to carry its cases away.
    """
    actor = _as_actor(who)
    return actor.kind == STAFF and bool(actor.roles - {Role.ADMIN})


# ---------------------------------------------------------------------------------------------- publication

#: Roles that may publish a case on the public board, withdraw it, or edit its masked text: the hotline centre's
#: own staff, who answer for what the organisation shows the public. Departments answer through their replies.
PUBLICATION_ROLES = frozenset({Role.INTAKE, Role.DISPATCHER, Role.SUPERVISOR})


def can_publish(who: User | Actor | None, case: Case) -> bool:
    actor = _as_actor(who)
    return actor.kind == STAFF and bool(actor.roles & PUBLICATION_ROLES) and can_view(actor, case)


def require_publication(who: User | Actor | None, case: Case) -> Actor:
    """Raise unless `who` may change the case's publication: NotFound (404) if the case is not visible to them,
    Forbidden (403) if their role does not allow it. Returns the actor."""
    actor = _as_actor(who)
    if not can_view(actor, case):
        raise NotFound(_("未找到该诉求。"))
    if not can_publish(actor, case):
        raise Forbidden(_("您无权更改该诉求的公开状态。"))
    return actor
