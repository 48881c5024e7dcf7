"""The barometer's dashboard page (/staff/barometer/) and each chart's data as JSON and CSV
(/staff/barometer/chart/<name>.json|.csv), under the same filters as the page.

Thin views: the scope comes from minyi.barometer.policies (barometer_required), the figures from
minyi.barometer.dashboard (rollups only, never the cases table). A malformed or unknown filter answers 400 with the
message (the page with its form, or the error shape in JSON, or plain text for CSV).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from minyi.barometer import dashboard as dash
from minyi.barometer.views_common import barometer_required, render_barometer
from minyi.core.choices import Channel
from minyi.core.xlsx_stream import stream_csv
from minyi.disclosure import scoreboard as score

PICKER_FIELDS = ("period", "from", "to", "category", "region", "channel")


def _picker(request: HttpRequest) -> dict[str, str]:
    """What the person chose, echoed back into the form (auto-escaped; cut to the parameter limit)."""
    return {name: request.GET.get(name, "")[: dash.MAX_PARAM_CHARS] for name in PICKER_FIELDS}


def _options(found: dash.Trees) -> dict[str, Any]:
    def tree(kind: str) -> list[tuple[str, str]]:
        return [(str(node.id), f"{'　' * node.depth}{node.name}") for node in found.ordered(kind)]

    return {
        "periods": score.period_options(),
        "categories": tree("categories"),
        "regions": tree("regions"),
        "channels": [(value, str(label)) for value, label in Channel.choices],
    }


def _scope_label(scope, found: dash.Trees) -> str:
    if scope.all:
        return _("全部诉求")
    tops = [
        node
        for node_id in sorted(scope.department_ids)
        if (node := found.departments.get(node_id)) is not None
        and (node.parent_id is None or node.parent_id not in scope.department_ids)
    ]
    return _("本部门及下属部门：%(names)s") % {"names": "、".join(node.name for node in tops)}


def _data_links(name: str, filters: dash.Filters) -> dict[str, str]:
    query = urlencode(filters.query())
    suffix = f"?{query}" if query else ""
    return {
        fmt: reverse("barometer:chart", kwargs={"name": name, "fmt": fmt}) + suffix for fmt in ("json", "csv")
    }


def _display(chart: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a chart's table as text cells (the first cell carries the row's workbench link)."""
    out = []
    for row in chart["rows"]:
        cells = [
            {"text": dash.cell_text(row.get(column["key"]), column["kind"]), "kind": column["kind"]}
            for column in chart["columns"]
        ]
        out.append(
            {
                "cells": cells,
                "url": row.get("url"),
                "extra_url": row.get("open_overdue_url"),
                "gap": bool(row.get("gap")),
                "livelihood": bool(row.get("livelihood")),
            }
        )
    return out


@require_GET
@barometer_required
def dashboard(request: HttpRequest) -> HttpResponse:
    scope = request.barometer_scope
    found = dash.trees()
    context: dict[str, Any] = {
        "picker": _picker(request),
        "options": _options(found),
        "scope_label": _scope_label(scope, found),
    }
    try:
        filters = dash.parse_filters(request.GET)
    except dash.FilterError as exc:
        context["error_message"] = exc.message
        return render_barometer(request, "barometer/dashboard.html", context, status=400)
    figs = dash.figures(filters, scope)
    charts = dash.charts(figs, filters, found=found)
    panels = [
        {**charts[name], "table": _display(charts[name]), "links": _data_links(name, filters)}
        for name in dash.CHARTS
    ]
    if not any(context["picker"][name] for name in ("period", "from", "to")):
        if filters.default_period:
            context["picker"]["from"] = filters.period.start.isoformat()
            context["picker"]["to"] = filters.period.end.isoformat()
        else:
            context["picker"]["period"] = filters.period.key
    context["picker"]["category"] = str(filters.category or "")
    context["picker"]["region"] = str(filters.region or "")
    context["picker"]["channel"] = filters.channel or ""
    api_query = urlencode(filters.query())
    context.update(
        {
            "filters": filters,
            "period_label": _("近 %(n)s 天") % {"n": dash.DEFAULT_DAYS}
            if filters.default_period
            else filters.period.label(),
            "figures": figs,
            "cards": dash.headline(figs),
            "panels": panels,
            "empty": figs["totals"]["received"] == 0,
            "cases_url": charts["volume"]["cases_url"],
            "api_url": reverse("api-v1:barometer_dashboard") + (f"?{api_query}" if api_query else ""),
            "plots": {
                name: {
                    "type": charts[name]["type"],
                    "title": charts[name]["title"],
                    "empty": charts[name]["empty"],
                    **charts[name]["plot"],
                }
                for name in dash.CHARTS
            },
        }
    )
    return render_barometer(request, "barometer/dashboard.html", context)


def _refused(fmt: str, exc: dash.FilterError) -> HttpResponse:
    if fmt == "json":
        body = {
            "error": {
                "code": exc.code,
                "message": str(exc.message),
                "fields": {k: str(v) for k, v in exc.fields.items()},
            }
        }
        return JsonResponse(body, status=400, json_dumps_params={"ensure_ascii": False})  # fmt: skip
    return HttpResponse(str(exc.message), status=400, content_type="text/plain; charset=utf-8")


@require_GET
@barometer_required
def chart(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    """One chart's data: JSON (what the chart draws, with its rows and links) or CSV (its table, UTF-8 with BOM;
    text that a spreadsheet would read as a formula is neutralised, as in every export)."""
    if name not in dash.CHARTS or fmt not in ("json", "csv"):
        raise Http404
    try:
        filters = dash.parse_filters(request.GET)
    except dash.FilterError as exc:
        return _refused(fmt, exc)
    figs = dash.figures(filters, request.barometer_scope)
    item = dash.charts(figs, filters)[name]
    if fmt == "json":
        body = {
            "name": name,
            "title": item["title"],
            "note": item["note"],
            "period": {
                "from": filters.period.start.isoformat(),
                "to": filters.period.end.isoformat(),
                "key": filters.period.key,
            },
            "filters": filters.query(),
            "refreshed_at": figs["refreshed_at"].isoformat() if figs["refreshed_at"] else None,
            "columns": item["columns"],
            "rows": item["rows"],
            "cases_url": item["cases_url"],
            "empty": item["empty"],
        }
        response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    else:
        header, rows = dash.as_table(item)
        response = HttpResponse(b"".join(stream_csv(header, rows)), content_type="text/csv; charset=utf-8")
        stamp = f"{filters.period.start:%Y%m%d}-{filters.period.end:%Y%m%d}"
        response["Content-Disposition"] = f'attachment; filename="minyi-barometer-{name}-{stamp}.csv"'
        response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns: list = [
    path("", dashboard, name="dashboard"),
    path("chart/<slug:name>.<slug:fmt>", chart, name="chart"),
]
