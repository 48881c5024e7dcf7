"""/api/v1/barometer/dashboard (barometer: dashboards (staff)): every chart of the barometer's dashboard as JSON.

The same filters and figures as the page /staff/barometer/ (minyi.barometer.dashboard: rollups only, never the
cases table); the scope is the token's user's (minyi.barometer.policies: leaders and the centre see everything,
department heads and handlers their own departments). Rates are fractions between 0 and 1; a rate whose
denominator is 0 is null.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from minyi.api.auth import TokenAuth, staff_actor
from minyi.api.v1.schemas import ErrorOut
from minyi.barometer import dashboard as dash
from minyi.barometer import policies

router = Router(tags=["barometer: dashboards (staff)"], auth=TokenAuth())

_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}


class DashboardPeriodOut(Schema):
    from_: date = Field(..., alias="from", description="first local day, included")
    to: date = Field(..., description="last local day, included")
    key: str = Field(..., examples=["2026-03", "2026-Q1", "2026", "2026-03-01..2026-03-30"])
    kind: str = Field(
        ..., description="month, quarter, year or range (the default: the 30 days ending today)"
    )
    label: str

    model_config = {"populate_by_name": True}


class DashboardScopeOut(Schema):
    all: bool = Field(
        ..., description="true: every case; false: only the departments listed (with sub-departments)"
    )
    department_ids: list[int]


class DashboardCardOut(Schema):
    key: str
    label: str
    value: int | None = Field(None, description="a count (received, overdue, high_risk, supports)")
    change: float | None = Field(
        None, description="received: relative change on the same days a year earlier"
    )
    rate: float | None = Field(None, description="a rate (0..1), null without a denominator")
    points: float | None = Field(
        None, description="a rate's change on the previous period, percentage points"
    )


class DashboardColumnOut(Schema):
    key: str
    label: str
    kind: str = Field(
        ..., description="text, int, percent (0..1), ratio (relative change), pp (points) or bool"
    )


class DashboardChartOut(Schema):
    name: str
    title: str
    type: str = Field(..., description="line, pie, bar, hbar or gap")
    note: str
    columns: list[DashboardColumnOut]
    rows: list[dict[str, Any]] = Field(
        ...,
        description="one object per row, keyed by the columns' keys; `url`: the workbench list of its cases",
    )
    cases_url: str | None = Field(..., description="the workbench list of every case behind the chart")
    empty: bool


class DashboardOut(Schema):
    period: DashboardPeriodOut
    filters: dict[str, str] = Field(..., description="the filters applied, as GET parameters")
    scope: DashboardScopeOut
    refreshed_at: datetime | None = Field(..., description="when the rollups were last refreshed")
    totals: dict[str, int] = Field(..., description="the period's counters (see minyi.barometer.rollups)")
    cards: list[DashboardCardOut]
    charts: dict[str, DashboardChartOut] = Field(
        ..., description="volume, categories, regions, channels, kinds, rates, departments, gaps"
    )


@router.get(
    "/barometer/dashboard",
    response={200: DashboardOut, **_ERRORS},
    url_name="barometer_dashboard",
    summary="The barometer dashboard: every chart's data",
    by_alias=True,
)
def barometer_dashboard(
    request: HttpRequest,
    period: str | None = Query(None, description="2026-03 (month), 2026-Q1 (quarter) or 2026 (year)"),
    date_from: str | None = Query(None, alias="from", description="YYYY-MM-DD, with `to`; at most 366 days"),
    date_to: str | None = Query(None, alias="to", description="YYYY-MM-DD, included"),
    category: str | None = Query(None, description="a category id or code; its sub-categories are included"),
    region: str | None = Query(None, description="a region id or code; its sub-regions are included"),
    channel: str | None = Query(None, description="web, api, open311, phone, letter, visit or import"),
):
    """The period defaults to the 30 days ending today. 400 `invalid_filter` for a malformed, reversed, too long,
    too early or future period, or an unknown category, region or channel; 403 for an account without the
    barometer."""
    staff_actor(request)
    scope = policies.require_barometer(request.auth)
    params = {"period": period, "from": date_from, "to": date_to, "category": category, "region": region,
              "channel": channel}  # fmt: skip
    filters = dash.parse_filters({k: v for k, v in params.items() if v is not None})
    figs = dash.figures(filters, scope)
    charts = dash.charts(figs, filters)
    return {
        "period": {
            "from": filters.period.start,
            "to": filters.period.end,
            "key": filters.period.key,
            "kind": filters.period.kind,
            "label": filters.period.label(),
        },
        "filters": filters.query(),
        "scope": {"all": scope.all, "department_ids": sorted(scope.department_ids)},
        "refreshed_at": figs["refreshed_at"],
        "totals": figs["totals"],
        "cards": [
            {key: card.get(key) for key in ("key", "label", "value", "change", "rate", "points")}
            for card in dash.headline(figs)
        ],
        "charts": {
            name: {
                key: charts[name][key]
                for key in ("name", "title", "type", "note", "columns", "rows", "cases_url", "empty")
            }
            for name in dash.CHARTS
        },
    }
