"""A small hand-made set of cases for the barometer's rollup and dashboard tests; the counters are worked out by hand
in `build` below. Cases go through the real workflow at chosen times; what the workflow cannot say at a chosen
time (a deadline, a triage risk level, supports) is set directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from minyi.accounts.models import Department, Region
from minyi.cases import policies
from minyi.cases.models import Case
from minyi.cases.tests.factories import (
    NOW,
    SHANGHAI,
    CategoryFactory,
    DepartmentFactory,
    RegionFactory,
    act,
    create_case,
)
from minyi.cases.workflow import CaseAction
from minyi.disclosure.models import Support
from minyi.disclosure.tests.helpers import publish_for_test
from minyi.intake.models import Triage
from minyi.routing.models import Category

A = CaseAction
H = timedelta(hours=1)
T = NOW  # 2026-03-02 09:00 Asia/Shanghai, a Monday
#: When the tests refresh: a day after T, so that every deadline set below for T+… has passed or not as said.
LATER = T + 30 * H


@dataclass
class Set:
    housing: Category  # top level, name matches 住房 (livelihood by name)
    property: Category  # org.category (物业管理, is_livelihood), a child of housing
    roads: Category  # top level, not livelihood
    north: Region  # org.region (江北区), a district of the city
    south: Region  # another district
    street: Region  # a street under north
    dept_a: Department
    dept_b: Department
    dept_c: Department
    cases: dict[str, Case]


def _citizen(case: Case) -> policies.Actor:
    return policies.citizen_actor(case=case)


def assign(org, case: Case, department: Department, *, at: datetime) -> Case:
    case = act(case, A.ACCEPT, org.intake, now=at - H)
    return act(case, A.ASSIGN, org.dispatcher, data={"department": department.pk}, now=at)


def reply(case: Case, handler, *, start: datetime, at: datetime) -> Case:
    case = act(case, A.START, handler, now=start)
    return act(case, A.REPLY, handler, data={"text": "已处理完毕。"}, now=at)


def due(case: Case, when: datetime) -> None:
    """Set the handling deadline (and the current deadline, as the services keep them equal while handling)."""
    fields = {"handle_due_at": when}
    if case.status in ("accepted", "assigned", "returned", "in_progress"):
        fields["due_at"] = when
    Case.objects.filter(pk=case.pk).update(**fields)


def risk(case: Case, level: str) -> None:
    Triage.objects.update_or_create(
        case=case, defaults={"risk_level": level, "risk_score": 70, "triaged_at": case.created_at}
    )


def build(org) -> Set:
    """Eight cases received on 2026-03-02 (T) and 2026-03-03 (and one merged, not counted), one in February 2026 and
    one in March 2025 (a year earlier).

    department A (org.dept_a), category property, region north, channel web, kind complaint unless said:
      p1  assigned T+2h, started T+3h, replied T+4h (due T+10h: on time), rated satisfied + resolved
      p2  assigned T+2h, started T+27h (late), replied T+28h after its deadline T+20h (overdue), rated
          dissatisfied + not resolved
      p3  assigned T+2h, never started, deadline T+5h: overdue at LATER; kind help; triage risk high
      p4  merged into p3: counted nowhere (its triage risk high and its supports too)
    department B, category roads, region south:
      r1  assigned T+2h, started T+3h, replied T+4h, rated dissatisfied (resolved not answered) then, after a reopen
          (T+6h) and a second reply (T+8h), basically satisfied + resolved: the latest evaluation wins;
          published with 2 supports; triage risk medium
      r2  assigned T+2h, still in progress, deadline T+100h: not overdue at LATER (it will be at T+101h)
    department C (no parent), category roads, region street (under north), channel phone (logged by staff):
      s1  assigned T+2h, started T+30h (late), not replied, deadline T+200h; triage risk low
    no department, no category, no region:
      n1  submitted T, never accepted; kind suggestion
      n2  submitted 2026-03-03 23:30 local (15:30 UTC): 2026-03-03
    the month before (the previous period of March for the gap view):
      f1  department A, category property, region north: submitted 2026-02-10 09:00, assigned 11:00, started 12:00,
          replied 13:00 (within its deadline), rated satisfied + resolved
    a year earlier (for the year-earlier series):
      y1  department A, category property, region north: submitted 2025-03-02 10:00, assigned 12:00, never replied
          (its deadline long passed: overdue)
    """
    housing = CategoryFactory(name="住房保障", code="housing")
    prop = org.category
    prop.parent = housing
    prop.save()
    roads = CategoryFactory(name="道路交通", code="roads")
    north = org.region
    south = RegionFactory(name="江南区", code="jc-jn", parent=north.parent)
    street = RegionFactory(name="滨江街道", code="jc-jb-bj", parent=north, level=Region.Level.STREET)
    dept_c = DepartmentFactory(name="市城管委", code="cgw")
    cases: dict[str, Case] = {}

    case = assign(org, create_case(now=T, category=prop, region=north), org.dept_a, at=T + 2 * H)
    case = reply(case, org.handler_a, start=T + 3 * H, at=T + 4 * H)
    due(case, T + 10 * H)
    cases["p1"] = act(
        case, A.EVALUATE, _citizen(case), data={"rating": "satisfied", "resolved": True}, now=T + 5 * H
    )

    case = assign(org, create_case(now=T, category=prop, region=north), org.dept_a, at=T + 2 * H)
    case = reply(case, org.handler_a, start=T + 27 * H, at=T + 28 * H)
    due(case, T + 20 * H)
    cases["p2"] = act(
        case,
        A.EVALUATE,
        _citizen(case),
        note="没有解决",
        data={"rating": "dissatisfied", "resolved": False},
        now=T + 29 * H,
    )

    case = assign(org, create_case(now=T, kind="help", category=prop, region=north), org.dept_a, at=T + 2 * H)
    due(case, T + 5 * H)
    risk(case, Triage.RiskLevel.HIGH)
    cases["p3"] = Case.objects.get(pk=case.pk)

    case = assign(org, create_case(now=T, category=prop, region=north), org.dept_a, at=T + 2 * H)
    risk(case, Triage.RiskLevel.HIGH)
    publication = publish_for_test(case)
    Support.objects.create(publication=publication, voter="x", created_at=T + 3 * H)
    cases["p4"] = act(
        case, A.MERGE, org.dispatcher, note="同一事项", data={"into": cases["p3"].pk}, now=T + 3 * H
    )

    case = assign(org, create_case(now=T, category=roads, region=south), org.dept_b, at=T + 2 * H)
    case = reply(case, org.handler_b, start=T + 3 * H, at=T + 4 * H)
    case = act(
        case, A.EVALUATE, _citizen(case), note="还是坏的", data={"rating": "dissatisfied"}, now=T + 5 * H
    )
    case = act(case, A.REOPEN, org.supervisor, note="未修好，重办", now=T + 6 * H)
    case = reply(case, org.handler_b, start=T + 7 * H, at=T + 8 * H)
    case = act(
        case,
        A.EVALUATE,
        _citizen(case),
        data={"rating": "basically_satisfied", "resolved": True},
        now=T + 9 * H,
    )
    risk(case, Triage.RiskLevel.MEDIUM)
    publication = publish_for_test(case)
    Support.objects.create(publication=publication, voter="a", created_at=T + 10 * H)
    Support.objects.create(publication=publication, voter="b", created_at=T + 11 * H)
    cases["r1"] = case

    case = assign(org, create_case(now=T, category=roads, region=south), org.dept_b, at=T + 2 * H)
    case = act(case, A.START, org.handler_b, now=T + 3 * H)
    due(case, T + 100 * H)
    cases["r2"] = Case.objects.get(pk=case.pk)

    case = assign(
        org, create_case(now=T, category=roads, region=street, logged_by=org.intake), dept_c, at=T + 2 * H
    )
    case = act(case, A.START, _handler_of(dept_c), now=T + 30 * H)
    due(case, T + 200 * H)
    risk(case, Triage.RiskLevel.LOW)
    cases["s1"] = Case.objects.get(pk=case.pk)

    cases["n1"] = create_case(now=T, kind="suggestion")
    cases["n2"] = create_case(now=datetime(2026, 3, 3, 23, 30, tzinfo=SHANGHAI))
    feb = datetime(2026, 2, 10, 9, 0, tzinfo=SHANGHAI)
    case = assign(org, create_case(now=feb, category=prop, region=north), org.dept_a, at=feb + 2 * H)
    case = reply(case, org.handler_a, start=feb + 3 * H, at=feb + 4 * H)
    cases["f1"] = act(
        case, A.EVALUATE, _citizen(case), data={"rating": "satisfied", "resolved": True}, now=feb + 5 * H
    )
    cases["y1"] = assign(
        org,
        create_case(now=datetime(2025, 3, 2, 10, 0, tzinfo=SHANGHAI), category=prop, region=north),
        org.dept_a,
        at=datetime(2025, 3, 2, 12, 0, tzinfo=SHANGHAI),
    )
    return Set(housing, prop, roads, north, south, street, org.dept_a, org.dept_b, dept_c, cases)


def _handler_of(department: Department):
    from minyi.accounts.models import Role
    from minyi.cases.tests.factories import UserFactory, member

    return member(UserFactory(username=f"t_handler_{department.code}"), department, Role.HANDLER)
