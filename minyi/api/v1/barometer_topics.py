"""/api/v1/barometer/topics… (barometer: hot topics (staff)): the hot topics the caller may see, ranked by heat, and
one topic with its daily history, the appeals the caller may open and its events.

Transport only: visibility from minyi.barometer.policies (a topic out of scope is 404; no barometer is 403); the
figures are those of the last run of the topics job (minyi.barometer.hot). Heat is documented in `heat_formula`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from minyi.api.auth import TokenAuth, staff_actor
from minyi.api.v1.schemas import Choice, ErrorOut
from minyi.barometer import hot, policies
from minyi.barometer.models import Topic, TopicEvent, TopicMember
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import ValidationFailed
from minyi.text import topics as mining

router = Router(tags=["barometer: hot topics (staff)"], auth=TokenAuth())

MAX_LIMIT = 200
#: Appeals listed in one topic's answer (most representative first).
MAX_CASES = 500
SHOW = ("active", "gone", "followed", "department", "all")
_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


class TopicListQuery(Schema):
    show: str | None = Field(
        None,
        description="active (the default: the topics of the last run, by rank), gone, followed (by the caller), "
        "department (assigned to the caller's departments; for a caller without one, assigned at all), or all",
    )
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000)


class Ref(Schema):
    id: int
    name: str


class HeatFormula(Schema):
    formula: str = Field(..., description="the formula in words, in the request's language")
    weights: dict[str, float] = Field(..., description="minyi.text.topics.HEAT_WEIGHTS")
    growth: str


class TopicItem(Schema):
    id: int
    rank: int | None = Field(..., description="1 = hottest; null for a topic no longer active")
    label: str
    keywords: list[str]
    title: str = Field(..., description="the representative appeal's title")
    size: int = Field(..., description="appeals in the current window")
    previous: int = Field(..., description="appeals in the window before")
    people: int
    supports: int
    regions: int
    growth: float = Field(..., description="(size - previous) / max(previous, 1)")
    heat: float
    trend: Choice = Field(..., description="new, rising, steady, fading or gone")
    is_active: bool
    department: Ref | None = Field(..., description="the department the topic is assigned to, as one matter")
    assigned_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    followed: bool
    url: str


class TopicListOut(Schema):
    items: list[TopicItem]
    count: int
    limit: int
    offset: int
    heat_formula: HeatFormula


class TopicPoint(Schema):
    day: str = Field(..., description="local date; the day's last run")
    size: int
    heat: float
    rank: int | None
    trend: str


class TopicCaseOut(Schema):
    id: int
    tracking_number: str
    title: str
    received_at: datetime
    status: Choice
    department_id: int | None
    current: bool = Field(..., description="received in the current window (else the window before)")


class TopicEventOut(Schema):
    action: str
    label: str
    actor: str | None
    note: str
    data: dict[str, Any]
    created_at: datetime


class TopicDetailOut(TopicItem):
    followers: int
    history: list[TopicPoint]
    cases: list[TopicCaseOut]
    cases_total: int
    cases_hidden: int = Field(..., description="members the caller may not open")
    events: list[TopicEventOut]


def _scope(request: HttpRequest) -> None:
    staff_actor(request)
    policies.require_barometer(request.auth)


def _item(topic: Topic, followed: set[int]) -> dict[str, Any]:
    trend = topic.trend
    return {
        "id": topic.pk,
        "rank": topic.rank if topic.is_active else None,
        "label": topic.label,
        "keywords": [str(k) for k in topic.keywords or []],
        "title": topic.title,
        "size": topic.size,
        "previous": topic.previous,
        "people": topic.people,
        "supports": topic.supports,
        "regions": topic.regions,
        "growth": topic.growth,
        "heat": topic.heat,
        "trend": {
            "value": trend,
            "label": str(Topic.Trend(trend).label) if trend in Topic.Trend.values else trend,
        },
        "is_active": topic.is_active,
        "department": {"id": topic.department_id, "name": topic.department.name}
        if topic.department_id
        else None,
        "assigned_at": topic.assigned_at,
        "first_seen_at": topic.first_seen_at,
        "last_seen_at": topic.last_seen_at,
        "window_start": topic.window_start,
        "window_end": topic.window_end,
        "followed": topic.pk in followed,
        "url": reverse("barometer:topic", kwargs={"topic_id": topic.pk}),
    }


def _followed(user, ids: list[int]) -> set[int]:
    through = Topic.followers.through
    return set(through.objects.filter(user_id=user.pk, topic_id__in=ids).values_list("topic_id", flat=True))


@router.get(
    "/barometer/topics",
    response={200: TopicListOut, **_ERRORS},
    url_name="barometer_topic_list",
    summary="List the hot topics the caller may see (hottest first)",
)
def list_topics(request: HttpRequest, filters: Query[TopicListQuery]):
    """A department's head or handler sees the topics assigned to their departments or holding one of their
    cases. `limit` is capped at 200."""
    _scope(request)
    user = request.auth
    show = filters.show or "active"
    if show not in SHOW:
        raise ValidationFailed(
            _("筛选条件“%(field)s”的值“%(value)s”无效。") % {"field": "show", "value": show[:40]},
            fields={"show": _("无效")},
        )
    qs = policies.visible_topics(user).select_related("department")
    if show == "active":
        qs = qs.filter(is_active=True).order_by("rank", "-heat", "pk")
    elif show == "gone":
        qs = qs.filter(is_active=False).order_by("-last_seen_at", "-pk")
    elif show == "followed":
        qs = qs.filter(followers=user).order_by("-is_active", "rank", "-last_seen_at", "pk")
    elif show == "department":
        actor = staff_actor(request)
        if actor.department_ids:
            qs = qs.filter(department_id__in=sorted(actor.department_ids))
        else:
            qs = qs.filter(department__isnull=False)
        qs = qs.order_by("-is_active", "rank", "-assigned_at", "pk")
    else:
        qs = qs.order_by("-is_active", "rank", "-last_seen_at", "-pk")
    limit = min(filters.limit, MAX_LIMIT)
    page = list(qs[filters.offset : filters.offset + limit])
    count = len(page) if filters.offset == 0 and len(page) < limit else qs.count()
    followed = _followed(user, [t.pk for t in page])
    formula = hot.heat_formula()
    return {
        "items": [_item(t, followed) for t in page],
        "count": count,
        "limit": limit,
        "offset": filters.offset,
        "heat_formula": {
            "formula": formula["text"],
            "weights": dict(mining.HEAT_WEIGHTS),
            "growth": formula["growth"],
        },
    }


@router.get(
    "/barometer/topics/{topic_id}",
    response={200: TopicDetailOut, **_ERRORS},
    url_name="barometer_topic_detail",
    summary="One hot topic: daily history, the appeals the caller may open, events",
)
def get_topic(request: HttpRequest, topic_id: int):
    """`cases` lists at most 500 appeals, most representative first; `cases_hidden` counts the members outside
    the caller's view of cases."""
    _scope(request)
    user = request.auth
    topic = policies.get_topic(user, topic_id)
    visible = (
        TopicMember.objects.filter(topic=topic, case__in=policies.visible_cases(user).values("pk"))
        .select_related("case")
        .order_by("position", "pk")
    )
    members = list(visible[:MAX_CASES])
    visible_count = len(members) if len(members) < MAX_CASES else visible.count()
    total = topic.members.count()
    events = TopicEvent.objects.filter(topic=topic).select_related("actor").order_by("created_at", "id")
    return {
        **_item(topic, _followed(user, [topic.pk])),
        "followers": topic.followers.count(),
        "history": [
            {"day": p["day"], "size": p["size"], "heat": p["heat"], "rank": p["rank"], "trend": p["trend"]}
            for p in hot.topic_history(topic)
        ],
        "cases": [
            {
                "id": m.case.pk,
                "tracking_number": m.case.tracking_number,
                "title": m.case.title,
                "received_at": m.case.created_at,
                "status": {"value": m.case.status, "label": str(CaseStatus(m.case.status).label)},
                "department_id": m.case.department_id,
                "current": m.is_current,
            }
            for m in members
        ],
        "cases_total": total,
        "cases_hidden": max(total - visible_count, 0),
        "events": [
            {
                "action": e.action,
                "label": str(hot.EVENT_LABELS.get(e.action, e.action)),
                "actor": str(e.actor) if e.actor_id else None,
                "note": e.note,
                "data": e.data if isinstance(e.data, dict) else {},
                "created_at": e.created_at,
            }
            for e in events[:500]
        ],
    }
