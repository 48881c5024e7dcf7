"""/api/v1/barometer/alerts… (barometer: early warnings (staff)): the alerts the caller may see, one alert with its
reasons, appeals (those the caller may open) and events, and the actions acknowledge, close and reopen.

Transport only: visibility from minyi.barometer.policies (an alert out of scope is 404; no barometer is 403), the
rules and writes from minyi.barometer.warnings (403 not allowed, 409 wrong state, 400 a missing note).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from minyi.api.auth import TokenAuth, staff_actor
from minyi.api.v1.schemas import Choice, ErrorOut
from minyi.barometer import policies, warnings
from minyi.barometer.models import Alert
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import ValidationFailed

router = Router(tags=["barometer: early warnings (staff)"], auth=TokenAuth())

MAX_LIMIT = 200
#: Appeals listed in one alert's answer.
MAX_CASES = 500
_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class AlertListQuery(Schema):
    level: str | None = Field(None, description="red, orange or yellow")
    state: str | None = Field(None, description="active (open or acknowledged; the default), open, acknowledged, "
                              "closed, or all")  # fmt: skip
    source: str | None = Field(None, description="topic, place, category, region or risk")
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000)


class Reason(Schema):
    code: str
    params: dict[str, Any]
    text: str


class Ref(Schema):
    id: int
    name: str


class AlertItem(Schema):
    id: int
    level: Choice
    source: Choice
    state: Choice
    label: str
    key: str
    start: date
    end: date
    count: int
    baseline: float
    threshold: int
    ratio: float
    p_value: float | None
    risk_score: int
    reasons: list[Reason]
    department: Ref | None
    topic_id: int | None
    place_id: int | None
    category_id: int | None
    region_id: int | None
    created_at: datetime
    updated_at: datetime
    url: str


class AlertListOut(Schema):
    items: list[AlertItem]
    count: int
    counts: dict[str, int]
    limit: int
    offset: int


class AlertCaseOut(Schema):
    id: int
    tracking_number: str
    title: str
    received_at: datetime
    status: Choice
    department_id: int | None


class AlertEventOut(Schema):
    action: str
    label: str
    actor: str | None
    actor_role: str
    note: str
    details: list[str]
    data: dict[str, Any]
    created_at: datetime


class AlertDetailOut(AlertItem):
    acknowledged_at: datetime | None
    closed_at: datetime | None
    close_note: str
    cases: list[AlertCaseOut]
    cases_total: int
    cases_hidden: int
    events: list[AlertEventOut]
    allowed_actions: list[str]


class NoteIn(Schema):
    note: str = ""


def _choice(value: str | None, allowed, field: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise ValidationFailed(
            _("筛选条件“%(field)s”的值“%(value)s”无效。") % {"field": field, "value": str(value)[:40]},
            fields={field: _("无效")},
        )
    return value


def _item(alert: Alert) -> dict[str, Any]:
    from django.urls import reverse

    return {
        "id": alert.pk,
        "level": {"value": alert.level, "label": str(alert.get_level_display())},
        "source": {"value": alert.source, "label": str(alert.get_source_display())},
        "state": {"value": alert.state, "label": str(alert.get_state_display())},
        "label": alert.label,
        "key": alert.key,
        "start": alert.start,
        "end": alert.end,
        "count": alert.count,
        "baseline": alert.baseline,
        "threshold": alert.threshold,
        "ratio": alert.ratio,
        "p_value": alert.p_value,
        "risk_score": alert.risk_score,
        "reasons": [
            {"code": str(r.get("code", "")), "params": r.get("params") or {}, "text": warnings.reason_text(r)}
            for r in alert.reasons or []
            if isinstance(r, dict)
        ],
        "department": {"id": alert.department_id, "name": alert.department.name}
        if alert.department_id
        else None,
        "topic_id": alert.topic_id,
        "place_id": alert.place_id,
        "category_id": alert.category_id,
        "region_id": alert.region_id,
        "created_at": alert.created_at,
        "updated_at": alert.updated_at,
        "url": reverse("barometer:alert", kwargs={"alert_id": alert.pk}),
    }


def _detail(request: HttpRequest, alert: Alert) -> dict[str, Any]:
    user = request.auth
    visible = warnings.alert_cases(user, alert)
    cases = list(visible[:MAX_CASES])
    total = alert.alert_cases.count()
    visible_count = len(cases) if len(cases) < MAX_CASES else visible.count()
    return {
        **_item(alert),
        "acknowledged_at": alert.acknowledged_at,
        "closed_at": alert.closed_at,
        "close_note": alert.close_note,
        "cases": [
            {
                "id": c.pk,
                "tracking_number": c.tracking_number,
                "title": c.title,
                "received_at": c.created_at,
                "status": {"value": c.status, "label": str(CaseStatus(c.status).label)},
                "department_id": c.department_id,
            }
            for c in cases
        ],
        "cases_total": total,
        "cases_hidden": max(total - visible_count, 0),
        "events": [
            {
                "action": e.action,
                "label": str(warnings.ACTION_LABELS.get(e.action, e.action)),
                "actor": str(e.actor) if e.actor_id else None,
                "actor_role": e.actor_role,
                "note": e.note,
                "details": warnings.event_details(e),
                "data": e.data if isinstance(e.data, dict) else {},
                "created_at": e.created_at,
            }
            for e in warnings.alert_events(alert)
        ],
        "allowed_actions": warnings.allowed_actions(user, alert),
    }


def _scope(request: HttpRequest) -> None:
    staff_actor(request)
    policies.require_barometer(request.auth)


@router.get(
    "/barometer/alerts",
    response={200: AlertListOut, **_ERRORS},
    url_name="barometer_alert_list",
    summary="List the early warnings the caller may see (red first)",
)
def list_alerts(request: HttpRequest, filters: Query[AlertListQuery]):
    """`state` defaults to `active` (open or acknowledged). `counts` gives the number per level under the state
    and source filters. `limit` is capped at 200."""
    _scope(request)
    level = _choice(filters.level, Alert.Level.values, "level")
    state = _choice(filters.state, [warnings.ACTIVE, "all", *Alert.State.values], "state") or warnings.ACTIVE
    state = None if state == "all" else state
    source = _choice(filters.source, Alert.Source.values, "source")
    qs = warnings.alert_list(request.auth, level=level, state=state, source=source)
    limit = min(filters.limit, MAX_LIMIT)
    page = list(qs[filters.offset : filters.offset + limit])
    count = len(page) if filters.offset == 0 and len(page) < limit else qs.count()
    return {
        "items": [_item(a) for a in page],
        "count": count,
        "counts": warnings.level_counts(request.auth, state=state, source=source),
        "limit": limit,
        "offset": filters.offset,
    }


@router.get(
    "/barometer/alerts/{alert_id}",
    response={200: AlertDetailOut, **_ERRORS},
    url_name="barometer_alert_detail",
    summary="One early warning: reasons, the appeals the caller may open, events, allowed actions",
)
def get_alert(request: HttpRequest, alert_id: int):
    _scope(request)
    return _detail(request, policies.get_alert(request.auth, alert_id))


def _act(request: HttpRequest, alert_id: int, action: str, payload: NoteIn):
    _scope(request)
    alert = policies.get_alert(request.auth, alert_id)
    warnings.alert_act(alert=alert, actor=request.auth, action=action, note=payload.note)
    return _detail(request, policies.get_alert(request.auth, alert_id))


@router.post(
    "/barometer/alerts/{alert_id}/acknowledge",
    response={200: AlertDetailOut, **_ERRORS},
    url_name="barometer_alert_acknowledge",
    summary="Acknowledge an open early warning",
)
def acknowledge_alert(request: HttpRequest, alert_id: int, payload: NoteIn):
    """Supervisors, and the heads and handlers of the responsible department. Body: `{"note": "..."}` (optional)."""
    return _act(request, alert_id, "acknowledge", payload)


@router.post(
    "/barometer/alerts/{alert_id}/close",
    response={200: AlertDetailOut, **_ERRORS},
    url_name="barometer_alert_close",
    summary="Close an early warning, with a note",
)
def close_alert(request: HttpRequest, alert_id: int, payload: NoteIn):
    """As acknowledge; the note is required (400 without it)."""
    return _act(request, alert_id, "close", payload)


@router.post(
    "/barometer/alerts/{alert_id}/reopen",
    response={200: AlertDetailOut, **_ERRORS},
    url_name="barometer_alert_reopen",
    summary="Reopen a closed early warning (supervisors), with a note",
)
def reopen_alert(request: HttpRequest, alert_id: int, payload: NoteIn):
    return _act(request, alert_id, "reopen", payload)
