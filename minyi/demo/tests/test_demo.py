"""`minyi demo`: a small run through the real services, checked for consistency; and its guards."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from io import StringIO
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test.utils import override_settings

from minyi.accounts.models import Department, Membership, Role, User
from minyi.cases.models import Case, CaseEvent, Evaluation
from minyi.cases.workflow import CaseStatus
from minyi.demo import plan as demo_plan

PASSWORD = "demo-password-for-tests"
#: the demo ends at a fixed moment, so the run is the same every day (holidays and weekends included)
DEMO_NOW = datetime(2026, 6, 30, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def run(*args, **kwargs) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def _demo_run(django_db_setup, django_db_blocker):
    """One run of `minyi demo --cases 60` for the whole module, rolled back at the end."""
    with django_db_blocker.unblock(), override_settings(DEBUG=True, MINYI_DEMO_PASSWORD=PASSWORD):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield run("demo", "--cases", "60", "--now", DEMO_NOW.isoformat())
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(_demo_run, db):
    return _demo_run


# ---------------------------------------------------------------------------------------------- a real run


def test_every_status_appears(demo):
    statuses = set(Case.objects.values_list("status", flat=True))
    assert statuses == set(CaseStatus.values)
    assert Case.objects.count() == 60


def test_no_planned_step_was_refused(demo):
    out, err = demo
    assert "refused" not in err, err
    assert "60 cases" in out


def test_event_chains_are_consistent(demo):
    events = {}
    for event in CaseEvent.objects.order_by("case_id", "created_at", "id"):
        events.setdefault(event.case_id, []).append(event)
    for case in Case.objects.all():
        chain = events[case.pk]
        assert (
            chain[0].action == "submit" and chain[0].from_status == "" and chain[0].to_status == "submitted"
        )
        assert chain[0].created_at == case.created_at
        for previous, current in pairwise(chain):
            assert current.from_status == previous.to_status, (
                case.tracking_number,
                previous.action,
                current.action,
            )
            assert current.created_at >= previous.created_at
        assert chain[-1].to_status == case.status, case.tracking_number
        assert case.status_changed_at == max(e.created_at for e in chain if e.from_status != e.to_status)


def test_histories_end_at_now_and_span_90_days(demo):
    oldest = Case.objects.order_by("created_at").first().created_at
    assert 30 <= (DEMO_NOW - oldest).days <= 90
    assert not CaseEvent.objects.filter(created_at__gt=DEMO_NOW).exists()


def test_state_specific_facts(demo):
    for case in Case.objects.filter(status=CaseStatus.MERGED):
        assert case.merged_into is not None
        assert CaseEvent.objects.filter(
            case=case.merged_into, action="merged_in", data__case=case.pk
        ).exists()
    for case in Case.objects.filter(status__in=["assigned", "in_progress", "replied"]):
        assert case.department is not None
    for case in Case.objects.filter(status=CaseStatus.CLOSED):
        assert case.closed_at is not None and case.replies.filter(state="sent").exists()
    assert not Case.objects.filter(status=CaseStatus.RETURNED, department__isnull=False).exists()
    assert Case.objects.filter(escalation_count__gt=0).exists()
    ratings = set(Evaluation.objects.values_list("rating", flat=True))
    assert ratings >= {"satisfied", "dissatisfied"}


def test_channels_and_kinds_are_mixed(demo):
    assert len(set(Case.objects.values_list("channel", flat=True))) >= 3
    assert len(set(Case.objects.values_list("kind", flat=True))) >= 3
    phone_logged = Case.objects.filter(channel="phone")
    assert all(c.logged_by and c.logged_by.username == "intake" for c in phone_logged)


def test_accounts_and_roles(demo):
    expected = {
        "intake": Role.INTAKE,
        "dispatcher": Role.DISPATCHER,
        "handler": Role.HANDLER,
        "head": Role.HEAD,
        "supervisor": Role.SUPERVISOR,
        "leader": Role.LEADER,
        "admin": Role.ADMIN,
    }
    for username, role in expected.items():
        user = User.objects.get(username=username)
        assert set(Membership.objects.filter(user=user).values_list("role", flat=True)) == {role}
        assert user.check_password(PASSWORD)
        assert user.is_staff == (username == "admin")
        assert user.is_superuser == (username == "admin")
    zjj = Department.objects.get(code="zjj")
    for username in ("handler", "head"):
        assert Membership.objects.get(user__username=username).department == zjj
    # the bureau of the demo handler gets a good share of the cases
    share = Case.objects.filter(department__path__startswith=zjj.path).count()
    assert share >= 6
    assert not Membership.objects.filter(user__username="citizen").exists()


def test_logins_are_printed(demo):
    out, _err = demo
    for username in ("intake", "dispatcher", "handler", "head", "supervisor", "leader", "admin"):
        assert re.search(rf"\| {username}\s+\|.*\| {PASSWORD}\s+\|", out), username


def test_city_structure(demo):
    assert Department.objects.filter(parent__isnull=False).count() >= 12
    assert Department.objects.count() >= 20
    assert Department.objects.get(code="hotline").name == "市12345热线中心"
    from minyi.accounts.models import Region
    from minyi.routing.models import Category

    assert Region.objects.filter(level=Region.Level.DISTRICT).count() == 6
    assert Region.objects.filter(level=Region.Level.COMMUNITY).count() >= 60
    assert Category.objects.filter(is_livelihood=True).count() >= 8


# ---------------------------------------------------------------------------------------------- the plan (no DB)


def _fingerprint(plans):
    return [
        (p.target, p.kind, p.channel, p.title, p.content, [(s.action, s.who) for s in p.steps]) for p in plans
    ]


def test_plan_is_deterministic_in_the_seed():
    first = demo_plan.plan(seed=5, count=120, now=NOW)
    again = demo_plan.plan(seed=5, count=120, now=NOW)
    other = demo_plan.plan(seed=6, count=120, now=NOW)
    assert _fingerprint(first) == _fingerprint(again)
    assert [p.created_at for p in first] == [p.created_at for p in again]
    assert _fingerprint(first) != _fingerprint(other)


def test_plan_covers_every_status_even_when_small():
    for count in (11, 20, 60):
        plans = demo_plan.plan(seed=1, count=count, now=NOW)
        assert len(plans) == count
        assert {p.target for p in plans} == set(CaseStatus.values)


def test_plan_texts_are_varied_and_sometimes_carry_phone_numbers():
    plans = demo_plan.plan(seed=3, count=400, now=NOW)
    lengths = [len(p.content) for p in plans]
    assert min(lengths) < 40 and max(lengths) > 120
    assert any(re.search(r"1[3-9]\d{9}", p.content) for p in plans)
    assert len({p.title for p in plans}) > 150
    assert any(p.duplicate_of is not None and p.target != "merged" for p in plans)  # unmerged near-duplicates
    assert all(not re.search(r"\{[a-z0-9]+\}", p.title + p.content) for p in plans), "an unfilled slot"
    counts = Counter(
        p.department for p in plans if p.target not in ("submitted", "accepted", "declined", "referred")
    )
    assert (counts["zjj"] + counts["zjj-wy"]) / sum(counts.values()) >= 0.12  # the demo handler's bureau


def test_plan_fits_in_90_days():
    plans = demo_plan.plan(seed=2, count=300, now=NOW)
    assert all((NOW - p.created_at).days < 90 for p in plans)
    assert all(p.created_at <= NOW for p in plans)
