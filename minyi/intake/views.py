"""Submission pages: the public web form and its receipt, and the staff log of calls, letters and visits.

The receipt shows the query code once: it travels in the session under a one-time key that the receipt
page pops, so a reload shows the tracking number only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from minyi.cases import policies
from minyi.cases.forms import add_service_errors
from minyi.cases.views import render_rate_limited, render_staff, staff_required
from minyi.core.choices import Channel
from minyi.core.exceptions import DomainError, RateLimited
from minyi.core.ratelimit import check_request_rate
from minyi.intake.forms import StaffLogForm, SubmissionForm
from minyi.intake.services import Receipt, Upload, submission_ingest

RECEIPT_KEY = "minyi.receipt"
LAST_RECEIPT_KEY = "minyi.receipt.last"
LOG_RECEIPT_KEY = "minyi.log_receipt"
LAST_LOG_RECEIPT_KEY = "minyi.log_receipt.last"


def uploads_from(request: HttpRequest) -> list[Upload]:
    """The uploaded files as Uploads, reading at most the size limit + 1 byte of each (enough to refuse
    an oversized file without reading it whole) and at most one file more than the count limit."""
    limit = settings.MINYI_ATTACHMENT_MAX_BYTES + 1
    files = request.FILES.getlist("attachments")[: settings.MINYI_ATTACHMENT_MAX_COUNT + 1]
    uploads = []
    for uploaded in files:
        uploaded.seek(0)
        uploads.append(Upload(name=uploaded.name or "", content=uploaded.read(limit)))
    return uploads


def _ingest(
    request: HttpRequest, form: SubmissionForm, *, channel: str, **who: Any
) -> tuple[Receipt | None, str, int]:
    """Run the submission; (receipt, "", 302) or (None, message, status) with the errors put on the form."""
    if not form.is_valid():
        return None, _("提交的内容有误，请按提示修改后重新提交。"), 400
    try:
        receipt = submission_ingest(
            channel=channel, data=form.submission_data(), files=uploads_from(request), **who
        )
    except DomainError as exc:
        add_service_errors(form, exc.fields, exc.message)
        return None, exc.message, exc.status_code
    except DjangoValidationError as exc:
        for field, errors in getattr(exc, "message_dict", {}).items():
            if field in form.fields:
                form.add_error(field, errors)
        return None, _("提交的内容有误，请按提示修改后重新提交。"), 400
    return receipt, "", 302


def _remember_receipt(request: HttpRequest, key: str, receipt: Receipt) -> None:
    request.session[key] = {
        "tracking_number": receipt.tracking_number,
        "query_code": receipt.query_code,
        "case_id": receipt.case.pk,
    }


def _take_receipt(request: HttpRequest, key: str, last_key: str) -> dict[str, Any] | None:
    """The receipt to show: with the query code the first time, without it afterwards."""
    data = request.session.pop(key, None)
    if data:
        request.session[last_key] = {"tracking_number": data["tracking_number"], "case_id": data["case_id"]}
        return data
    last = request.session.get(last_key)
    return {**last, "query_code": None} if last else None


@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "intake/submit.html", {"form": SubmissionForm()})
    try:
        check_request_rate(request, "submit")
    except RateLimited as exc:
        return render_rate_limited(request, exc, scope="submit")
    form = SubmissionForm(request.POST)
    receipt, message, status = _ingest(request, form, channel=Channel.WEB, submitted_by=request.user)
    if receipt is None:
        return render(request, "intake/submit.html", {"form": form, "error_message": message}, status=status)
    _remember_receipt(request, RECEIPT_KEY, receipt)
    return redirect("intake:receipt")


@require_GET
@never_cache
def receipt(request: HttpRequest) -> HttpResponse:
    data = _take_receipt(request, RECEIPT_KEY, LAST_RECEIPT_KEY)
    if data is None:
        return redirect("intake:submit")
    return render(request, "intake/receipt.html", {"receipt": data})


@require_http_methods(["GET", "POST"])
@staff_required
def log_appeal(request: HttpRequest) -> HttpResponse:
    """Staff register an appeal received by phone, letter or visit (intake officers, dispatchers, supervisors)."""
    if not policies.can_log_appeal(request.user):
        raise Http404
    if request.method != "POST":
        return render_staff(request, "intake/log.html", {"form": StaffLogForm()})
    form = StaffLogForm(request.POST)
    channel = request.POST.get("channel", "")
    receipt, message, status = _ingest(request, form, channel=channel, logged_by=request.user)
    if receipt is None:
        return render_staff(
            request, "intake/log.html", {"form": form, "error_message": message}, status=status
        )
    _remember_receipt(request, LOG_RECEIPT_KEY, receipt)
    return redirect("intake:log_receipt")


@require_GET
@never_cache
@staff_required
def log_receipt(request: HttpRequest) -> HttpResponse:
    if not policies.can_log_appeal(request.user):
        raise Http404
    data = _take_receipt(request, LOG_RECEIPT_KEY, LAST_LOG_RECEIPT_KEY)
    if data is None:
        return redirect("intake:log")
    return render_staff(request, "intake/log_receipt.html", {"receipt": data})
