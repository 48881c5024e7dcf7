"""The page behind a feedback link (/feedback/<token>/): the person says whether the matter is solved and
whether they are satisfied, with no login. The link is the proof, once.

- Unknown (or malformed) token: 404. Used, expired, or for a reply that is no longer the one to rate (a newer
  reply was sent, or the reply was rated on the tracking page): 410 Gone, with the reason. A case that cannot be
  rated now (under review, being handled again): 409.
- The answer is the evaluate action of the cases service, as the person behind the case: "dissatisfied" keeps the
  case replied and puts it in the supervisor's queue. The link is marked used in the same transaction, by an
  UPDATE that only matches an unused link, so two submissions cannot both count; a refused evaluation rolls the
  mark back and the person can correct the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from minyi.cases import policies, services
from minyi.cases.forms import add_service_errors
from minyi.cases.models import Case, Evaluation
from minyi.cases.views import render_rate_limited, status_label
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core.exceptions import DomainError, RateLimited
from minyi.core.ratelimit import check_request_rate
from minyi.disclosure.feedback import invitation_for_token, latest_sent_reply
from minyi.disclosure.forms import FeedbackForm
from minyi.disclosure.models import FeedbackInvitation
from minyi.text.pii import mask_pii


@dataclass
class _Refusal(Exception):
    status: int
    title: str
    message: str


def _unknown() -> _Refusal:
    return _Refusal(
        404,
        _("评价链接无效"),
        _(
            "未找到该评价链接，请核对短信或邮件中的链接是否完整。您也可以凭受理编号和查询码在“办理查询”中评价。"
        ),
    )


def _used() -> _Refusal:
    return _Refusal(
        410,
        _("该链接已使用"),
        _(
            "您已通过该链接提交过评价，每个链接只能使用一次。如需补充情况或申请复查，请凭受理编号和查询码办理查询。"
        ),
    )


def _refusal(invitation: FeedbackInvitation, case: Case, now: datetime) -> _Refusal | None:
    """Why the link cannot be answered now, or None when it can."""
    if invitation.used_at is not None:
        return _used()
    latest = latest_sent_reply(case)
    if latest is None or latest.pk != invitation.reply_id:
        return _Refusal(
            410,
            _("答复已更新"),
            _(
                "该诉求已有新的答复，此链接已失效。新的答复会另行发送评价邀请，您也可以凭受理编号和查询码查看。"
            ),
        )
    if Evaluation.objects.filter(reply_id=invitation.reply_id).exists():
        return _Refusal(
            410, _("该答复已评价"), _("该答复已经评价过（例如通过“办理查询”页面），此链接不再有效。")
        )
    if now >= invitation.expires_at or (case.evaluation_due_at and now > case.evaluation_due_at):
        return _Refusal(
            410,
            _("评价链接已过期"),
            _("评价期限已过，此链接已失效。如对答复不服，可在规定期限内凭受理编号和查询码申请复查。"),
        )
    if case.status != CaseStatus.REPLIED:
        return _Refusal(
            409,
            _("目前不能评价"),
            _("该诉求目前处于“%(status)s”状态，暂不能评价。") % {"status": status_label(case.status)},
        )
    return None


def _render_refusal(request: HttpRequest, refusal: _Refusal) -> HttpResponse:
    context = {"title": refusal.title, "message": refusal.message, "code": refusal.status}
    return render(request, "disclosure/feedback_gone.html", context, status=refusal.status)


def _render_form(
    request: HttpRequest,
    invitation: FeedbackInvitation,
    form: FeedbackForm,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    case = invitation.case
    context = {
        "form": form,
        "title": mask_pii(case.title),
        "tracking_number": case.tracking_number,
        "reply": invitation.reply,
        "expires_at": invitation.expires_at,
        "error_message": error,
    }
    return render(request, "disclosure/feedback.html", context, status=status)


@require_http_methods(["GET", "POST"])
@never_cache
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        try:
            check_request_rate(request, "feedback")
        except RateLimited as exc:
            return render_rate_limited(request, exc, scope="feedback")
    now = timezone.now()
    invitation = invitation_for_token(token)
    if invitation is None:
        return _render_refusal(request, _unknown())
    refusal = _refusal(invitation, invitation.case, now)
    if refusal is not None:
        return _render_refusal(request, refusal)
    if request.method != "POST":
        return _render_form(request, invitation, FeedbackForm())

    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return _render_form(request, invitation, form, status=400)
    try:
        with transaction.atomic():
            case = Case.objects.select_for_update().filter(pk=invitation.case_id).first()
            if case is None:
                raise _unknown()
            refusal = _refusal(invitation, case, now)
            if refusal is not None:
                raise refusal
            claimed = FeedbackInvitation.objects.filter(pk=invitation.pk, used_at__isnull=True).update(
                used_at=now
            )
            if not claimed:
                raise _used()
            case = services.case_transition(
                case_id=case.pk,
                action=CaseAction.EVALUATE,
                actor=policies.citizen_actor(case=case),
                note=form.note_value(),
                data=form.payload(),
                now=now,
            )
    except _Refusal as refusal:
        return _render_refusal(request, refusal)
    except DomainError as exc:
        add_service_errors(form, exc.fields, exc.message)
        return _render_form(request, invitation, form, error=exc.message, status=exc.status_code)
    context = {
        "tracking_number": case.tracking_number,
        "dissatisfied": form.cleaned_data["rating"] == Evaluation.Rating.DISSATISFIED,
        "closed": case.status == CaseStatus.CLOSED,
    }
    return render(request, "disclosure/feedback_done.html", context)
