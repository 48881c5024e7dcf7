"""The permission matrix: roles x cases in various states and departments.

The expected tables below are written out by hand from ARCHITECTURE.md §4, not computed from policies.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from minyi.accounts.models import Role
from minyi.cases import policies
from minyi.cases.tests.factories import NOW, UserFactory, act, create_case, drive, member
from minyi.cases.workflow import TRANSITIONS, CaseAction, CaseStatus, InvalidTransition
from minyi.core.exceptions import Forbidden, NotFound

S = CaseStatus
A = CaseAction
pytestmark = pytest.mark.django_db

CASES = [
    "submitted",
    "accepted",
    "declined",
    "returned",
    "merged",
    "assigned_a",
    "in_progress_a",
    "replied_a",
    "closed_a",
    "under_review_a",
    "anon_a",
    "in_progress_parent",
    "in_progress_b",
    "closed_b",
    "own_closed",
    "logged_closed",
]
ALL = set(CASES)
DEPT_A = {"assigned_a", "in_progress_a", "replied_a", "closed_a", "under_review_a", "anon_a"}
OPEN_OR_REPLIED = {
    "submitted",
    "accepted",
    "returned",
    "assigned_a",
    "in_progress_a",
    "replied_a",
    "under_review_a",
    "anon_a",
    "in_progress_parent",
    "in_progress_b",
}
VISIBLE = {
    "intake": {"submitted", "accepted", "logged_closed"},
    "dispatcher": OPEN_OR_REPLIED,
    "handler_a": DEPT_A,
    "handler_parent": DEPT_A | {"in_progress_parent"},
    "handler_b": {"in_progress_b", "closed_b", "own_closed", "logged_closed"},
    "head_a": DEPT_A,
    "supervisor": ALL,
    "leader": ALL,
    "admin": ALL,
    "citizen": {"own_closed"},
    "anonymous": set(),
    "query_code": {"replied_a"},
}
HANDLING = [A.REQUEST_EXTENSION, A.REPLY]
HEAD_HANDLING = [
    A.REQUEST_EXTENSION,
    A.APPROVE_EXTENSION,
    A.DENY_EXTENSION,
    A.REPLY,
    A.APPROVE_REPLY,
    A.REJECT_REPLY,
]
SUPERVISE_IN_PROGRESS = [A.APPROVE_EXTENSION, A.DENY_EXTENSION, A.ESCALATE]
#: (who, case) -> the actions offered; every pair not listed offers nothing.
MAY = {
    ("intake", "submitted"): [A.ACCEPT, A.DECLINE, A.REFER],
    ("intake", "accepted"): [A.REFER],
    ("dispatcher", "submitted"): [A.MERGE],
    ("dispatcher", "accepted"): [A.ASSIGN, A.MERGE],
    ("dispatcher", "returned"): [A.ASSIGN, A.MERGE],
    **{
        ("dispatcher", c): [A.MERGE]
        for c in (
            "assigned_a",
            "in_progress_a",
            "under_review_a",
            "anon_a",
            "in_progress_parent",
            "in_progress_b",
        )
    },
    ("handler_a", "assigned_a"): [A.RETURN, A.START],
    ("handler_a", "in_progress_a"): HANDLING,
    ("handler_a", "anon_a"): HANDLING,
    ("handler_parent", "assigned_a"): [A.RETURN, A.START],
    ("handler_parent", "in_progress_a"): HANDLING,
    ("handler_parent", "anon_a"): HANDLING,
    ("handler_parent", "in_progress_parent"): HANDLING,
    ("handler_b", "in_progress_b"): HANDLING,
    ("head_a", "assigned_a"): [A.RETURN, A.START],
    ("head_a", "in_progress_a"): HEAD_HANDLING,
    ("head_a", "anon_a"): HEAD_HANDLING,
    **{("supervisor", c): [A.ESCALATE] for c in ("submitted", "accepted", "returned", "assigned_a")},
    **{
        ("supervisor", c): SUPERVISE_IN_PROGRESS
        for c in ("in_progress_a", "anon_a", "in_progress_parent", "in_progress_b")
    },
    ("supervisor", "replied_a"): [A.CLOSE, A.REOPEN],
    ("supervisor", "under_review_a"): [A.DECIDE_REVIEW, A.ESCALATE],
    **{("supervisor", c): [A.REOPEN] for c in ("closed_a", "closed_b", "own_closed", "logged_closed")},
    ("citizen", "own_closed"): [A.REQUEST_REVIEW],
    ("query_code", "replied_a"): [A.EVALUATE, A.REQUEST_REVIEW, A.ADD_INFO],
}
CONTACT_ROLES = {"intake", "dispatcher", "handler_a", "handler_parent", "handler_b", "head_a", "supervisor"}


@pytest.fixture
def world(org):
    """Cases in every corner of the matrix, built through the real services."""
    cases = {}
    cases["submitted"] = create_case()
    for status in ("accepted", "declined", "returned"):
        cases[status] = drive(create_case(), status, org)[0]
    cases["merged"] = act(create_case(), A.MERGE, org.dispatcher, data={"into": cases["submitted"].pk})
    for status in ("assigned", "in_progress", "replied", "closed", "under_review"):
        cases[f"{status}_a"] = drive(create_case(), status, org)[0]
    cases["anon_a"] = drive(create_case(is_anonymous=True), S.IN_PROGRESS, org)[0]
    parent_case = drive(create_case(), S.ACCEPTED, org)[0]
    parent_case = act(parent_case, A.ASSIGN, org.dispatcher, data={"department": org.parent.pk})
    cases["in_progress_parent"] = act(parent_case, A.START, org.handler_parent)
    cases["in_progress_b"] = drive(create_case(), S.IN_PROGRESS, org, department=org.dept_b)[0]
    cases["closed_b"] = drive(create_case(), S.CLOSED, org, department=org.dept_b)[0]
    cases["own_closed"] = drive(create_case(submitted_by=org.citizen), S.CLOSED, org, department=org.dept_b)[
        0
    ]
    cases["logged_closed"] = drive(create_case(logged_by=org.intake), S.CLOSED, org, department=org.dept_b)[0]
    assert set(cases) == ALL
    actors = {
        name: org.actor(getattr(org, name))
        for name in (
            "intake",
            "dispatcher",
            "handler_a",
            "handler_parent",
            "handler_b",
            "head_a",
            "supervisor",
            "leader",
            "admin",
            "citizen",
        )
    }
    actors["anonymous"] = policies.Actor(kind=policies.CITIZEN)
    actors["query_code"] = policies.citizen_actor(case=cases["replied_a"])
    return cases, actors


def test_visibility_matrix(world):
    cases, actors = world
    by_pk = {case.pk: name for name, case in cases.items()}
    for who, actor in actors.items():
        # when
        seen = {by_pk[pk] for pk in policies.visible_cases(actor).values_list("pk", flat=True) if pk in by_pk}
        # then
        assert seen == VISIBLE[who], who
        for name, case in cases.items():
            assert policies.can_view(actor, case) == (name in VISIBLE[who]), (who, name)


#: In this world no extension or reply is pending and nobody rated dissatisfied, so the guards of these
#: actions hide them from the buttons even where the role and the status allow them.
GUARDED_OUT_HERE = {A.APPROVE_EXTENSION, A.DENY_EXTENSION, A.APPROVE_REPLY, A.REJECT_REPLY, A.CLOSE}
SOON = NOW + timedelta(days=1)


def test_available_actions_matrix(world):
    cases, actors = world
    for who, actor in actors.items():
        for name, case in cases.items():
            expected = [a for a in MAY.get((who, name), []) if a not in GUARDED_OUT_HERE]
            assert policies.available_actions(actor, case, now=SOON) == expected, (who, name)


def test_guards_show_actions_once_their_condition_holds(org):
    # given: an extension request pending, a reply pending approval, and a dissatisfied rating
    extension = act(
        drive(create_case(), S.IN_PROGRESS, org)[0],
        A.REQUEST_EXTENSION,
        org.handler_a,
        note="需要协调",
        data={"days": 10},
    )
    org.dept_a.reply_needs_approval = True
    org.dept_a.save()
    pending = act(
        drive(create_case(), S.IN_PROGRESS, org)[0], A.REPLY, org.handler_a, data={"text": "拟答复"}
    )
    org.dept_a.reply_needs_approval = False
    org.dept_a.save()
    replied = drive(create_case(), S.REPLIED, org)[0]
    citizen = policies.citizen_actor(case=replied)
    unhappy = act(replied, A.EVALUATE, citizen, note="没解决", data={"rating": "dissatisfied"})
    head, supervisor, handler = org.actor(org.head_a), org.actor(org.supervisor), org.actor(org.handler_a)
    # then
    assert A.APPROVE_EXTENSION in policies.available_actions(head, extension, now=SOON)
    assert A.REQUEST_EXTENSION not in policies.available_actions(handler, extension, now=SOON)
    assert {A.APPROVE_REPLY, A.REJECT_REPLY} <= set(policies.available_actions(head, pending, now=SOON))
    assert A.REPLY not in policies.available_actions(handler, pending, now=SOON)
    assert A.CLOSE in policies.available_actions(supervisor, unhappy, now=SOON)
    assert A.EVALUATE not in policies.available_actions(citizen, unhappy, now=SOON)
    # and the windows close: no rating after the evaluation window, no review after 30 days
    later = replied.replied_at + timedelta(days=31)
    assert policies.available_actions(policies.citizen_actor(case=unhappy), unhappy, now=later) == [
        A.ADD_INFO
    ]


def test_require_matrix(world):
    """Every (actor, case, action): 404 when unseen, 409 when the status forbids, 403 when the role does."""
    cases, actors = world
    for who, actor in actors.items():
        for name, case in cases.items():
            for action in CaseAction:
                if name not in VISIBLE[who]:
                    expected = NotFound
                elif case.status not in TRANSITIONS[action].sources:
                    expected = InvalidTransition
                elif action not in MAY.get((who, name), []):
                    expected = Forbidden
                else:
                    expected = None
                if expected is None:
                    assert policies.require(actor, action, case) is not None
                else:
                    with pytest.raises(expected):
                        policies.require(actor, action, case)


def test_system_actor(world):
    cases, _actors = world
    system = policies.SYSTEM_ACTOR
    assert policies.visible_cases(system).count() >= len(cases)
    # the system closes only after the evaluation window, and escalates only what is overdue
    assert policies.available_actions(system, cases["replied_a"], now=SOON) == []
    assert policies.available_actions(system, cases["replied_a"], now=SOON + timedelta(days=8)) == [A.CLOSE]
    assert policies.available_actions(system, cases["in_progress_b"], now=SOON) == []
    overdue_at = cases["in_progress_b"].due_at + timedelta(minutes=1)
    assert policies.available_actions(system, cases["in_progress_b"], now=overdue_at) == [A.ESCALATE]
    assert policies.available_actions(system, cases["closed_a"], now=SOON) == []


def test_contact_visibility(world):
    cases, actors = world
    for who, actor in actors.items():
        for name, case in cases.items():
            expected = who in CONTACT_ROLES and name in VISIBLE[who] and name != "anon_a"
            assert policies.can_view_contact(actor, case) == expected, (who, name)


def test_anonymous_case_contact_hidden_even_from_supervisor(world):
    cases, actors = world
    assert policies.can_view(actors["supervisor"], cases["anon_a"])
    assert not policies.can_view_contact(actors["supervisor"], cases["anon_a"])


def test_actor_for_user(org):
    actor = org.actor(org.handler_parent)
    assert actor.kind == policies.STAFF and actor.roles == {Role.HANDLER}
    assert actor.department_ids == {org.parent.pk, org.dept_a.pk}
    assert actor.head_department_ids == frozenset()
    head = org.actor(org.head_a)
    assert head.department_ids == head.head_department_ids == {org.dept_a.pk}
    assert Role.ADMIN in org.actor(org.admin).roles
    assert org.actor(org.citizen).kind == policies.CITIZEN
    assert policies.is_staff(org.dispatcher) and not policies.is_staff(org.citizen)
    assert policies.can_act_at_all(org.intake)
    assert not policies.can_act_at_all(org.leader) and not policies.can_act_at_all(org.citizen)


def test_superuser_without_membership_sees_all_but_may_not_act(org):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    actor = org.actor(root)
    assert policies.can_view(actor, case)
    assert policies.available_actions(actor, case) == []


def test_inactive_staff_sees_nothing(org):
    case = create_case()
    org.supervisor.is_active = False
    org.supervisor.save()
    actor = org.actor(org.supervisor)
    assert actor.kind == policies.CITIZEN and actor.user is None
    assert not policies.can_view(actor, case)
    with pytest.raises(NotFound):
        policies.require(actor, A.ESCALATE, case)


def test_membership_in_a_new_department_widens_the_view(org):
    case = drive(create_case(), S.IN_PROGRESS, org, department=org.dept_b)[0]
    assert not policies.can_view(org.actor(org.handler_a), case)
    member(org.handler_a, org.dept_b, Role.HANDLER)
    assert policies.can_view(org.actor(org.handler_a), case)


def test_handler_loses_sight_when_case_is_returned(org):
    case = drive(create_case(), S.ASSIGNED, org)[0]
    actor = org.actor(org.handler_a)
    assert policies.can_view(actor, case)
    case = act(case, A.RETURN, org.handler_a, note="非本部门职责", now=NOW + timedelta(hours=5))
    assert not policies.can_view(actor, case)
