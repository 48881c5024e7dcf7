"""The page behind a feedback link: the person rates the reply once, with no login; dissatisfaction with a
reason reaches the supervisor's queue; a used, expired or replaced link is refused with its reason."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import quote_from_bytes

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from minyi.cases import policies
from minyi.cases.models import Case, CaseEvent, Evaluation
from minyi.cases.selectors import CaseFilters, case_list_for_user
from minyi.cases.services import MAX_NOTE_CHARS
from minyi.cases.tests.factories import act, fresh
from minyi.cases.workflow import CaseStatus
from minyi.core.models import Notification
from minyi.disclosure.models import FeedbackInvitation
from minyi.disclosure.tests.test_feedback import LINK_RE, PHONE, SITE, mailed_token, replied

S = CaseStatus
REPLY_TEXT = "经核查，已督促物业公司完成维修。"


def url(token: str) -> str:
    return reverse("disclosure:feedback", args=[token])


def text_of(response) -> str:
    return response.content.decode()


@pytest.fixture(autouse=True)
def _site(settings):
    settings.MINYI_SITE_URL = SITE


@pytest.fixture
def invited(org, django_capture_on_commit_callbacks):
    """invited(**create_kwargs) -> (case, token): a replied case whose person got a feedback e-mail."""

    def make(**create_kwargs):
        create_kwargs.setdefault("contact", {"name": "陆一", "email": "lu@example.cn"})
        case = replied(org, django_capture_on_commit_callbacks, **create_kwargs)
        return case, mailed_token(create_kwargs["contact"]["email"])

    return make


def answer(client, token, **data):
    return client.post(url(token), {"resolved": "yes", "rating": "satisfied", "reason": "", **data})


# ---------------------------------------------------------------------------------------------- the page


def test_the_link_shows_the_masked_title_the_reply_and_the_form(invited):
    case, token = invited(title=f"{PHONE}反映：小区电梯停运")
    response = Client().get(url(token))
    assert response.status_code == 200
    html = text_of(response)
    assert "小区电梯停运" in html and PHONE not in html  # the title is masked: the link may be forwarded
    assert REPLY_TEXT in html
    assert case.tracking_number in html
    for name in ("resolved", "rating", "reason"):
        assert f'name="{name}"' in html
    assert "问题是否解决" in html and "满意" in html and "基本满意" in html and "不满意" in html
    assert "csrfmiddlewaretoken" in html
    assert "仅可使用一次" in html
    assert "no-store" in response["Cache-Control"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "token",
    [
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # well-formed, unknown
        "short",
        "x" * 3000,
        "<img src=x onerror=alert(1)>",
        "'; DROP TABLE disclosure_feedbackinvitation; --",
        "\u202e\u200b" + "A" * 43,
    ],
    ids=["unknown", "short", "huge", "markup", "sql", "bidi"],
)
def test_an_unknown_or_malformed_token_is_a_404_in_chinese(db, token):
    response = Client().get(url(token))
    assert response.status_code == 404
    html = text_of(response)
    assert "评价链接无效" in html
    assert "<img src=x" not in html
    assert Client().post(url(token), {"rating": "satisfied"}).status_code == 404


# ---------------------------------------------------------------------------------------------- answering


def test_satisfied_closes_the_case_and_the_link_works_once(invited):
    case, token = invited()
    client = Client()
    response = answer(client, token, resolved="yes", rating="satisfied")
    assert response.status_code == 200
    assert "感谢您的评价" in text_of(response) and "诉求已办结" in text_of(response)
    case.refresh_from_db()
    assert case.status == S.CLOSED
    evaluation = Evaluation.objects.get(case=case)
    assert (evaluation.rating, evaluation.resolved, evaluation.reply) == (
        "satisfied",
        True,
        case.replies.get(),
    )
    assert CaseEvent.objects.filter(case=case, action="evaluate", actor_role="citizen").count() == 1
    invitation = FeedbackInvitation.objects.get(case=case)
    assert invitation.used_at is not None
    # a second use, from anywhere
    again = answer(Client(), token, rating="dissatisfied", reason="再试一次")
    assert again.status_code == 410
    assert "该链接已使用" in text_of(again)
    assert Client().get(url(token)).status_code == 410
    assert Evaluation.objects.filter(case=case).count() == 1


def test_basically_satisfied_and_not_resolved_is_recorded(invited):
    case, token = invited()
    assert answer(Client(), token, resolved="no", rating="basically_satisfied").status_code == 200
    evaluation = Evaluation.objects.get(case=case)
    assert (evaluation.rating, evaluation.resolved) == ("basically_satisfied", False)
    assert Case.objects.get(pk=case.pk).status == S.CLOSED


def test_dissatisfied_with_a_reason_goes_to_the_supervisors_queue(
    org, invited, django_capture_on_commit_callbacks
):
    case, token = invited()
    with django_capture_on_commit_callbacks(execute=True):
        response = answer(Client(), token, resolved="no", rating="dissatisfied", reason="电梯仍然停运")
    assert response.status_code == 200
    assert "督办人员跟进处理" in text_of(response)
    case.refresh_from_db()
    assert case.status == S.REPLIED and case.needs_supervision
    evaluation = Evaluation.objects.get(case=case)
    assert (evaluation.rating, evaluation.resolved, evaluation.reason) == (
        "dissatisfied",
        False,
        "电梯仍然停运",
    )
    queue = case_list_for_user(user=fresh(org.supervisor), filters=CaseFilters(queue="supervision"))
    assert case in queue
    told = Notification.objects.filter(recipient=org.supervisor, topic="dissatisfied", case_id=case.pk)
    assert told.get().body == "电梯仍然停运"
    assert any(org.supervisor.email in m.to and case.tracking_number in m.subject for m in mail.outbox)
    assert answer(Client(), token, rating="satisfied").status_code == 410


@pytest.mark.parametrize(
    "reason", ["", "   ", "\u200b\u202e\u2066 \x07\x1b"], ids=["empty", "spaces", "invisible"]
)
def test_dissatisfied_without_a_reason_is_refused_and_the_link_stays_usable(invited, reason):
    case, token = invited()
    response = answer(Client(), token, resolved="no", rating="dissatisfied", reason=reason)
    assert response.status_code == 400
    assert "不满意时请说明理由" in text_of(response)
    assert not Evaluation.objects.exists()
    assert FeedbackInvitation.objects.get(case=case).used_at is None  # the refused attempt did not use it up
    assert answer(Client(), token, resolved="no", rating="dissatisfied", reason="仍未修好").status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        {"resolved": "", "rating": "satisfied"},
        {"resolved": "maybe", "rating": "satisfied"},
        {"resolved": "yes", "rating": ""},
        {"resolved": "yes", "rating": "great"},
        {"resolved": "yes", "rating": "satisfied' OR '1'='1"},
    ],
    ids=["no-resolved", "bad-resolved", "no-rating", "bad-rating", "sql-rating"],
)
def test_both_questions_must_be_answered_with_known_values(invited, data):
    case, token = invited()
    response = Client().post(url(token), data)
    assert response.status_code == 400
    assert "提交的内容有误" in text_of(response)
    assert not Evaluation.objects.exists()
    assert Case.objects.get(pk=case.pk).status == S.REPLIED


def test_the_link_needs_csrf(invited):
    case, token = invited()
    strict = Client(enforce_csrf_checks=True)
    assert strict.get(url(token)).status_code == 200
    assert strict.post(url(token), {"resolved": "yes", "rating": "satisfied"}).status_code == 403
    assert not Evaluation.objects.exists()
    assert FeedbackInvitation.objects.get(case=case).used_at is None


def test_answers_are_rate_limited(settings, invited):
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "feedback": "2/m"}
    _case, token = invited()
    client = Client()
    with time_machine.travel(timezone.now(), tick=False):  # one window of the fixed-window limiter
        assert answer(client, token).status_code == 200
        assert answer(client, token).status_code == 410
        response = answer(client, token)
    assert response.status_code == 429
    assert "请求过于频繁" in text_of(response)


def test_the_claim_is_atomic_a_link_used_meanwhile_is_refused(invited, monkeypatch):
    """Between the checks and the claim another request may use the link: the UPDATE ... WHERE used_at IS NULL
    then matches nothing, and nothing is evaluated."""
    from minyi.disclosure import feedback_views

    case, token = invited()
    FeedbackInvitation.objects.filter(case=case).update(used_at=timezone.now())
    monkeypatch.setattr(feedback_views, "_refusal", lambda invitation, case, now: None)
    response = answer(Client(), token)
    assert response.status_code == 410
    assert "该链接已使用" in text_of(response)
    assert not Evaluation.objects.exists()
    assert Case.objects.get(pk=case.pk).status == S.REPLIED


# ---------------------------------------------------------------------------------------------- links that no longer work


def test_an_expired_link_is_gone(invited):
    case, token = invited()
    with time_machine.travel(case.evaluation_due_at + timedelta(minutes=1), tick=False):
        response = Client().get(url(token))
        assert response.status_code == 410
        assert "评价链接已过期" in text_of(response)
        assert answer(Client(), token).status_code == 410
    assert not Evaluation.objects.exists()
    assert Case.objects.get(pk=case.pk).status == S.REPLIED


def test_the_links_own_expiry_counts_even_inside_the_cases_window(invited):
    case, token = invited()
    FeedbackInvitation.objects.filter(case=case).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(url(token)).status_code == 410


def test_a_reply_rated_on_the_tracking_page_makes_the_link_gone(invited):
    case, token = invited()
    act(case, "evaluate", policies.citizen_actor(case=case), data={"rating": "satisfied"}, now=timezone.now())
    response = Client().get(url(token))
    assert response.status_code == 410
    assert "该答复已评价" in text_of(response)


def test_a_case_under_review_cannot_be_rated_now(invited):
    case, token = invited()
    act(case, "request_review", policies.citizen_actor(case=case), note="答复与事实不符", now=timezone.now())
    response = Client().get(url(token))
    assert response.status_code == 409
    assert "目前不能评价" in text_of(response) and "复查中" in text_of(response)
    assert answer(Client(), token).status_code == 409
    assert not Evaluation.objects.exists()


def test_a_newer_reply_replaces_the_old_link(org, invited, django_capture_on_commit_callbacks):
    case, old = invited()
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        case = act(case, "reopen", org.supervisor, note="答复不到位", now=now)
    # being handled again: the old reply cannot be rated now
    assert Client().get(url(old)).status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        case = act(case, "start", org.handler_a, now=now + timedelta(seconds=1))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        case = act(
            case, "reply", org.handler_a, data={"text": "已更换电梯主板。"}, now=now + timedelta(seconds=2)
        )
    new = mailed_token("lu@example.cn")
    response = Client().get(url(old))
    assert response.status_code == 410
    assert "答复已更新" in text_of(response)
    assert answer(Client(), old).status_code == 410
    page = Client().get(url(new))
    assert page.status_code == 200 and "已更换电梯主板。" in text_of(page)
    assert answer(Client(), new).status_code == 200
    assert Evaluation.objects.get(case=case).reply.text == "已更换电梯主板。"


# ---------------------------------------------------------------------------------------------- hostile input


def test_markup_and_sql_in_the_reason_are_kept_as_text_and_escaped(invited):
    case, token = invited()
    hostile = "<script>alert(1)</script>'; DROP TABLE cases_case; --"
    # re-rendered with an error (no answer to the first question): escaped
    response = Client().post(url(token), {"rating": "dissatisfied", "reason": hostile})
    assert response.status_code == 400
    html = text_of(response)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    response = answer(Client(), token, resolved="no", rating="dissatisfied", reason=hostile)
    assert response.status_code == 200
    assert Evaluation.objects.get(case=case).reason == hostile
    assert Case.objects.count() == 1


def test_invisible_and_control_characters_are_removed_from_the_reason(invited):
    case, token = invited()
    reason = "电梯\u202e仍然\u200b停运\u2066\x07\x1b[31m，\u200d请处理"
    assert answer(Client(), token, resolved="no", rating="dissatisfied", reason=reason).status_code == 200
    assert Evaluation.objects.get(case=case).reason == "电梯仍然停运[31m，请处理"


def test_a_null_character_is_refused(invited):
    _case, token = invited()
    response = answer(Client(), token, rating="dissatisfied", reason="电梯\x00停运")
    assert response.status_code == 400
    assert not Evaluation.objects.exists()


def test_an_oversized_reason_is_refused_with_a_message(invited):
    _case, token = invited()
    response = answer(Client(), token, rating="dissatisfied", reason="长" * (MAX_NOTE_CHARS + 1))
    assert response.status_code == 400
    assert str(MAX_NOTE_CHARS) in text_of(response)
    assert not Evaluation.objects.exists()


def test_a_request_body_over_the_upload_limit_is_a_400_not_a_500(settings, invited):
    _case, token = invited()
    body = "resolved=yes&rating=dissatisfied&reason=" + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = Client().post(url(token), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert not Evaluation.objects.exists()


def test_a_reason_that_is_not_utf8_is_refused(invited):
    case, token = invited()
    body = (
        b"resolved=no&rating=dissatisfied&reason="
        + quote_from_bytes("电梯仍然停运".encode("gb18030")).encode()
    )
    response = Client().post(url(token), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "UTF-8" in text_of(response)
    assert not Evaluation.objects.exists()
    assert FeedbackInvitation.objects.get(case=case).used_at is None


# ---------------------------------------------------------------------------------------------- personal data


def test_the_phone_number_never_reaches_a_log(
    org, settings, caplog, capsys, django_capture_on_commit_callbacks
):
    """SMS through the console sender (the default), then an answer: no log record holds the number, and the
    console shows it masked."""
    settings.MINYI_SMS_BACKEND = "minyi.core.senders.ConsoleSMS"
    caplog.set_level(logging.DEBUG)
    case = replied(org, django_capture_on_commit_callbacks, contact={"name": "王五", "phone": PHONE})
    out = capsys.readouterr().out
    assert "139****5678" in out and PHONE not in out
    (token,) = LINK_RE.findall(out)
    assert Client().get(url(token)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = answer(Client(), token, resolved="no", rating="dissatisfied", reason="仍未修好")
    assert response.status_code == 200
    assert Client().get(url(token)).status_code == 410  # a logged 4xx response too
    assert Case.objects.get(pk=case.pk).needs_supervision
    assert caplog.records
    for record in caplog.records:
        assert PHONE not in record.getMessage(), record.name
        assert PHONE not in repr(record.args), record.name
    assert re.search(r"139\*{4}5678", caplog.text)  # the console sender's record, masked
