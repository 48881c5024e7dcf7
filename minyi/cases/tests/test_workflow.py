"""The workflow table, without a database: every (status, action) pair, labels, and the generated doc."""

from __future__ import annotations

import pytest

from minyi.cases import workflow
from minyi.cases.management.commands import cases_workflow_doc
from minyi.cases.workflow import (
    ACTION_LABELS,
    TRANSITIONS,
    CaseAction,
    CaseStatus,
    InvalidTransition,
    next_status,
)
from minyi.core.exceptions import Conflict

S = CaseStatus
A = CaseAction

# The expected table, written out independently of workflow.py from ARCHITECTURE.md §3:
# action -> (sources, main target; None = unchanged).
OPEN = {S.SUBMITTED, S.ACCEPTED, S.ASSIGNED, S.RETURNED, S.IN_PROGRESS, S.UNDER_REVIEW}
EXPECTED = {
    A.ACCEPT: ({S.SUBMITTED}, S.ACCEPTED),
    A.DECLINE: ({S.SUBMITTED}, S.DECLINED),
    A.REFER: ({S.SUBMITTED, S.ACCEPTED}, S.REFERRED),
    A.ASSIGN: ({S.ACCEPTED, S.RETURNED}, S.ASSIGNED),
    A.RETURN: ({S.ASSIGNED}, S.RETURNED),
    A.START: ({S.ASSIGNED}, S.IN_PROGRESS),
    A.REQUEST_EXTENSION: ({S.IN_PROGRESS}, None),
    A.APPROVE_EXTENSION: ({S.IN_PROGRESS}, None),
    A.DENY_EXTENSION: ({S.IN_PROGRESS}, None),
    A.REPLY: ({S.IN_PROGRESS}, S.REPLIED),
    A.APPROVE_REPLY: ({S.IN_PROGRESS}, S.REPLIED),
    A.REJECT_REPLY: ({S.IN_PROGRESS}, None),
    A.EVALUATE: ({S.REPLIED}, S.CLOSED),
    A.CLOSE: ({S.REPLIED}, S.CLOSED),
    A.REOPEN: ({S.REPLIED, S.CLOSED}, S.ASSIGNED),
    A.MERGE: (OPEN, S.MERGED),
    A.REQUEST_REVIEW: ({S.REPLIED, S.CLOSED}, S.UNDER_REVIEW),
    A.DECIDE_REVIEW: ({S.UNDER_REVIEW}, S.CLOSED),
    A.ESCALATE: (OPEN, None),
    A.ADD_INFO: (OPEN | {S.REPLIED}, None),
}
EXPECTED_ROLES = {
    A.ACCEPT: {"intake"},
    A.DECLINE: {"intake"},
    A.REFER: {"intake"},
    A.ASSIGN: {"dispatcher"},
    A.RETURN: {"handler", "head"},
    A.START: {"handler", "head"},
    A.REQUEST_EXTENSION: {"handler", "head"},
    A.APPROVE_EXTENSION: {"head", "supervisor"},
    A.DENY_EXTENSION: {"head", "supervisor"},
    A.REPLY: {"handler", "head"},
    A.APPROVE_REPLY: {"head"},
    A.REJECT_REPLY: {"head"},
    A.EVALUATE: {"citizen"},
    A.CLOSE: {"supervisor", "system"},
    A.REOPEN: {"supervisor"},
    A.MERGE: {"dispatcher"},
    A.REQUEST_REVIEW: {"citizen"},
    A.DECIDE_REVIEW: {"supervisor"},
    A.ESCALATE: {"supervisor", "system"},
    A.ADD_INFO: {"citizen"},
}
PAIRS = [(status, action) for status in CaseStatus for action in CaseAction]


def test_expected_table_covers_every_action():
    assert set(EXPECTED) == set(CaseAction) == set(TRANSITIONS)


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=[f"{s.value}-{a.value}" for s, a in PAIRS])
def test_next_status_for_every_pair(status, action):
    sources, target = EXPECTED[action]
    if status in sources:
        # when
        result = next_status(status, action)
        # then
        assert result == (target or status)
        assert action in workflow.allowed_actions(status)
    else:
        with pytest.raises(InvalidTransition) as info:
            next_status(status, action)
        error = info.value
        assert error.status_code == 409
        assert isinstance(error, Conflict)
        assert error.code == "invalid_transition"
        assert error.current == status
        assert error.action == action
        expected_allowed = sorted(a.value for a, (src, _t) in EXPECTED.items() if status in src)
        assert sorted(error.allowed) == expected_allowed
        assert sorted(error.fields["allowed"]) == expected_allowed
        assert action not in workflow.allowed_actions(status)


@pytest.mark.parametrize("action", list(CaseAction), ids=lambda a: a.value)
def test_roles_match_the_architecture(action):
    assert set(TRANSITIONS[action].roles) == EXPECTED_ROLES[action]


def test_leader_and_admin_may_do_nothing():
    for transition in TRANSITIONS.values():
        assert not transition.roles & {"leader", "admin"}


@pytest.mark.parametrize(
    ("action", "alternatives"),
    [(A.REPLY, {S.IN_PROGRESS}), (A.EVALUATE, {S.REPLIED}), (A.DECIDE_REVIEW, {S.ASSIGNED})],
)
def test_alternative_outcomes(action, alternatives):
    assert set(TRANSITIONS[action].alternative_targets) == alternatives


def test_only_these_actions_have_alternative_outcomes():
    with_alternatives = {a for a, t in TRANSITIONS.items() if t.alternative_targets}
    assert with_alternatives == {A.REPLY, A.EVALUATE, A.DECIDE_REVIEW}


@pytest.mark.parametrize(
    "action", [A.DECLINE, A.REFER, A.RETURN, A.REQUEST_EXTENSION, A.DENY_EXTENSION, A.REJECT_REPLY, A.REOPEN,
               A.REQUEST_REVIEW, A.DECIDE_REVIEW],
)  # fmt: skip
def test_reasons_required(action):
    assert TRANSITIONS[action].note_required


@pytest.mark.parametrize("action", [A.ACCEPT, A.ASSIGN, A.START, A.EVALUATE, A.ESCALATE, A.ADD_INFO])
def test_reasons_not_required(action):
    assert not TRANSITIONS[action].note_required


@pytest.mark.parametrize(
    ("action", "keys"),
    [
        (A.ASSIGN, ("department",)),
        (A.REFER, ("referred_to",)),
        (A.REQUEST_EXTENSION, ("days",)),
        (A.REPLY, ("text",)),
        (A.EVALUATE, ("rating",)),
        (A.MERGE, ("into",)),
        (A.DECIDE_REVIEW, ("decision",)),
        (A.ADD_INFO, ("text",)),
    ],
)
def test_required_payload(action, keys):
    assert TRANSITIONS[action].requires == keys


def test_every_action_has_a_non_empty_label():
    assert set(ACTION_LABELS) == set(CaseAction)
    for action in CaseAction:
        label = str(ACTION_LABELS[action])
        assert label.strip(), action
    labels = [str(label) for label in ACTION_LABELS.values()]
    assert len(set(labels)) == len(labels), "two actions share a label"


def test_every_status_has_a_label():
    for status in CaseStatus:
        assert str(status.label).strip()


def test_unknown_action_is_an_invalid_transition():
    with pytest.raises(InvalidTransition) as info:
        next_status(S.SUBMITTED, "explode")
    assert info.value.status_code == 409
    assert sorted(info.value.allowed) == ["accept", "add_info", "decline", "escalate", "merge", "refer"]
    with pytest.raises(InvalidTransition):
        workflow.parse_action("explode")
    assert workflow.parse_action("accept") is A.ACCEPT


def test_error_message_names_status_and_allowed_actions():
    with pytest.raises(InvalidTransition) as info:
        next_status(S.CLOSED, A.ACCEPT)
    message = str(info.value)
    assert "已办结" in message
    assert "受理" in message
    assert "重办" in message and "申请复查" in message


def test_actions_for_roles_filters_by_role():
    assert workflow.actions_for_roles(S.SUBMITTED, {"intake"}) == [A.ACCEPT, A.DECLINE, A.REFER]
    assert workflow.actions_for_roles(S.SUBMITTED, {"leader"}) == []
    assert set(workflow.actions_for_roles(S.REPLIED, {"citizen"})) == {
        A.EVALUATE,
        A.REQUEST_REVIEW,
        A.ADD_INFO,
    }


def test_final_states_allow_nothing_but_revival():
    for status in (S.DECLINED, S.REFERRED, S.MERGED):
        assert workflow.allowed_actions(status) == []
    assert set(workflow.allowed_actions(S.CLOSED)) == {A.REOPEN, A.REQUEST_REVIEW}


def test_state_sets_are_consistent():
    assert workflow.OPEN_STATES == OPEN
    assert not workflow.OPEN_STATES & workflow.FINAL_STATES
    assert workflow.CLOCK_RUNNING <= workflow.OPEN_STATES
    assert {S.SUBMITTED, S.ACCEPTED} == workflow.UNDISPATCHED
    # every state is reachable from submitted through the table
    reached, frontier = {S.SUBMITTED}, [S.SUBMITTED]
    while frontier:
        status = frontier.pop()
        for action in workflow.allowed_actions(status):
            t = TRANSITIONS[action]
            for target in (t.target, *t.alternative_targets):
                if target and target not in reached:
                    reached.add(target)
                    frontier.append(target)
    assert reached == set(CaseStatus)


def test_generated_doc_matches_the_table():
    """docs/workflow.md is exactly what `minyi cases_workflow_doc` renders from TRANSITIONS."""
    path = cases_workflow_doc.doc_path()
    assert path.exists(), "docs/workflow.md is missing: run `minyi cases_workflow_doc`"
    assert path.read_text(encoding="utf-8") == cases_workflow_doc.render(), (
        "docs/workflow.md is stale: run `minyi cases_workflow_doc`"
    )


def test_rendered_doc_mentions_every_action_and_transition():
    text = cases_workflow_doc.render()
    for action in CaseAction:
        t = TRANSITIONS[action]
        assert f"| `{action.value}` | {ACTION_LABELS[action]} |" in text
        if t.target is not None:
            for source in t.sources:
                assert f"    {source.value} --> {t.target.value}: " in text
    assert "```mermaid" in text and "stateDiagram-v2" in text
