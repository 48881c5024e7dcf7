"""Staff pages: who sees what, the actions as forms, contact reveal, notifications, login.

Uses the organisation from minyi/cases/tests/factories.py (fixtures `org`, `make_case`, `case_in`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote_from_bytes

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from minyi.cases import policies
from minyi.cases.models import Attachment, Case, CaseEvent, PersonalDataAccess
from minyi.cases.tests.factories import act, create_case, drive
from minyi.cases.workflow import CaseStatus
from minyi.core.models import Notification

S = CaseStatus
WORKBENCH = reverse("cases:workbench")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def detail_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.pk])


def action_url(case: Case, action: str) -> str:
    return reverse("cases:action", args=[case.pk, action])


def text_of(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------------------------------------- access


@pytest.mark.django_db
def test_staff_pages_redirect_anonymous_visitors_to_login(make_case):
    case = make_case()
    for url in (WORKBENCH, detail_url(case), reverse("cases:notifications"), reverse("intake:log")):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.django_db
def test_staff_pages_do_not_exist_for_an_account_without_a_staff_role(org, make_case):
    case = make_case(submitted_by=org.citizen)
    client = client_for(org.citizen)
    assert client.get(WORKBENCH).status_code == 404
    assert client.get(detail_url(case)).status_code == 404
    assert client.get(reverse("cases:notifications")).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "queues", "absent"),
    [
        ("intake", ["待受理"], ["待派单", "本部门办理中"]),
        ("dispatcher", ["待派单"], ["待受理", "本部门办理中"]),
        ("handler_a", ["本部门办理中"], ["待受理", "待派单"]),
        ("supervisor", ["待督办处理"], ["待受理", "待派单"]),
        ("leader", ["待督办处理"], ["待受理", "待派单"]),
    ],
)
def test_workbench_shows_the_queues_of_the_users_roles(org, make_case, role, queues, absent):
    make_case()
    response = client_for(getattr(org, role)).get(WORKBENCH)
    assert response.status_code == 200
    html = text_of(response)
    tabs = html[html.index('class="queue-tabs"') : html.index("</ul>", html.index('class="queue-tabs"'))]
    for label in [*queues, "即将到期", "已超期"]:
        assert label in tabs
    for label in absent:
        assert label not in tabs
    assert "Content-Security-Policy" in response.headers
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.django_db
def test_workbench_lists_only_cases_the_user_may_see(org, case_in):
    mine = case_in(S.ASSIGNED, department=org.dept_a, title="物业科的诉求")
    other = case_in(S.ASSIGNED, department=org.dept_b, title="人社局的诉求")
    html = text_of(client_for(org.handler_a).get(WORKBENCH))
    assert mine.tracking_number in html
    assert other.tracking_number not in html


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["intake", "dispatcher", "supervisor", "leader"])
def test_case_page_renders_for_roles_that_see_the_case(org, make_case, role):
    case = make_case(title="小区噪音扰民")
    response = client_for(getattr(org, role)).get(detail_url(case))
    assert response.status_code == 200
    assert "小区噪音扰民" in text_of(response)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.django_db
def test_case_page_is_404_for_a_department_that_does_not_handle_it(org, case_in):
    case = case_in(S.ASSIGNED, department=org.dept_a)
    assert client_for(org.handler_b).get(detail_url(case)).status_code == 404
    assert client_for(org.handler_a).get(detail_url(case)).status_code == 200
    assert client_for(org.handler_a).get(reverse("cases:detail", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_leader_reads_everything_but_gets_no_action_forms_and_cannot_post_one(org, make_case):
    case = make_case()
    client = client_for(org.leader)
    html = text_of(client.get(detail_url(case)))
    assert "只读" in html
    assert 'action="/staff/cases/' not in html.replace(f"/staff/cases/{case.pk}/contact/", "")
    response = client.post(action_url(case, "accept"))
    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).status == S.SUBMITTED


@pytest.mark.django_db
def test_case_page_offers_only_the_actions_available_to_the_user(org, make_case):
    case = make_case()
    html = text_of(client_for(org.intake).get(detail_url(case)))
    for action in ("accept", "decline", "refer"):
        assert action_url(case, action) in html
    assert action_url(case, "assign") not in html
    html = text_of(client_for(org.dispatcher).get(detail_url(case)))
    assert action_url(case, "accept") not in html
    assert action_url(case, "merge") in html


# ---------------------------------------------------------------------------------------------- escaping


@pytest.mark.django_db
def test_markup_in_title_and_content_is_rendered_escaped(org, make_case):
    case = make_case(title="<script>alert(1)</script>标题", content='<img src=x onerror="alert(2)">内容')
    html = text_of(client_for(org.intake).get(detail_url(case)))
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;标题" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html
    listing = text_of(client_for(org.intake).get(WORKBENCH))
    assert "<script>alert(1)" not in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing


@pytest.mark.django_db
def test_pages_carry_no_inline_script_or_style(org, make_case):
    case = make_case()
    for url in (WORKBENCH, detail_url(case)):
        html = text_of(client_for(org.supervisor).get(url))
        assert "style=" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert re.search(r"<style\b", html) is None


# ---------------------------------------------------------------------------------------------- workbench


@pytest.mark.django_db
def test_workbench_filters_and_search(org, make_case, case_in):
    submitted = make_case(title="路灯不亮")
    accepted = case_in(S.ACCEPTED, title="井盖缺失")
    client = client_for(org.supervisor)
    html = text_of(client.get(WORKBENCH, {"status": S.ACCEPTED}))
    assert accepted.tracking_number in html
    assert submitted.tracking_number not in html
    html = text_of(client.get(WORKBENCH, {"q": submitted.tracking_number.lower()}))
    assert submitted.tracking_number in html
    assert accepted.tracking_number not in html
    html = text_of(client.get(WORKBENCH, {"q": "井盖"}))
    assert accepted.tracking_number in html
    assert submitted.tracking_number not in html


@pytest.mark.django_db
def test_workbench_filters_by_channel_received_dates_and_sub_trees(org, make_case, case_in):
    from datetime import timedelta

    from minyi.cases.tests.factories import NOW

    early = make_case(title="早前的诉求", now=NOW - timedelta(days=10), category=org.category)
    phoned = make_case(title="电话登记", logged_by=org.intake, now=NOW)
    client = client_for(org.supervisor)
    html = text_of(client.get(WORKBENCH, {"channel": "phone"}))
    assert phoned.tracking_number in html and early.tracking_number not in html
    day = (NOW - timedelta(days=10)).date().isoformat()
    html = text_of(client.get(WORKBENCH, {"received_from": day, "received_to": day}))
    assert early.tracking_number in html and phoned.tracking_number not in html
    # The barometer links a top-level node with tree=1: its sub-tree counts.
    child = type(org.category).objects.create(name="电梯维修", code="lift", parent=org.category)
    phoned.category = child
    phoned.save(update_fields=["category"])  # not-a-case-status
    exact = text_of(client.get(WORKBENCH, {"category": org.category.pk}))
    assert early.tracking_number in exact and phoned.tracking_number not in exact
    tree = text_of(client.get(WORKBENCH, {"category": org.category.pk, "tree": "1"}))
    assert early.tracking_number in tree and phoned.tracking_number in tree
    # ... and leaves merged cases out, as the barometer counts them in their main case.
    merged = case_in(S.MERGED, title="重复反映")
    assert merged.tracking_number in text_of(client.get(WORKBENCH, {"status": S.MERGED}))
    assert merged.tracking_number not in text_of(client.get(WORKBENCH, {"status": S.MERGED, "tree": "1"}))


@pytest.mark.django_db
def test_workbench_ignores_an_invalid_filter_value_instead_of_failing(org, make_case):
    case = make_case()
    response = client_for(org.supervisor).get(WORKBENCH, {"status": "nonsense", "category": "abc"})
    assert response.status_code == 200
    assert case.tracking_number in text_of(response)


@pytest.mark.django_db
def test_workbench_htmx_request_returns_only_the_list(org, make_case):
    case = make_case()
    response = client_for(org.supervisor).get(
        WORKBENCH, {"kind": "complaint"}, headers={"HX-Request": "true", "HX-Target": "case-list"}
    )
    html = text_of(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert case.tracking_number in html
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.django_db
def test_workbench_is_paginated_by_fifty(org):
    for i in range(51):
        create_case(title=f"诉求{i}")
    client = client_for(org.supervisor)
    first = text_of(client.get(WORKBENCH))
    second = text_of(client.get(WORKBENCH, {"page": 2}))
    assert first.count('class="nowrap mono"') == 50
    assert second.count('class="nowrap mono"') == 1
    assert "共 51 件" in first


@pytest.mark.django_db
def test_workbench_marks_overdue_cases_and_counts_the_overdue_queue(org, make_case):
    overdue = make_case(now=timezone.now() - timedelta(days=30))
    fresh = make_case(now=timezone.now())
    client = client_for(org.intake)
    html = text_of(client.get(WORKBENCH, {"queue": "overdue"}))
    assert overdue.tracking_number in html
    assert fresh.tracking_number not in html
    assert 'class="badge overdue"' in html


# ---------------------------------------------------------------------------------------------- actions


@pytest.mark.django_db
def test_intake_accepts_a_case_from_the_case_page(org, make_case):
    case = make_case()
    client = client_for(org.intake)
    response = client.post(action_url(case, "accept"), {"note": ""})
    assert response.status_code == 302
    assert response["Location"] == detail_url(case)
    case.refresh_from_db()
    assert case.status == S.ACCEPTED
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.action, event.actor_id, event.actor_role) == ("accept", org.intake.pk, "intake")
    assert "已完成“受理”" in text_of(client.get(detail_url(case)))


@pytest.mark.django_db
def test_an_action_not_allowed_in_the_status_answers_409_and_names_the_allowed_ones(org, case_in):
    case = case_in(S.ACCEPTED)
    response = client_for(org.intake).post(action_url(case, "accept"))
    assert response.status_code == 409
    html = text_of(response)
    assert "不能执行“受理”" in html
    assert "可执行的操作" in html
    assert "转送" in html  # refer is still allowed from accepted
    assert Case.objects.get(pk=case.pk).status == S.ACCEPTED


@pytest.mark.django_db
def test_a_required_note_missing_answers_400_and_changes_nothing(org, make_case):
    case = make_case()
    events = CaseEvent.objects.filter(case=case).count()
    response = client_for(org.intake).post(action_url(case, "decline"), {"note": "  "})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in text_of(response)
    assert Case.objects.get(pk=case.pk).status == S.SUBMITTED
    assert CaseEvent.objects.filter(case=case).count() == events


@pytest.mark.django_db
def test_dispatcher_assigns_and_the_handler_starts_and_replies(org, case_in):
    case = case_in(S.ACCEPTED)
    response = client_for(org.dispatcher).post(action_url(case, "assign"), {"department": org.dept_a.pk})
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).department_id == org.dept_a.pk
    handler = client_for(org.handler_a)
    assert handler.post(action_url(case, "start")).status_code == 302
    response = handler.post(action_url(case, "reply"), {"text": "已联系物业完成维修。"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.REPLIED
    assert "已联系物业完成维修。" in text_of(handler.get(detail_url(case)))


@pytest.mark.django_db
def test_assign_to_an_unknown_department_is_refused(org, case_in):
    case = case_in(S.ACCEPTED)
    response = client_for(org.dispatcher).post(action_url(case, "assign"), {"department": 999999})
    assert response.status_code == 400
    assert Case.objects.get(pk=case.pk).status == S.ACCEPTED


@pytest.mark.django_db
def test_a_service_refusal_is_shown_with_its_status(org, case_in):
    case = case_in(S.IN_PROGRESS)
    client = client_for(org.handler_a)
    assert (
        client.post(action_url(case, "request_extension"), {"days": 5, "note": "需要协调"}).status_code == 302
    )
    response = client.post(action_url(case, "request_extension"), {"days": 5, "note": "再延"})
    assert response.status_code == 409
    assert "已有待审批的延期申请" in text_of(response)


@pytest.mark.django_db
def test_unknown_action_is_404_and_get_is_not_allowed(org, make_case):
    case = make_case()
    client = client_for(org.intake)
    assert client.post(action_url(case, "explode")).status_code == 404
    assert client.get(action_url(case, "accept")).status_code == 405


@pytest.mark.django_db
def test_after_merging_the_dispatcher_is_sent_back_to_the_workbench(org, case_in):
    main = case_in(S.ACCEPTED, title="主件")
    dup = case_in(S.ACCEPTED, title="重复件")
    response = client_for(org.dispatcher).post(
        action_url(dup, "merge"), {"into": main.tracking_number.lower(), "note": "同一事项"}
    )
    assert response.status_code == 302
    assert response["Location"] == WORKBENCH
    dup.refresh_from_db()
    assert dup.status == S.MERGED and dup.merged_into_id == main.pk


@pytest.mark.django_db
def test_action_forms_reject_text_that_was_not_utf8(org, make_case):
    case = make_case()
    raw = b"note=" + quote_from_bytes("不属于受理范围".encode("gb18030")).encode()
    response = client_for(org.intake).post(
        action_url(case, "decline"), raw, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "UTF-8" in text_of(response)
    assert Case.objects.get(pk=case.pk).status == S.SUBMITTED


# ---------------------------------------------------------------------------------------------- contact details


@pytest.mark.django_db
def test_contact_details_are_revealed_on_request_and_the_access_is_logged(org, make_case):
    case = make_case(contact={"name": "李四", "phone": "13900139000", "email": "lisi@example.cn"})
    client = client_for(org.intake)
    html = text_of(client.get(detail_url(case)))
    assert "13900139000" not in html
    assert "查看联系方式" in html
    assert PersonalDataAccess.objects.count() == 0
    response = client.post(reverse("cases:contact", args=[case.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "13900139000" in text_of(response)
    assert "<html" not in text_of(response)
    access = PersonalDataAccess.objects.get()
    assert (access.user_id, access.case_id) == (org.intake.pk, case.pk)
    # without htmx the whole page comes back with the details shown, and is logged again
    response = client.post(reverse("cases:contact", args=[case.pk]))
    assert "13900139000" in text_of(response)
    assert PersonalDataAccess.objects.count() == 2


@pytest.mark.django_db
def test_contact_details_are_404_for_roles_without_the_need(org, make_case):
    case = make_case()
    anonymous_case = make_case(is_anonymous=True)
    assert client_for(org.leader).post(reverse("cases:contact", args=[case.pk])).status_code == 404
    assert client_for(org.intake).post(reverse("cases:contact", args=[anonymous_case.pk])).status_code == 404
    assert "查看联系方式" not in text_of(client_for(org.leader).get(detail_url(case)))
    assert PersonalDataAccess.objects.count() == 0


# ---------------------------------------------------------------------------------------------- attachments


@pytest.mark.django_db
def test_attachments_download_only_for_those_who_see_the_case(org, case_in):
    case = case_in(S.ASSIGNED, department=org.dept_a)
    attachment = Attachment(
        case=case,
        original_name="现场照片.png",
        content_type="image/png",
        extension=".png",
        size=12,
        sha256="a" * 64,
    )
    attachment.file.save("a.png", ContentFile(b"\x89PNG\r\n\x1a\nabcd"), save=False)
    attachment.save()
    url = reverse("cases:attachment", args=[case.pk, attachment.pk])
    response = client_for(org.handler_a).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG\r\n\x1a\nabcd"
    assert response["Content-Type"] == "image/png"
    assert "attachment" in response["Content-Disposition"]
    assert client_for(org.handler_b).get(url).status_code == 404
    assert Client().get(url).status_code == 302
    assert client_for(org.handler_a).get(reverse("cases:attachment", args=[case.pk, 999])).status_code == 404


@pytest.mark.django_db
def test_an_attachment_whose_file_is_gone_answers_404_not_500(org, case_in):
    # given: a row whose stored file was lost (a restore without media)
    case = case_in(S.ASSIGNED, department=org.dept_a)
    attachment = Attachment.objects.create(
        case=case,
        original_name="丢失.png",
        content_type="image/png",
        extension=".png",
        size=12,
        sha256="b" * 64,
        file="attachments/bb/missing.png",
    )
    # when / then
    url = reverse("cases:attachment", args=[case.pk, attachment.pk])
    assert client_for(org.handler_a).get(url).status_code == 404


# ---------------------------------------------------------------------------------------------- notifications


@pytest.mark.django_db(transaction=True)
def test_notifications_list_and_mark_as_read(org, case_in):
    case_in(S.ASSIGNED, department=org.dept_a)  # notifies the department's handlers after commit
    notes = Notification.objects.filter(recipient=org.handler_a)
    assert notes.count() == 1
    client = client_for(org.handler_a)
    html = text_of(client.get(reverse("cases:notifications")))
    assert notes.get().subject in html
    assert 'class="count-pill"' in html
    # another user cannot mark it
    client_for(org.handler_b).post(reverse("cases:notifications_read"), {"id": notes.get().pk})
    assert notes.get().read_at is None
    response = client.post(reverse("cases:notifications_read"), {"id": notes.get().pk})
    assert response.status_code == 302
    assert notes.get().read_at is not None
    assert 'class="count-pill"' not in text_of(client.get(reverse("cases:notifications")))


# ---------------------------------------------------------------------------------------------- login


@pytest.mark.django_db
def test_login_page_and_login_redirects_to_the_workbench(org):
    client = Client()
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "工作人员登录" in text_of(response)
    response = client.post(reverse("login"), {"username": "t_intake", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response["Location"] == WORKBENCH
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("disclosure:portal")


@pytest.mark.django_db
def test_repeated_login_failures_show_the_lockout_page(org, settings):
    client = Client()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(reverse("login"), {"username": "t_intake", "password": "wrong"})
        assert response.status_code == 200
    response = client.post(reverse("login"), {"username": "t_intake", "password": "wrong"})
    assert response.status_code == 429
    assert "账号已暂时锁定" in text_of(response)
    # even the right password is refused while locked out
    response = client.post(reverse("login"), {"username": "t_intake", "password": "correct-horse-battery"})
    assert response.status_code == 429


@pytest.mark.django_db
def test_supervisor_reopens_after_dissatisfaction(org, make_case):
    now = timezone.now()
    case, clock = drive(make_case(now=now), S.REPLIED, org, now=now)
    rating = {"rating": "dissatisfied", "reason": "没修好"}
    act(case, "evaluate", policies.citizen_actor(case=case), data=rating, now=clock + timedelta(hours=1))
    client = client_for(org.supervisor)
    html = text_of(client.get(WORKBENCH, {"queue": "supervision"}))
    assert case.tracking_number in html
    response = client.post(action_url(case, "reopen"), {"note": "请重新核实"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.ASSIGNED
    assert case.reopen_count == 1


@pytest.mark.django_db
def test_login_attempts_are_rate_limited_per_address(org, settings):
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "auth": "2/m"}
    client = Client()
    for username in ("someone", "someone-else"):
        assert client.post(reverse("login"), {"username": username, "password": "x"}).status_code == 200
    response = client.post(reverse("login"), {"username": "t_intake", "password": "correct-horse-battery"})
    assert response.status_code == 429
    assert "请求过于频繁" in text_of(response)
    assert "_auth_user_id" not in client.session
