"""Public pages: the portal and the tracking page.

Tracking: the person proves a case once with tracking number + query code; the session then lists the
case ids they proved, so follow-up actions (evaluate, add information, request review) need no retyping.
A wrong number or code, or a case not proved in this session, answers the same 404 message either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from minyi.cases import policies, selectors, services
from minyi.cases.forms import add_service_errors
from minyi.cases.models import Case
from minyi.cases.views import event_rows, render_rate_limited, status_label
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import DomainError, NotFound, RateLimited
from minyi.core.ratelimit import check_request_rate
from minyi.disclosure.board import board_latest
from minyi.disclosure.forms import CITIZEN_FORMS, CitizenActionForm, TrackForm
from minyi.disclosure.selectors import portal_counts
from minyi.intake.services import case_get_for_citizen
from minyi.routing.services import Sla, sla_for

PROVED_KEY = "minyi.tracked_cases"
MAX_PROVED = 20

DEADLINE_LABELS = {
    CaseStatus.SUBMITTED: gettext_lazy("受理时限"),
    CaseStatus.UNDER_REVIEW: gettext_lazy("复查办结时限"),
}


@require_GET
def portal(request: HttpRequest) -> HttpResponse:
    return render(request, "disclosure/portal.html", {"counts": portal_counts(), "latest": board_latest()})


def _not_found(request: HttpRequest, form: TrackForm | None = None) -> HttpResponse:
    context = {"form": form or TrackForm(), "error_message": _("受理编号或查询码不正确，请核对后重试。")}
    return render(request, "disclosure/track.html", context, status=404)


def _prove(request: HttpRequest, case: Case) -> None:
    proved = [pk for pk in request.session.get(PROVED_KEY, []) if pk != case.pk]
    request.session[PROVED_KEY] = [*proved, case.pk][-MAX_PROVED:]


def _proved_case(request: HttpRequest, tracking_number: str) -> Case:
    """The case behind `tracking_number`, if this session proved it; NotFound otherwise."""
    number = (tracking_number or "").strip().upper()[:24]
    found = Case.objects.filter(tracking_number=number).only("pk").first()
    if found is None or found.pk not in request.session.get(PROVED_KEY, []):
        raise NotFound(_("受理编号或查询码不正确。"))
    return selectors.case_get_for_user(user=policies.citizen_actor(case=found), case_id=found.pk)


@require_http_methods(["GET", "POST"])
@never_cache
def track(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        form = TrackForm(initial={"tracking_number": request.GET.get("number", "")[:40]})
        return render(request, "disclosure/track.html", {"form": form})
    try:
        check_request_rate(request, "track")
    except RateLimited as exc:
        return render_rate_limited(request, exc, scope="track")
    form = TrackForm(request.POST)
    if not form.is_valid():
        return render(request, "disclosure/track.html", {"form": form}, status=400)
    try:
        case = case_get_for_citizen(
            tracking_number=form.cleaned_data["tracking_number"], query_code=form.cleaned_data["query_code"]
        )
    except NotFound:
        return _not_found(request, form)
    _prove(request, case)
    return redirect("disclosure:track_case", tracking_number=case.tracking_number)


#: States from which a review (复查) may be requested, within the window after the reply.
REVIEWABLE = frozenset({CaseStatus.REPLIED, CaseStatus.CLOSED})


def review_request_until(case: Case, sla: Sla | None = None) -> datetime | None:
    """Until when the person may request a review of the reply (the rule of services._request_review), or None
    when the case is not in a state that allows one."""
    if case.replied_at is None or case.status not in REVIEWABLE:
        return None
    sla = sla or sla_for(kind=case.kind, priority=case.priority)
    return case.replied_at + timedelta(days=sla.review_request_days)


def _case_context(
    case: Case, *, bound: CitizenActionForm | None = None, error: DomainError | None = None
) -> dict[str, Any]:
    actor = policies.citizen_actor(case=case)
    actions = []
    for action in policies.available_actions(actor, case):
        form_class = CITIZEN_FORMS.get(action.value)
        if form_class is None:
            continue
        form = bound if bound is not None and bound.action == action else form_class()
        actions.append({"name": action.value, "form": form, "open": form is bound})
    sla = sla_for(kind=case.kind, priority=case.priority)
    review_until = review_request_until(case, sla)
    return {
        "case": case,
        "review_until": review_until,
        "review_open": review_until is not None and timezone.now() <= review_until,
        "review_days": sla.review_request_days,
        "status_label": status_label(case.status),
        "deadline_label": DEADLINE_LABELS.get(case.status, _("办理时限")),
        "overdue": selectors.is_overdue(case),
        "replies": selectors.case_replies(case=case, public=True),
        "events": event_rows(selectors.case_timeline(case=case, public=True), public=True),
        "actions": {a["name"]: a for a in actions},
        "error": error,
        "followed": selectors.followed_case(case=case),
    }


@require_GET
@never_cache
def track_case(request: HttpRequest, tracking_number: str) -> HttpResponse:
    try:
        case = _proved_case(request, tracking_number)
    except NotFound:
        return _not_found(request, TrackForm(initial={"tracking_number": tracking_number[:40]}))
    return render(request, "disclosure/track_case.html", _case_context(case))


@require_POST
@never_cache
def track_action(request: HttpRequest, tracking_number: str, action: str) -> HttpResponse:
    try:
        check_request_rate(request, "track")
    except RateLimited as exc:
        return render_rate_limited(request, exc, scope="track")
    try:
        case = _proved_case(request, tracking_number)
    except NotFound:
        return _not_found(request)
    form_class = CITIZEN_FORMS.get(action)
    if form_class is None:
        return _not_found(request)
    form = form_class(request.POST)
    if not form.is_valid():
        return render(request, "disclosure/track_case.html", _case_context(case, bound=form), status=400)
    try:
        case = services.case_transition(
            case_id=case.pk,
            action=form.action,
            actor=policies.citizen_actor(case=case),
            note=form.note_value(),
            data=form.payload(),
        )
    except DomainError as exc:
        case.refresh_from_db()
        add_service_errors(form, exc.fields, exc.message)
        context = _case_context(case, bound=form, error=exc)
        return render(request, "disclosure/track_case.html", context, status=exc.status_code)
    messages.success(request, _success_message(form.action.value, case))
    return redirect("disclosure:track_case", tracking_number=case.tracking_number)


def _success_message(action: str, case: Case) -> str:
    if action == "evaluate":
        if case.status == CaseStatus.CLOSED:
            return _("感谢您的评价，诉求已办结。")
        return _("感谢您的评价。您的意见已转督办人员跟进处理。")
    if action == "add_info":
        return _("补充内容已提交，将转给办理单位。")
    return _("复查申请已提交，我们将在规定期限内作出复查决定。")
