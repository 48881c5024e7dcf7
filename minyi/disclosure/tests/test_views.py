"""The portal and the tracking page: proving a case with number + code, and the person's own actions."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote_from_bytes

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from minyi.cases.models import Case, CaseEvent, Evaluation
from minyi.cases.tests.factories import act, drive
from minyi.cases.workflow import CaseStatus
from minyi.intake.services import submission_ingest

S = CaseStatus
TRACK = reverse("disclosure:track")


def text_of(response) -> str:
    return response.content.decode()


def submit(now=None, **changes):
    data = {
        "kind": "complaint",
        "title": "小区路灯不亮",
        "content": "5栋门前的路灯坏了一个月，晚上出行不安全。",
        "contact_email": "lu@example.cn",
        **changes,
    }
    return submission_ingest(channel="web", data=data, files=[], now=now)


def driven(org, status: str, **changes):
    """A case submitted through intake (so its query code is known), driven to `status` with the real clock."""
    start = timezone.now() - timedelta(hours=12)
    receipt = submit(now=start, **changes)
    case, _clock = drive(receipt.case, status, org, now=start)
    return receipt, case


def track_case_url(number: str) -> str:
    return reverse("disclosure:track_case", args=[number])


def action_url(number: str, action: str) -> str:
    return reverse("disclosure:track_action", args=[number, action])


def proved_client(receipt) -> Client:
    client = Client()
    response = client.post(
        TRACK, {"tracking_number": receipt.tracking_number, "query_code": receipt.query_code}
    )
    assert response.status_code == 302
    assert response["Location"] == track_case_url(receipt.tracking_number)
    return client


# ---------------------------------------------------------------------------------------------- portal


@pytest.mark.django_db
def test_portal_shows_the_service_the_ways_in_and_this_months_counts(org, case_in):
    now = timezone.now()
    case_in(S.SUBMITTED, now=now)
    case_in(S.CLOSED, now=now - timedelta(hours=6))
    case_in(S.SUBMITTED, now=now - timedelta(days=400))  # not this month
    response = Client().get(reverse("disclosure:portal"))
    assert response.status_code == 200
    html = text_of(response)
    assert reverse("intake:submit") in html and TRACK in html
    assert 'id="stat-received">2<' in html
    assert 'id="stat-closed">1<' in html
    assert 'id="public-board"' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    # the language switcher: Django's set_language, a POST form with CSRF
    assert 'action="/i18n/setlang/"' in html
    assert html.count('name="language"') == 3


@pytest.mark.django_db
def test_language_switcher_changes_the_language(org):
    client = Client()
    response = client.post(reverse("set_language"), {"language": "zh-hant", "next": "/"})
    assert response.status_code == 302
    html = text_of(client.get(reverse("intake:submit")))
    assert '<html lang="zh-hant"' in html
    assert "投訴" in html  # the kind choices, from the zh_Hant catalogue


# ---------------------------------------------------------------------------------------------- proving a case


@pytest.mark.django_db
def test_tracking_form_renders_and_prefills_the_number():
    response = Client().get(TRACK, {"number": "MY2026112900001"})
    assert response.status_code == 200
    assert 'value="MY2026112900001"' in text_of(response)


@pytest.mark.django_db
def test_wrong_code_and_unknown_number_answer_the_same_404():
    receipt = submit()
    wrong_code = Client().post(
        TRACK, {"tracking_number": receipt.tracking_number, "query_code": "AAAABBBBCCCC"}
    )
    unknown = Client().post(TRACK, {"tracking_number": "MY2000010100001", "query_code": receipt.query_code})
    assert wrong_code.status_code == unknown.status_code == 404
    message = "受理编号或查询码不正确，请核对后重试。"
    assert message in text_of(wrong_code) and message in text_of(unknown)
    assert receipt.case.title not in text_of(wrong_code)


@pytest.mark.django_db
def test_the_case_page_needs_the_proof_in_this_session():
    receipt = submit()
    assert Client().get(track_case_url(receipt.tracking_number)).status_code == 404
    client = proved_client(receipt)
    response = client.get(track_case_url(receipt.tracking_number.lower()))
    assert response.status_code == 200
    html = text_of(response)
    assert "小区路灯不亮" in html and "待受理" in html
    assert "no-store" in response["Cache-Control"]
    # another case is still not visible from this session
    other = submit(title="另一件")
    assert client.get(track_case_url(other.tracking_number)).status_code == 404


@pytest.mark.django_db
def test_tracking_page_escapes_markup_and_hides_staff_names_and_internal_events(org):
    receipt, case = driven(org, S.IN_PROGRESS, title="<script>alert(1)</script>路灯")
    act(case, "request_extension", org.handler_a, note="内部协调说明", data={"days": 3}, now=timezone.now())
    html = text_of(proved_client(receipt).get(track_case_url(receipt.tracking_number)))
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;路灯" in html
    assert "办理中" in html
    assert org.dept_a.name in html  # which department handles it is public
    assert "t_handler_a" not in html and "t_dispatcher" not in html
    assert "内部协调说明" not in html  # extension requests are internal events


@pytest.mark.django_db
def test_tracking_lookups_are_rate_limited(settings):
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "track": "3/m"}
    client = Client()
    for _ in range(3):
        assert client.post(TRACK, {"tracking_number": "MY1", "query_code": "X"}).status_code == 404
    response = client.post(TRACK, {"tracking_number": "MY1", "query_code": "X"})
    assert response.status_code == 429
    assert "请求过于频繁" in text_of(response)


# ---------------------------------------------------------------------------------------------- the person's actions


@pytest.mark.django_db
def test_evaluating_a_reply_as_satisfied_closes_the_case(org):
    receipt, case = driven(org, S.REPLIED)
    client = proved_client(receipt)
    html = text_of(client.get(track_case_url(receipt.tracking_number)))
    assert action_url(receipt.tracking_number, "evaluate") in html
    assert "经核查，已督促物业公司完成维修。" in html  # the reply
    response = client.post(
        action_url(receipt.tracking_number, "evaluate"), {"rating": "satisfied", "resolved": "yes"}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.CLOSED
    evaluation = Evaluation.objects.get(case=case)
    assert (evaluation.rating, evaluation.resolved) == ("satisfied", True)
    html = text_of(client.get(track_case_url(receipt.tracking_number)))
    assert "已办结" in html and "感谢您的评价" in html
    assert action_url(receipt.tracking_number, "evaluate") not in html


@pytest.mark.django_db
def test_dissatisfied_needs_a_reason_then_goes_to_the_supervisor(org):
    receipt, case = driven(org, S.REPLIED)
    client = proved_client(receipt)
    url = action_url(receipt.tracking_number, "evaluate")
    response = client.post(url, {"rating": "dissatisfied", "reason": "  "})
    assert response.status_code == 400
    assert "不满意时请说明理由" in text_of(response)
    assert not Evaluation.objects.exists()
    response = client.post(url, {"rating": "dissatisfied", "resolved": "no", "reason": "路灯还是不亮"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.REPLIED and case.needs_supervision
    assert Evaluation.objects.get().reason == "路灯还是不亮"


@pytest.mark.django_db
def test_an_evaluation_without_a_rating_is_refused(org):
    receipt, case = driven(org, S.REPLIED)
    response = proved_client(receipt).post(
        action_url(receipt.tracking_number, "evaluate"), {"rating": "great"}
    )
    assert response.status_code == 400
    assert Case.objects.get(pk=case.pk).status == S.REPLIED


@pytest.mark.django_db
def test_adding_information_records_an_event(org):
    receipt, case = driven(org, S.ASSIGNED)
    client = proved_client(receipt)
    response = client.post(
        action_url(receipt.tracking_number, "add_info"), {"text": "补充：另有两盏路灯也坏了"}
    )
    assert response.status_code == 302
    event = CaseEvent.objects.filter(case=case, action="add_info").get()
    assert event.data["text"] == "补充：另有两盏路灯也坏了"
    assert event.actor_role == "citizen"
    assert "另有两盏路灯也坏了" in text_of(client.get(track_case_url(receipt.tracking_number)))


@pytest.mark.django_db
def test_requesting_a_review(org):
    receipt, case = driven(org, S.REPLIED)
    client = proved_client(receipt)
    url = action_url(receipt.tracking_number, "request_review")
    assert client.post(url, {"note": ""}).status_code == 400
    response = client.post(url, {"note": "答复与事实不符"})
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).status == S.UNDER_REVIEW


@pytest.mark.django_db
def test_an_action_not_available_now_answers_409(org):
    receipt, case = driven(org, S.IN_PROGRESS)
    client = proved_client(receipt)
    html = text_of(client.get(track_case_url(receipt.tracking_number)))
    assert action_url(receipt.tracking_number, "evaluate") not in html
    response = client.post(action_url(receipt.tracking_number, "evaluate"), {"rating": "satisfied"})
    assert response.status_code == 409
    assert "不能执行“评价”" in text_of(response)
    assert Case.objects.get(pk=case.pk).status == S.IN_PROGRESS


@pytest.mark.django_db
def test_staff_actions_and_unknown_actions_are_not_reachable_from_the_tracking_page(org):
    receipt, case = driven(org, S.SUBMITTED)
    client = proved_client(receipt)
    for action in ("accept", "nonsense"):
        assert client.post(action_url(receipt.tracking_number, action), {"note": "x"}).status_code == 404
    assert Case.objects.get(pk=case.pk).status == S.SUBMITTED


@pytest.mark.django_db
def test_actions_need_the_proof_and_csrf(org):
    receipt, case = driven(org, S.REPLIED)
    response = Client().post(action_url(receipt.tracking_number, "evaluate"), {"rating": "satisfied"})
    assert response.status_code == 404
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(TRACK, {"tracking_number": receipt.tracking_number}).status_code == 403
    assert Case.objects.get(pk=case.pk).status == S.REPLIED


@pytest.mark.django_db
def test_added_information_that_is_not_utf8_is_refused(org):
    receipt, case = driven(org, S.ASSIGNED)
    body = b"text=" + quote_from_bytes("补充说明".encode("gb18030")).encode()
    response = proved_client(receipt).post(
        action_url(receipt.tracking_number, "add_info"),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert "UTF-8" in text_of(response)
    assert not CaseEvent.objects.filter(case=case, action="add_info").exists()


def test_a_merged_case_follows_its_main_case(org):
    """并案: the person behind the merged case sees the main case's progress and its replies, masked, but never
    the other person's own words."""
    start = timezone.now() - timedelta(hours=12)
    main = submit(now=start, title="和平路积水", content="和平路下雨积水严重，我是王五，电话13912345678。")
    dup = submit(now=start, title="和平路积水严重", content="和平路一下雨就积水，出行困难。")
    act(dup.case, "merge", org.dispatcher, note="同一事项", data={"into": main.case.pk}, now=start)
    drive(main.case, CaseStatus.REPLIED, org, now=start)
    main_reply = main.case.replies.get()
    main_reply.text = "已疏通和平路排水管道。如仍有问题请联系13800001111。"
    main_reply.save(update_fields=["text"])
    page = text_of(proved_client(dup).get(track_case_url(dup.tracking_number)))
    assert "并案办理进度" in page and main.tracking_number in page
    assert "已答复" in page and "已疏通和平路排水管道" in page
    assert "13800001111" not in page  # the reply's personal data masked for the follower
    assert "王五" not in page and "13912345678" not in page  # nothing of the other person's own appeal
    # the main case's own person sees the reply as it was sent
    assert "13800001111" in text_of(proved_client(main).get(track_case_url(main.tracking_number)))


# ---------------------------------------------------------------------------------------------- returning later


def local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


@pytest.mark.django_db
def test_a_returning_person_follows_adds_information_and_requests_a_review_within_its_deadline(org):
    """Back days later in a new browser with number + code: the reply, the deadlines (rating and review), adding
    information and asking for a review, whose decision deadline is then shown."""
    receipt, case = driven(org, S.REPLIED)
    client = proved_client(receipt)
    html = text_of(client.get(track_case_url(receipt.tracking_number)))
    assert "经核查，已督促物业公司完成维修。" in html
    review_until = case.replied_at + timedelta(days=30)
    assert 'id="review-until"' in html and local(review_until) in html
    assert 'id="evaluation-due"' in html and local(case.evaluation_due_at) in html
    assert "对答复不服的，可在答复后 30 日内申请复查。" in html
    assert "本件申请复查的期限已过" not in html
    assert action_url(receipt.tracking_number, "add_info") in html
    assert action_url(receipt.tracking_number, "request_review") in html
    # adding information to a replied case
    response = client.post(action_url(receipt.tracking_number, "add_info"), {"text": "补充：夜间仍有噪音"})
    assert response.status_code == 302
    assert CaseEvent.objects.filter(case=case, action="add_info").exists()
    # a review, within the deadline
    response = client.post(action_url(receipt.tracking_number, "request_review"), {"note": "答复与事实不符"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.UNDER_REVIEW
    html = text_of(client.get(track_case_url(receipt.tracking_number)))
    assert "复查办结时限" in html and local(case.review_due_at) in html
    assert 'id="review-until"' not in html  # no second review while one is under way
    assert action_url(receipt.tracking_number, "request_review") not in html


@pytest.mark.django_db
def test_after_the_review_deadline_the_page_says_so_and_a_review_is_refused(org):
    receipt, case = driven(org, S.CLOSED)
    client = proved_client(receipt)
    html = text_of(client.get(track_case_url(receipt.tracking_number)))
    assert action_url(receipt.tracking_number, "request_review") in html  # closed, still within 30 days
    assert 'id="evaluation-due"' not in html  # already rated
    with time_machine.travel(case.replied_at + timedelta(days=30, minutes=1), tick=False):
        client = proved_client(receipt)  # a month later: the old session has expired, the code still works
        html = text_of(client.get(track_case_url(receipt.tracking_number)))
        assert local(case.replied_at + timedelta(days=30)) in html
        assert "已过期" in html and "本件申请复查的期限已过" in html
        assert action_url(receipt.tracking_number, "request_review") not in html
        response = client.post(action_url(receipt.tracking_number, "request_review"), {"note": "不服"})
        assert response.status_code == 409
        assert "已超过申请复查的期限" in text_of(response)
    assert Case.objects.get(pk=case.pk).status == S.CLOSED


@pytest.mark.django_db
def test_the_review_deadline_follows_the_sla_policy(org):
    from minyi.routing.models import SlaPolicy

    SlaPolicy.objects.filter(kind="complaint", priority="ordinary").update(review_request_days=15)
    receipt, case = driven(org, S.REPLIED)
    html = text_of(proved_client(receipt).get(track_case_url(receipt.tracking_number)))
    assert local(case.replied_at + timedelta(days=15)) in html
    assert "对答复不服的，可在答复后 15 日内申请复查。" in html


@pytest.mark.django_db
def test_cases_not_yet_replied_show_no_review_deadline(org):
    receipt, _case = driven(org, S.IN_PROGRESS)
    html = text_of(proved_client(receipt).get(track_case_url(receipt.tracking_number)))
    assert 'id="review-until"' not in html and 'id="evaluation-due"' not in html


@pytest.mark.django_db
def test_portal_lists_the_newest_published_cases_and_links_the_board(org):
    from django.core.cache import cache

    from minyi.disclosure.models import Publication
    from minyi.disclosure.tests.helpers import make_published

    cache.clear()
    empty = text_of(Client().get(reverse("disclosure:portal")))
    assert "已答复诉求的公开信息将在这里发布" in empty
    shown = make_published(title="滨江路路灯不亮")
    make_published(title="信访事项", state=Publication.State.HELD)
    cache.clear()
    html = text_of(Client().get(reverse("disclosure:portal")))
    assert reverse("disclosure:board_case", args=[shown.case_id]) in html
    assert "滨江路路灯不亮" in html and "信访事项" not in html
    assert reverse("disclosure:board") in html and reverse("disclosure:scoreboard") in html
