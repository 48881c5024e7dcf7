"""Reply quality on the Django side (minyi.barometer.quality, views_quality, receivers, barometer_quality): the score
stored when a reply is sent (directly or on approval), the panel before approval on the case page, the draft check,
404 for other departments, the per-department aggregate and page, the labels of every code, hostile drafts, and the
backfill command."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from minyi.barometer import quality
from minyi.barometer.models import ReplyQuality
from minyi.barometer.policies import Scope
from minyi.cases.models import Reply
from minyi.cases.tests.factories import NOW, act, create_case, drive, fresh
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.text.quality import QUALITY_VERSION, REASON_CODES

pytestmark = pytest.mark.django_db

A = CaseAction
S = CaseStatus
HTMX = {"HTTP_HX_REQUEST": "true"}

TITLE = "幸福里小区电梯停运两周"
CONTENT = "江北区幸福里小区3号楼电梯已经停运两周，老人上下楼很困难。请问电梯什么时候能修好？"
GOOD = (
    "您好！您反映的幸福里小区3号楼电梯停运问题已收悉。经核实，我科已于3月3日约谈物业公司，责令其更换电梯控制板，"
    "电梯已于3月5日恢复运行。感谢您对我们工作的支持！"
)
BAD = "已转相关部门处理。"


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.MINYI_RATE_LIMIT_ENABLED = False


def replied(org, capture, *, text: str = GOOD, department=None, now=NOW, **create):
    """A case in progress in `department` (A unless told), replied with `text`, its after-commit effects run."""
    department = department or org.dept_a
    handler = org.handler_a if department == org.dept_a else org.handler_b
    case = create_case(
        now=now, title=create.pop("title", TITLE), content=create.pop("content", CONTENT), **create
    )
    case, clock = drive(case, S.IN_PROGRESS, org, department=department, now=now)
    with capture(execute=True):
        case = act(case, A.REPLY, handler, data={"text": text}, now=clock + timedelta(hours=1))
    return case


def pending(org, capture, *, text: str = GOOD):
    org.dept_a.reply_needs_approval = True
    org.dept_a.save(update_fields=["reply_needs_approval"])
    case = replied(org, capture, text=text)
    assert case.status == S.IN_PROGRESS
    return case, case.replies.get(state=Reply.State.PENDING)


def login(client, user):
    client.force_login(fresh(user))
    return client


def panel_url(reply):
    return reverse("barometer:reply_quality", args=[reply.pk])


def check_url(case):
    return reverse("barometer:quality_check", args=[case.pk])


# ---------------------------------------------------------------------------------------------- stored scores


def test_a_sent_reply_is_scored_and_stored(org, django_capture_on_commit_callbacks):
    case = replied(org, django_capture_on_commit_callbacks)
    reply = case.replies.get()
    row = ReplyQuality.objects.get(reply=reply)
    assert row.case_id == case.pk and row.department_id == org.dept_a.pk
    assert row.version == QUALITY_VERSION and 0 <= row.score <= 100
    assert set(row.parts) == {"relevance", "completeness", "legal_basis", "timeliness", "tone"}
    codes = {r["code"] for r in row.reasons}
    assert {"on_topic", "action_stated", "time_given", "courteous"} <= codes
    assert all(r["code"] in REASON_CODES for r in row.reasons)
    assert row.score >= 70


def test_a_weak_reply_scores_low_with_reasons(org, django_capture_on_commit_callbacks):
    case = replied(org, django_capture_on_commit_callbacks, text=BAD)
    row = ReplyQuality.objects.get(reply__case=case)
    codes = {r["code"] for r in row.reasons if r["severity"] == "bad"}
    assert {"off_topic", "too_short"} <= codes
    assert row.score < quality.LOW_SCORE


def test_pending_reply_is_not_stored_until_approved_and_then_rescored(
    org, django_capture_on_commit_callbacks
):
    case, reply = pending(org, django_capture_on_commit_callbacks, text=BAD)
    assert not ReplyQuality.objects.filter(reply=reply).exists()
    with django_capture_on_commit_callbacks(execute=True):
        act(case, A.APPROVE_REPLY, org.head_a, data={"text": GOOD}, now=NOW + timedelta(hours=6))
    row = ReplyQuality.objects.get(reply=reply)
    assert row.score >= 70  # scored on the text as approved (edited), not the draft


def test_a_failing_score_never_breaks_the_reply(org, django_capture_on_commit_callbacks, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("scorer down")

    monkeypatch.setattr(quality, "assess_reply", boom)
    case = replied(org, django_capture_on_commit_callbacks)
    assert case.status == S.REPLIED
    assert not ReplyQuality.objects.exists()
    assert "reply quality" in caplog.text


def test_the_department_is_the_replys_else_the_cases(org, django_capture_on_commit_callbacks):
    case = replied(org, django_capture_on_commit_callbacks)
    reply = case.replies.get()
    Reply.objects.filter(pk=reply.pk).update(department=None)
    row = quality.score_reply(Reply.objects.get(pk=reply.pk))
    assert row.department_id == case.department_id == org.dept_a.pk
    assert ReplyQuality.objects.count() == 1  # updated, not duplicated


# ---------------------------------------------------------------------------------------------- the panel


def test_the_head_sees_the_pending_replys_quality_before_approving(
    client, org, django_capture_on_commit_callbacks
):
    case, reply = pending(org, django_capture_on_commit_callbacks, text=BAD)
    login(client, org.head_a)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert panel_url(reply) in page and f'id="reply-quality-{reply.pk}"' in page
    assert check_url(case) in page and "检查答复质量" in page  # on the approval form
    assert 'hx-include="#action-approve_reply form"' in page
    response = client.get(panel_url(reply), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and f'id="reply-quality-{reply.pk}"' in html
    assert "待审核" in html and "答复过于简短" in html and "答复与诉求内容基本无关" in html
    assert "建议修改后再发出" in html
    assert not ReplyQuality.objects.exists()  # a draft is not stored
    # without htmx: a page of its own
    page = client.get(panel_url(reply))
    assert page.status_code == 200 and "<html" in page.content.decode()


def test_the_panel_of_a_sent_reply_shows_the_stored_score(client, org, django_capture_on_commit_callbacks):
    case = replied(org, django_capture_on_commit_callbacks)
    reply = case.replies.get()
    ReplyQuality.objects.filter(reply=reply).update(score=42)
    login(client, org.handler_a)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert panel_url(reply) in page
    html = client.get(panel_url(reply), **HTMX).content.decode()
    assert "42 分" in html and "评估于" in html


def test_the_panel_scores_a_sent_reply_without_a_row(client, org, django_capture_on_commit_callbacks):
    case = replied(org, django_capture_on_commit_callbacks)
    ReplyQuality.objects.all().delete()
    login(client, org.supervisor)
    assert client.get(panel_url(case.replies.get()), **HTMX).status_code == 200
    assert ReplyQuality.objects.count() == 1


def test_panel_and_check_answer_404_outside_the_users_cases(client, org, django_capture_on_commit_callbacks):
    case = replied(org, django_capture_on_commit_callbacks)
    reply = case.replies.get()
    login(client, org.handler_b)  # another department
    assert client.get(panel_url(reply), **HTMX).status_code == 404
    assert client.post(check_url(case), {"text": GOOD}, **HTMX).status_code == 404
    assert client.get(reverse("barometer:reply_quality", args=[10**9]), **HTMX).status_code == 404
    assert client.post(reverse("barometer:quality_check", args=[10**9]), {"text": GOOD}).status_code == 404
    login(client, org.citizen)
    assert client.get(panel_url(reply)).status_code == 404
    client.logout()
    response = client.get(panel_url(reply))
    assert response.status_code == 302 and "login" in response["Location"]


# ---------------------------------------------------------------------------------------------- the draft check


def test_the_reply_form_checks_a_draft(client, org):
    case = create_case(title=TITLE, content=CONTENT)
    case, _clock = drive(case, S.IN_PROGRESS, org)
    login(client, org.handler_a)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert 'hx-include="#action-reply form"' in page and 'id="quality-check-reply"' in page
    good = client.post(check_url(case), {"text": GOOD}, **HTMX)
    assert good.status_code == 200
    html = good.content.decode()
    assert "答复质量检查" in html and "尚未保存" in html and "紧扣诉求内容" in html
    bad = client.post(check_url(case), {"text": "不归我们管，别再反映了。"}, **HTMX).content.decode()
    assert "有生硬、推诿或指责的措辞" in bad and "不归我们管" in bad
    assert not ReplyQuality.objects.exists() and not case.replies.exists()
    assert client.get(check_url(case)).status_code == 405


def test_an_empty_draft_on_the_approval_form_checks_the_pending_reply(
    client, org, django_capture_on_commit_callbacks
):
    case, _reply = pending(org, django_capture_on_commit_callbacks, text=BAD)
    login(client, org.head_a)
    html = client.post(check_url(case), {"text": "  "}, **HTMX).content.decode()
    assert "答复过于简短" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>您好，已处理。",
        "'; DROP TABLE barometer_replyquality; --",
        "您好\u202e\u200b\x07已\ufeff核实处理\u2066。",
        "《" * 3000 + "不予" * 2000,
        "好" * 4000,
    ],
)
def test_hostile_drafts_are_scored_and_escaped(client, org, text):
    case = create_case(title="<b>标题</b>", content=CONTENT)
    case, _clock = drive(case, S.IN_PROGRESS, org)
    login(client, org.handler_a)
    response = client.post(check_url(case), {"text": text}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html and "分</span>" in html


def test_bad_drafts_answer_400_with_a_message(client, org, settings):
    case = create_case(title=TITLE, content=CONTENT)
    case, _clock = drive(case, S.IN_PROGRESS, org)
    login(client, org.handler_a)
    empty = client.post(check_url(case), {"text": ""}, **HTMX)
    assert empty.status_code == 400 and "请先填写答复内容" in empty.content.decode()
    long = client.post(check_url(case), {"text": "长" * (settings.MINYI_MAX_CONTENT_CHARS + 1)}, **HTMX)
    assert long.status_code == 400 and "过长" in long.content.decode()
    gb = "您好，已处理".encode("gb18030")
    body = b"text=" + b"".join(b"%%%02X" % byte for byte in gb)
    raw = client.post(check_url(case), body, content_type="application/x-www-form-urlencoded", **HTMX)
    assert raw.status_code == 400 and "UTF-8" in raw.content.decode()


# ---------------------------------------------------------------------------------------------- aggregate and page


@pytest.fixture
def scored(org, django_capture_on_commit_callbacks):
    """Department A: two good replies and one bad; department B: one bad reply; all on 2026-03-02 (local)."""
    cap = django_capture_on_commit_callbacks
    replied(org, cap)
    replied(org, cap)
    replied(org, cap, text=BAD)
    b_case = replied(org, cap, text=BAD, department=org.dept_b)
    # one reply of A outside the period
    replied(org, cap, now=NOW - timedelta(days=40))
    return {"org": org, "b_case": b_case}


def test_department_quality_per_department(scored):
    org = scored["org"]
    rows = quality.department_quality(Scope(all=True), date(2026, 3, 1), date(2026, 3, 31))
    by_name = {r.department_id: r for r in rows}
    a, b = by_name[org.dept_a.pk], by_name[org.dept_b.pk]
    assert (a.count, a.low, b.count, b.low) == (3, 1, 1, 1)
    scores = list(
        ReplyQuality.objects.filter(
            department=org.dept_a, reply__sent_at__date__gte=date(2026, 3, 1)
        ).values_list("score", flat=True)
    )
    assert a.mean == round(sum(scores) / 3, 1)
    assert rows[0].department_id == org.dept_b.pk  # lowest mean first
    assert dict(b.bad_reasons)["off_topic"] == 1 and dict(a.bad_reasons)["too_short"] == 1
    assert set(a.parts) == {"relevance", "completeness", "legal_basis", "timeliness", "tone"}
    assert a.parts["legal_basis"] is None  # no refusal
    overall = quality.overall_quality(rows)
    assert overall.count == 4 and overall.low == 2
    # a head sees only their department's sub-tree
    head = quality.department_quality(
        Scope(all=False, department_ids=frozenset({org.dept_a.pk})), date(2026, 3, 1), date(2026, 3, 31)
    )
    assert [r.department_id for r in head] == [org.dept_a.pk]
    assert quality.department_quality(Scope(all=True), date(2025, 1, 1), date(2025, 1, 31)) == []


def test_the_quality_page_for_a_supervisor_and_a_head(client, scored):
    org = scored["org"]
    login(client, org.supervisor)
    response = client.get(reverse("barometer:quality"), {"period": "2026-03"})
    assert response.status_code == 200
    html = response.content.decode()
    assert org.dept_a.name in html and org.dept_b.name in html
    assert "答非所问" in html and "得分最低的答复" in html and "评分方法" in html
    assert scored["b_case"].tracking_number in html
    login(client, org.head_a)
    html = client.get(reverse("barometer:quality"), {"period": "2026-03"}).content.decode()
    assert org.dept_a.name in html and org.dept_b.name not in html
    assert scored["b_case"].tracking_number not in html
    # the default period (the last 30 days by the real clock) has none of these
    assert "统计期内没有已评分的答复" in client.get(reverse("barometer:quality")).content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"period": "2026-13"},
        {"period": "x" * 500},
        {"from": "2026-03-01"},
        {"from": "2026-03-05", "to": "2026-03-01"},
        {"period": "<script>"},
        {"period": "2026-03", "from": "2026-03-01", "to": "2026-03-02"},
    ],
)
def test_a_bad_period_answers_400_with_a_message(client, org, params):
    login(client, org.supervisor)
    response = client.get(reverse("barometer:quality"), params)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html and "<script>" not in html


def test_the_page_needs_a_barometer(client, org):
    login(client, org.intake)
    response = client.get(reverse("barometer:quality"))
    assert response.status_code == 403 and "晴雨表" in response.content.decode()
    login(client, org.citizen)
    assert client.get(reverse("barometer:quality")).status_code == 404


# ---------------------------------------------------------------------------------------------- labels


def test_every_code_has_a_chinese_label_and_title():
    for code, part in REASON_CODES.items():
        label = quality.reason_label({"code": code, "part": part, "severity": "bad", "params": {}})
        assert label and not label.startswith("其他") and "%(" not in label
        assert not quality.reason_title(code).startswith("其他")
    assert (
        quality.reason_label(
            {"code": "question_unanswered", "params": {"question": "何时修好？", "terms": []}}
        )
        == "未回应群众的提问：“何时修好？”"
    )
    assert (
        quality.reason_label({"code": "key_terms_missing", "params": {"terms": ["电梯", "物业"]}})
        == "未提及诉求要点：电梯、物业"
    )
    assert (
        quality.reason_label({"code": "on_topic", "params": {"relevance": 0.734}})
        == "答复紧扣诉求内容（相关度 73%）"
    )
    # stored rows from elsewhere: unknown codes and malformed params never raise
    assert quality.reason_label({"code": "new_code"}).startswith("其他")
    assert (
        quality.reason_label({"code": "on_topic", "params": {"relevance": "x"}})
        == "答复紧扣诉求内容（相关度 —）"
    )
    assert quality.reason_label("garbage").startswith("其他")
    assert quality.reason_label({"code": "curt", "params": "oops"})
    assert [p["label"] for p in quality.parts_view({})] == [
        "相关性",
        "完整性",
        "法律政策依据",
        "及时性",
        "语气态度",
    ]


# ---------------------------------------------------------------------------------------------- backfill


def test_backfill_scores_sent_replies_without_a_row(org, django_capture_on_commit_callbacks):
    for _ in range(3):
        replied(org, django_capture_on_commit_callbacks)
    pending(org, django_capture_on_commit_callbacks)
    ReplyQuality.objects.all().delete()
    out = StringIO()
    call_command("barometer_quality", "--backfill", "--limit", "2", stdout=out)
    assert "2 replies" in out.getvalue() and ReplyQuality.objects.count() == 2
    assert quality.backfill() == 1  # the third; never the pending reply
    assert quality.backfill() == 0
    ReplyQuality.objects.update(version=0, score=1)
    assert quality.backfill() == 0
    assert quality.backfill(outdated=True) == 3
    assert not ReplyQuality.objects.filter(score=1).exists()
    with pytest.raises(CommandError):
        call_command("barometer_quality")
