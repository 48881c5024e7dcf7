"""Hot topics (热点) pages under /staff/barometer/topics/: the ranked list, a topic's page (history, appeals,
events), assignment to a department as one matter, following, and the topic's cases as CSV.

Thin views: visibility from minyi.barometer.policies (a topic out of scope answers 404), the appeals shown again
through the case policy (barometer.policies.visible_cases), writes through minyi.barometer.hot.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from minyi.barometer import hot, policies
from minyi.barometer.models import BarometerSettings, Topic, TopicEvent, TopicMember, TopicRun
from minyi.barometer.views_common import barometer_required, render_barometer
from minyi.cases import policies as case_policies
from minyi.cases.forms import DecodedTextForm, department_choices
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import DomainError, NotFound
from minyi.core.xlsx_stream import stream_csv

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
CASES_PAGE_SIZE = 50
EVENTS_SHOWN = 200

FILTERS = {
    "active": gettext_lazy("当前热点"),
    "followed": gettext_lazy("我关注的"),
    "department": gettext_lazy("交办本部门的"),
    "gone": gettext_lazy("已消退"),
}


# ---------------------------------------------------------------------------------------------- helpers


def _topic_or_404(request: HttpRequest, topic_id: int) -> Topic:
    try:
        return policies.get_topic(request.user, topic_id)
    except NotFound:
        raise Http404 from None


def _growth_text(topic: Topic) -> str:
    if topic.previous == 0:
        return _("新增")
    return f"{topic.growth * 100:+.0f}%"


def _row(topic: Topic, followed: set[int]) -> dict[str, Any]:
    return {
        "topic": topic,
        "trend_label": Topic.Trend(topic.trend).label if topic.trend in Topic.Trend.values else topic.trend,
        "growth_text": _growth_text(topic),
        "heat_text": f"{topic.heat:.1f}",
        "followed": topic.pk in followed,
    }


def _followed_ids(user, topic_ids: list[int]) -> set[int]:
    if not topic_ids:
        return set()
    through = Topic.followers.through
    return set(
        through.objects.filter(user_id=user.pk, topic_id__in=topic_ids).values_list("topic_id", flat=True)
    )


def _last_runs() -> dict[str, Any]:
    last = TopicRun.objects.order_by("-started_at", "-pk").first()
    good = last if last is not None and last.status == TopicRun.Status.OK else None
    if last is not None and good is None:
        good = TopicRun.objects.filter(status=TopicRun.Status.OK).order_by("-started_at", "-pk").first()
    return {"last": last, "good": good, "failed": last is not None and last.status == TopicRun.Status.FAILED}


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=False
    ):
        return target
    return fallback


# ---------------------------------------------------------------------------------------------- the list


@require_GET
@barometer_required
def topics(request: HttpRequest) -> HttpResponse:
    user = request.user
    show = request.GET.get("show", "active")
    if show not in FILTERS:
        show = "active"
    actor = case_policies.actor_for_user(user)
    qs = policies.visible_topics(user).select_related("department")
    if show == "active":
        qs = qs.filter(is_active=True).order_by("rank", "-heat", "pk")
    elif show == "followed":
        qs = qs.filter(followers=user).order_by("-is_active", "rank", "-last_seen_at", "pk")
    elif show == "department":
        if actor.department_ids:
            qs = qs.filter(department_id__in=sorted(actor.department_ids))
        else:
            qs = qs.filter(department__isnull=False)
        qs = qs.order_by("-is_active", "rank", "-assigned_at", "pk")
    else:
        qs = qs.filter(is_active=False).order_by("-last_seen_at", "-pk")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    followed = _followed_ids(user, [t.pk for t in items])
    config = BarometerSettings.get()
    filters = [
        {
            "key": key,
            "label": _("已交办") if key == "department" and not actor.department_ids else label,
            "current": key == show,
        }
        for key, label in FILTERS.items()
    ]
    return render_barometer(
        request,
        "barometer/topics.html",
        {
            "page": page,
            "rows": [_row(t, followed) for t in items],
            "filters": filters,
            "show": show,
            "formula": hot.heat_formula(),
            "window_days": config.topic_window_days,
            "min_size": config.topic_min_size,
            "runs": _last_runs(),
            "scope_all": request.barometer_scope.all,
        },
    )


# ---------------------------------------------------------------------------------------------- one topic


class TopicAssignForm(DecodedTextForm):
    department = forms.TypedChoiceField(label=gettext_lazy("责任部门"), coerce=int)
    note = forms.CharField(
        label=gettext_lazy("交办说明"),
        required=False,
        max_length=hot.NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": hot.NOTE_CHARS}),
    )
    dispatch = forms.BooleanField(label=gettext_lazy("同时派发其中待派单的诉求"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("请选择")), *department_choices()]


def _event_rows(topic: Topic) -> list[dict[str, Any]]:
    rows = []
    events = TopicEvent.objects.filter(topic=topic).select_related("actor").order_by("-created_at", "-id")
    for event in events[:EVENTS_SHOWN]:
        data = event.data or {}
        details = []
        if event.action == "assign":
            details.append(_("责任部门：%(name)s") % {"name": data.get("department_name", "—")})
            if data.get("dispatch"):
                details.append(
                    _("派发待派单诉求 %(n)s 件，跳过 %(skipped)s 件") % {
                        "n": data.get("dispatched", 0), "skipped": data.get("skipped", 0),
                    }
                )  # fmt: skip
                if data.get("remaining"):
                    details.append(_("尚有 %(n)s 件待再次派发") % {"n": data["remaining"]})
        rows.append(
            {
                "label": hot.EVENT_LABELS.get(event.action, event.action),
                "actor": event.actor,
                "at": event.created_at,
                "note": event.note,
                "details": details,
            }
        )
    return rows


def _member_cases(request: HttpRequest, topic: Topic):
    """The topic's cases that the user may open, most representative first."""
    return (
        TopicMember.objects.filter(topic=topic, case__in=policies.visible_cases(request.user).values("pk"))
        .select_related("case", "case__department", "case__region")
        .order_by("position", "pk")
    )


def _render_topic(
    request: HttpRequest,
    topic: Topic,
    *,
    form: TopicAssignForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    page = Paginator(_member_cases(request, topic), CASES_PAGE_SIZE).get_page(request.GET.get("page"))
    total = topic.members.count()
    history = hot.topic_history(topic)
    can_assign = policies.can_assign_topic(user)
    if can_assign and form is None:
        form = TopicAssignForm(initial={"department": topic.department_id or ""})
    followed = topic.followers.filter(pk=user.pk).exists()
    rows = []
    for member in page.object_list:
        case = member.case
        rows.append(
            {
                "case": case,
                "current": member.is_current,
                "status_label": CaseStatus(case.status).label
                if case.status in CaseStatus.values
                else case.status,
            }
        )
    chart = {
        "days": [p["day"] for p in history],
        "series": [
            {"key": "size", "name": _("诉求数"), "values": [p["size"] for p in history]},
            {"key": "heat", "name": _("热度"), "values": [p["heat"] for p in history]},
        ],
        "rank": {"name": _("排名"), "values": [p["rank"] for p in history]},
    }
    return render_barometer(
        request,
        "barometer/topic.html",
        {
            "topic": topic,
            "row": _row(topic, {topic.pk} if followed else set()),
            "followed": followed,
            "followers": topic.followers.count(),
            "history": history,
            "chart": chart,
            "page": page,
            "rows": rows,
            "hidden": max(total - page.paginator.count, 0),
            "events": _event_rows(topic),
            "can_assign": can_assign,
            "form": form,
            "error": error,
            "formula": hot.heat_formula(),
        },
        status=status,
    )


@require_GET
@barometer_required
def topic(request: HttpRequest, topic_id: int) -> HttpResponse:
    return _render_topic(request, _topic_or_404(request, topic_id))


@require_POST
@barometer_required
def topic_assign(request: HttpRequest, topic_id: int) -> HttpResponse:
    item = _topic_or_404(request, topic_id)
    if not policies.can_assign_topic(request.user):
        return render_barometer(request, "403.html", {"message": _("您无权交办热点。")}, status=403)
    form = TopicAssignForm(request.POST)
    if not form.is_valid():
        return _render_topic(request, item, form=form, error=_("请检查交办信息。"), status=400)
    try:
        result = hot.topic_assign(
            topic_id=item.pk,
            user=request.user,
            department_id=form.cleaned_data["department"],
            note=form.cleaned_data["note"],
            dispatch=form.cleaned_data["dispatch"],
        )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return _render_topic(request, item, form=form, error=exc.message, status=exc.status_code)
    department = result.topic.department.name if result.topic.department else ""
    if form.cleaned_data["dispatch"]:
        message = _("已将热点交办给%(dept)s，派发待派单诉求 %(n)s 件，跳过 %(skipped)s 件。") % {
            "dept": department,
            "n": len(result.dispatched),
            "skipped": result.skipped,
        }
        if result.remaining:
            message += _("尚有 %(n)s 件，请再次交办以继续派发。") % {"n": result.remaining}
    else:
        message = _("已将热点交办给%(dept)s。") % {"dept": department}
    messages.success(request, message)
    logger.info(
        "topic %s assigned to department %s by user %s (dispatched %s, skipped %s)",
        item.pk,
        result.topic.department_id,
        request.user.pk,
        len(result.dispatched),
        result.skipped,
    )
    return redirect("barometer:topic", topic_id=item.pk)


@require_POST
@barometer_required
def topic_follow(request: HttpRequest, topic_id: int) -> HttpResponse:
    item = _topic_or_404(request, topic_id)
    try:
        following = hot.topic_follow_toggle(topic_id=item.pk, user=request.user)
    except NotFound:
        raise Http404 from None
    messages.success(
        request, _("已关注该热点，走势上升或进入前 10 名时将通知您。") if following else _("已取消关注。")
    )
    return redirect(_safe_next(request, reverse("barometer:topic", args=[item.pk])))


@require_GET
@barometer_required
def topic_cases(request: HttpRequest, topic_id: int) -> HttpResponse:
    """The topic's cases that the user may open, as CSV (UTF-8 with BOM, formula-guarded)."""
    item = _topic_or_404(request, topic_id)
    header = [
        _("受理编号"), _("标题"), _("状态"), _("诉求类型"), _("区域"), _("承办部门"), _("提交时间"), _("窗口"),
        _("代表性排序"), _("链接"),
    ]  # fmt: skip
    rows = (
        _member_cases(request, item)
        .values_list(
            "case_id",
            "case__tracking_number",
            "case__title",
            "case__status",
            "case__kind",
            "case__region__name",
            "case__department__name",
            "case__created_at",
            "is_current",
            "position",
        )
        .iterator(chunk_size=2000)
    )
    current, previous = _("本期"), _("上期")
    status_labels = dict(CaseStatus.choices)
    from minyi.core.choices import Kind

    kind_labels = dict(Kind.choices)

    def lines():
        for pk, number, title, status, kind, region, department, created, is_current, position in rows:
            yield [
                number,
                title,
                str(status_labels.get(status, status)),
                str(kind_labels.get(kind, kind)),
                region or "",
                department or "",
                timezone.localtime(created),
                current if is_current else previous,
                position + 1,
                request.build_absolute_uri(reverse("cases:detail", args=[pk])),
            ]

    logger.info("topic cases export: user=%s topic=%s", request.user.pk, item.pk)
    response = StreamingHttpResponse(stream_csv(header, lines()), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="minyi-topic-{item.pk}-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns: list = [
    path("topics/", topics, name="topics"),
    path("topics/<int:topic_id>/", topic, name="topic"),
    path("topics/<int:topic_id>/assign/", topic_assign, name="topic_assign"),
    path("topics/<int:topic_id>/follow/", topic_follow, name="topic_follow"),
    path("topics/<int:topic_id>/cases.csv", topic_cases, name="topic_cases"),
]
