"""The publication panel on the staff case page (minyi.disclosure.staff_views): what it shows, the edit form,
publish and withdraw with a reason, behind the policy, and hostile input answered with 4xx, never 500."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote_from_bytes

import pytest
from django.urls import reverse

from minyi.cases.models import Case, CaseEvent
from minyi.cases.tests.factories import act, create_case, drive, fresh
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.disclosure import publication
from minyi.disclosure.models import Publication

pytestmark = pytest.mark.django_db

A = CaseAction
S = CaseStatus
State = Publication.State
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "publication-panel"}
PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"
CARD = "6222021234567890128"  # Luhn-valid (checked below)
GROUPED_CARD = f"{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}"


def test_the_card_number_used_here_is_valid():
    from minyi.text.pii import is_valid_bank_card

    assert is_valid_bank_card(CARD)


def login(client, user):
    client.force_login(fresh(user))
    return client


def replied(org, *, refresh: bool = True, **create):
    case = create_case(**create)
    case, clock = drive(case, S.IN_PROGRESS, org)
    case = act(case, A.REPLY, org.handler_a, data={"text": f"已电话联系{PHONE}，问题已处理。"}, now=clock)
    if refresh:
        publication.refresh(case_id=case.pk)
    return case


def panel_url(case):
    return reverse("disclosure_staff:publication", args=[case.pk])


def action_url(case, operation):
    return reverse("disclosure_staff:publication_action", args=[case.pk, operation])


def test_the_case_page_loads_the_panel_once_replied(client, org):
    case = replied(org)
    login(client, org.supervisor)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert panel_url(case) in page
    unreplied = create_case()
    page = client.get(reverse("cases:detail", args=[unreplied.pk])).content.decode()
    assert panel_url(unreplied) not in page
    panel = client.get(panel_url(unreplied), **HTMX)
    assert panel.status_code == 200 and "答复后方可公开" in panel.content.decode()


def test_the_panel_shows_state_and_the_masked_copy_beside_the_original(client, org):
    case = replied(
        org, content=f"我叫李四，身份证{ID_NUMBER}。", contact={"name": "张三", "phone": "13800138000"}
    )
    login(client, org.supervisor)
    response = client.get(panel_url(case), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="publication-panel"' in html
    assert "已公开" in html
    assert "139****5678" in html and "1101**********002X" in html and "我叫李*" in html
    # the original the staff member already sees on the case page, and nothing more: no contact details
    assert "我叫李四" in html
    assert "13800138000" not in html and "张三" not in html
    assert action_url(case, "edit") in html and action_url(case, "unpublish") in html
    full = client.get(panel_url(case))
    assert full.status_code == 200 and "<html" in full.content.decode()


def test_a_case_not_yet_refreshed_shows_a_preview(client, org):
    case = replied(org, refresh=False)
    login(client, org.supervisor)
    html = client.get(panel_url(case), **HTMX).content.decode()
    assert "尚未生成公开信息" in html and "139****5678" in html
    assert not Publication.objects.filter(pk=case.pk).exists()  # a GET stores nothing


def test_a_petition_shows_why_and_offers_no_publish_button(client, org):
    case = replied(org, kind="petition")
    login(client, org.supervisor)
    html = client.get(panel_url(case), **HTMX).content.decode()
    assert "信访件不公开" in html and "依规定不予公开" in html
    assert action_url(case, "publish") not in html
    response = client.post(action_url(case, "publish"), {"note": "试试"}, **HTMX)
    assert response.status_code == 409 and "不予公开" in response.content.decode()
    assert Publication.objects.get(pk=case.pk).state == State.HELD


def test_edit_publish_and_withdraw_through_the_panel(client, org, settings):
    settings.MINYI_PUBLISH_KINDS = frozenset()
    case = replied(org)
    pub = Publication.objects.get(pk=case.pk)
    reply_id = pub.replies.get().reply_id
    login(client, org.dispatcher)
    response = client.post(
        action_url(case, "edit"),
        {
            "title": "电梯停运",
            "content": "小区电梯停运两周。",
            f"reply-{reply_id}": "已修复。",
            "note": "精简",
        },
        **HTMX,
    )
    assert response.status_code == 200, response.content.decode()
    assert "已保存公开文本" in response.content.decode()
    pub.refresh_from_db()
    assert (pub.title, pub.content, pub.replies.get().text) == ("电梯停运", "小区电梯停运两周。", "已修复。")
    assert pub.edited_by == org.dispatcher

    response = client.post(action_url(case, "publish"), {"note": "群众关心"}, **HTMX)
    assert response.status_code == 200
    pub.refresh_from_db()
    assert pub.state == State.PUBLISHED and pub.note == "群众关心"

    response = client.post(action_url(case, "unpublish"), {"note": ""}, **HTMX)
    assert response.status_code == 400 and "请填写原因" in response.content.decode()
    assert Publication.objects.get(pk=case.pk).state == State.PUBLISHED
    response = client.post(action_url(case, "unpublish"), {"note": "内容有误"})
    assert response.status_code == 302 and response["Location"] == panel_url(case)
    assert Publication.objects.get(pk=case.pk).state == State.WITHDRAWN
    actions = list(
        CaseEvent.objects.filter(
            case=case, action__in=["publication_edit", "publish", "unpublish"]
        ).values_list("action", "note")
    )
    assert actions == [("publication_edit", "精简"), ("publish", "群众关心"), ("unpublish", "内容有误")]


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("title", f"电梯坏了 {PHONE}", "139****5678"),
        ("content", f"身份证号 {ID_NUMBER}", "1101**********002X"),
        ("reply", f"退款至 {GROUPED_CARD}", "银行卡号"),
        ("content", "电话139\u200b1234\u200b5678", "手机号"),
    ],
)
def test_the_view_refuses_text_that_still_holds_personal_data(client, org, field, value, shown):
    case = replied(org)
    pub = Publication.objects.get(pk=case.pk)
    reply_id = pub.replies.get().reply_id
    name = f"reply-{reply_id}" if field == "reply" else field
    login(client, org.supervisor)
    response = client.post(action_url(case, "edit"), {name: value}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert "仍有个人信息" in html and shown in html
    # the raw number is shown only where the staff member typed it (the form keeps their input); never in
    # the message
    message = html.split('role="alert"')[1].split("</div>")[0]
    for raw in (PHONE, ID_NUMBER, GROUPED_CARD):
        assert raw not in message
    stored = Publication.objects.get(pk=case.pk)
    assert (stored.title, stored.content, stored.edited_by) == (pub.title, pub.content, None)


def test_markup_is_stored_as_text_and_escaped(client, org):
    case = replied(org)
    login(client, org.supervisor)
    response = client.post(
        action_url(case, "edit"),
        {"title": "<script>alert(1)</script>", "content": "<img src=x onerror=alert(1)>'; DROP TABLE x;--"},
        **HTMX,
    )
    assert response.status_code == 200
    pub = Publication.objects.get(pk=case.pk)
    assert pub.title == "<script>alert(1)</script>"
    html = client.get(panel_url(case), **HTMX).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_bidi_and_zero_width_characters_are_removed(client, org):
    case = replied(org)
    login(client, org.supervisor)
    response = client.post(
        action_url(case, "edit"),
        {"title": "电梯\u202e停运\u200b", "content": "内容\u2066x\u2069\ufeff"},
        **HTMX,
    )
    assert response.status_code == 200
    pub = Publication.objects.get(pk=case.pk)
    assert (pub.title, pub.content) == ("电梯停运", "内容x")


@pytest.mark.parametrize(
    ("operation", "data"),
    [
        ("edit", {"title": "长" * 201}),
        ("edit", {"title": "   "}),
        ("edit", {"content": ""}),
        ("edit", {"note": "长" * 501, "title": "标题"}),
        ("unpublish", {"note": "长" * 501}),
        ("publish", {"note": "长" * 501}),
    ],
)
def test_bad_input_answers_400(client, org, operation, data):
    case = replied(org)
    login(client, org.supervisor)
    response = client.post(action_url(case, operation), data, **HTMX)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert Publication.objects.get(pk=case.pk).edited_by is None


def test_gb18030_bytes_answer_400(client, org):
    case = replied(org)
    login(client, org.supervisor)
    body = "title=" + quote_from_bytes("电梯停运".encode("gb18030"))
    response = client.post(
        action_url(case, "edit"), body, content_type="application/x-www-form-urlencoded", **HTMX
    )
    assert response.status_code == 400 and "UTF-8" in response.content.decode()


def test_who_may_see_and_who_may_act(client, org):
    case = replied(org)
    # a handler of another department: the case does not exist for them
    login(client, org.handler_b)
    assert client.get(panel_url(case), **HTMX).status_code == 404
    assert client.post(action_url(case, "unpublish"), {"note": "x"}, **HTMX).status_code == 404
    # the handler of the case's department sees the panel read only, and may not act
    for who in (org.handler_a, org.leader):
        login(client, who)
        html = client.get(panel_url(case), **HTMX).content.decode()
        assert "139****5678" in html and action_url(case, "edit") not in html
        for operation, data in (("unpublish", {"note": "x"}), ("edit", {"title": "t"}), ("publish", {})):
            response = client.post(action_url(case, operation), data, **HTMX)
            assert response.status_code == 403 and "无权" in response.content.decode()
    # a person without a staff role, and an anonymous visitor
    login(client, org.citizen)
    assert client.get(panel_url(case)).status_code == 404
    client.logout()
    assert client.get(panel_url(case)).status_code == 302
    assert Publication.objects.get(pk=case.pk).state == State.PUBLISHED


def test_unknown_operations_and_methods(client, org):
    case = replied(org)
    login(client, org.supervisor)
    assert client.post(action_url(case, "delete"), {}, **HTMX).status_code == 404
    assert client.get(action_url(case, "publish")).status_code == 405
    assert client.post(panel_url(case)).status_code == 405
    assert client.get(reverse("disclosure_staff:publication", args=[987654])).status_code == 404


def test_a_merged_case_shows_it_was_merged(client, org):
    case = replied(org)
    main = create_case(title="主件")
    case = act(case, A.REOPEN, org.supervisor, note="重新办理", now=case.replied_at + timedelta(hours=1))
    act(
        case,
        A.MERGE,
        org.dispatcher,
        note="同一事项",
        data={"into": main.pk},
        now=case.replied_at + timedelta(hours=2),
    )
    publication.refresh(case_id=case.pk)
    login(client, org.supervisor)
    html = client.get(panel_url(case), **HTMX).content.decode()
    assert "已并案" in html and Case.objects.get(pk=case.pk).status == S.MERGED


def test_the_admin_shows_publications_and_cannot_change_them(client, org):
    case = replied(org)
    before = Publication.objects.get(pk=case.pk)
    client.force_login(fresh(org.admin))
    changelist = reverse("admin:disclosure_publication_changelist")
    response = client.get(changelist)
    assert response.status_code == 200 and case.tracking_number in response.content.decode()
    change = reverse("admin:disclosure_publication_change", args=[case.pk])
    html = client.get(change).content.decode()
    assert 'name="title"' not in html and 'name="content"' not in html and panel_url(case) in html
    response = client.post(change, {"title": f"电话{PHONE}", "content": f"电话{PHONE}", "state": "published"})
    assert response.status_code == 403
    assert client.get(reverse("admin:disclosure_publication_add")).status_code == 403
    assert client.post(reverse("admin:disclosure_publication_delete", args=[case.pk])).status_code == 403
    response = client.post(changelist, {"action": "refresh_selected", "_selected_action": [case.pk]})
    assert response.status_code == 302
    after = Publication.objects.get(pk=case.pk)
    assert (after.title, after.content, after.state) == (before.title, before.content, before.state)
