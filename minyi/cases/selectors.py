"""Reads of cases, already filtered by visibility (policies.visible_cases) and prefetched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.accounts.models import Department, Region
from minyi.cases import policies, workflow
from minyi.cases.models import Case, CaseEvent, Reply
from minyi.cases.policies import Actor
from minyi.core.exceptions import NotFound
from minyi.routing.models import Category

#: How close a deadline must be for a case to count as "due soon" (the workbench queue and badge).
DUE_SOON = timedelta(days=1)


@dataclass
class CaseFilters:
    status: str | None = None
    kind: str | None = None
    category: int | None = None
    region: int | None = None
    department: int | None = None
    overdue: bool | None = None
    due_soon: bool | None = None
    needs_supervision: bool | None = None
    q: str | None = None
    queue: str | None = None
    channel: str | None = None
    #: received (local date of created_at) on or after / on or before these days
    received_from: date | None = None
    received_to: date | None = None
    #: the barometer's links: category, region and department filters include their sub-trees, and merged cases
    #: are left out (the barometer counts them in their main case)
    tree: bool = False


#: Workbench queues: name -> (label, filter). The policy's visibility is applied first.
QUEUES = {
    "to_accept": (gettext_lazy("待受理"), Q(status=workflow.CaseStatus.SUBMITTED)),
    "to_dispatch": (
        gettext_lazy("待派单"),
        Q(status__in=[workflow.CaseStatus.ACCEPTED, workflow.CaseStatus.RETURNED]),
    ),
    "mine": (
        _("本部门办理中"),
        Q(status__in=[workflow.CaseStatus.ASSIGNED, workflow.CaseStatus.IN_PROGRESS]),
    ),
    "supervision": (
        _("待督办处理"),
        Q(needs_supervision=True)
        | Q(status=workflow.CaseStatus.UNDER_REVIEW)
        | Q(pending_extension_days__gt=0),
    ),
}


def cases_overdue(*, now: datetime | None = None, base: QuerySet[Case] | None = None) -> QuerySet[Case]:
    now = now or timezone.now()
    qs = Case.objects.all() if base is None else base
    return qs.filter(status__in=workflow.CLOCK_RUNNING, due_at__lt=now)


def _subtree(model, pk: int) -> QuerySet:
    """The ids of the node `pk` and its descendants (materialised path prefix), as a subquery."""
    path = model.objects.filter(pk=pk).values_list("path", flat=True).first()
    if path is None:
        return model.objects.none().values("pk")
    return model.objects.filter(path__startswith=path).values("pk")


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def case_list_for_user(
    *, user, filters: CaseFilters | None = None, now: datetime | None = None
) -> QuerySet[Case]:
    filters = filters or CaseFilters()
    now = now or timezone.now()
    qs = policies.visible_cases(user).select_related("category", "region", "department")
    if filters.queue in QUEUES:
        qs = qs.filter(QUEUES[filters.queue][1])
        if filters.queue == "mine":
            actor = policies.actor_for_user(user) if not isinstance(user, Actor) else user
            qs = qs.filter(department_id__in=actor.department_ids)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    for field, model, value in (
        ("category", Category, filters.category),
        ("region", Region, filters.region),
        ("department", Department, filters.department),
    ):
        if value:
            qs = qs.filter(
                **{f"{field}_id__in": _subtree(model, value)} if filters.tree else {f"{field}_id": value}
            )
    if filters.tree:
        qs = qs.exclude(status=workflow.CaseStatus.MERGED)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.received_from:
        qs = qs.filter(created_at__gte=_local_midnight(filters.received_from))
    if filters.received_to:
        qs = qs.filter(created_at__lt=_local_midnight(filters.received_to + timedelta(days=1)))
    if filters.overdue is True:
        qs = cases_overdue(now=now, base=qs)
    elif filters.overdue is False:
        qs = qs.exclude(status__in=workflow.CLOCK_RUNNING, due_at__lt=now)
    if filters.due_soon:
        qs = qs.filter(
            status__in=workflow.CLOCK_RUNNING, due_at__gte=now, due_at__lt=now + timezone.timedelta(days=1)
        )
    if filters.needs_supervision:
        qs = qs.filter(needs_supervision=True)
    if filters.q:
        q = filters.q.strip()[:100]
        if q:
            # A tracking number, or words that must all occur (in the title or the content).
            words = Q()
            for word in q.split()[:10]:
                words &= Q(title__icontains=word) | Q(content__icontains=word)
            qs = qs.filter(Q(tracking_number=q.upper()) | words)
    return qs.order_by("-created_at", "-id")


def case_get_for_user(*, user, case_id: int) -> Case:
    """The case, if `user` may see it; NotFound (404) otherwise."""
    case = (
        policies.visible_cases(user)
        .select_related("category", "region", "department", "merged_into", "duplicate_of")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFound(_("未找到该诉求。"))
    return case


def case_timeline(*, case: Case, public: bool) -> list[CaseEvent]:
    qs = case.events.select_related("actor")
    if public:
        qs = qs.filter(is_public=True)
    return list(qs.order_by("created_at", "id"))


def case_replies(*, case: Case, public: bool) -> list[Reply]:
    qs = case.replies.select_related("department")
    if public:
        qs = qs.filter(state=Reply.State.SENT)
    return list(qs.order_by("created_at", "id"))


def is_due_soon(case: Case, now: datetime | None = None) -> bool:
    """The deadline falls within DUE_SOON from now (and has not passed)."""
    now = now or timezone.now()
    return bool(case.due_at and case.status in workflow.CLOCK_RUNNING and now <= case.due_at < now + DUE_SOON)


def is_overdue(case: Case, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(case.due_at and case.status in workflow.CLOCK_RUNNING and case.due_at < now)


def followed_case(*, case: Case) -> dict | None:
    """For a case merged into another (并案): what the person behind it may see of the main case, which they follow
    from then on — its number, status, department, times and sent replies with personal data masked. Never the
    other person's own words (the main case's title and content)."""
    from minyi.text.pii import mask_pii

    if case.merged_into_id is None:
        return None
    main = Case.objects.select_related("department").filter(pk=case.merged_into_id).first()
    if main is None:
        return None
    return {
        "tracking_number": main.tracking_number,
        "status": main.status,
        "status_label": workflow.CaseStatus(main.status).label,
        "department": main.department.name if main.department_id else None,
        "replied_at": main.replied_at,
        "closed_at": main.closed_at,
        "replies": [
            {
                "text": mask_pii(reply.text),
                "department": reply.department.name if reply.department_id else None,
                "sent_at": reply.sent_at,
                "created_at": reply.created_at,
                "state": reply.state,
            }
            for reply in case_replies(case=main, public=True)
        ],
    }
