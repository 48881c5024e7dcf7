"""The early warnings' staff pages (预警): the list, one alert (its chart, reasons, appeals and events), the
actions on it (acknowledge, close, reopen) and the CSV of the appeals behind it.

Thin views: the alerts come from minyi.barometer.policies (an alert out of scope answers 404), the rules and the
writes from minyi.barometer.warnings; the appeals are filtered again by the case policy.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from minyi.barometer import policies, warnings
from minyi.barometer.models import Alert
from minyi.barometer.views_common import barometer_required, render_barometer
from minyi.cases.views import ACTOR_ROLE_LABELS, role_label, status_label
from minyi.core.exceptions import DomainError, Forbidden, NotFound
from minyi.core.xlsx_stream import stream_csv

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
#: Appeals listed on the alert's page (the CSV has them all).
PAGE_CASES = 200

STATE_CHOICES = [
    (warnings.ACTIVE, gettext_lazy("未关闭")),
    *Alert.State.choices,
    ("all", gettext_lazy("全部")),
]


class AlertFilterForm(forms.Form):
    level = forms.ChoiceField(
        label=gettext_lazy("级别"), required=False, choices=[("", gettext_lazy("全部")), *Alert.Level.choices]
    )
    state = forms.ChoiceField(label=gettext_lazy("状态"), required=False, choices=STATE_CHOICES)
    source = forms.ChoiceField(
        label=gettext_lazy("来源"),
        required=False,
        choices=[("", gettext_lazy("全部")), *Alert.Source.choices],
    )

    def filters(self) -> dict[str, str | None]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        state = data.get("state") or warnings.ACTIVE
        return {
            "level": data.get("level") or None,
            "state": None if state == "all" else state,
            "source": data.get("source") or None,
        }


class AlertNoteForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("说明"),
        required=False,
        max_length=warnings.MAX_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].required = required
        if required:
            self.fields["note"].error_messages["required"] = _("请填写处置说明。")


def _get_alert_or_404(request: HttpRequest, alert_id: int) -> Alert:
    try:
        return policies.get_alert(request.user, alert_id)
    except NotFound:
        raise Http404 from None


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


# ---------------------------------------------------------------------------------------------- list


@require_GET
@barometer_required
def alerts(request: HttpRequest) -> HttpResponse:
    form = AlertFilterForm(request.GET or None)
    status = 200
    if form.is_bound and not form.is_valid():
        messages.error(request, _("筛选条件有误，已按默认条件显示。"))
        status = 400
    filters = form.filters()
    qs = warnings.alert_list(request.user, **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = warnings.level_counts(request.user, state=filters["state"], source=filters["source"])
    levels = [
        {"value": value, "label": warnings.level_label(value), "count": counts.get(value, 0)}
        for value in reversed(warnings.LEVEL_ORDER)
    ]
    rows = [{"alert": a, "reasons": warnings.reason_texts(a.reasons)} for a in page.object_list]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "levels": levels,
        "filters": filters,
    }
    return render_barometer(request, "barometer/alerts.html", context, status=status)


# ---------------------------------------------------------------------------------------------- one alert


def _event_rows(alert: Alert) -> list[dict[str, Any]]:
    rows = []
    for event in warnings.alert_events(alert):
        role = event.actor_role
        rows.append(
            {
                "label": warnings.ACTION_LABELS.get(event.action, event.action),
                "at": event.created_at,
                "actor": event.actor,
                "role_label": ACTOR_ROLE_LABELS.get(role) or role_label(role) if role else "",
                "details": warnings.event_details(event),
                "note": event.note,
                "public": True,
            }
        )
    return rows


def _chart(alert: Alert) -> dict[str, Any] | None:
    points = warnings.alert_series(alert)
    if not points:
        return None
    return {
        "days": [p["day"] for p in points],
        "counts": [p["count"] for p in points],
        "baseline": [p["baseline"] for p in points],
        "threshold": [p["threshold"] for p in points],
        "surge": [p["surge"] for p in points],
        "start": alert.start.isoformat(),
        "end": alert.end.isoformat(),
        "names": {
            "count": _("每日件数"),
            "baseline": _("基线（日均）"),
            "threshold": _("报警线（日均）"),
            "surge": _("突增期间"),
        },
    }


def _detail_context(request: HttpRequest, alert: Alert, **extra: Any) -> dict[str, Any]:
    user = request.user
    visible = warnings.alert_cases(user, alert)
    shown = list(visible[:PAGE_CASES])
    total = alert.alert_cases.count()
    visible_count = len(shown) if len(shown) < PAGE_CASES else visible.count()
    actions = [
        {
            "action": action,
            "label": warnings.STAFF_ACTION_LABELS[action],
            "form": extra.get("bound", {}).get(action)
            or AlertNoteForm(required=action in warnings.NOTE_REQUIRED),
            "required": action in warnings.NOTE_REQUIRED,
        }
        for action in warnings.allowed_actions(user, alert)
    ]
    chart = _chart(alert)
    return {
        "alert": alert,
        "reasons": warnings.reason_texts(alert.reasons),
        "chart": chart,
        "points": list(
            zip(
                chart["days"],
                chart["counts"],
                chart["baseline"],
                chart["threshold"],
                chart["surge"],
                strict=True,
            )
        )
        if chart
        else [],
        "cases": [{"case": c, "status_label": status_label(c.status)} for c in shown],
        "cases_total": total,
        "cases_visible": visible_count,
        "cases_hidden": max(total - visible_count, 0),
        "events": _event_rows(alert),
        "actions": actions,
        "error": extra.get("error"),
    }


@require_GET
@barometer_required
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _get_alert_or_404(request, alert_id)
    return render_barometer(request, "barometer/alert.html", _detail_context(request, alert))


@require_POST
@barometer_required
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    alert = _get_alert_or_404(request, alert_id)
    if action not in warnings.TRANSITIONS:
        raise Http404
    if not warnings.permitted(request.user, action, alert):
        return _forbidden(request, warnings.refusal(action))
    form = AlertNoteForm(request.POST, required=action in warnings.NOTE_REQUIRED)
    if not form.is_valid():
        context = _detail_context(request, alert, bound={action: form}, error=_("操作未完成：请按提示修改。"))
        return render_barometer(request, "barometer/alert.html", context, status=400)
    try:
        warnings.alert_act(alert=alert, actor=request.user, action=action, note=form.cleaned_data["note"])
    except Forbidden as exc:
        return _forbidden(request, exc.message)
    except DomainError as exc:
        alert.refresh_from_db()
        for field, message in exc.fields.items():
            if field == "note":
                form.add_error("note", message)
        context = _detail_context(request, alert, bound={action: form}, error=exc.message)
        return render_barometer(request, "barometer/alert.html", context, status=exc.status_code)
    messages.success(request, _("已%(action)s这条预警。") % {"action": warnings.STAFF_ACTION_LABELS[action]})
    return redirect("barometer:alert", alert_id=alert.pk)


@require_GET
@barometer_required
def alert_cases_csv(request: HttpRequest, alert_id: int) -> HttpResponse:
    """The appeals behind the alert that the user may open, as CSV."""
    alert = _get_alert_or_404(request, alert_id)
    header = [
        _("受理编号"),
        _("提交时间"),
        _("标题"),
        _("分类"),
        _("区域"),
        _("承办部门"),
        _("状态"),
        _("风险等级"),
        _("风险分"),
    ]

    def rows():
        for case in warnings.alert_cases(request.user, alert).iterator(chunk_size=1000):
            triage = getattr(case, "triage", None)
            yield [
                case.tracking_number,
                timezone.localtime(case.created_at).replace(tzinfo=None),
                case.title,
                case.category.name if case.category else "",
                case.region.name if case.region else "",
                case.department.name if case.department else "",
                status_label(case.status),
                triage.get_risk_level_display() if triage else "",
                triage.risk_score if triage else "",
            ]

    logger.info("alert cases export: user=%s alert=%s", request.user.pk, alert.pk)
    response = StreamingHttpResponse(stream_csv(header, rows()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="minyi-alert-{alert.pk}-cases.csv"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns: list = [
    path("alerts/", alerts, name="alerts"),
    path("alerts/<int:alert_id>/", alert_detail, name="alert"),
    path("alerts/<int:alert_id>/cases.csv", alert_cases_csv, name="alert_cases"),
    path("alerts/<int:alert_id>/<slug:action>/", alert_action, name="alert_action"),
]
