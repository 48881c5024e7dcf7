"""assess_reply: hand-made pairs with the reasons they must give, the parts, times, hostile input, real pairs."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from minyi.text.quality import (
    OFF_TOPIC_CAP,
    PARTS,
    QUALITY_VERSION,
    REASON_CODES,
    SEVERITIES,
    WEIGHTS,
    Quality,
    assess_reply,
    find_places,
    find_questions,
)

APPEAL_TITLE = "星沙街道万科城小区路灯不亮"
APPEAL = (
    "尊敬的领导：您好！A7县星沙街道万科城小区门口的路灯已经坏了一个多月，晚上一片漆黑，"
    "老人小孩出行很不安全。请问路灯什么时候能修好？物业说不归他们管，到底由哪个部门负责维修？"
)
GOOD_REPLY = (
    "网友您好！您反映的万科城小区门口路灯不亮的问题已收悉。经核实，该路段路灯由星沙街道办事处负责维修管理。"
    "星沙街道办事处已于3月15日安排施工单位到现场检修，更换了损坏的路灯线路，目前路灯已恢复照明。"
    "下一步，街道将督促施工单位加强日常巡查，发现故障在3个工作日内修复。感谢您对我们工作的支持！"
)
OFF_TOPIC_REPLY = (
    "网友您好！关于您咨询的义务教育阶段招生入学问题，经核实，今年我局将按照划片就近入学的原则，"
    "于7月10日公布各学校的招生范围，请家长携带户口簿和房产证明到学校报名。感谢您对教育工作的关心！"
)

REFUSAL_APPEAL = "我家孩子户口在外地，要求在A市公办学校插班就读，希望教育局批准。"
REFUSAL_NO_BASIS = (
    "您好！您反映的孩子插班就读问题已收悉。经核实，您的孩子户籍不在本学区，不符合插班条件，"
    "我局不予批准。感谢您的理解与支持！"
)
REFUSAL_WITH_BASIS = (
    "您好！您反映的孩子插班就读问题已收悉。经核实，您的孩子户籍不在本学区，根据《A市义务教育入学管理办法》"
    "第十二条的规定，不符合插班条件，我局不予批准。如有疑问，可依照《信访工作条例》第三十五条申请复查。感谢您的理解！"
)
REFUSAL_VAGUE = (
    "您好！您反映的孩子插班就读问题已收悉。经核实，您的孩子户籍不在本学区，根据相关规定，不符合插班条件，"
    "我局不予批准。感谢您的理解与支持！"
)
CURT_REPLY = "这事不归我们管，你自己去找街道办，别再打电话反映了，无理取闹。"


def codes(q: Quality, severity: str | None = None) -> set[str]:
    return {r.code for r in q.reasons if severity is None or r.severity == severity}


def reason(q: Quality, code: str):
    return next(r for r in q.reasons if r.code == code)


# --- hand-made pairs -------------------------------------------------------------------------


def test_good_full_reply() -> None:
    q = assess_reply(APPEAL, GOOD_REPLY, title=APPEAL_TITLE)
    assert q.score >= 80
    assert {
        "on_topic",
        "questions_answered",
        "action_stated",
        "body_named",
        "time_given",
        "courteous",
    } <= codes(q)
    assert not codes(q, "bad")
    assert q.parts["legal_basis"].score is None and q.parts["legal_basis"].weight == 0
    assert q.parts["timeliness"].score is None  # no times given
    assert "万科城小区" in reason(q, "places_named").params["places"]
    assert reason(q, "questions_answered").params == {"answered": 2, "total": 2}
    assert "星沙街道办事处" in reason(q, "body_named").params["bodies"]
    assert "3月15日" in reason(q, "time_given").params["when"]


def test_off_topic_reply_is_capped() -> None:
    good = assess_reply(APPEAL, GOOD_REPLY, title=APPEAL_TITLE)
    off = assess_reply(APPEAL, OFF_TOPIC_REPLY, title=APPEAL_TITLE)
    assert "off_topic" in codes(off, "bad")
    assert off.score <= OFF_TOPIC_CAP < good.score
    assert off.parts["relevance"].score < 0.15
    assert "key_terms_missing" in codes(off) and "places_missing" in codes(off)
    assert "question_unanswered" in codes(off, "bad")
    # the reply itself is well formed: its completeness checks other than the questions pass
    assert {"action_stated", "body_named", "time_given", "courteous"} <= codes(off)


def test_refusal_without_basis() -> None:
    q = assess_reply(REFUSAL_APPEAL, REFUSAL_NO_BASIS)
    r = reason(q, "refusal_without_basis")
    assert r.part == "legal_basis" and r.severity == "bad" and r.params["cue"].startswith("不")
    assert q.parts["legal_basis"].score == 0.0 and q.parts["legal_basis"].weight > 0


def test_refusal_with_basis_scores_higher() -> None:
    bare = assess_reply(REFUSAL_APPEAL, REFUSAL_NO_BASIS)
    cited = assess_reply(REFUSAL_APPEAL, REFUSAL_WITH_BASIS)
    vague = assess_reply(REFUSAL_APPEAL, REFUSAL_VAGUE)
    assert cited.parts["legal_basis"].score == 1.0
    assert "basis_cited" in codes(cited, "good")
    assert reason(cited, "basis_cited").params["basis"].startswith("《")
    assert vague.parts["legal_basis"].score == 0.5 and "basis_vague" in codes(vague, "warn")
    assert cited.score > vague.score > bare.score


def test_signal_article_alone_is_a_basis() -> None:
    reply = (
        "您好！经核实，依照《信访工作条例》第三十二条，该事项不属于信访受理范围，请您通过诉讼途径解决。谢谢！"
    )
    q = assess_reply("我要求信访部门受理我的劳动争议。", reply)
    assert "basis_cited" in codes(q)


def test_no_refusal_means_legal_basis_not_applicable() -> None:
    q = assess_reply(APPEAL, GOOD_REPLY, title=APPEAL_TITLE)
    assert q.parts["legal_basis"].score is None
    assert not {c for c in codes(q) if REASON_CODES[c] == "legal_basis"}
    # the description of a place that 无法满足要求 is no refusal
    q = assess_reply(APPEAL, GOOD_REPLY + "辖区内公共场地有限，无法满足要求。")
    assert q.parts["legal_basis"].score is None


def test_curt_reply() -> None:
    q = assess_reply(APPEAL, CURT_REPLY, title=APPEAL_TITLE)
    r = reason(q, "curt")
    assert r.part == "tone" and {"不归我们管", "别再", "无理取闹"} <= set(r.params["phrases"])
    assert "no_courtesy" in codes(q, "warn") and "too_short" in codes(q, "bad")
    assert q.parts["tone"].score == 0.0
    assert q.score < 30


def test_polite_referral_is_not_curt() -> None:
    reply = "您好！因该学院不归我局管辖，建议您直接向K市职业技术学院反映相关情况，感谢您的理解。"
    assert "curt" not in codes(assess_reply("学院乱收费", reply))


def test_bare_one_liner() -> None:
    q = assess_reply(APPEAL, "网友：您好！留言已收悉", title=APPEAL_TITLE)
    assert {"too_short", "off_topic", "no_action"} <= codes(q, "bad")
    assert reason(q, "too_short").params["chars"] < 30
    assert q.parts["tone"].score <= 0.2 and q.score < 20


def test_unanswered_question() -> None:
    appeal = "小区门口的垃圾站臭气熏天。请问垃圾站什么时候搬迁？为什么环卫所不安排每天清运？"
    reply = (
        "您好！您反映的垃圾站臭气问题已收悉。经核实，我局已责令环卫所每天清运两次并喷洒除臭剂，"
        "目前异味已明显减轻。感谢您的监督！"
    )
    q = assess_reply(appeal, reply)
    unanswered = [r for r in q.reasons if r.code in ("question_unanswered", "question_partly")]
    assert len(unanswered) == 1
    assert "搬迁" in unanswered[0].params["question"]
    assert reason(q, "questions_answered").params == {"answered": 1, "total": 2}
    # the same reply with the move answered
    full = assess_reply(appeal, reply + "垃圾站将于2024年6月底前搬迁至新址。")
    assert "questions_answered" in codes(full) and not {"question_unanswered", "question_partly"} & codes(
        full
    )
    assert full.parts["completeness"].score > q.parts["completeness"].score


def test_a_when_question_is_answered_by_a_time() -> None:
    appeal = "我们村的自来水管道工程拖了两年，请问到底什么时候能通水？"
    reply = "您好！经了解，该村自来水管道工程已完成主管铺设，预计2024年9月底通水。感谢您的关注！"
    q = assess_reply(appeal, reply)
    assert "questions_answered" in codes(q)


def test_many_unanswered_questions_are_summarised() -> None:
    appeal = "".join(
        f"第{i}件事{word}为什么没有处理？"
        for i, word in enumerate(["路灯", "井盖", "垃圾", "噪音", "停车", "绿化"])
    )
    q = assess_reply(
        appeal, "您好！您的来信已收悉，我们将认真研究，感谢您的关心和支持，谢谢您。祝您生活愉快！"
    )
    listed = [r for r in q.reasons if r.code in ("question_unanswered", "question_partly")]
    assert len(listed) == 3
    assert reason(q, "questions_more").params["count"] == 3


def test_late_reply_against_due() -> None:
    received = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    due = received + timedelta(days=15)
    on_time = assess_reply(
        APPEAL, GOOD_REPLY, received_at=received, due_at=due, replied_at=due - timedelta(days=2)
    )
    late = assess_reply(
        APPEAL, GOOD_REPLY, received_at=received, due_at=due, replied_at=due + timedelta(days=10)
    )
    very_late = assess_reply(
        APPEAL, GOOD_REPLY, received_at=received, due_at=due, replied_at=due + timedelta(days=40)
    )
    assert on_time.parts["timeliness"].score == 1.0 and "replied_on_time" in codes(on_time, "good")
    r = reason(late, "replied_late")
    assert r.severity == "bad" and r.params["days_late"] == 10.0
    assert late.parts["timeliness"].score == pytest.approx(0.4)
    assert very_late.parts["timeliness"].score == 0.0
    assert on_time.score > late.score > very_late.score


@pytest.mark.parametrize(
    ("days", "score", "code"),
    [
        (1, 1.0, "replied_within"),
        (7, 1.0, "replied_within"),
        (15, 0.8, "replied_within"),
        (30, 0.5, "replied_slow"),
        (60, 0.2, "replied_slow"),
        (75, 0.1, "replied_very_slow"),
        (400, 0.0, "replied_very_slow"),
    ],
)
def test_timeliness_scale_without_due(days, score, code) -> None:
    received = datetime(2024, 1, 1, 8, 0)
    q = assess_reply(APPEAL, GOOD_REPLY, received_at=received, replied_at=received + timedelta(days=days))
    assert q.parts["timeliness"].score == pytest.approx(score)
    assert code in codes(q)


def test_times_mixed_naive_aware_dates_and_junk() -> None:
    aware = datetime(2024, 1, 10, 8, 0, tzinfo=UTC)
    q = assess_reply(APPEAL, GOOD_REPLY, received_at=datetime(2024, 1, 1), replied_at=aware)
    assert reason(q, "replied_within").params["days"] == pytest.approx(9.3, abs=0.1)
    q = assess_reply(APPEAL, GOOD_REPLY, received_at=date(2024, 1, 1), replied_at=date(2024, 3, 1))
    assert "replied_slow" in codes(q)
    q = assess_reply(APPEAL, GOOD_REPLY, received_at="yesterday", replied_at=12345)  # type: ignore[arg-type]
    assert q.parts["timeliness"].score is None
    # replied before received (clock skew) counts as zero days
    q = assess_reply(APPEAL, GOOD_REPLY, received_at=aware, replied_at=aware - timedelta(days=1))
    assert q.parts["timeliness"].score == 1.0


def test_closing_date_and_citizen_date_are_no_deadline() -> None:
    reply = "您好！您于2024年3月1日反映的路灯问题，我局已安排人员处理。感谢您的支持！2024年3月8日"
    q = assess_reply(APPEAL, reply)
    assert "time_given" not in codes(q) and "no_time" in codes(q)
    q = assess_reply(APPEAL, reply.replace("处理", "尽快处理"))
    assert "time_vague" in codes(q)


# --- the result's shape ------------------------------------------------------------------------


def test_parts_weights_and_json() -> None:
    q = assess_reply(
        REFUSAL_APPEAL, REFUSAL_NO_BASIS, received_at=datetime(2024, 1, 1), replied_at=datetime(2024, 1, 3)
    )
    assert tuple(q.parts) == PARTS and q.version == QUALITY_VERSION
    assert sum(p.weight for p in q.parts.values()) == pytest.approx(1.0, abs=1e-3)
    assert all(p.weight == pytest.approx(WEIGHTS[k]) for k, p in q.parts.items())  # all five apply
    json.dumps(q.parts_dict(), ensure_ascii=False)
    json.dumps(q.reasons_list(), ensure_ascii=False)
    expected = sum(WEIGHTS[k] * p.score for k, p in q.parts.items())
    assert q.score == round(100 * expected)


def test_reasons_are_known_sorted_and_consistent() -> None:
    samples = [
        (APPEAL, GOOD_REPLY),
        (APPEAL, OFF_TOPIC_REPLY),
        (REFUSAL_APPEAL, REFUSAL_NO_BASIS),
        (REFUSAL_APPEAL, REFUSAL_VAGUE),
        (APPEAL, CURT_REPLY),
        ("", GOOD_REPLY),
        (APPEAL, ""),
    ]
    order = {s: i for i, s in enumerate(SEVERITIES)}
    for appeal, reply in samples:
        q = assess_reply(appeal, reply, replied_at=datetime(2024, 5, 1), due_at=datetime(2024, 4, 1))
        assert 0 <= q.score <= 100
        for r in q.reasons:
            assert REASON_CODES[r.code] == r.part and r.severity in SEVERITIES
        ranks = [order[r.severity] for r in q.reasons]
        assert ranks == sorted(ranks)


def test_empty_texts() -> None:
    for reply in ("", "   ", "\n\n", "。。。！", "\u200b\u200b"):
        q = assess_reply(APPEAL, reply)
        assert q.score == 0 and codes(q) == {"empty_reply"}
    q = assess_reply("", GOOD_REPLY)
    assert "appeal_empty" in codes(q) and q.parts["relevance"].score is None
    assert q.parts["relevance"].weight == 0 and q.score > 0
    q = assess_reply("", GOOD_REPLY, title=APPEAL_TITLE)  # a title alone is an appeal
    assert q.parts["relevance"].score is not None


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert('x')</script>您好，已处理",
        "'; DROP TABLE cases; -- 您好",
        "您好\x00\x07\x1b[31m已\u202e处理\u200d\u2066完毕\ufeff",
        "\ud800\udfff孤立代理项您好已核实",
        "您好" * 300_000,
        "好" + "？" * 50_000,
        "吗" * 100_000,
        "《" * 10_000 + "法》" + "不予" * 5_000,
        "A" * 200_000,
        "1月1日" * 20_000,
    ],
)
def test_hostile_input_never_raises(hostile: str) -> None:
    for appeal, reply in ((hostile, GOOD_REPLY), (APPEAL, hostile), (hostile, hostile)):
        q = assess_reply(appeal, reply, title=hostile[:200])
        assert 0 <= q.score <= 100
        for r in q.reasons:
            json.dumps(r.params, ensure_ascii=False)
            for value in r.params.values():
                if isinstance(value, str):
                    assert len(value) <= 60


def test_non_strings_and_bytes() -> None:
    gb = "您好，已处理".encode("gb18030")
    for bad in (None, 42, gb, ["list"], {"a": 1}):
        q = assess_reply(bad, bad, title=bad)  # type: ignore[arg-type]
        assert q.score == 0 and codes(q) == {"empty_reply"}
    q = assess_reply(APPEAL, gb.decode("latin-1"))  # mojibake: letters but no Chinese
    assert 0 <= q.score <= 100


def test_traditional_and_full_width_are_normalised() -> None:
    trad = "您好！您反映的萬科城小區門口路燈不亮的問題已收悉。經核實，星沙街道辦事處已於３月１５日安排施工單位到現場檢修，目前路燈已恢復照明。感謝您的支持！"
    q = assess_reply(APPEAL, trad, title=APPEAL_TITLE)
    assert "on_topic" in codes(q) and "time_given" in codes(q)


# --- the finders -------------------------------------------------------------------------------


def test_find_places() -> None:
    text = "本人是A7县北山镇荣合桥社区井湾里组村民，我们小区在岳麓区望城坡街道枫林三路，城区的道路很差"
    assert find_places(text) == [
        "A7县",
        "北山镇",
        "荣合桥社区",
        "井湾里组",
        "岳麓区",
        "望城坡街道",
        "枫林三路",
    ]
    assert find_places("我们村的道路和全市的农村公路都不好，组织村民开会") == []
    assert find_places(None) == []  # type: ignore[arg-type]


def test_find_questions() -> None:
    text = (
        "我是一位父亲，在外打工，不在意吃多少苦。谁料孩子沉迷游戏。"
        "这个新建的开元枢纽规划多大，什么时候动工？网吧老板是否违法！为什么没人管"
    )
    questions = find_questions(text)
    assert questions == ["这个新建的开元枢纽规划多大，什么时候动工？", "网吧老板是否违法！", "为什么没人管"]
    assert len(find_questions("为什么？" * 100)) == 8
    assert find_questions("") == []


# --- real pairs ----------------------------------------------------------------------------------


@pytest.mark.data
def test_real_replies_beat_mismatched_ones(shared_data) -> None:
    with open(shared_data / "appeals_with_replies.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(6)
    sample = rng.sample(range(len(rows)), 400)
    real_above = rel_above = 0
    for i in sample:
        j = rng.choice(
            [k for k in (rng.randrange(len(rows)) for _ in range(3)) if k != i] or [(i + 1) % len(rows)]
        )
        row, other = rows[i], rows[j]
        real = assess_reply(row["留言详情"], row["答复意见"], title=row["留言主题"])
        fake = assess_reply(row["留言详情"], other["答复意见"], title=row["留言主题"])
        real_above += real.score > fake.score
        rel_above += (real.parts["relevance"].score or 0) > (fake.parts["relevance"].score or 0)
    # measured on all 2,816 pairs (benchmarks/reply_quality.py): relevance 92.4%, score 85.9% (ties 8%,
    # mostly bare acknowledgements, which are off-topic too)
    assert rel_above / len(sample) >= 0.88
    assert real_above / len(sample) >= 0.80
