"""assess_risk: cues of every code, negation, counts, the festival season, the formula, real messages."""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, date, datetime

import pytest

from minyi.text.normalize import normalize
from minyi.text.risk import (
    BONUS_DISTANCE,
    BONUSES,
    LEVELS,
    REASON_CODES,
    Risk,
    RiskReason,
    assess_many,
    assess_risk,
    festival_season,
    level_for,
    spring_festival,
)


def codes(text: str, **kwargs) -> set[str]:
    return {r.code for r in assess_risk(text, **kwargs).reasons}


POSITIVE = {
    "group": [
        "我们全体业主强烈要求开发商整改",
        "全体村民联名反映村干部问题",
        "全体职工半年没有社保",
        "众多业主对物业不满",
        "小区业主联名写信",
        "我们是一群外地来的装修工",
        "大批业主无法入住",
        "几十户居民没有自来水",
        "上百户业主的房子漏水",
        "数百名学生家长反映",
        "二十多名工人在工地干活",
        "30多户人家受到影响",
        "100余人参加了会议",
        "小区831户业主",
        "一千多户居民深受其害",
        "三十几个业主一起来反映",
        "十几位村民",
    ],
    "self_harm": [
        "再不解决我就跳楼",
        "我老婆几次想自杀",
        "逼得他差点轻生",
        "他当场喝农药了",
        "我真的不想活了",
        "每天以死相逼",
        "他扬言要自焚",
        "她多次想寻死",
        "我只能一死了之",
        "我也不想自杀，可是没有办法",  # never cancelled
    ],
    "threat": [
        "大不了同归于尽",
        "真想把这个厂炸了",
        "恨不得炸掉那个厂",
        "我要杀了他",
        "我就跟他们拼命",
        "血债血偿",
        "一定要让他们付出代价",
        "他甚至想报复社会",
    ],
    "gathering": [
        "业主们到市政府门口静坐",
        "在售楼部拉横幅维权",
        "打横幅讨说法",
        "村民围堵了镇政府",
        "工人堵门要工资",
        "上街游行",
        "在广场集会",
        "可能再次冲击镇政府",
        "退休人员70多人聚集到省政府信访厅",
        "我们只能集体上访",
        "不排除发生群体性事件",
    ],
    "road_block": [
        "村民堵路三天",
        "他们拦路不让施工车辆通过",
        "业主去堵马路",
        "封堵道路抗议",
        "司机们堵高速",
        "村民拦车收费",
        "上百人堵住路口",
    ],
    "escalation": [
        "我们将继续上访",
        "准备进京反映",
        "已经赴京上访两次",
        "打算去北京上访",
        "只好到省里反映",
        "不得已越级上访",
        "已向省信访局反映",
        "国家信访局转回来了",
        "我们会找媒体曝光",
        "希望媒体曝光此事",
        "我只好再向中央反映这个问题",
        "不得不去上访",  # 不得不 is not a negation
        "他们分别去上访",  # nor 分别
    ],
    "repeated": [
        "已经多次反映，没有结果",
        "反映多次无人理",
        "多次投诉物业",
        "问题一直没有解决",
        "至今未解决",
        "投诉石沉大海",
        "各部门踢皮球",
    ],
    "wages": [
        "老板欠薪跑路了",
        "公司拖欠工资三个月",
        "工资未发放",
        "工人讨薪无门",
        "公司不发工资",
        "拖欠农民工工资",
        "老板拖欠我们三个月的工资",
        "工资一直没发",
        "至今没有发放工资",
    ],
}

NEGATIVE = {
    "group": [
        "村集体土地被占用",
        "集体经济分配不公",
        "1107业主私自搭建",
        "我们三个人去了",
        "涉及千家万户",
        "万家丽路拥堵",
        "第100名",
        "人民群众的利益",
        "有10人民币",
        "小区有几户人家",
    ],
    "self_harm": ["房子跳楼价出售", "这是慢性自杀", "为了减轻生产成本", "过山车、跳楼机是否属于特种设备"],
    "threat": ["担心被打击报复", "头都要炸了", "手机电池爆炸了", "医生拼命的开药", "怕他们报复"],
    "gathering": [
        "旅游行业很不规范",
        "周边聚集了大量人口",
        "冲击力很大",
        "电梯经常罢工",
        "他们未拉横幅、未喊口号",
        "我们不会去静坐",
        "没有聚集在政府门口",
    ],
    "road_block": [
        "道路拥堵严重",
        "早高峰堵车",
        "交通拥堵",
        "车辆乱停堵塞交通",
        "这里经常堵路上",
        "成了创业的拦路虎",
        "初二学生拦路抢劫",
        "黑摩的拦车揽客",
        "不要采取堵路的做法",
        "最拥堵路段",
    ],
    "escalation": [
        "我们不会去上访",
        "决没有越级上访之意",
        "不想上访",
        "根据西地省信访条例第36条",
        "享受到中央政府的政策",
        "没有找媒体",
    ],
    "repeated": ["反映了一次", "已经解决了"],
    "wages": ["公司没有拖欠工资", "从未拖欠工资", "工资按时发放", "拖欠物业费", "工资太低"],
}


@pytest.mark.parametrize(("code", "text"), [(c, t) for c, ts in POSITIVE.items() for t in ts])
def test_cues_of_each_code_are_found(code: str, text: str) -> None:
    found = codes(text, when=date(2020, 7, 1))
    if code == "wages":
        assert "wages" in found or "wage_festival" in found
    else:
        assert code in found


@pytest.mark.parametrize(("code", "text"), [(c, t) for c, ts in NEGATIVE.items() for t in ts])
def test_look_alikes_and_negated_cues_are_not(code: str, text: str) -> None:
    found = codes(text, when=date(2020, 7, 1))
    assert code not in found
    if code == "wages":
        assert "wage_festival" not in found


def test_every_code_is_known() -> None:
    assert set(POSITIVE) | {"wage_festival"} == set(REASON_CODES)
    assert LEVELS == ("none", "low", "medium", "high")


# --- negation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "我们不会上访",
        "我们不会去上访",
        "业主没有堵路",
        "并未拉横幅",
        "不要去静坐",
        "不想再上访",
        "从未上访",
        "绝不报复社会",
        "千万别去上访",
    ],
)
def test_a_negation_right_before_cancels_the_cue(text: str) -> None:
    assert assess_risk(text).score == 0


def test_negation_is_only_right_before_the_cue() -> None:
    # a negation further away, or after the cue, does not cancel it
    assert "escalation" in codes("如果还不解决，我们就去上访")
    assert "escalation" in codes("不解决的话我们只有上访")
    assert "gathering" in codes("静坐没有用")
    assert codes("我不想活了") == {"self_harm"}
    assert codes("没有人管，我们准备堵路") == {"road_block"}


# --- counts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("十几户", 10),
        ("几十户", 10),
        ("80户", 10),
        ("上百户", 15),
        ("数百名", 15),
        ("一百零五人", 15),
        ("两千多户", 20),
        ("3000多名业主", 20),
        ("十几万居民", 10),  # a population figure
    ],
)
def test_counts_of_people_weigh_by_size(text: str, weight: int) -> None:
    (reason,) = assess_risk(f"涉及{text}的问题").reasons
    assert reason.code == "group" and reason.weight == weight and reason.evidence == text


def test_small_counts_are_not_a_group() -> None:
    for text in ("九户人家", "9名工人", "两位老人", "几个人", "一名业主", "楼上一位业主"):
        assert assess_risk(text).score == 0, text


# --- the Spring Festival -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "day"),
    [
        (2019, date(2019, 2, 5)),
        (2020, date(2020, 1, 25)),
        (2024, date(2024, 2, 10)),
        (2025, date(2025, 1, 29)),
        (2026, date(2026, 2, 17)),
        (2027, date(2027, 2, 6)),
        (1990, date(1990, 1, 27)),
        (2060, date(2060, 2, 2)),
    ],
)
def test_spring_festival_known_years(year: int, day: date) -> None:
    assert spring_festival(year) == day


def test_spring_festival_table_is_plausible() -> None:
    days = [spring_festival(y) for y in range(1990, 2061)]
    assert all(date(d.year, 1, 21) <= d <= date(d.year, 2, 20) for d in days)
    # twelve or thirteen lunar months between two new years
    assert {(b - a).days for a, b in itertools.pairwise(days)} <= {354, 355, 383, 384, 385}


@pytest.mark.parametrize("year", [1989, 2061, 0, -5])
def test_spring_festival_outside_the_table(year: int) -> None:
    with pytest.raises(ValueError, match="1990-2060"):
        spring_festival(year)


def test_festival_season_bounds() -> None:
    festival = date(2020, 1, 25)
    assert festival_season(date(2019, 11, 26))  # 60 days before
    assert not festival_season(date(2019, 11, 25))  # 61 days before
    assert festival_season(date(2020, 2, 9))  # 15 days after
    assert not festival_season(date(2020, 2, 10))
    assert festival_season(festival)
    assert festival_season(datetime(2019, 12, 20, 9, 30, tzinfo=UTC))  # December: next year's festival
    assert not festival_season(date(2020, 7, 1))
    assert not festival_season(None)
    assert not festival_season("2020-01-20")  # type: ignore[arg-type]
    assert not festival_season(date(2061, 1, 1))  # outside the table: no season, no error


def test_unpaid_wages_in_the_season_are_wage_festival() -> None:
    text = "公司拖欠我们工资三个月"
    assert codes(text, when=date(2020, 1, 10)) == {"wage_festival"}
    assert codes(text, when=datetime(2020, 2, 1, 12, 0)) == {"wage_festival"}
    assert codes(text, when=date(2020, 6, 1)) == {"wages"}
    assert codes(text) == {"wages"}
    for word in ("春节", "过年", "年关", "年底"):
        assert codes(f"{word}快到了，{text}", when=date(2020, 6, 1)) == {"wage_festival"}, word
    # no unpaid wages, no festival code
    assert codes("春节快到了，希望早点放假", when=date(2020, 1, 10)) == set()
    assert assess_risk(text, when=date(2020, 1, 10)).reasons[0].weight == 35
    assert assess_risk(text).reasons[0].weight == 15


# --- the formula -------------------------------------------------------------------------------


def test_score_is_the_sum_of_the_strongest_cues_plus_bonuses() -> None:
    risk = assess_risk("三十多户业主到市政府门口静坐")
    assert [(r.code, r.weight) for r in risk.reasons] == [("gathering", 35), ("group", 10)]
    assert risk.score == 35 + 10 + BONUSES[frozenset(("group", "gathering"))]
    assert risk.level == "high"
    # the same cues far apart get no bonus
    far = "三十多户业主" + "。" * (BONUS_DISTANCE + 10) + "到市政府门口静坐"
    assert assess_risk(far).score == 45 and assess_risk(far).level == "medium"


def test_one_reason_per_code_with_its_strongest_evidence() -> None:
    text = "我们多次反映，十几户业主，后来上百户业主，又有数百名业主；准备上访，甚至进京"
    risk = assess_risk(text)
    by_code = {r.code: r for r in risk.reasons}
    assert set(by_code) == {"repeated", "group", "escalation"}
    assert by_code["group"].evidence == "上百户"  # 15 beats 十几户's 10; the first of equals
    assert by_code["escalation"].evidence == "进京"
    assert [r.weight for r in risk.reasons] == sorted((r.weight for r in risk.reasons), reverse=True)
    for reason in risk.reasons:
        assert text[reason.start : reason.end] == reason.evidence


def test_the_score_is_capped_at_100() -> None:
    risk = assess_risk("几百名农民工集体上访，堵路静坐，扬言跳楼，同归于尽", when=date(2020, 1, 10))
    assert risk.score == 100 and risk.level == "high"
    assert risk.codes[:2] == ("self_harm", "threat")


@pytest.mark.parametrize(
    ("score", "level"),
    [(0, "none"), (1, "low"), (29, "low"), (30, "medium"), (59, "medium"), (60, "high"), (100, "high")],
)
def test_levels(score: int, level: str) -> None:
    assert level_for(score) == level


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("我真的不想活了", "high"),
        ("我老婆几次想自杀", "high"),
        ("因心理问题导致学生自杀", "medium"),
        ("全体业主将到市政府静坐", "high"),
        ("几十名工人堵路讨薪", "high"),
        ("春节快到了，老板拖欠我们二十多名工人的工资", "high"),
        ("村民准备集体上访", "high"),
        ("再不处理就同归于尽", "medium"),
        ("村民堵路", "medium"),
        ("多次反映无果，只能上访", "medium"),
        ("我们将继续上访", "low"),
        ("小区全体业主", "low"),
        ("门口的路灯坏了，请尽快维修", "none"),
        ("道路拥堵，每天堵车", "none"),
    ],
)
def test_known_sentences_get_their_level(text: str, level: str) -> None:
    assert assess_risk(text, when=date(2020, 7, 1)).level == level


# --- bad input, batches ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", 42, b"\xe8\xb7\xb3\xe6\xa5\xbc", ["跳楼"]])
def test_bad_input_gives_no_risk(text: object) -> None:
    assert assess_risk(text) == Risk(0, "none", ())  # type: ignore[arg-type]


def test_odd_characters_and_huge_text() -> None:
    assert codes("\x00\u200b我\ud800要跳楼\x07") == {"self_harm"}
    assert assess_risk("跳楼", when="yesterday").score == 60  # type: ignore[arg-type]
    text = "今天天气很好，" * 150_000 + "我们准备堵路"
    assert len(text) > 1_000_000
    risk = assess_risk(text)
    assert risk.codes == ("road_block",) and risk.reasons[0].start == len(text) - 2


def test_assess_many_equals_one_at_a_time() -> None:
    texts = [
        *(t for ts in POSITIVE.values() for t in ts),
        *(t for ts in NEGATIVE.values() for t in ts),
        "",
        None,
    ]
    assert assess_many(texts) == [assess_risk(t) for t in texts]  # type: ignore[arg-type]
    whens = [date(2020, 1, 10) if i % 2 else None for i in range(len(texts))]
    assert assess_many(texts, when=whens) == [
        assess_risk(t, when=w) for t, w in zip(texts, whens, strict=True)
    ]
    with pytest.raises(ValueError, match="dates"):
        assess_many(["a", "b"], when=[None])


def test_the_package_exports_assess_risk() -> None:
    import minyi.text

    assert minyi.text.assess_risk is assess_risk
    assert isinstance(assess_risk("跳楼").reasons[0], RiskReason)


# --- real messages -----------------------------------------------------------------------------


def _messages(shared_data) -> list[str]:
    texts = []
    for name in ("appeals_unlabeled.csv", "hot_messages.csv", "appeals_with_replies.csv"):
        with open(shared_data / name, encoding="utf-8-sig", newline="") as handle:
            texts += [normalize(f"{r['留言主题']}\n{r['留言详情']}") for r in csv.DictReader(handle)]
    return texts


def test_real_messages(shared_data) -> None:
    texts = _messages(shared_data)
    risks = assess_many(texts)
    share = {level: sum(r.level == level for r in risks) / len(risks) for level in LEVELS}
    # most appeals are ordinary; high is rare but not absent
    assert share["none"] > 0.6
    assert 0.002 < share["high"] < 0.025
    assert share["high"] + share["medium"] < 0.08
    for text, risk in zip(texts, risks, strict=True):
        assert 0 <= risk.score <= 100 and risk.level == level_for(risk.score)
        assert len({r.code for r in risk.reasons}) == len(risk.reasons)
        for reason in risk.reasons:
            assert text[reason.start : reason.end] == reason.evidence and reason.code in REASON_CODES
    # every code fires somewhere in the data
    seen = {r.code for risk in risks for r in risk.reasons}
    assert seen >= set(REASON_CODES) - {"wage_festival"}
    # constructed risky sentences stay high when pasted into real messages
    for text in texts[:200]:
        assert assess_risk(text + "。我们全体业主明天到市政府门口静坐").level == "high"
