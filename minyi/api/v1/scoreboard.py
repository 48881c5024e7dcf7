"""Public scoreboard (考核) endpoints: the ranking for a period and the monthly trend of one department or region.

Figures come from the daily rollups (minyi.disclosure.scoreboard), never from scanning cases. Rates are
fractions between 0 and 1 (4 decimals), `avg_reply_days` is in days (2 decimals); a figure whose denominator is
0 is null. Every response carries the definitions, in the request's language.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from minyi.api.v1.schemas import ErrorOut
from minyi.disclosure import scoreboard as score

router = Router(tags=["scoreboard"])

_ERRORS = {400: ErrorOut, 404: ErrorOut}


# ---------------------------------------------------------------------------------------------- schemas


class ScorePeriodOut(Schema):
    from_: date = Field(..., alias="from", description="first local day, included")
    to: date = Field(..., description="last local day, included")
    key: str = Field(..., examples=["2026-03", "2026-Q1", "2026", "2026-03-01..2026-03-15"])
    kind: str = Field(..., description="month, quarter, year or range")
    label: str

    model_config = {"populate_by_name": True}


class ScoreCountsOut(Schema):
    received: int = Field(..., description="cases received in the period (merged cases excluded)")
    assigned: int
    responded_on_time: int
    replied: int
    replied_on_time: int
    reply_seconds: int = Field(..., description="sum of (replied_at - created_at) over replied cases")
    rated: int
    satisfied: int
    resolution_answered: int
    resolved: int
    reopened: int
    repeats: int


class ScoreRatesOut(Schema):
    response_rate: float | None = Field(..., description="responded_on_time / assigned")
    resolution_rate: float | None = Field(..., description="resolved / resolution_answered")
    satisfaction_rate: float | None = Field(..., description="satisfied / rated")
    on_time_rate: float | None = Field(..., description="replied_on_time / replied")
    avg_reply_days: float | None = Field(..., description="reply_seconds / replied / 86400")
    reopen_rate: float | None = Field(..., description="reopened / replied")
    repeat_rate: float | None = Field(..., description="repeats / received")


class ScoreOverallOut(Schema):
    counts: ScoreCountsOut
    rates: ScoreRatesOut


class ScoreRowOut(Schema):
    rank: int = Field(..., description="equal figures share a rank (see definitions.ranking)")
    id: int
    code: str
    name: str
    active: bool = Field(True, description="false for a department no longer active (no trend page)")
    counts: ScoreCountsOut
    rates: ScoreRatesOut


class ScoreUnattributedOut(Schema):
    department: int = Field(..., description="cases received in the period with no department yet")
    region: int = Field(..., description="cases received in the period with no region")


class ScoreDefinitionOut(Schema):
    label: str
    definition: str
    numerator: str | None = None
    denominator: str | None = None


class ScoreboardOut(Schema):
    period: ScorePeriodOut
    refreshed_at: datetime | None = Field(..., description="when the rollups were last refreshed")
    overall: ScoreOverallOut
    unattributed: ScoreUnattributedOut
    departments: list[ScoreRowOut]
    regions: list[ScoreRowOut]
    definitions: dict[str, ScoreDefinitionOut]


class ScoreSubjectOut(Schema):
    kind: str = Field(..., description="department or region")
    id: int
    code: str
    name: str


class ScoreMonthOut(Schema):
    month: str = Field(..., examples=["2026-03"])
    from_: date = Field(..., alias="from")
    to: date
    counts: ScoreCountsOut
    rates: ScoreRatesOut

    model_config = {"populate_by_name": True}


class ScoreTrendOut(Schema):
    subject: ScoreSubjectOut
    months: list[ScoreMonthOut] = Field(..., description="the last 12 months, oldest first")
    definitions: dict[str, ScoreDefinitionOut]


# ---------------------------------------------------------------------------------------------- presentation


def _rates(values: dict[str, float | None]) -> dict[str, float | None]:
    return {
        key: None if value is None else round(value, 2 if key == "avg_reply_days" else 4)
        for key, value in values.items()
    }


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {"counts": row["counts"], "rates": _rates(row["rates"])}


def _definitions() -> dict[str, dict[str, Any]]:
    return {
        item["key"]: {key: item[key] for key in ("label", "definition", "numerator", "denominator")}
        for item in score.definitions()
    }


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "rank": row["rank"],
            "id": row["id"],
            "code": row["code"],
            "name": row["name"],
            "active": row.get("active", True),
            **_figures(row),
        }
        for row in rows
    ]


# ---------------------------------------------------------------------------------------------- endpoints


@router.get(
    "/scoreboard",
    response={200: ScoreboardOut, **_ERRORS},
    url_name="scoreboard",
    summary="The scoreboard for a period",
    by_alias=True,
)
def scoreboard(
    request: HttpRequest,
    period: str | None = Query(None, description="2026-03 (month), 2026-Q1 (quarter) or 2026 (year)"),
    date_from: str | None = Query(None, alias="from", description="YYYY-MM-DD, with `to`; at most 366 days"),
    date_to: str | None = Query(None, alias="to", description="YYYY-MM-DD, included"),
):
    """Departments and regions ranked for the period (default: the current month), with an overall row and the
    definition of every figure. 400 `invalid_period` for a malformed, reversed, too long (over 366 days),
    too early (before 2000-01-01) or future period."""
    chosen = score.parse_period(period=period, date_from=date_from, date_to=date_to)
    board = score.board_get(chosen)
    return {
        "period": {
            "from": chosen.start,
            "to": chosen.end,
            "key": chosen.key,
            "kind": chosen.kind,
            "label": chosen.label(),
        },
        "refreshed_at": board["refreshed_at"],
        "overall": _figures(board["overall"]),
        "unattributed": board["unattributed"],
        "departments": _ranked(board["departments"]),
        "regions": _ranked(board["regions"]),
        "definitions": _definitions(),
    }


def _trend(kind: str, subject_id: int) -> dict[str, Any]:
    trend = score.trend_get(kind, subject_id)
    return {
        "subject": trend["subject"],
        "months": [
            {"month": month["month"], "from": month["start"], "to": month["end"], **_figures(month)}
            for month in trend["months"]
        ],
        "definitions": _definitions(),
    }


@router.get(
    "/scoreboard/departments/{department_id}/trend",
    response={200: ScoreTrendOut, **_ERRORS},
    url_name="scoreboard_department_trend",
    summary="Monthly trend of one department (last 12 months)",
    by_alias=True,
)
def department_trend(request: HttpRequest, department_id: int):
    """404 for an unknown or inactive department."""
    return _trend("department", department_id)


@router.get(
    "/scoreboard/regions/{region_id}/trend",
    response={200: ScoreTrendOut, **_ERRORS},
    url_name="scoreboard_region_trend",
    summary="Monthly trend of one region (last 12 months)",
    by_alias=True,
)
def region_trend(request: HttpRequest, region_id: int):
    """404 for an unknown region."""
    return _trend("region", region_id)
