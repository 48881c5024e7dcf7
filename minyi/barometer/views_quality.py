"""Reply quality pages (答复质量): per department over a period, one reply's panel, and the check of a draft.

- ``barometer:quality`` /staff/barometer/quality/ : per department in the user's barometer scope
  (minyi.barometer.policies), the replies sent in the period (?period=2026-03 | 2026-Q1 | 2026, or ?from=&to=;
  default the last 30 days): count, mean score, the share below 60, each part's mean and the commonest problems;
  and the lowest-scoring replies whose cases the user may open. A malformed period answers 400 with the message.
- ``barometer:reply_quality`` /staff/barometer/quality/reply/<id>/ : the htmx panel of one reply (score, parts,
  reasons in Chinese). A sent reply shows its stored score (scored now if it has none); a pending one is scored
  as if sent now, so the head sees it before approving. 404 when the user may not see the case.
- ``barometer:quality_check`` POST /staff/barometer/quality/check/<case_id>/ : the panel for the draft text of the
  reply form (field ``text``; an empty text on the approval form means the pending reply's). Nothing is stored.
  404 when the user may not see the case; 400 with a message for a text that is missing, too long or not UTF-8.

The panel and the check answer any staff member who may see the case (the case policy), as the case page does;
the department page needs a barometer scope (403 with a message otherwise).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from minyi.barometer import dashboard as dash
from minyi.barometer import policies
from minyi.barometer import quality as q
from minyi.barometer.views_common import barometer_required, render_barometer
from minyi.cases.forms import DecodedTextForm
from minyi.cases.models import Reply
from minyi.cases.views import get_case_or_404, is_htmx, render_staff, staff_required
from minyi.disclosure import scoreboard as score
from minyi.text.quality import QUALITY_VERSION

PICKER_FIELDS = ("period", "from", "to")
PANEL_TEMPLATE = "barometer/quality_panel.html"
PANEL_PAGE_TEMPLATE = "barometer/quality_reply.html"
LOWEST = 20


class DraftForm(DecodedTextForm):
    text = forms.CharField(
        label=gettext_lazy("答复内容"),
        required=False,
        max_length=settings.MINYI_MAX_CONTENT_CHARS,
        strip=True,
        error_messages={"max_length": gettext_lazy("答复内容过长，最多 %(limit_value)d 字。")},
    )


def _level(value: int | None) -> str:
    if value is None:
        return "none"
    return "good" if value >= 80 else "fair" if value >= q.LOW_SCORE else "low"


def _panel_context(*, score_value: int, parts: Any, reasons: Any, **extra: Any) -> dict[str, Any]:
    return {
        "score": score_value,
        "level": _level(score_value),
        "parts": q.parts_view(parts),
        "reasons": q.reasons_view(reasons),
        "low_score": q.LOW_SCORE,
        **extra,
    }


def _render_panel(request: HttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    if is_htmx(request):
        return render(request, PANEL_TEMPLATE, context, status=status)
    return render_staff(request, PANEL_PAGE_TEMPLATE, context, status=status)


# ---------------------------------------------------------------------------------------------- department page


def _picker(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "")[: dash.MAX_PARAM_CHARS] for name in PICKER_FIELDS}


def _period(request: HttpRequest) -> tuple[score.Period, bool]:
    """The chosen period, or the last DEFAULT_DAYS days (True: the default)."""
    values = {name: request.GET.get(name) for name in PICKER_FIELDS}
    if not any((v or "").strip() for v in values.values()):
        return dash.default_period(), True
    return score.parse_period(period=values["period"], date_from=values["from"], date_to=values["to"]), False


def _department_row(row: q.DepartmentQuality) -> dict[str, Any]:
    return {
        "name": row.name,
        "count": row.count,
        "mean": row.mean,
        "level": _level(round(row.mean)),
        "low": row.low,
        "low_share": round(100 * row.low_share),
        "parts": [
            {"key": key, "value": None if value is None else round(100 * value)}
            for key, value in row.parts.items()
        ],
        "bad_reasons": [{"label": q.reason_title(code), "count": count} for code, count in row.bad_reasons],
    }


@require_GET
@barometer_required
def quality_page(request: HttpRequest) -> HttpResponse:
    scope = request.barometer_scope
    context: dict[str, Any] = {
        "picker": _picker(request),
        "periods": score.period_options(),
        "weights": q.weights_view(),
        "part_labels": [q.part_label(key) for key in q.PARTS],
        "low_score": q.LOW_SCORE,
        "version": QUALITY_VERSION,
        "scope_all": scope.all,
    }
    try:
        period, default = _period(request)
    except score.PeriodError as exc:
        context["error_message"] = exc.message
        return render_barometer(request, "barometer/quality.html", context, status=400)
    rows = q.department_quality(scope, period.start, period.end)
    overall = q.overall_quality(rows)
    visible = policies.visible_cases(request.user).values("pk")
    lowest = q.lowest_replies(scope, period.start, period.end, case_ids_visible=visible, limit=LOWEST)
    if default:
        context["picker"].update({"from": period.start.isoformat(), "to": period.end.isoformat()})
    context.update(
        {
            "period": period,
            "period_label": _("近 %(n)s 天") % {"n": dash.DEFAULT_DAYS} if default else period.label(),
            "rows": [_department_row(r) for r in rows],
            "overall": _department_row(overall) if overall else None,
            "lowest": [
                {
                    "case": row.case,
                    "reply_id": row.reply_id,
                    "score": row.score,
                    "level": _level(row.score),
                    "sent_at": row.reply.sent_at,
                    "problems": [r["label"] for r in q.reasons_view(row.reasons) if r["severity"] == "bad"][
                        :3
                    ],
                }
                for row in lowest
            ],
        }
    )
    return render_barometer(request, "barometer/quality.html", context)


# ---------------------------------------------------------------------------------------------- one reply's panel


@require_GET
@never_cache
@staff_required
def reply_quality(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = Reply.objects.filter(pk=reply_id).only("pk", "case_id").first()
    if reply is None:
        raise Http404
    case = get_case_or_404(request, reply.case_id)
    reply = Reply.objects.select_related("case", "department").get(pk=reply.pk)
    if reply.state == Reply.State.SENT:
        row = q.stored_quality(reply)
    else:
        row = None
    if row is not None:
        context = _panel_context(
            score_value=row.score, parts=row.parts, reasons=row.reasons, computed_at=row.computed_at
        )
    else:
        quality = q.score_draft(case, reply.text)
        context = _panel_context(
            score_value=quality.score, parts=quality.parts, reasons=quality.reasons, draft=True
        )
    context.update(
        {
            "case": case,
            "reply": reply,
            "pending": reply.state == Reply.State.PENDING,
            "panel_id": f"reply-quality-{reply.pk}",
        }
    )
    return _render_panel(request, context)


# ---------------------------------------------------------------------------------------------- a draft


@require_POST
@never_cache
@staff_required
def quality_check(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    form = DraftForm(request.POST)
    base = {"case": case, "panel_id": "quality-check", "draft": True, "check": True}
    if not form.is_valid():
        errors = [str(e) for errs in form.errors.values() for e in errs]
        return _render_panel(
            request, {**base, "error_message": errors[0] if errors else _("内容有误。")}, status=400
        )
    text = form.cleaned_data["text"]
    if not text:
        pending = case.replies.filter(state=Reply.State.PENDING).only("text").first()
        text = pending.text if pending is not None else ""
    if not text.strip():
        return _render_panel(request, {**base, "error_message": _("请先填写答复内容。")}, status=400)
    quality = q.score_draft(case, text)
    context = _panel_context(score_value=quality.score, parts=quality.parts, reasons=quality.reasons, **base)
    return _render_panel(request, context)


urlpatterns = [
    path("quality/", quality_page, name="quality"),
    path("quality/reply/<int:reply_id>/", reply_quality, name="reply_quality"),
    path("quality/check/<int:case_id>/", quality_check, name="quality_check"),
]
