"""The person's voice (回访): after a reply, ask the person whether the matter is solved and whether they are
satisfied, through a single-use link that needs no login (answered in minyi.disclosure.feedback_views).

`invite_after_reply` is called by minyi.disclosure.signals once a reply has reached the person. Choices:

- One invitation per sent reply, for the case's latest one. A case reopened and replied again gets a new
  invitation; the older link then stops working (the page explains why), since an evaluation always rates the
  latest reply.
- The channel follows the contact: e-mail when there is an address, else SMS when there is a mobile number (a
  landline cannot receive one), else none: an anonymous person, or one without a contact, rates on the
  tracking page with their tracking number and query code.
- People whose cases were merged into this one (并案) follow it and are told of its reply, but are not invited to
  rate it: an evaluation belongs to one's own case, and theirs, being merged, is finished and never replied to.
  Should such a case get a reply of its own, that reply brings its own invitation.
- The message is written in the site's language (settings.LANGUAGE_CODE), not in the language of the staff
  member whose reply set it off.
- The token is at least 32 random bytes; only its SHA-256 is stored. It expires with the case's evaluation window.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from minyi.cases.models import Case, CaseContact, Evaluation, Reply
from minyi.cases.workflow import CaseStatus
from minyi.core.notify import notify_address
from minyi.core.senders import notify_phone
from minyi.disclosure.models import FeedbackInvitation

#: Random bytes in a token (43 URL-safe characters).
TOKEN_BYTES = 32
#: What a token in a URL can look like: anything else is not looked up at all.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{40,64}")
_MOBILE_RE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")

Channel = FeedbackInvitation.Channel


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def feedback_link(token: str) -> str:
    return settings.MINYI_SITE_URL + reverse("disclosure:feedback", args=[token])


def invitation_for_token(token: str) -> FeedbackInvitation | None:
    """The invitation whose link carries `token`, or None (also for anything that cannot be a token)."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    return (
        FeedbackInvitation.objects.select_related("case", "reply", "reply__department")
        .filter(token_hash=hash_token(token))
        .first()
    )


def latest_sent_reply(case: Case) -> Reply | None:
    """The reply an evaluation rates now (the same choice as minyi.cases.services._evaluate)."""
    return case.replies.filter(state=Reply.State.SENT).order_by("-sent_at", "-id").first()


def mobile_number(phone: str) -> str:
    """The 11-digit mainland mobile number in `phone` (spaces, dashes and +86 allowed), or ""."""
    digits = re.sub(r"[\s\-()]", "", phone or "")
    match = _MOBILE_RE.fullmatch(digits)
    return match.group(1) if match else ""


def invite_after_reply(*, case_id: int, now: datetime | None = None) -> FeedbackInvitation | None:
    """Ask the person behind the case to rate its latest sent reply. Returns the new invitation, or None when
    none is due: the case is not waiting for a rating, that reply is rated or already has an invitation, the
    evaluation window has passed, or there is no e-mail address or mobile number to write to. Idempotent (the
    case row is locked while checking). The message goes out after commit, through the outbox."""
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None or case.status != CaseStatus.REPLIED or case.needs_supervision:
            return None
        reply = latest_sent_reply(case)
        if reply is None or Evaluation.objects.filter(reply=reply).exists():
            return None
        if FeedbackInvitation.objects.filter(case=case, reply=reply).exists():
            return None
        expires_at = case.evaluation_due_at or now + settings.MINYI_EVALUATION_WINDOW
        if expires_at <= now:
            return None
        contact = None if case.is_anonymous else CaseContact.objects.filter(case=case).first()
        email = (contact.email or "").strip() if contact else ""
        phone = mobile_number(contact.phone) if contact else ""
        if not email and not phone:
            return None
        token = secrets.token_urlsafe(TOKEN_BYTES)
        invitation = FeedbackInvitation.objects.create(
            case=case,
            reply=reply,
            token_hash=hash_token(token),
            channel=Channel.EMAIL if email else Channel.SMS,
            created_at=now,
            expires_at=expires_at,
        )
        _send(case, invitation, feedback_link(token), email=email, phone=phone)
    return invitation


def _send(case: Case, invitation: FeedbackInvitation, link: str, *, email: str, phone: str) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        values = {
            "no": case.tracking_number,
            "link": link,
            "until": timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d %H:%M"),
            "site": settings.MINYI_SITE_NAME,
        }
        subject = _("请评价诉求 %(no)s 的办理结果") % values
        if invitation.channel == Channel.EMAIL:
            body = (
                _(
                    "您好：\n\n您反映的诉求（受理编号 %(no)s）已答复。请通过下面的链接告诉我们问题是否解决、"
                    "您对答复是否满意：\n\n%(link)s\n\n"
                    "该链接无需登录，仅可使用一次，%(until)s 前有效。"
                    "如对答复不服，可凭受理编号和查询码在“办理查询”中申请复查。\n\n%(site)s"
                )
                % values
            )
            notify_address(address=email, subject=subject, body=body, case_id=case.pk, topic="feedback")
        else:
            text = (
                _(
                    "【%(site)s】您的诉求 %(no)s 已答复，请评价办理结果：%(link)s（%(until)s 前有效，仅可使用一次）"
                )
                % values
            )
            notify_phone(phone=phone, text=text, subject=subject, case_id=case.pk, topic="feedback")
