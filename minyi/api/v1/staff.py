"""Staff endpoints: token exchange, case lists, one case, and the workflow's actions.

Every read goes through minyi.cases.selectors (visibility applied), every write through
minyi.cases.services.case_transition (policy checked, event appended). No rules here.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router

from minyi.accounts.models import Region
from minyi.api.auth import ScopeRateLimit, TokenAuth, exchange_password, staff_actor
from minyi.api.v1.present import case_detail, case_item
from minyi.api.v1.schemas import (
    ActionIn,
    CaseDetailOut,
    CaseListOut,
    CaseListQuery,
    ErrorOut,
    TokenIn,
    TokenOut,
    TriageReviewIn,
)
from minyi.cases import selectors
from minyi.cases.services import case_transition
from minyi.cases.workflow import CaseAction, CaseStatus, InvalidTransition
from minyi.core.choices import Kind
from minyi.core.exceptions import NotFound, ValidationFailed
from minyi.routing.models import Category

MAX_LIMIT = 200

auth_router = Router(tags=["auth"])
router = Router(tags=["cases (staff)"], auth=TokenAuth())

_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut}


@auth_router.post(
    "/auth/token",
    response={200: TokenOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut},
    throttle=ScopeRateLimit("auth"),
    url_name="auth_token",
    summary="Exchange a username and password for a bearer token",
)
def issue_token(request: HttpRequest, payload: TokenIn):
    """For staff integrations. Failures count towards the login lockout (django-axes), as on the web."""
    token, raw = exchange_password(request, username=payload.username, password=payload.password)
    return {"token": raw, "token_type": "Bearer", "expires_at": token.expires_at}


def _tree_id(model, value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    key = value.strip()
    row = (
        model.objects.filter(pk=int(key)).first() if key.isdigit() else model.objects.filter(code=key).first()
    )
    if row is None:
        raise ValidationFailed(
            _("筛选条件“%(field)s”的值“%(value)s”不存在。") % {"field": field, "value": key[:40]},
            fields={field: _("不存在")},
        )
    return row.pk


def _choice(value: str | None, allowed, field: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise ValidationFailed(
            _("筛选条件“%(field)s”的值“%(value)s”无效。") % {"field": field, "value": value[:40]},
            fields={field: _("无效")},
        )
    return value


@router.get(
    "/cases",
    response={200: CaseListOut, **_ERRORS},
    url_name="case_list",
    summary="List the cases the caller may see",
)
def list_cases(request: HttpRequest, filters: Query[CaseListQuery]):
    """Newest first. `limit` is capped at 200."""
    actor = staff_actor(request)
    criteria = selectors.CaseFilters(
        status=_choice(filters.status, CaseStatus.values, "status"),
        kind=_choice(filters.kind, Kind.values, "kind"),
        category=_tree_id(Category, filters.category, "category"),
        region=_tree_id(Region, filters.region, "region"),
        department=filters.department,
        overdue=filters.overdue,
        needs_supervision=filters.needs_supervision,
        queue=_choice(filters.queue, selectors.QUEUES, "queue"),
        q=filters.q,
    )
    now = timezone.now()
    qs = selectors.case_list_for_user(user=actor, filters=criteria, now=now)
    limit = min(filters.limit, MAX_LIMIT)
    page = list(qs[filters.offset : filters.offset + limit])
    # A first page that is not full already tells the count; otherwise ask the database.
    count = len(page) if filters.offset == 0 and len(page) < limit else qs.count()
    return {
        "items": [case_item(case, now=now) for case in page],
        "count": count,
        "limit": limit,
        "offset": filters.offset,
    }


@router.get(
    "/cases/{case_id}",
    response={200: CaseDetailOut, **_ERRORS},
    url_name="case_detail",
    summary="One case, with replies, timeline and the actions the caller may take",
)
def get_case(request: HttpRequest, case_id: int, include: str = ""):
    """`?include=contact` adds the person's contact details for roles allowed to see them (each such read
    is logged); otherwise `contact` is null and `contact_available` says whether asking would work."""
    actor = staff_actor(request)
    case = selectors.case_get_for_user(user=actor, case_id=case_id)
    wanted = {part.strip() for part in include.split(",")}
    return case_detail(case, actor=actor, now=timezone.now(), include_contact="contact" in wanted)


@router.post(
    "/cases/{case_id}/actions/{action}",
    response={200: CaseDetailOut, **_ERRORS},
    url_name="case_action",
    summary="Perform an action from the workflow table",
)
def act_on_case(request: HttpRequest, case_id: int, action: str, payload: ActionIn):
    """`action` is a name from the workflow table (docs/workflow.md). The body is
    `{"note": "...", "data": {...}}`; what `data` needs depends on the action (docs/api.md).

    404 when the case is not visible to the caller; 409 (with `fields.allowed`) when the case's status does
    not allow the action, or the action is unknown; 403 when the caller's role does not allow it; 400 when a
    required note or field is missing.
    """
    actor = staff_actor(request)
    case = selectors.case_get_for_user(user=actor, case_id=case_id)
    if action not in CaseAction._value2member_map_:
        raise InvalidTransition(case.status, action[:40])
    changed = case_transition(
        case_id=case.pk, action=action, actor=actor, note=payload.note, data=payload.data
    )
    try:
        case = selectors.case_get_for_user(user=actor, case_id=case_id)
    except NotFound:
        # The action took the case out of the caller's sight (an intake officer declining or referring,
        # a dispatcher merging): they did it, so they see its outcome once, with no further actions.
        case = changed
    return case_detail(case, actor=actor, now=timezone.now())


@router.post(
    "/cases/{case_id}/triage/{part}",
    response={200: CaseDetailOut, **_ERRORS},
    url_name="case_triage_review",
    summary="Accept or correct one part of the case's triage",
)
def review_triage(request: HttpRequest, case_id: int, part: str, payload: TriageReviewIn):
    """`part` is category, region, department, pii, duplicates or risk; `decision` is accept or correct, and a
    correction gives the fields of its part (docs/triage.md). Each decision is a `triage_review` event."""
    from minyi.intake.review import Correction, triage_review

    actor = staff_actor(request)
    case = selectors.case_get_for_user(user=actor, case_id=case_id)
    triage_review(
        case_id=case.pk,
        actor=actor,
        part=part,
        decision=payload.decision,
        correction=Correction(
            category=payload.category,
            region=payload.region,
            department=payload.department,
            risk_level=payload.risk_level,
            drop_spans=payload.drop_spans[:100],
            add_phrases=payload.add_phrases[:100],
            dismiss=payload.dismiss[:100],
            repeat=payload.repeat,
        ),
        note=payload.note,
    )
    case = selectors.case_get_for_user(user=actor, case_id=case_id)
    return case_detail(case, actor=actor, now=timezone.now())
