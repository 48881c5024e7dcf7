"""Factories and shared fixtures for the domain tests.

The root conftest.py lists this module in `pytest_plugins`, so its fixtures (`org`, `make_case`,
`case_in`, ...) are available to every test package.

Cases are created with the cases service (`case_create`) and moved only through `case_transition`,
so every case a test sees has a real history of events and deadlines.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import factory
import pytest
from django.db import transaction

from minyi.accounts.models import Department, Membership, Region, Role, User
from minyi.cases import policies, services
from minyi.cases.models import Case
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.routing.models import Category

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: A Monday morning with no holiday around it: every test's clock starts here unless it says otherwise.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)

S = CaseStatus
A = CaseAction


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.cn")
    is_active = True
    password = factory.django.Password("correct-horse-battery")


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"区域{n}")
    code = factory.Sequence(lambda n: f"region-{n}")
    level = Region.Level.DISTRICT


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"部门{n}")
    code = factory.Sequence(lambda n: f"dept-{n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"分类{n}")
    code = factory.Sequence(lambda n: f"cat-{n}")


def member(user: User, department: Department, role: str) -> User:
    Membership.objects.get_or_create(user=user, department=department, role=role)
    return user


def fresh(user: User) -> User:
    """The user re-read from the database (drops the cached policy actor)."""
    return User.objects.get(pk=user.pk)


@dataclass
class Org:
    """A small organisation: a hotline centre, a bureau (parent) with a section (dept_a), another bureau."""

    centre: Department
    parent: Department
    dept_a: Department
    dept_b: Department
    region: Region
    category: Category
    intake: User
    dispatcher: User
    handler_a: User
    handler_parent: User
    handler_b: User
    head_a: User
    supervisor: User
    leader: User
    admin: User
    citizen: User

    def actor(self, user: User) -> policies.Actor:
        return policies.actor_for_user(fresh(user))


def build_org() -> Org:
    city = RegionFactory(name="江城市", code="jc", level=Region.Level.CITY)
    district = RegionFactory(name="江北区", code="jc-jb", parent=city)
    centre = DepartmentFactory(name="市12345热线中心", code="hotline")
    parent = DepartmentFactory(name="市住建局", code="zjj")
    dept_a = DepartmentFactory(name="市住建局物业监管科", code="zjj-wy", parent=parent)
    dept_b = DepartmentFactory(name="市人社局", code="rsj")
    category = CategoryFactory(name="物业管理", code="property", is_livelihood=True)
    org = Org(
        centre=centre,
        parent=parent,
        dept_a=dept_a,
        dept_b=dept_b,
        region=district,
        category=category,
        intake=member(UserFactory(username="t_intake"), centre, Role.INTAKE),
        dispatcher=member(UserFactory(username="t_dispatcher"), centre, Role.DISPATCHER),
        handler_a=member(UserFactory(username="t_handler_a"), dept_a, Role.HANDLER),
        handler_parent=member(UserFactory(username="t_handler_parent"), parent, Role.HANDLER),
        handler_b=member(UserFactory(username="t_handler_b"), dept_b, Role.HANDLER),
        head_a=member(UserFactory(username="t_head_a"), dept_a, Role.HEAD),
        supervisor=member(UserFactory(username="t_supervisor"), centre, Role.SUPERVISOR),
        leader=member(UserFactory(username="t_leader"), centre, Role.LEADER),
        admin=member(UserFactory(username="t_admin", is_staff=True, is_superuser=True), centre, Role.ADMIN),
        citizen=UserFactory(username="t_citizen"),
    )
    return org


_numbers = itertools.count(1)


def create_case(
    *,
    now: datetime = NOW,
    kind: str = "complaint",
    priority: str = "ordinary",
    title: str = "小区电梯故障停运",
    content: str = "我们小区3号楼电梯已经停运两周，老人上下楼很困难，请尽快处理。",
    contact: dict[str, str] | None = None,
    is_anonymous: bool = False,
    submitted_by: User | None = None,
    logged_by: User | None = None,
    category: Category | None = None,
    region: Region | None = None,
) -> Case:
    """A new case in `submitted`, stored by the cases service (the path intake uses)."""
    number = next(_numbers)
    if contact is None:
        contact = {"name": "张三", "phone": "13800138000", "email": f"citizen{number}@example.cn"}
    with transaction.atomic():
        return services.case_create(
            tracking_number=f"TEST{number:010d}",
            query_code_hash="sha256$test$0",
            kind=kind,
            channel="web" if logged_by is None else "phone",
            priority=priority,
            title=title,
            content=content,
            category_id=category.pk if category else None,
            region_id=region.pk if region else None,
            is_anonymous=is_anonymous,
            contact=contact,
            submitted_by=submitted_by,
            logged_by=logged_by,
            now=now,
        )


def act(case: Case, action: str, actor, *, note: str = "", data: dict | None = None, now: datetime = NOW):
    """One transition through the real service; returns the case as stored afterwards."""
    if not isinstance(actor, policies.Actor):
        actor = policies.actor_for_user(fresh(actor))
    services.case_transition(case_id=case.pk, action=action, actor=actor, note=note, data=data, now=now)
    return Case.objects.get(pk=case.pk)


def drive(case: Case, target: str, org: Org, *, now: datetime = NOW, department: Department | None = None):
    """Move `case` from `submitted` to `target` along the ordinary path, one hour per step.

    Returns (case, clock) where clock is the time of the last step.
    """
    department = department or org.dept_a
    handler = org.handler_a if department == org.dept_a else org.handler_b
    clock = now
    steps: list[tuple[str, object, str, dict]] = []
    accept = [(A.ACCEPT, org.intake, "", {})]
    assign = [*accept, (A.ASSIGN, org.dispatcher, "", {"department": department.pk})]
    start = [*assign, (A.START, handler, "", {})]
    reply = [*start, (A.REPLY, handler, "", {"text": "经核查，已督促物业公司完成维修。"})]
    paths = {
        S.SUBMITTED: [],
        S.ACCEPTED: accept,
        S.DECLINED: [(A.DECLINE, org.intake, "不属于受理范围", {})],
        S.REFERRED: [(A.REFER, org.intake, "属于法院管辖", {"referred_to": "江北区人民法院"})],
        S.ASSIGNED: assign,
        S.RETURNED: [*assign, (A.RETURN, handler, "不属于本部门职责", {})],
        S.IN_PROGRESS: start,
        S.REPLIED: reply,
        S.CLOSED: [*reply, (A.EVALUATE, policies.citizen_actor(case=case), "", {"rating": "satisfied"})],
        S.UNDER_REVIEW: [*reply, (A.REQUEST_REVIEW, policies.citizen_actor(case=case), "没有解决", {})],
    }
    if target == S.MERGED:
        main = create_case(now=now, title="主件")
        steps = [(A.MERGE, org.dispatcher, "同一事项", {"into": main.pk})]
    else:
        steps = paths[target]
    for action, actor, note, data in steps:
        clock += timedelta(hours=1)
        case = act(case, action, actor, note=note, data=data, now=clock)
    assert case.status == target
    return case, clock


@pytest.fixture
def org(db) -> Org:
    return build_org()


@pytest.fixture
def make_case(db):
    return create_case


@pytest.fixture
def case_in(org):
    """case_in(status, **create_kwargs) -> a case driven to `status` (department A unless told)."""

    def make(status: str, *, department: Department | None = None, now: datetime = NOW, **kwargs) -> Case:
        case = create_case(now=now, **kwargs)
        case, _clock = drive(case, status, org, now=now, department=department)
        return case

    return make
