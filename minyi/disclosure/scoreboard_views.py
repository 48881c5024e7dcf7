"""Public scoreboard pages (考核排名): the ranking of departments and regions for a period, and the monthly trend
of one department or region. Thin views: the figures come from minyi.disclosure.scoreboard (rollups only)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from minyi.core.exceptions import NotFound
from minyi.disclosure import scoreboard as score

#: Columns of every table, in order (the keys of scoreboard.RATES).
RATE_COLUMNS = score.RATE_KEYS
PERCENT_KEYS = frozenset(RATE_COLUMNS) - {"avg_reply_days"}
NUMERATORS = {key: (numerator, denominator) for key, numerator, denominator in score.RATES}


def percent(value: float | None) -> str:
    """66.7% for 2/3; "—" when there is no denominator."""
    return "—" if value is None else f"{value * 100:.1f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _cells(row: dict[str, Any], labels: dict[str, str]) -> list[dict[str, str]]:
    cells = []
    for key in RATE_COLUMNS:
        value = row["rates"][key]
        numerator, denominator = NUMERATORS[key]
        if key in PERCENT_KEYS:
            text = percent(value)
            detail = f"{row['counts'][numerator]}/{row['counts'][denominator]}"
        else:
            text = days(value)
            detail = _("%(n)s件") % {"n": row["counts"][denominator]}
        cells.append({"key": key, "label": _column_label(key, labels), "text": text, "detail": detail})
    return cells


def _labels() -> tuple[dict[str, str], list[dict[str, Any]]]:
    definitions = score.definitions()
    return {item["key"]: item["label"] for item in definitions}, definitions


def _column_label(key: str, labels: dict[str, str]) -> str:
    return _("%(label)s（天）") % {"label": labels[key]} if key == "avg_reply_days" else labels[key]


def _columns(labels: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "label": _column_label(key, labels)} for key in RATE_COLUMNS]


def _picker(request: HttpRequest) -> dict[str, str]:
    """What the person typed, echoed back into the form (auto-escaped; cut to the parameter limit)."""
    return {name: request.GET.get(name, "")[: score.MAX_PARAM_CHARS] for name in ("period", "from", "to")}


@require_GET
def scoreboard(request: HttpRequest) -> HttpResponse:
    labels, definitions = _labels()
    context: dict[str, Any] = {
        "picker": _picker(request),
        "options": score.period_options(),
        "columns": _columns(labels),
        "definitions": definitions,
    }
    try:
        period = score.parse_period(
            period=request.GET.get("period"),
            date_from=request.GET.get("from"),
            date_to=request.GET.get("to"),
        )
    except score.PeriodError as exc:
        context["error_message"] = exc.message
        return render(request, "disclosure/scoreboard.html", context, status=400)
    board = score.board_get(period)
    tables = {}
    for kind, url_name in (
        ("departments", "disclosure:scoreboard_department"),
        ("regions", "disclosure:scoreboard_region"),
    ):
        tables[kind] = [
            {
                **row,
                "cells": _cells(row, labels),
                "url": reverse(url_name, args=[row["id"]]) if row.get("active", True) else "",
            }
            for row in board[kind]
        ]
    if not any(context["picker"].values()):
        context["picker"]["period"] = period.key
    context.update(
        {
            "period": period,
            "period_label": period.label(),
            "departments": tables["departments"],
            "regions": tables["regions"],
            "overall": {**board["overall"], "cells": _cells(board["overall"], labels)},
            "unattributed": board["unattributed"],
            "refreshed_at": board["refreshed_at"],
            "api_url": reverse("api-v1:scoreboard") + "?" + urlencode(period.query()),
        }
    )
    return render(request, "disclosure/scoreboard.html", context)


def _trend_page(request: HttpRequest, kind: str, subject_id: int) -> HttpResponse:
    try:
        trend = score.trend_get(kind, subject_id)
    except NotFound:
        raise Http404 from None
    labels, definitions = _labels()
    months = []
    for month in trend["months"]:
        period = score.month_period(month["start"].year, month["start"].month)
        months.append(
            {
                **month,
                "label": period.label(),
                "cells": _cells(month, labels),
                "board_url": reverse("disclosure:scoreboard") + "?" + urlencode(period.query()),
            }
        )
    chart = {
        "title": trend["subject"]["name"],
        "months": [month["month"] for month in trend["months"]],
        "axis": _("比率（%）"),
        "series": [
            {
                "key": key,
                "name": labels[key],
                "values": [
                    None if m["rates"][key] is None else round(m["rates"][key] * 100, 1)
                    for m in trend["months"]
                ],
            }
            for key in RATE_COLUMNS
            if key in PERCENT_KEYS
        ],
    }
    context = {
        "kind": kind,
        "kind_label": _("部门") if kind == "department" else _("区域"),
        "subject": trend["subject"],
        "months": months,
        "chart": chart,
        "columns": _columns(labels),
        "definitions": definitions,
        "api_url": reverse(f"api-v1:scoreboard_{kind}_trend", args=[subject_id]),
    }
    return render(request, "disclosure/scoreboard_trend.html", context)


@require_GET
def department_trend(request: HttpRequest, department_id: int) -> HttpResponse:
    return _trend_page(request, "department", department_id)


@require_GET
def region_trend(request: HttpRequest, region_id: int) -> HttpResponse:
    return _trend_page(request, "region", region_id)
