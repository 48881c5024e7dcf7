"""The report archive (/staff/barometer/reports/): the weekly and monthly reports, their PDF and XLSX downloads,
and a form to generate one on demand.

Thin views: minyi.barometer.policies decides (``can_view_reports``: the list and downloads; ``can_generate_report``:
the form), minyi.barometer.reports builds. A signed-in person without a barometer gets 403 (barometer_required);
one with a barometer but not the reports, 403 on the list and 404 on a file (a report they may not see); bad
input, 400 with a message.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from minyi.barometer import policies, reports
from minyi.barometer.models import Report
from minyi.barometer.views_common import barometer_required, render_barometer
from minyi.cases.forms import DecodedTextForm
from minyi.core.exceptions import DomainError

logger = logging.getLogger(__name__)

TEMPLATE = "barometer/reports.html"
PAGE_SIZE = 20
FORMATS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Largest id a database column holds: anything above is unknown without asking the database.
MAX_ID = 2**63 - 1


class ReportGenerateForm(DecodedTextForm):
    kind = forms.ChoiceField(label=gettext_lazy("报告类型"), choices=Report.Kind.choices)
    period = forms.CharField(
        label=gettext_lazy("统计期"),
        required=False,
        max_length=reports.MAX_PERIOD_CHARS,
        help_text=gettext_lazy(
            "周报填 ISO 周，如 2026-W48；月报填年月，如 2026-11。留空为上一个完整的周或月。"
        ),
        widget=forms.TextInput(
            attrs={"maxlength": reports.MAX_PERIOD_CHARS, "placeholder": "2026-W48 / 2026-11"}
        ),
    )


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def _rows(page) -> list[dict[str, Any]]:
    rows = []
    for report in page:
        summary = report.summary if isinstance(report.summary, dict) else {}
        figures = summary.get("figures") if isinstance(summary.get("figures"), dict) else {}
        rows.append(
            {
                "report": report,
                "title": reports.report_title(report.kind, report.period_start),
                "key": reports.period_key(report.kind, report.period_start),
                "received": figures.get("received"),
                "empty": bool(summary.get("empty")),
                "has_pdf": bool(report.pdf.name),
                "has_xlsx": bool(report.xlsx.name),
            }
        )
    return rows


def _list_page(
    request: HttpRequest, *, form: ReportGenerateForm | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    kind = request.GET.get("kind", "")
    kind = kind if kind in reports.KINDS else ""
    queryset = Report.objects.select_related("generated_by").order_by("-period_start", "kind", "-pk")
    if kind:
        queryset = queryset.filter(kind=kind)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    can_generate = policies.can_generate_report(request.user)
    if form is None and can_generate:
        form = ReportGenerateForm(initial={"kind": Report.Kind.WEEKLY})
    context = {
        "page": page,
        "rows": _rows(page),
        "kind": kind,
        "kinds": Report.Kind.choices,
        "form": form if can_generate else None,
        "error": error,
    }
    return render_barometer(request, TEMPLATE, context, status=status)


@require_GET
@barometer_required
def report_list(request: HttpRequest) -> HttpResponse:
    if not policies.can_view_reports(request.user):
        return _forbidden(request, _("您没有查看分析报告的权限。"))
    return _list_page(request)


@require_POST
@barometer_required
def report_generate(request: HttpRequest) -> HttpResponse:
    if not policies.can_generate_report(request.user):
        return _forbidden(request, _("您没有生成分析报告的权限。"))
    form = ReportGenerateForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form=form, status=400)
    kind = form.cleaned_data["kind"]
    try:
        start, _end = reports.report_period(kind, form.cleaned_data["period"])
        report = reports.generate_report(kind, start, user=request.user)
    except DomainError as exc:
        form.add_error("period", exc.message)
        return _list_page(request, form=form, status=exc.status_code)
    except OSError:
        logger.exception("report %s could not be stored", kind)
        return _list_page(request, form=form, error=_("报告文件保存失败，请稍后再试。"), status=503)
    messages.success(
        request, _("已生成%(title)s。") % {"title": reports.report_title(report.kind, report.period_start)}
    )
    return redirect("barometer:reports")


@require_GET
@barometer_required
def report_download(request: HttpRequest, report_id: int, fmt: str) -> FileResponse:
    if fmt not in FORMATS or not 0 < report_id <= MAX_ID or not policies.can_view_reports(request.user):
        raise Http404
    report = Report.objects.filter(pk=report_id).first()
    field = getattr(report, fmt, None) if report is not None else None
    if field is None or not field.name:
        raise Http404
    try:
        handle = field.open("rb")
    except (FileNotFoundError, OSError):
        # The row outlived its file (a restore without media, a storage outage): say so, do not crash.
        logger.warning("report %s: stored %s file missing", report.pk, fmt)
        raise Http404 from None
    response = FileResponse(handle, content_type=FORMATS[fmt])
    name = reports.download_name(report, fmt)
    response["Content-Disposition"] = (
        f"attachment; filename=\"{reports.ascii_name(report, fmt)}\"; filename*=UTF-8''{quote(name, safe='')}"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns = [
    path("reports/", report_list, name="reports"),
    path("reports/generate/", report_generate, name="report_generate"),
    path("reports/<int:report_id>.<str:fmt>", report_download, name="report_download"),
]
