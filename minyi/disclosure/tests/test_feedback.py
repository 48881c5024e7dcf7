"""The feedback invitation (回访) sent after a reply: one single-use link per sent reply, by e-mail or SMS,
driven through the real workflow (the case_changed signal after commit calls invite_after_reply)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from minyi.cases.models import Case
from minyi.cases.tests.factories import act, create_case, drive
from minyi.cases.workflow import CaseStatus
from minyi.core.models import Notification
from minyi.core.senders import SmsSender
from minyi.disclosure.feedback import feedback_link, invitation_for_token, invite_after_reply, mobile_number
from minyi.disclosure.models import FeedbackInvitation

S = CaseStatus
SITE = "https://minyi.example.cn"
LINK_RE = re.compile(re.escape(SITE) + r"/feedback/([A-Za-z0-9_-]+)/")
PHONE = "13912345678"


class FakeSMS(SmsSender):
    """The test gateway (settings.MINYI_SMS_BACKEND points here)."""

    sent: list[tuple[str, str]] = []

    def send(self, *, to: str, text: str) -> None:
        FakeSMS.sent.append((to, text))


@pytest.fixture(autouse=True)
def _site(settings):
    settings.MINYI_SITE_URL = SITE


@pytest.fixture
def sms(settings):
    settings.MINYI_SMS_BACKEND = "minyi.disclosure.tests.test_feedback.FakeSMS"
    FakeSMS.sent = []
    return FakeSMS.sent


def start_time():
    """Twelve hours ago: the reply (four steps later) is well inside its evaluation window by the real clock."""
    return timezone.now() - timedelta(hours=12)


def replied(org, capture, **create_kwargs) -> Case:
    """A case driven to `replied`, with every after-commit effect (notifications, the invitation) run."""
    start = start_time()
    case = create_case(now=start, **create_kwargs)
    with capture(execute=True):
        case, _clock = drive(case, S.REPLIED, org, now=start)
    return case


def tokens_in(text: str) -> list[str]:
    return LINK_RE.findall(text)


def mailed_token(address: str) -> str:
    """The token in the (one) feedback e-mail sent to `address`."""
    found = [t for m in mail.outbox if address in m.to for t in tokens_in(m.body)]
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------------------------------------- e-mail


def test_a_reply_sends_an_email_with_a_single_use_link(org, django_capture_on_commit_callbacks, sms):
    case = replied(
        org, django_capture_on_commit_callbacks, contact={"name": "陆一", "email": "lu@example.cn"}
    )
    invitation = FeedbackInvitation.objects.get(case=case)
    reply = case.replies.get()
    assert invitation.reply == reply
    assert invitation.channel == FeedbackInvitation.Channel.EMAIL
    assert invitation.expires_at == case.evaluation_due_at
    assert invitation.used_at is None
    # the e-mail: in Chinese, to the person, with the link; the raw token is stored nowhere but in the message
    message = next(m for m in mail.outbox if tokens_in(m.body))
    assert message.to == ["lu@example.cn"]
    assert case.tracking_number in message.subject and "评价" in message.subject
    assert "仅可使用一次" in message.body
    token = mailed_token("lu@example.cn")
    assert len(token) >= 43  # 32 random bytes
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash
    assert invitation_for_token(token) == invitation
    assert feedback_link(token) in message.body
    note = Notification.objects.get(topic="feedback")
    assert note.channel == Notification.Channel.EMAIL and note.sent_at is not None
    assert sms == []


def test_email_is_preferred_when_the_contact_has_both(org, django_capture_on_commit_callbacks, sms):
    case = replied(
        org, django_capture_on_commit_callbacks, contact={"email": "both@example.cn", "phone": PHONE}
    )
    assert FeedbackInvitation.objects.get(case=case).channel == FeedbackInvitation.Channel.EMAIL
    assert sms == []
    assert mailed_token("both@example.cn")


def test_the_message_is_in_the_sites_language_whatever_the_staff_language(
    org, django_capture_on_commit_callbacks, sms
):
    from django.utils import translation

    with translation.override("en"):
        replied(org, django_capture_on_commit_callbacks, contact={"email": "zh@example.cn"})
    message = next(m for m in mail.outbox if tokens_in(m.body))
    assert "请评价" in message.subject


# ---------------------------------------------------------------------------------------------- SMS


def test_sms_when_the_contact_has_only_a_mobile_number(org, django_capture_on_commit_callbacks, sms):
    case = replied(org, django_capture_on_commit_callbacks, contact={"phone": "+86 139-1234-5678"})
    invitation = FeedbackInvitation.objects.get(case=case)
    assert invitation.channel == FeedbackInvitation.Channel.SMS
    assert len(sms) == 1
    to, text = sms[0]
    assert to == PHONE
    (token,) = tokens_in(text)
    assert invitation_for_token(token) == invitation
    assert case.tracking_number in text
    note = Notification.objects.get(channel=Notification.Channel.SMS)
    assert note.case_id == case.pk and note.topic == "feedback" and note.sent_at is not None


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13912345678", PHONE),
        ("+8613912345678", PHONE),
        ("0086 139 1234 5678", PHONE),
        ("010-87654321", ""),
        ("12345678901", ""),
        ("139123456789", ""),
        ("", ""),
    ],
)
def test_only_mobile_numbers_receive_an_sms(phone, expected):
    assert mobile_number(phone) == expected


# ---------------------------------------------------------------------------------------------- nobody to write to


@pytest.mark.parametrize(
    "create_kwargs",
    [
        {"contact": {}},
        {"contact": {"name": "王五", "phone": "010-87654321"}},  # a landline cannot receive an SMS
        {"is_anonymous": True, "contact": {"email": "anon@example.cn", "phone": PHONE}},
    ],
    ids=["no-contact", "landline-only", "anonymous"],
)
def test_no_invitation_without_an_address_or_mobile(
    org, django_capture_on_commit_callbacks, sms, create_kwargs
):
    case = replied(org, django_capture_on_commit_callbacks, **create_kwargs)
    assert case.status == S.REPLIED
    assert not FeedbackInvitation.objects.exists()
    assert sms == []
    assert not any(tokens_in(m.body) for m in mail.outbox)


# ---------------------------------------------------------------------------------------------- when it is due


def test_invite_is_idempotent(org, django_capture_on_commit_callbacks, sms):
    case = replied(org, django_capture_on_commit_callbacks, contact={"email": "once@example.cn"})
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        assert invite_after_reply(case_id=case.pk) is None
        assert invite_after_reply(case_id=case.pk) is None
    assert FeedbackInvitation.objects.filter(case=case).count() == 1
    assert len(mail.outbox) == sent


def test_no_invitation_before_a_reply_or_after_the_rating(org, django_capture_on_commit_callbacks, sms):
    start = start_time()
    case = create_case(now=start, contact={"email": "x@example.cn"})
    with django_capture_on_commit_callbacks(execute=True):
        case, _clock = drive(case, S.IN_PROGRESS, org, now=start)
    assert invite_after_reply(case_id=case.pk) is None
    closed = create_case(now=start, contact={"email": "y@example.cn"})
    closed, _clock = drive(
        closed, S.CLOSED, org, now=start
    )  # rated, without running the after-commit effects
    assert invite_after_reply(case_id=closed.pk) is None
    assert invite_after_reply(case_id=10**9) is None
    assert not FeedbackInvitation.objects.exists()


def test_no_invitation_once_the_evaluation_window_has_passed(org, sms):
    start = timezone.now() - timedelta(days=30)
    case = create_case(now=start, contact={"email": "late@example.cn"})
    case, _clock = drive(case, S.REPLIED, org, now=start)
    assert case.evaluation_due_at < timezone.now()
    assert invite_after_reply(case_id=case.pk) is None
    # the window counts from `now`: at the time of the reply it would have been due
    assert invite_after_reply(case_id=case.pk, now=case.replied_at) is not None


def test_a_reply_that_needs_approval_invites_only_once_approved(org, django_capture_on_commit_callbacks, sms):
    org.dept_a.reply_needs_approval = True
    org.dept_a.save()
    start = start_time()
    case = create_case(now=start, contact={"email": "wait@example.cn"})
    with django_capture_on_commit_callbacks(execute=True):
        case, clock = drive(case, S.IN_PROGRESS, org, now=start)
        case = act(case, "reply", org.handler_a, data={"text": "已处理。"}, now=clock + timedelta(hours=1))
    assert case.status == S.IN_PROGRESS  # waiting for the head's approval
    assert not FeedbackInvitation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        case = act(case, "approve_reply", org.head_a, now=clock + timedelta(hours=2))
    assert case.status == S.REPLIED
    assert FeedbackInvitation.objects.get(case=case).reply == case.replies.get()
    assert mailed_token("wait@example.cn")


def test_a_new_reply_after_reopening_brings_a_new_invitation(org, django_capture_on_commit_callbacks, sms):
    case = replied(org, django_capture_on_commit_callbacks, contact={"email": "again@example.cn"})
    first = FeedbackInvitation.objects.get(case=case)
    clock = case.replied_at
    with django_capture_on_commit_callbacks(execute=True):
        case = act(case, "reopen", org.supervisor, note="答复不到位", now=clock + timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        case = act(case, "start", org.handler_a, now=clock + timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        case = act(
            case, "reply", org.handler_a, data={"text": "已重新处理。"}, now=clock + timedelta(minutes=30)
        )
    invitations = list(FeedbackInvitation.objects.filter(case=case).order_by("created_at", "id"))
    assert len(invitations) == 2 and invitations[0] == first
    assert invitations[1].reply == case.replies.order_by("-sent_at").first() != first.reply
    assert invitations[1].expires_at == case.evaluation_due_at


def test_people_whose_cases_were_merged_in_are_told_but_not_invited(
    org, django_capture_on_commit_callbacks, sms
):
    start = start_time()
    main = create_case(now=start, contact={"email": "main@example.cn"})
    dup = create_case(now=start, contact={"email": "dup@example.cn"})
    with django_capture_on_commit_callbacks(execute=True):
        act(dup, "merge", org.dispatcher, note="同一事项", data={"into": main.pk}, now=start)
        main, _clock = drive(main, S.REPLIED, org, now=start)
    assert list(FeedbackInvitation.objects.values_list("case_id", flat=True)) == [main.pk]
    assert mailed_token("main@example.cn")
    dup_mail = [m for m in mail.outbox if "dup@example.cn" in m.to]
    assert any("已答复" in m.subject for m in dup_mail)  # the follower hears of the reply
    assert not any(tokens_in(m.body) for m in dup_mail)  # but is not asked to rate someone else's case
