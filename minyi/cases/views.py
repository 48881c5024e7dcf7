"""Staff pages: the workbench, the case page and its actions, notifications.

Thin views: they parse input, ask minyi.cases.policies / selectors, call one service, and render.
A case the user may not see answers 404, as everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from minyi.accounts.models import Role
from minyi.cases import exports, policies, selectors, services, workflow
from minyi.cases import forms as case_forms
from minyi.cases.models import Case, CaseContact, CaseEvent, Evaluation, Reply
from minyi.cases.workflow import ACTION_LABELS, CITIZEN_VISIBLE_NOTES, CaseAction, CaseStatus
from minyi.core import notify
from minyi.core.choices import Channel
from minyi.core.exceptions import DomainError, NotFound
from minyi.core.ratelimit import parse_rate
from minyi.core.xlsx_stream import EXCEL_MAX_ROWS, stream_csv, stream_xlsx

PAGE_SIZE = 50

#: Which workbench queues each role works from (presentation only; visibility is the policy's).
ROLE_QUEUES = {
    Role.INTAKE: ("to_accept",),
    Role.DISPATCHER: ("to_dispatch",),
    Role.HANDLER: ("mine",),
    Role.HEAD: ("mine",),
    Role.SUPERVISOR: ("supervision",),
    Role.LEADER: ("supervision",),
}
QUEUE_ORDER = ("to_accept", "to_dispatch", "mine", "supervision", "due_soon", "overdue")

ACTOR_ROLE_LABELS = {
    policies.CITIZEN: gettext_lazy("群众"),
    policies.SYSTEM: gettext_lazy("系统"),
    policies.STAFF: gettext_lazy("工作人员"),
}
DECISION_LABELS = {"upheld": gettext_lazy("维持原答复"), "redo": gettext_lazy("重新办理")}

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- shared helpers


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; a logged-in person without a staff role gets 404 (the staff area does not exist for them)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not policies.is_staff(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def get_case_or_404(request: HttpRequest, case_id: int) -> Case:
    """The case if the user may see it (selectors + policies); Http404 otherwise."""
    try:
        return selectors.case_get_for_user(user=request.user, case_id=case_id)
    except NotFound:
        raise Http404 from None


def staff_nav(request: HttpRequest) -> dict[str, Any]:
    """What the staff navigation shows: unread notifications, the log link, the user's roles."""
    actor = policies.actor_for_user(request.user)
    unread = notify.unread_count(user=request.user)
    roles = [Role(r).label for r in Role.values if r in actor.roles]
    return {
        "unread": unread,
        "can_log": policies.can_log_appeal(actor),
        "can_import": policies.can_import(actor),
        "role_labels": roles,
    }


def render_staff(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    context = {"nav": staff_nav(request), **context}
    return render(request, template, context, status=status)


def render_rate_limited(request: HttpRequest, exc: DomainError, *, scope: str) -> HttpResponse:
    """The friendly 429 page for an anonymous endpoint whose rate limit is spent."""
    try:
        _count, window = parse_rate(settings.MINYI_RATE_LIMITS[scope])
    except (KeyError, ValueError):
        window = 60
    response = render(request, "errors/429.html", {"error_message": exc.message}, status=429)
    response["Retry-After"] = str(window)
    return response


def status_label(value: str) -> str:
    return CaseStatus(value).label if value in CaseStatus.values else value


def action_label(value: str) -> str:
    return workflow.event_label(value)


def role_label(value: str) -> str:
    if value in Role.values:
        return Role(value).label
    return str(ACTOR_ROLE_LABELS.get(value, value))


def _event_details(event: CaseEvent, *, public: bool) -> list[str]:
    data = event.data or {}
    details: list[str] = []
    action = event.action
    if action == "submit" and data.get("channel") in Channel.values:
        details.append(_("渠道：%(channel)s") % {"channel": Channel(data["channel"]).label})
    if data.get("department_name"):
        details.append(_("承办部门：%(name)s") % {"name": data["department_name"]})
    if action == CaseAction.REFER and data.get("referred_to"):
        details.append(_("转送至：%(body)s") % {"body": data["referred_to"]})
    if action in (CaseAction.REQUEST_EXTENSION, CaseAction.APPROVE_EXTENSION) and data.get("days"):
        details.append(_("延期 %(n)s 天") % {"n": data["days"]})
    if action == CaseAction.EVALUATE and data.get("rating") in Evaluation.Rating.values:
        text = Evaluation.Rating(data["rating"]).label
        if data.get("resolved") is True:
            text = _("%(rating)s，问题已解决") % {"rating": text}
        elif data.get("resolved") is False:
            text = _("%(rating)s，问题未解决") % {"rating": text}
        details.append(_("评价：%(text)s") % {"text": text})
    if action == CaseAction.ADD_INFO and data.get("text"):
        details.append(str(data["text"]))
    if action == CaseAction.MERGE and data.get("into_tracking_number"):
        details.append(_("并入：%(no)s") % {"no": data["into_tracking_number"]})
    if action == "merged_in" and data.get("tracking_number") and not public:
        details.append(_("并入的诉求：%(no)s") % {"no": data["tracking_number"]})
    if action == CaseAction.DECIDE_REVIEW and data.get("decision") in DECISION_LABELS:
        details.append(_("复查决定：%(d)s") % {"d": DECISION_LABELS[data["decision"]]})
    if action == CaseAction.ESCALATE and not public and data.get("count"):
        details.append(_("第 %(n)s 次督办") % {"n": data["count"]})
    return details


def event_rows(events: Iterable[CaseEvent], *, public: bool) -> list[dict[str, Any]]:
    """The timeline as the templates show it. `public` hides who acted (staff names are not public)."""
    rows = []
    for event in events:
        rows.append(
            {
                "label": action_label(event.action),
                "to_status": event.to_status,
                "to_status_label": status_label(event.to_status) if event.to_status else "",
                "status_changed": event.from_status != event.to_status,
                "at": event.created_at,
                "note": event.note if not public or event.action in CITIZEN_VISIBLE_NOTES else "",
                "details": _event_details(event, public=public),
                "public": event.is_public,
                "actor": "" if public else (str(event.actor) if event.actor else ""),
                "role_label": "" if public else role_label(event.actor_role),
            }
        )
    return rows


def is_htmx(request: HttpRequest, target: str | None = None) -> bool:
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-History-Restore-Request"):
        return False
    return target is None or request.headers.get("HX-Target") == target


# ---------------------------------------------------------------------------------------------- workbench


def _queues_for(actor: policies.Actor) -> list[str]:
    wanted = {q for role in actor.roles for q in ROLE_QUEUES.get(role, ())}
    wanted |= {"due_soon", "overdue"}
    return [q for q in QUEUE_ORDER if q in wanted]


@require_GET
@staff_required
def workbench(request: HttpRequest) -> HttpResponse:
    actor = policies.actor_for_user(request.user)
    now = timezone.now()
    form = case_forms.CaseFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    filters = form.to_filters()
    cases = selectors.case_list_for_user(user=request.user, filters=filters, now=now)
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "case": case,
            "status_label": status_label(case.status),
            "overdue": selectors.is_overdue(case, now),
            "due_soon": selectors.is_due_soon(case, now),
        }
        for case in page.object_list
    ]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "active_queue": request.GET.get("queue", ""),
        "can_export": policies.can_export(actor),
    }
    if is_htmx(request, "case-list"):
        response = render(request, "cases/partials/case_list.html", context)
    else:
        queues = []
        for key in _queues_for(actor):
            count = selectors.case_list_for_user(
                user=request.user, filters=case_forms.queue_filters(key), now=now
            ).count()
            queues.append({"key": key, "label": case_forms.queue_label(key), "count": count})
        context["queues"] = queues
        response = render_staff(request, "cases/workbench.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


# ---------------------------------------------------------------------------------------------- export

EXPORT_CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _export_refused(request: HttpRequest, message: str) -> HttpResponse:
    """The workbench as it shows these filters (errors next to the fields), with `message`, as a 400."""
    messages.error(request, message)
    response = workbench(request)
    response.status_code = 400
    return response


def _filters_for_log(filters: selectors.CaseFilters) -> dict[str, Any]:
    """The filters worth a log line; the search text only as its length (it may hold a name or a number)."""
    logged = {key: value for key, value in vars(filters).items() if value is not None and key != "q"}
    if filters.q:
        logged["q_chars"] = len(filters.q)
    return logged


def _export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The case list under the workbench's filters (its GET parameters; `page` is ignored), as a download."""
    actor = policies.actor_for_user(request.user)
    if not policies.can_export(actor):
        raise Http404
    form = case_forms.CaseFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        # The workbench would ignore a bad value; an export must not quietly hold more than was asked for.
        return _export_refused(request, _("未能导出：筛选条件有误，请按提示修改后重新导出。"))
    filters = form.to_filters()
    now = timezone.now()
    if fmt == "xlsx":
        count = selectors.case_list_for_user(user=request.user, filters=filters, now=now).count()
        if count >= EXCEL_MAX_ROWS:
            return _export_refused(
                request,
                _("未能导出：共 %(n)s 件，超过 Excel 单个工作表的上限，请缩小筛选范围或导出 CSV。")
                % {"n": count},
            )
    header, rows = exports.case_export_rows(user=request.user, filters=filters, now=now)
    stream = stream_xlsx(header, rows, sheet_name="cases") if fmt == "xlsx" else stream_csv(header, rows)
    logger.info("case export: user=%s format=%s filters=%s", request.user.pk, fmt, _filters_for_log(filters))
    response = StreamingHttpResponse(stream, content_type=EXPORT_CONTENT_TYPES[fmt])
    stamp = timezone.localtime(now, exports.EXPORT_TZ).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="minyi-cases-{stamp}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Accel-Buffering"] = "no"  # nginx passes the chunks on as they come
    return response


@require_GET
@staff_required
def export_xlsx(request: HttpRequest) -> HttpResponse:
    return _export(request, "xlsx")


@require_GET
@staff_required
def export_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "csv")


# ---------------------------------------------------------------------------------------------- case page


def _deadlines(case: Case) -> list[dict[str, Any]]:
    rows = [
        (_("受理时限"), case.accept_due_at),
        (_("办理时限"), case.handle_due_at),
        (_("复查时限"), case.review_due_at),
        (_("评价截止"), case.evaluation_due_at),
    ]
    return [
        {"label": label, "at": at, "current": bool(case.due_at and at == case.due_at)}
        for label, at in rows
        if at
    ]


def _detail_context(
    request: HttpRequest,
    case: Case,
    *,
    bound_forms: dict[CaseAction, case_forms.ActionForm] | None = None,
    error: DomainError | None = None,
    contact: CaseContact | None = None,
    contact_revealed: bool = False,
) -> dict[str, Any]:
    actor = policies.actor_for_user(request.user)
    bound_forms = bound_forms or {}
    replies = selectors.case_replies(case=case, public=False)
    pending = next((r for r in replies if r.state == Reply.State.PENDING), None)
    actions = []
    for action in policies.available_actions(actor, case):
        form = bound_forms.get(action) or case_forms.action_form(
            action, case=case, pending_text=pending.text if pending else ""
        )
        actions.append(
            {
                "name": action.value,
                "label": ACTION_LABELS[action],
                "form": form,
                "open": action in bound_forms,
            }
        )
    allowed_labels = []
    if error is not None and isinstance(error, workflow.InvalidTransition):
        allowed_labels = [str(ACTION_LABELS[CaseAction(a)]) for a in error.allowed]
    return {
        "case": case,
        "status_label": status_label(case.status),
        "overdue": selectors.is_overdue(case),
        "deadlines": _deadlines(case),
        "events": event_rows(selectors.case_timeline(case=case, public=False), public=False),
        "replies": replies,
        "evaluations": list(case.evaluations.order_by("created_at")),
        "attachments": list(case.attachments.order_by("pk")),
        "merged_cases": list(
            policies.visible_cases(actor).filter(merged_into=case).only("pk", "tracking_number")
        ),
        "actions": actions,
        "read_only": not policies.can_act_at_all(actor),
        "can_view_contact": policies.can_view_contact(actor, case),
        "contact": contact,
        "contact_revealed": contact_revealed,
        "error": error,
        "allowed_labels": allowed_labels,
    }


@require_GET
@never_cache
@staff_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    return render_staff(request, "cases/detail.html", _detail_context(request, case))


@require_POST
@staff_required
def case_action(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    if action not in CaseAction._value2member_map_:
        raise Http404
    action_enum = CaseAction(action)
    form = case_forms.action_form(action_enum, case=case, data=request.POST)
    if not form.is_valid():
        context = _detail_context(request, case, bound_forms={action_enum: form})
        context["form_error"] = _("“%(action)s”未完成：请按提示修改。") % {
            "action": ACTION_LABELS[action_enum]
        }
        return render_staff(request, "cases/detail.html", context, status=400)
    actor = policies.actor_for_user(request.user)
    try:
        services.case_transition(
            case_id=case.pk,
            action=action_enum,
            actor=actor,
            note=form.cleaned_data["note"],
            data=form.payload(),
        )
    except DomainError as exc:
        case.refresh_from_db()
        case_forms.add_service_errors(form, exc.fields, exc.message)
        context = _detail_context(request, case, bound_forms={action_enum: form}, error=exc)
        return render_staff(request, "cases/detail.html", context, status=exc.status_code)
    messages.success(request, _("已完成“%(action)s”。") % {"action": ACTION_LABELS[action_enum]})
    if policies.can_view(actor, case):
        return redirect("cases:detail", case_id=case.pk)
    messages.info(request, _("该诉求已不在您的办理范围内。"))
    return redirect("cases:workbench")


@require_POST
@never_cache
@staff_required
def case_contact(request: HttpRequest, case_id: int) -> HttpResponse:
    """Reveal the person's contact details, logging the access (PersonalDataAccess)."""
    case = get_case_or_404(request, case_id)
    if not policies.can_view_contact(request.user, case):
        raise Http404
    services.case_record_contact_view(case=case, user=request.user, purpose="view")
    contact = CaseContact.objects.filter(case=case).first()
    if is_htmx(request):
        return render(
            request, "cases/partials/contact.html", {"case": case, "contact": contact, "revealed": True}
        )
    context = _detail_context(request, case, contact=contact, contact_revealed=True)
    return render_staff(request, "cases/detail.html", context)


@require_GET
@staff_required
def attachment_download(request: HttpRequest, case_id: int, attachment_id: int) -> FileResponse:
    case = get_case_or_404(request, case_id)
    attachment = case.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        # The row outlived its file (a restore without media, a storage outage): say so, do not crash.
        logger.warning("attachment %s of case %s: stored file missing", attachment.pk, case.pk)
        raise Http404
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------------------------------------- notifications


@require_GET
@staff_required
def notifications(request: HttpRequest) -> HttpResponse:
    page = Paginator(notify.inbox(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render_staff(request, "cases/notifications.html", {"page": page})


@require_POST
@staff_required
def notifications_read(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("id", "")
    if raw and not raw.isdigit():
        raise Http404
    count = notify.mark_read(user=request.user, notification_id=int(raw) if raw else None)
    if not raw:
        messages.success(request, _("已将 %(n)s 条通知标为已读。") % {"n": count})
    return redirect(
        reverse("cases:notifications")
        + (f"?page={request.POST['page']}" if request.POST.get("page", "").isdigit() else "")
    )
