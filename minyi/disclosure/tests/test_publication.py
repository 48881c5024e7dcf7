"""Publication (minyi.disclosure.publication): the default by kind, the holds, the masked copy, the staff's
publish / unpublish / edit under the policy, the masking check that refuses personal data, and refresh."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from minyi.cases import policies, services
from minyi.cases.models import Case, CaseEvent, Reply
from minyi.cases.tests.factories import NOW, act, create_case, drive
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core.choices import Kind
from minyi.core.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from minyi.disclosure import publication
from minyi.disclosure.models import Publication, PublishedReply
from minyi.text.pii import BANK_CARD, ID_CARD, LANDLINE, MOBILE

pytestmark = pytest.mark.django_db

A = CaseAction
S = CaseStatus
State = Publication.State
Hold = Publication.Hold

PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"  # a valid check digit
LATER = NOW + timedelta(days=1)


def luhn(prefix: str) -> str:
    """`prefix` with the Luhn check digit appended."""
    for digit in "0123456789":
        number = prefix + digit
        total = 0
        for i, ch in enumerate(reversed(number)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return number
    raise AssertionError


CARD = luhn("622202123456789012")


def replied(org, *, reply: str = "经核查，已督促物业公司完成维修。", **create):
    """A case driven to `replied` with the reply text given."""
    case = create_case(**create)
    case, clock = drive(case, S.IN_PROGRESS, org)
    return act(case, A.REPLY, org.handler_a, data={"text": reply}, now=clock + timedelta(hours=1))


def consent_case(org, *, consent: bool, kind: str = "complaint"):
    with transaction.atomic():
        case = services.case_create(
            tracking_number=f"NOPUB{kind[:4]}{int(consent)}",
            query_code_hash="sha256$test$0",
            kind=kind,
            channel="web",
            title="楼道堆放杂物",
            content="三楼楼道堆满杂物，存在消防隐患。",
            publication_consent=consent,
            now=NOW,
        )
    case, clock = drive(case, S.IN_PROGRESS, org)
    return act(case, A.REPLY, org.handler_a, data={"text": "已清理。"}, now=clock + timedelta(hours=1))


def events(case, action=None):
    qs = CaseEvent.objects.filter(
        case=case, action__in=["publish", "unpublish", "publication_edit", "publication_held"]
    )
    return list(qs.filter(action=action) if action else qs)


# ---------------------------------------------------------------------------------------------- the default


@pytest.mark.parametrize("kind", [k for k in Kind.values if k != Kind.PETITION])
def test_a_replied_case_of_an_ordinary_kind_is_published_by_default(org, kind):
    case = replied(org, kind=kind)
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert pub.state == State.PUBLISHED and pub.hold_reason == Hold.NONE
    assert pub.published_at == LATER
    (event,) = events(case)
    assert event.action == "publish" and event.actor is None and event.actor_role == policies.SYSTEM
    assert event.is_public is False


def test_a_petition_is_never_published_by_default(org):
    case = replied(org, kind=Kind.PETITION)
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert (pub.state, pub.hold_reason) == (State.HELD, Hold.PETITION)
    (event,) = events(case)
    assert event.action == "publication_held" and event.data["hold_reason"] == Hold.PETITION


def test_a_kind_left_out_of_the_setting_is_held(org, settings):
    settings.MINYI_PUBLISH_KINDS = frozenset({"complaint"})
    case = replied(org, kind=Kind.SUGGESTION)
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert (pub.state, pub.hold_reason) == (State.HELD, Hold.KIND)
    # ... and staff may still publish it by hand
    pub = publication.publish(
        case_id=case.pk, actor=org.actor(org.supervisor), note="群众普遍关心", now=LATER
    )
    assert pub.state == State.PUBLISHED


def test_a_person_who_opted_out_is_held_and_staff_cannot_publish(org):
    case = consent_case(org, consent=False)
    assert Case.objects.get(pk=case.pk).publication_consent is False
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert (pub.state, pub.hold_reason) == (State.HELD, Hold.NO_CONSENT)
    with pytest.raises(Conflict) as exc:
        publication.publish(case_id=case.pk, actor=org.actor(org.supervisor), now=LATER)
    assert "不公开" in exc.value.message
    assert Publication.objects.get(pk=case.pk).state == State.HELD
    assert [e.action for e in events(case)] == ["publication_held"]


def test_staff_cannot_publish_a_petition(org):
    case = replied(org, kind=Kind.PETITION)
    publication.refresh(case_id=case.pk, now=LATER)
    with pytest.raises(Conflict):
        publication.publish(case_id=case.pk, actor=org.actor(org.supervisor), note="想公开", now=LATER)
    assert Publication.objects.get(pk=case.pk).state == State.HELD


def test_a_private_case_is_held_and_publishing_it_clears_the_flag(org):
    case = replied(org)
    services.case_annotate(
        case_id=case.pk,
        actor=policies.SYSTEM_ACTOR,
        action="publication_held",
        changes={"is_private": True},
        now=LATER,
    )
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert (pub.state, pub.hold_reason) == (State.HELD, Hold.PRIVATE)
    pub = publication.publish(
        case_id=case.pk, actor=org.actor(org.dispatcher), note="已核实无隐私", now=LATER
    )
    assert pub.state == State.PUBLISHED
    assert Case.objects.get(pk=case.pk).is_private is False
    event = events(case, "publish")[-1]
    assert event.data["changes"] == {"is_private": [True, False]} and event.note == "已核实无隐私"
    assert event.actor == org.dispatcher


def test_nothing_happens_before_a_reply(org):
    case = create_case()
    case, _clock = drive(case, S.IN_PROGRESS, org)
    assert publication.refresh(case_id=case.pk, now=LATER) is None
    assert not Publication.objects.filter(pk=case.pk).exists()
    assert publication.default_decision(case) == (State.HELD, Hold.NONE)
    with pytest.raises(Conflict):
        publication.publish(case_id=case.pk, actor=org.actor(org.supervisor), now=LATER)


def test_the_signal_creates_the_publication_when_the_reply_is_sent(org, django_capture_on_commit_callbacks):
    case = create_case()
    case, clock = drive(case, S.IN_PROGRESS, org)
    with django_capture_on_commit_callbacks(execute=True):
        act(case, A.REPLY, org.handler_a, data={"text": "已处理。"}, now=clock)
    pub = Publication.objects.get(pk=case.pk)
    assert pub.state == State.PUBLISHED and pub.case_status == S.REPLIED
    assert [r.text for r in pub.replies.all()] == ["已处理。"]


# ---------------------------------------------------------------------------------------------- masking


def test_the_copy_masks_phones_ids_cards_and_names_and_leaves_the_original(org):
    title = f"我叫李四，电话{PHONE}"
    content = f"本人王小明反映：身份证{ID_NUMBER}，银行卡{CARD}被冒用，座机010-62345678。"
    reply = f"张三您好，已电话联系{PHONE}，卡号{CARD}已冻结。"
    case = replied(org, title=title, content=content, reply=reply, contact={"name": "张三", "phone": PHONE})
    pub = publication.refresh(case_id=case.pk, now=LATER)

    assert pub.title == "我叫李*，电话139****5678"
    for raw in (ID_NUMBER, CARD, "王小明", "62345678"):
        assert raw not in pub.content
    assert "本人王**反映" in pub.content and "1101**********002X" in pub.content
    (copy,) = pub.replies.all()
    assert PHONE not in copy.text and CARD not in copy.text and "张三" not in copy.text
    assert copy.text.startswith("张*您好")
    assert publication.check_masked(pub.title, pub.content, copy.text) == []
    assert "139****5678" in pub.search_text or "李" in pub.search_text  # the index is built from the copy
    assert PHONE not in pub.search_text and ID_NUMBER not in pub.search_text
    # the original is untouched
    stored = Case.objects.get(pk=case.pk)
    assert (stored.title, stored.content) == (title, content)
    assert Reply.objects.get(case=case).text == reply
    assert stored.contact.name == "张三" and stored.contact.phone == PHONE


def test_the_copy_has_no_invisible_characters(org):
    case = replied(org, content="电梯\u202e坏了\u200b很久", reply="已\u2066修复\u2069")
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert pub.content == "电梯坏了很久" and pub.replies.get().text == "已修复"


def test_check_masked_finds_each_kind_and_nothing_in_masked_text():
    found = publication.check_masked(f"手机{PHONE}", f"证件{ID_NUMBER}", f"卡{CARD}", "电话0731-88881234")
    assert [s.kind for s in found] == [MOBILE, ID_CARD, BANK_CARD, LANDLINE]
    assert publication.check_masked("139****5678", "1101**********002X", "6222 **** **** 1234") == []
    # hidden with zero-width characters, still found
    assert [s.kind for s in publication.check_masked("139\u200b1234\u200b5678")] == [MOBILE]


def test_text_that_the_engine_fails_to_mask_is_held_not_published(org, monkeypatch):
    monkeypatch.setattr(publication, "mask_pii", lambda text, **kw: text)
    case = replied(org, content=f"联系电话{PHONE}")
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert (pub.state, pub.hold_reason) == (State.HELD, Hold.PII)
    (event,) = events(case)
    assert event.action == "publication_held" and PHONE not in event.note and PHONE not in str(event.data)
    assert publication.problems_for(pub) == ["手机号 139****5678"]


def test_a_triage_review_of_personal_data_counts(org):
    from minyi.intake.review import Correction, triage_review
    from minyi.intake.triage import triage_case

    case = create_case(content="东风村的路灯坏了一个月，没人修。")
    triage_case(case_id=case.pk, now=NOW)
    triage_review(
        case_id=case.pk, actor=org.actor(org.intake), part="pii", decision="correct",
        correction=Correction(add_phrases=["东风村"]), now=NOW,
    )  # fmt: skip
    case, clock = drive(case, S.IN_PROGRESS, org)
    act(case, A.REPLY, org.handler_a, data={"text": "已修复。"}, now=clock)
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert pub.content.startswith("***的路灯")


# ---------------------------------------------------------------------------------------------- staff


def test_edit_changes_only_the_copy_and_records_the_fields(org):
    case = replied(org)
    pub = publication.refresh(case_id=case.pk, now=LATER)
    reply_id = pub.replies.get().reply_id
    pub = publication.edit(
        case_id=case.pk, actor=org.actor(org.supervisor), title="电梯停运问题", content="小区电梯停运。",
        replies={reply_id: "已修复。"}, note="删去无关内容", now=LATER,
    )  # fmt: skip
    assert (pub.title, pub.content, pub.replies.get().text) == ("电梯停运问题", "小区电梯停运。", "已修复。")
    assert pub.edited_by == org.supervisor and pub.state == State.PUBLISHED
    assert "停运" in pub.search_text
    event = events(case, "publication_edit")[0]
    assert event.data["fields"] == ["title", "content", f"reply:{reply_id}"] and event.note == "删去无关内容"
    assert "小区电梯停运" not in str(event.data)  # the texts are never copied into the event
    assert Case.objects.get(pk=case.pk).title == "小区电梯故障停运"


@pytest.mark.parametrize(
    ("where", "text", "label"),
    [
        ("title", f"电梯坏了{PHONE}", "手机号 139****5678"),
        ("content", f"身份证号{ID_NUMBER}", "身份证号 1101**********002X"),
        ("reply", f"退款至{CARD}", "银行卡号"),
        ("content", "电话 010-62345678", "固定电话"),
        ("content", "来信人张三反映的问题已解决", "姓名 张*"),
    ],
)
def test_edit_refuses_text_that_would_identify_the_person(org, where, text, label):
    case = replied(org, contact={"name": "张三", "phone": PHONE})
    pub = publication.refresh(case_id=case.pk, now=LATER)
    before = (pub.title, pub.content, pub.replies.get().text)
    reply_id = pub.replies.get().reply_id
    kwargs = {"title": None, "content": None, "replies": None}
    kwargs[where if where != "reply" else "replies"] = text if where != "reply" else {reply_id: text}
    with pytest.raises(ValidationFailed) as exc:
        publication.edit(case_id=case.pk, actor=org.actor(org.supervisor), now=LATER, **kwargs)
    assert label in exc.value.message
    for raw in (PHONE, ID_NUMBER, CARD, "62345678", "张三"):
        assert raw not in exc.value.message and raw not in str(exc.value.fields)
    stored = Publication.objects.get(pk=case.pk)
    assert (stored.title, stored.content, stored.replies.get().text) == before
    assert stored.edited_by is None and not events(case, "publication_edit")


def test_publish_with_text_refuses_personal_data(org, settings):
    settings.MINYI_PUBLISH_KINDS = frozenset()
    case = replied(org)
    publication.refresh(case_id=case.pk, now=LATER)
    with pytest.raises(ValidationFailed):
        publication.publish(
            case_id=case.pk, actor=org.actor(org.supervisor), content=f"卡号 {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}",
            now=LATER,
        )  # fmt: skip
    with pytest.raises(ValidationFailed):
        publication.publish(
            case_id=case.pk, actor=org.actor(org.supervisor), content="手机139\u200b1234\u200b5678", now=LATER
        )
    assert Publication.objects.get(pk=case.pk).state == State.HELD


def test_edit_strips_invisible_characters_and_keeps_markup_as_text(org):
    case = replied(org)
    publication.refresh(case_id=case.pk, now=LATER)
    pub = publication.edit(
        case_id=case.pk, actor=org.actor(org.supervisor), title="电梯\u202e<b>停运</b>\u200b",
        content="<script>alert(1)</script>", now=LATER,
    )  # fmt: skip
    assert pub.title == "电梯<b>停运</b>" and pub.content == "<script>alert(1)</script>"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": "长" * 201, "content": None}, "title"),
        ({"title": "   ", "content": None}, "title"),
        ({"title": None, "content": "长" * 20001}, "content"),
        ({"title": None, "content": None, "replies": {999999: "答复"}}, "reply-999999"),
    ],
)
def test_edit_refuses_bad_texts(org, settings, kwargs, field):
    settings.MINYI_MAX_CONTENT_CHARS = 20000
    case = replied(org)
    publication.refresh(case_id=case.pk, now=LATER)
    with pytest.raises(ValidationFailed) as exc:
        publication.edit(case_id=case.pk, actor=org.actor(org.supervisor), now=LATER, **kwargs)
    assert field in exc.value.fields


def test_unpublish_needs_a_reason_and_refresh_never_puts_it_back(org):
    case = replied(org)
    publication.refresh(case_id=case.pk, now=LATER)
    for note in ("", "   ", "\u200b"):
        with pytest.raises(ValidationFailed):
            publication.unpublish(case_id=case.pk, actor=org.actor(org.supervisor), note=note, now=LATER)
    with pytest.raises(ValidationFailed):
        publication.unpublish(case_id=case.pk, actor=org.actor(org.supervisor), note="因" * 501, now=LATER)
    assert Publication.objects.get(pk=case.pk).state == State.PUBLISHED
    pub = publication.unpublish(
        case_id=case.pk, actor=org.actor(org.supervisor), note="当事人要求", now=LATER
    )
    assert (pub.state, pub.hold_reason, pub.note) == (State.WITHDRAWN, Hold.STAFF, "当事人要求")
    event = events(case, "unpublish")[0]
    assert event.note == "当事人要求" and event.actor == org.supervisor
    with pytest.raises(Conflict):
        publication.unpublish(case_id=case.pk, actor=org.actor(org.supervisor), note="再撤", now=LATER)

    # a new reply later: added to the copy, the publication stays withdrawn
    case = act(case, A.REOPEN, org.supervisor, note="重新办理", now=LATER)
    case = act(case, A.START, org.handler_a, now=LATER + timedelta(hours=1))
    case = act(case, A.REPLY, org.handler_a, data={"text": "再次答复。"}, now=LATER + timedelta(hours=2))
    pub = publication.refresh(case_id=case.pk, now=LATER + timedelta(hours=3))
    assert pub.state == State.WITHDRAWN and pub.replies.count() == 2
    # staff may publish it again
    pub = publication.publish(case_id=case.pk, actor=org.actor(org.supervisor), note="已核实", now=LATER)
    assert pub.state == State.PUBLISHED


def test_refresh_keeps_edited_texts_and_adds_new_replies(org):
    case = replied(org)
    publication.refresh(case_id=case.pk, now=LATER)
    publication.edit(
        case_id=case.pk, actor=org.actor(org.supervisor), title="改过的标题", content="改过的内容", now=LATER
    )
    case = act(case, A.REOPEN, org.supervisor, note="重新办理", now=LATER)
    case = act(case, A.START, org.handler_a, now=LATER + timedelta(hours=1))
    case = act(
        case, A.REPLY, org.handler_a, data={"text": f"已回电{PHONE}。"}, now=LATER + timedelta(hours=2)
    )
    pub = publication.refresh(case_id=case.pk, now=LATER + timedelta(hours=3))
    assert (pub.title, pub.content) == ("改过的标题", "改过的内容")
    assert [r.text for r in pub.replies.all()] == ["经核查，已督促物业公司完成维修。", "已回电139****5678。"]
    assert pub.state == State.PUBLISHED and pub.case_status == S.REPLIED


def test_refresh_is_idempotent(org):
    case = replied(org, content=f"电话{PHONE}")
    publication.refresh(case_id=case.pk, now=LATER)
    first = Publication.objects.get(pk=case.pk)
    publication.refresh(case_id=case.pk, now=LATER + timedelta(hours=1))
    again = Publication.objects.get(pk=case.pk)
    assert len(events(case)) == 1 and PublishedReply.objects.filter(publication=again).count() == 1
    assert again.updated_at == first.updated_at and again.published_at == first.published_at


def test_refresh_follows_the_case_and_takes_it_off_when_it_becomes_private(org):
    case = replied(org)
    publication.refresh(case_id=case.pk, now=LATER)
    case = act(case, A.EVALUATE, policies.citizen_actor(case=case), data={"rating": "satisfied"}, now=LATER)
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert pub.case_status == S.CLOSED and pub.state == State.PUBLISHED
    services.case_annotate(
        case_id=case.pk,
        actor=policies.SYSTEM_ACTOR,
        action="publication_held",
        changes={"is_private": True},
        now=LATER,
    )
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert (pub.state, pub.hold_reason) == (State.HELD, Hold.PRIVATE)
    (event,) = events(case, "unpublish")
    assert event.actor is None and event.data["hold_reason"] == Hold.PRIVATE


def test_a_merged_case_keeps_its_publication_and_shows_it_was_merged(org):
    case = replied(org)
    publication.refresh(case_id=case.pk, now=LATER)
    main = create_case(title="主件")
    case = act(case, A.REOPEN, org.supervisor, note="重新办理", now=LATER)
    case = act(case, A.MERGE, org.dispatcher, note="同一事项", data={"into": main.pk}, now=LATER)
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert pub.case_status == S.MERGED and pub.state == State.PUBLISHED


# ---------------------------------------------------------------------------------------------- policy


@pytest.mark.parametrize("operation", ["publish", "unpublish", "edit"])
def test_a_handler_of_another_department_gets_404_and_a_handler_403(org, operation):
    case = replied(org)
    publication.refresh(case_id=case.pk, now=LATER)
    kwargs = {
        "publish": {"note": "x"},
        "unpublish": {"note": "x"},
        "edit": {"title": "标题", "content": "内容"},
    }[operation]
    with pytest.raises(NotFound):
        getattr(publication, operation)(case_id=case.pk, actor=org.actor(org.handler_b), now=LATER, **kwargs)
    for who in (org.handler_a, org.head_a, org.leader):
        with pytest.raises(Forbidden):
            getattr(publication, operation)(case_id=case.pk, actor=org.actor(who), now=LATER, **kwargs)
    with pytest.raises(NotFound):
        publication.edit(case_id=987654, actor=org.actor(org.supervisor), title="t", content="c", now=LATER)
    assert Publication.objects.get(pk=case.pk).state == State.PUBLISHED
    assert len(events(case)) == 1


def test_staff_acting_first_create_the_publication_held_then_decide(org):
    case = replied(org)  # the signal did not run: no publication yet
    pub = publication.edit(
        case_id=case.pk, actor=org.actor(org.supervisor), title="电梯问题", content=None, now=LATER
    )
    assert (pub.state, pub.title) == (State.HELD, "电梯问题")
    assert [e.action for e in events(case)] == ["publication_edit"]
    pub = publication.refresh(case_id=case.pk, now=LATER)
    assert pub.state == State.HELD  # the default applies only to a publication refresh creates
    pub = publication.publish(case_id=case.pk, actor=org.actor(org.supervisor), now=LATER)
    assert pub.state == State.PUBLISHED and pub.published_at == LATER
