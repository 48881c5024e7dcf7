"""Running the demo plan against the database, through the real services only.

Every case is submitted with intake.services.submission_ingest and moved with cases.services.case_transition
by the actor the workflow expects, at the planned moment (`now` injected), so events, deadlines,
evaluations and notifications are the real ones. A simulated cron escalates a case when it passes a deadline,
as `minyi cases_mark_overdue` would have done at the time.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import perf_counter

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from minyi.accounts.models import Department, Membership, Region, Role, User
from minyi.cases import policies, services, workflow
from minyi.cases.models import Case, CaseEvent
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core.exceptions import DomainError
from minyi.demo import city, phrases
from minyi.demo.plan import CasePlan, Step, district_estates, near_duplicate, places, plan
from minyi.intake.learning import train_from_cases
from minyi.intake.review import Correction, triage_review
from minyi.intake.services import submission_ingest
from minyi.intake.triage import routing_history_refresh, triage_case
from minyi.routing.calendar import calendar_is_workday
from minyi.routing.models import Category, Place, RoutingRule

DEMO_GROUP = "minyi-demo"
BATCH = 100
#: username, role, department code, display name
MAIN_ACCOUNTS = [
    ("intake", Role.INTAKE, "hotline", "受理员 李敏"),
    ("dispatcher", Role.DISPATCHER, "hotline", "派单员 王强"),
    ("handler", Role.HANDLER, "zjj", "承办人 张伟"),
    ("head", Role.HEAD, "zjj", "住建局 刘处长"),
    ("supervisor", Role.SUPERVISOR, "hotline", "督办员 陈静"),
    ("leader", Role.LEADER, "hotline", "领导 赵书记"),
    ("admin", Role.ADMIN, "hotline", "系统管理员"),
]
CITIZEN_ACCOUNT = ("citizen", "市民 周平")
#: when people act: office hours on working days for departments and supervisors, long shifts every day
#: at the hotline centre, waking hours for citizens who write on the web
OFFICE_HOURS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
HOTLINE_HOURS = ((time(8, 0), time(21, 0)),)
WAKING_HOURS = ((time(6, 30), time(23, 30)),)
HOURS_BY_ACTOR = {
    "handler": (OFFICE_HOURS, True),
    "head": (OFFICE_HOURS, True),
    "supervisor": (OFFICE_HOURS, True),
    "intake": (HOTLINE_HOURS, False),
    "dispatcher": (HOTLINE_HOURS, False),
    "web": (WAKING_HOURS, False),
    "letter": (OFFICE_HOURS, True),
    "visit": (OFFICE_HOURS, True),
}


@dataclass
class Login:
    username: str
    role: str
    department: str


@dataclass
class DemoResult:
    logins: list[Login]
    extra_accounts: int
    cases: int
    events: int
    statuses: Counter
    errors: list[str] = field(default_factory=list)
    escalated_now: int = 0
    seconds: float = 0.0
    model: str = ""
    published: int = 0
    open311_key: str = ""
    barometer: str = ""


# ---------------------------------------------------------------------------------------------- reference data


def build_city() -> tuple[dict[str, Region], dict[str, Department], dict[str, Category]]:
    """Regions, departments and categories of 江城市 (reused when they already exist, by code)."""
    regions: dict[str, Region] = {}

    def region(code: str, name: str, level: str, parent: Region | None) -> Region:
        obj = Region.objects.filter(code=code).first()
        if obj is None:
            obj = Region.objects.create(code=code, name=name, level=level, parent=parent)
        regions[code] = obj
        return obj

    city_region = region(city.CITY[1], city.CITY[0], Region.Level.CITY, None)
    for name, code, streets, _centre in city.DISTRICTS:
        region(f"jc-{code}", name, Region.Level.DISTRICT, city_region)
        for s, street in enumerate(streets):
            region(f"jc-{code}-{s + 1}", street, Region.Level.STREET, regions[f"jc-{code}"])
    for place in places():
        street_code = place.region_code.rsplit("-", 1)[0]
        region(place.region_code, place.community, Region.Level.COMMUNITY, regions[street_code])

    departments: dict[str, Department] = {}

    def department(code: str, name: str, parent: str | None, approval: bool, where: Region | None) -> None:
        obj = Department.objects.filter(code=code).first()
        if obj is None:
            obj = Department.objects.create(
                code=code,
                name=name,
                parent=departments.get(parent) if parent else None,
                reply_needs_approval=approval,
                region=where,
            )
        departments[code] = obj

    for code, name, parent, approval in city.DEPARTMENTS:
        department(code, name, parent, approval, city_region)
    for name, code, streets, _centre in city.DISTRICTS:
        gov = f"{code}-gov"
        department(gov, f"{name}人民政府", None, False, regions[f"jc-{code}"])
        for k in range(city.STREET_OFFICES_PER_DISTRICT):
            office = streets[k] if streets[k].endswith("镇") else streets[k] + "办事处"
            department(f"{gov}-s{k + 1}", f"{name}{office}", gov, False, regions[f"jc-{code}-{k + 1}"])

    for _name, code, _streets, _centre in city.DISTRICTS:
        for estate in district_estates(code):
            Place.objects.get_or_create(
                region=regions[f"jc-{code}"], name=estate, defaults={"kind": Place.Kind.ESTATE}
            )
    for road in phrases.ROADS:
        Place.objects.get_or_create(region=city_region, name=road, defaults={"kind": Place.Kind.ROAD})

    categories: dict[str, Category] = {}
    for order, spec in enumerate(city.CATEGORIES):
        obj = Category.objects.filter(code=spec.code).first()
        if obj is None:
            obj = Category.objects.create(
                code=spec.code,
                name=spec.name,
                parent=categories.get(spec.parent) if spec.parent else None,
                is_livelihood=spec.livelihood,
                keywords=spec.keywords,
                sort_order=order * 10,
            )
        categories[spec.code] = obj
    # A routing rule per category: its main bureau (street and district offices are left to the dispatcher, and
    # to what history teaches the triage).
    for spec in city.CATEGORIES:
        bureaus = [(weight, code) for code, weight in spec.handlers if code in departments]
        if bureaus:
            RoutingRule.objects.get_or_create(
                category=categories[spec.code],
                region=None,
                defaults={"department": departments[max(bureaus)[1]]},
            )
    return regions, departments, categories


def _department_accounts(departments: dict[str, Department]) -> list[tuple[str, str, str, str]]:
    """The handler and head of every department other than the hotline centre and the main demo bureau."""
    out = []
    for code, dept in departments.items():
        if code in ("hotline", "zjj"):
            continue
        out.append((f"{code}-handler", Role.HANDLER, code, f"{dept.name} 承办人"))
        out.append((f"{code}-head", Role.HEAD, code, f"{dept.name} 负责人"))
    return out


def ensure_accounts(departments: dict[str, Department], password: str) -> tuple[list[Login], int]:
    """Create (or reset) the demo accounts, all with `password`. Returns the main logins and the extra count."""
    group, _created = Group.objects.get_or_create(name=DEMO_GROUP)
    hashed = make_password(password)  # hashed once: argon2 is slow on purpose
    logins = []
    extra = _department_accounts(departments)
    for username, role, code, display in [*MAIN_ACCOUNTS, *extra]:
        user, _created = User.objects.get_or_create(username=username)
        user.display_name = display
        user.password = hashed
        user.is_active = True
        user.is_staff = role == Role.ADMIN
        user.is_superuser = role == Role.ADMIN
        user.save()
        user.groups.add(group)
        Membership.objects.get_or_create(user=user, department=departments[code], role=role)
        if (username, role, code, display) in MAIN_ACCOUNTS:
            logins.append(Login(username, str(role.label), departments[code].name))
    username, display = CITIZEN_ACCOUNT
    citizen, _created = User.objects.get_or_create(username=username)
    citizen.display_name, citizen.password, citizen.is_active = display, hashed, True
    citizen.email = "citizen@example.com"
    citizen.save()
    citizen.groups.add(group)
    logins.append(Login(username, "注册群众", "—"))
    return logins, len(extra)


def demo_users():
    return User.objects.filter(groups__name=DEMO_GROUP).order_by("id")


def reset_passwords(password: str | None = None) -> tuple[str, int]:
    """Give every demo account a new password (random unless given). Returns (password, how many)."""
    password = password or new_password()
    hashed = make_password(password)
    count = demo_users().update(password=hashed)
    return password, count


def password_matches(password: str) -> bool:
    """Whether the demo accounts still have `password` (checked on one account)."""
    user = demo_users().filter(username=MAIN_ACCOUNTS[0][0]).first()
    return bool(user and user.check_password(password))


def new_password() -> str:
    return secrets.token_urlsafe(9)


def main_logins() -> list[Login]:
    users = {u.username: u for u in demo_users().prefetch_related("memberships__department")}
    out = []
    for username, role, _code, _display in MAIN_ACCOUNTS:
        user = users.get(username)
        if user is not None:
            dept = next((m.department.name for m in user.memberships.all()), "—")
            out.append(Login(username, str(role.label), dept))
    if CITIZEN_ACCOUNT[0] in users:
        out.append(Login(CITIZEN_ACCOUNT[0], "注册群众", "—"))
    return out


# ---------------------------------------------------------------------------------------------- running


class _Runner:
    def __init__(self, *, seed: int, now: datetime, departments: dict[str, Department], regions, categories):
        self.rng = random.Random(seed * 7919 + 1)
        self.now = now
        self.departments = departments
        self.regions = regions
        self.categories = categories
        self.errors: list[str] = []
        self.last_at: dict[int, datetime] = {}
        self.is_workday = calendar_is_workday()
        users = {u.username: u for u in User.objects.filter(groups__name=DEMO_GROUP)}
        self.staff = {name: policies.actor_for_user(users[name]) for name, *_rest in MAIN_ACCOUNTS}
        self.citizen_user = users[CITIZEN_ACCOUNT[0]]
        self.citizen_account = policies.actor_for_user(self.citizen_user)
        # the acting handler and head of each department
        self.by_department: dict[int, dict[str, policies.Actor]] = {}
        by_id = {u.pk: u for u in users.values()}
        for membership in Membership.objects.filter(user__in=by_id, role__in=[Role.HANDLER, Role.HEAD]):
            actor = policies.actor_for_user(by_id[membership.user_id])
            self.by_department.setdefault(membership.department_id, {})[membership.role] = actor

    # -- actors

    def actor(self, who: str, case: Case) -> policies.Actor:
        if who == "system":
            return policies.SYSTEM_ACTOR
        if who == "citizen":
            return self.citizen_account if case.submitted_by_id else policies.citizen_actor(case=case)
        if who in ("handler", "head"):
            return self.by_department[case.department_id][who]
        return self.staff[who]

    # -- time

    def at_work(self, when: datetime, who: str) -> datetime:
        """`when`, or the next moment at which `who` is at work (a few minutes into the shift)."""
        if who not in HOURS_BY_ACTOR:
            return when
        windows, working_days_only = HOURS_BY_ACTOR[who]
        local = timezone.localtime(when)
        zone = local.tzinfo
        day: date = local.date()
        for _ in range(40):
            if not working_days_only or self.is_workday(day):
                for start, end in windows:
                    opens = datetime.combine(day, start, tzinfo=zone)
                    closes = datetime.combine(day, end, tzinfo=zone)
                    if local < opens:
                        return opens + timedelta(minutes=self.rng.uniform(0, 50))
                    if local < closes:
                        return local
            day += timedelta(days=1)
            local = datetime.combine(day, time(0, 0), tzinfo=zone)
        return when

    def moment(self, when: datetime, who: str) -> datetime | None:
        """When the step really happens: in working time if that is still in the past; None if in the future."""
        at_work = self.at_work(when, who)
        if at_work <= self.now:
            return at_work
        return when if when <= self.now else None

    # -- one case

    def submit(self, p: CasePlan, created: datetime) -> Case:
        data = {
            "kind": p.kind,
            "priority": p.priority,
            "title": p.title,
            "content": p.content,
            "category": self.categories[p.category].pk,
            "region": self.regions[p.region].pk,
            "address": p.address,
            "latitude": p.latitude,
            "longitude": p.longitude,
            "is_anonymous": p.is_anonymous,
            "contact_name": p.contact.get("name", ""),
            "contact_phone": p.contact.get("phone", ""),
            "contact_email": p.contact.get("email", ""),
        }
        logged_by = self.staff["intake"].user if p.channel in ("phone", "letter", "visit") else None
        submitted_by = self.citizen_user if p.registered else None
        receipt = submission_ingest(
            channel=p.channel,
            data=data,
            files=[],
            submitted_by=submitted_by,
            logged_by=logged_by,
            now=created,
        )
        self.last_at[receipt.case.pk] = created
        triage_case(case_id=receipt.case.pk, now=created)
        return receipt.case

    def transition(self, case: Case, action: str, who: str, when: datetime, note="", data=None) -> Case:
        payload = dict(data or {})
        if action in ("assign",) and isinstance(payload.get("department"), str):
            payload["department"] = self.departments[payload["department"]].pk
        case = services.case_transition(
            case_id=case.pk, action=action, actor=self.actor(who, case), note=note, data=payload, now=when
        )
        if action == CaseAction.ACCEPT and case.category_id:
            # the intake officer checks the category while accepting: what the classifier later learns from
            triage_review(
                case_id=case.pk,
                actor=self.actor(who, case),
                part="category",
                decision="correct",
                correction=Correction(category=case.category_id),
                now=when,
            )
        self.last_at[case.pk] = when
        return case

    def cron(self, case: Case, until: datetime) -> Case:
        """Escalate as the system if the case passed a deadline before `until` (what the cron job does)."""
        if (
            case.status in workflow.CLOCK_RUNNING
            and case.due_at is not None
            and case.due_at < until
            and case.escalated_for_due_at != case.due_at
        ):
            when = case.due_at + timedelta(minutes=self.rng.uniform(3, 15))
            if self.last_at[case.pk] < when < until:
                case = self.transition(case, CaseAction.ESCALATE, "system", when)
        return case

    def run_steps(self, case: Case, steps: list[Step], p: CasePlan) -> Case:
        clock = self.last_at[case.pk]
        for step in steps:
            if step.at == "evaluation_window":
                if case.evaluation_due_at is None:
                    break
                when = case.evaluation_due_at + timedelta(minutes=self.rng.uniform(5, 60))
            else:
                when = clock + timedelta(hours=step.delay)
            when = self.moment(max(when, clock + timedelta(seconds=1)), step.who)
            if when is None:
                break
            case = self.cron(case, when)
            try:
                case = self.transition(case, step.action, step.who, when, note=step.note, data=step.data)
            except DomainError as error:
                self.errors.append(f"plan {p.index} ({p.target}) {step.action}: {error}")
                break
            clock = when
        return case

    def merge(self, p: CasePlan, cases_by_plan: dict[int, Case]) -> None:
        """A repeat of a case that is still open, merged into it by the dispatcher."""
        open_states = {*workflow.OPEN_STATES, CaseStatus.REPLIED}
        horizon = self.now - timedelta(hours=2)
        preferred = cases_by_plan.get(p.duplicate_of) if p.duplicate_of is not None else None
        candidates = [
            c for c in cases_by_plan.values() if c.status in open_states and self.last_at[c.pk] < horizon
        ]
        if preferred is not None and preferred.status in open_states and self.last_at[preferred.pk] < horizon:
            main = preferred
        elif candidates:
            main = self.rng.choice(sorted(candidates, key=lambda c: c.pk))
        else:
            return
        p.title, p.content = near_duplicate(self.rng, main.title, main.content)
        p.category = next(code for code, c in self.categories.items() if c.pk == main.category_id)
        p.region = next(code for code, r in self.regions.items() if r.pk == main.region_id)
        p.kind = main.kind if main.kind != "praise" else "complaint"
        start = self.last_at[main.pk]
        room = (self.now - start).total_seconds() / 3600 - 1
        created = start + timedelta(hours=self.rng.uniform(0.3, max(0.4, min(72, room * 0.7))))
        dup = self.submit(p, created)
        room = (self.now - created).total_seconds() / 3600
        when = created + timedelta(hours=self.rng.uniform(0.1, max(0.2, min(6, room * 0.8))))
        try:
            self.transition(
                dup, CaseAction.MERGE, "dispatcher", when, note=self.rng.choice(phrases.MERGE_NOTES),
                data={"into": main.pk},
            )  # fmt: skip
        except DomainError as error:
            self.errors.append(f"plan {p.index} (merged) merge: {error}")
        self.last_at[main.pk] = max(self.last_at[main.pk], when)


def _first_model(*, now: datetime) -> str:
    """Learn the department fallback and a first classifier from the demo's own closed cases, then triage the
    open cases again with it, so that the workbench shows suggestions. Returns a line for the summary."""
    routing_history_refresh(now=now)
    admin = User.objects.filter(username="admin").first()
    try:
        result = train_from_cases(actor=admin, note="演示数据训练的初始模型", now=now)
    except DomainError as error:
        return f"no model: {error}"
    if result.activated:
        with transaction.atomic():
            for case_id in Case.objects.filter(status__in=workflow.OPEN_STATES).values_list("pk", flat=True):
                triage_case(case_id=case_id, force=True, now=now)
    return (
        f"classifier #{result.version.pk}: macro-F1 {result.metrics.get('macro_f1', 0):.3f} on "
        f"{result.metrics.get('cases', 0)} held-out cases ({'active' if result.activated else 'not activated'})"
    )


@contextmanager
def _disclosure_deferred():
    """While the demo writes its history, the disclosure receivers of case_changed (a publication refresh and a
    feedback invitation per change, at the real clock) stay off: the publications are made once per case at the
    end, at the demo's own clock, and nobody is sent a feedback link for a made-up reply."""
    from minyi.cases.signals import case_changed
    from minyi.disclosure.signals import invite_feedback, refresh_publication

    receivers = [
        (refresh_publication, "minyi.disclosure.refresh_publication"),
        (invite_feedback, "minyi.disclosure.invite_feedback"),
    ]
    for _fn, uid in receivers:
        case_changed.disconnect(dispatch_uid=uid)
    try:
        yield
    finally:
        for fn, uid in receivers:
            case_changed.connect(fn, dispatch_uid=uid)


def _public_side(*, seed: int, now: datetime) -> tuple[int, str]:
    """The public side of the demo: every replied case's publication (normally made after each reply commits;
    the sweep catches any the batches missed), views and "me too" supports on the board, the scoreboard's
    rollups, and an Open311 client whose key is returned (shown once)."""
    from minyi.disclosure.models import Publication, Support
    from minyi.disclosure.publication import refresh_pending
    from minyi.disclosure.scoreboard import rollup_rebuild
    from minyi.intake.open311 import open311_client_create

    refresh_pending(now=now)
    rng = random.Random(seed + 5)
    published = list(
        Publication.objects.filter(state=Publication.State.PUBLISHED).select_related("case").order_by("pk")
    )
    supports = []
    for pub in published:
        # published a few hours after the reply, as a person reviewing the masked copy would
        replied = pub.case.replied_at or pub.received_at
        pub.published_at = min(replied + timedelta(hours=rng.uniform(1, 30)), now)
        pub.view_count = int(rng.paretovariate(1.3) * 20)
        pub.support_count = min(int(rng.paretovariate(1.6)) - 1, 40)
        for n in range(pub.support_count):
            when = (pub.published_at or now) + timedelta(hours=rng.uniform(0, 72))
            supports.append(Support(publication=pub, voter=f"demo-{pub.pk}-{n}", created_at=min(when, now)))
    with transaction.atomic():
        Publication.objects.bulk_update(
            published, ["published_at", "view_count", "support_count"], batch_size=500
        )
        Support.objects.bulk_create(supports, batch_size=1000)
        rollup_rebuild(now=now)
        _client, key = open311_client_create(name="演示应用 Demo app", contact="demo@example.cn")
    return len(published), key


def _barometer_side(*, now: datetime) -> str:
    """The barometer at the demo's clock: its rollups, hot topics, early warnings (the water cut-off of the last
    days), reply quality of any reply not yet scored, and last week's and last month's reports."""
    from minyi.barometer import hot, quality, reports, rollups, warnings

    rollups.rollup_rebuild(now=now)
    run = hot.run_topics(now=now)
    alerts = warnings.run_detection(now=now)
    quality.backfill()
    made = [reports.generate_report(kind, now=now) for kind in ("weekly", "monthly")]
    return (
        f"{run.topics} hot topics from {run.cases} cases, {alerts.get('raised', 0)} early warnings, "
        f"reports: {', '.join(f'{r.period_start}..{r.period_end}' for r in made)}"
    )


def generate(*, seed: int, count: int, now: datetime, password: str, progress=None) -> DemoResult:
    """Build the city, the accounts and `count` cases. E-mail is not sent (dummy backend) while it runs."""
    started = perf_counter()
    with (
        _disclosure_deferred(),
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend", CELERY_TASK_ALWAYS_EAGER=True
        ),
    ):
        with transaction.atomic():
            regions, departments, categories = build_city()
            logins, extra = ensure_accounts(departments, password)
        runner = _Runner(seed=seed, now=now, departments=departments, regions=regions, categories=categories)
        plans = plan(seed=seed, count=count, now=now)
        ordinary = [p for p in plans if p.target != "merged"]
        repeats = [p for p in plans if p.target == "merged"]
        cases_by_plan: dict[int, Case] = {}
        for start in range(0, len(ordinary), BATCH):
            with transaction.atomic():
                for p in ordinary[start : start + BATCH]:
                    channel = "web" if p.channel in ("web", "api", "open311") else p.channel
                    created = runner.moment(p.created_at, "intake" if channel == "phone" else channel)
                    case = runner.submit(p, created or p.created_at)
                    cases_by_plan[p.index] = runner.run_steps(case, p.steps, p)
            if progress:
                progress(min(start + BATCH, len(ordinary)), count)
        with transaction.atomic():
            for p in repeats:
                runner.merge(p, cases_by_plan)
        with transaction.atomic():
            services.cases_close_unrated(now=now)
            escalated = services.cases_mark_overdue(now=now)
        model = _first_model(now=now)
        published, open311_key = _public_side(seed=seed, now=now)
        barometer = _barometer_side(now=now)
    return DemoResult(
        logins=logins,
        extra_accounts=extra,
        cases=Case.objects.count(),
        events=CaseEvent.objects.count(),
        statuses=Counter(Case.objects.values_list("status", flat=True)),
        errors=runner.errors,
        escalated_now=escalated,
        seconds=perf_counter() - started,
        model=model,
        published=published,
        open311_key=open311_key,
        barometer=barometer,
    )
