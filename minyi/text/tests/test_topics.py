"""Hot topics: mine_topics clusters specific matters; heat, trend and match_topics."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from minyi.text.normalize import normalize
from minyi.text.segment import segment
from minyi.text.topics import (
    HEAT_WEIGHTS,
    Topic,
    TopicDoc,
    heat,
    match_topics,
    merge_threshold,
    mine_topics,
    trend,
)

PARKING = [
    (
        "伊景园滨河苑捆绑销售车位",
        "开发商要求购买伊景园滨河苑商品房必须同时购买车位，车位捆绑销售十几万，我们不需要车位。",
    ),
    (
        "投诉伊景园滨河苑强制捆绑车位",
        "伊景园滨河苑购房时被强制捆绑车位，不买车位就不能签购房合同，这种捆绑销售合法吗？",
    ),
    (
        "伊景园滨河苑车位捆绑销售违法",
        "伊景园滨河苑的开发商把车位和房子捆绑销售，车位没有产权还要十二万，请住建局查处。",
    ),
    ("反对伊景园滨河苑捆绑销售车位", "我是伊景园滨河苑的购房者，开发商捆绑销售车位，侵犯消费者自主选择权。"),
    (
        "伊景园滨河苑买房必须买车位",
        "在伊景园滨河苑买房必须买车位，车位捆绑销售，家里本来就困难，请政府制止。",
    ),
    ("关于伊景园滨河苑捆绑车位的投诉", "伊景园滨河苑定向商品房捆绑车位销售，职工们强烈反对这种捆绑行为。"),
]
ROAD = [
    ("解放路夜间施工噪音扰民", "解放路地铁工地每天夜间施工到凌晨两点，噪音太大，附近居民无法入睡。"),
    ("投诉解放路工地夜间施工", "解放路工地夜间施工噪音扰民，渣土车来回跑，晚上根本睡不着。"),
    ("解放路半夜施工噪音严重", "解放路的施工单位半夜还在施工，噪音严重影响休息，希望禁止夜间施工。"),
    ("解放路夜间施工扰民何时停止", "解放路夜间施工已经一个月了，每晚噪音不断，孩子老人都休息不好。"),
    ("请管管解放路夜间施工噪音", "解放路工地夜间违规施工，机器轰鸣噪音很大，居民多次投诉没有用。"),
]
OTHER = [
    ("孩子入学问题", "孩子今年六岁，户口在外地，想咨询在本市读小学需要哪些材料。"),
    ("社保转移咨询", "我从外省调动过来工作，养老保险关系怎么转移过来？"),
    ("公交站牌损坏", "人民医院门口的公交站牌被撞坏了很久，没有人修。"),
    ("小区停水", "幸福小区今天突然停水，也没有提前通知，物业电话打不通。"),
    ("学校收费", "实验中学暑假补课每人收费两千元，家长不交学生就被点名。"),
]
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make_docs(pairs=None, *, start=T0, step=timedelta(hours=1), prefix="d", **fields):
    pairs = PARKING + ROAD + OTHER if pairs is None else pairs
    return [
        TopicDoc(
            id=f"{prefix}{k}",
            text=f"{title}\n{body}",
            title=title,
            when=start + k * step,
            person=f"p{k}",
            **fields,
        )
        for k, (title, body) in enumerate(pairs)
    ]


PARKING_IDS = {f"d{k}" for k in range(len(PARKING))}
ROAD_IDS = {f"d{k}" for k in range(len(PARKING), len(PARKING) + len(ROAD))}


def by_members(topics: list[Topic]) -> dict[frozenset, Topic]:
    return {frozenset(t.doc_ids): t for t in topics}


# --------------------------------------------------------------------------------------------- mining


def test_two_matters_come_out_as_two_topics_with_their_members_and_keywords():
    topics = mine_topics(make_docs())
    assert len(topics) == 2
    found = by_members(topics)
    assert set(found) == {frozenset(PARKING_IDS), frozenset(ROAD_IDS)}
    parking, road = found[frozenset(PARKING_IDS)], found[frozenset(ROAD_IDS)]
    assert {"车位", "捆绑"} <= set(parking.keywords)
    assert {"解放路", "施工", "夜间"} <= set(road.keywords)
    for t in topics:
        assert len(t.keywords) == 5
        assert t.label == "·".join(t.keywords[:3])
        assert t.representative_id == t.doc_ids[0]
        assert t.title in {title for title, _ in PARKING + ROAD}
        assert 0 < len(t.signature) <= 30
        assert math.isclose(math.sqrt(sum(v * v for v in t.signature.values())), 1.0, abs_tol=1e-4)
        assert list(t.signature)[:5] == [k.lower() for k in t.keywords]
    assert parking.size == 6 and parking.previous == 0 and parking.people == 6
    assert parking.first_at == T0 and parking.last_at == T0 + timedelta(hours=5)
    # hottest first: the parking matter has more members
    assert topics[0] is parking and parking.heat > road.heat


def test_topics_are_sorted_by_heat():
    docs = make_docs()
    docs = [replace(d, supports=500) if d.id in ROAD_IDS else d for d in docs]
    topics = mine_topics(docs)
    assert [set(t.doc_ids) for t in topics] == [ROAD_IDS, PARKING_IDS]
    assert topics[0].supports == 2500
    assert topics[0].heat > topics[1].heat


def test_min_size():
    assert {t.size for t in mine_topics(make_docs(), min_size=6)} == {6}
    assert mine_topics(make_docs(), min_size=7) == []
    # at min_size 1 every other message is its own topic (or joins none): nothing is lost or mixed
    topics = mine_topics(make_docs(), min_size=1)
    assert frozenset(PARKING_IDS) in by_members(topics) and frozenset(ROAD_IDS) in by_members(topics)
    members = [d for t in topics for d in t.doc_ids]
    assert len(members) == len(set(members))


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        mine_topics(make_docs(), threshold=0)
    with pytest.raises(ValueError):
        mine_topics(make_docs(), threshold=1.5)
    with pytest.raises(ValueError):
        mine_topics(make_docs(), min_size=0)
    with pytest.raises(ValueError):
        mine_topics(make_docs(), weights={"likes": 1.0})


def test_since_splits_current_and_previous_members():
    # parking: 2 messages before `since`, 4 after; road: all 5 after; a message without a date counts as current
    docs = make_docs()
    since = T0 + timedelta(hours=2)
    topics = by_members(mine_topics(docs, since=since))
    parking = topics[frozenset(PARKING_IDS)]
    assert (parking.size, parking.previous) == (4, 2)
    assert parking.growth == pytest.approx(1.0)
    assert trend(parking.growth) == "rising"
    assert parking.people == 4
    assert parking.first_at == T0 and parking.last_at == T0 + timedelta(hours=5)
    road = topics[frozenset(ROAD_IDS)]
    assert (road.size, road.previous, road.growth) == (5, 0, 5.0)

    # a matter that was bigger before: 5 previous, 1 current (min_size 1 keeps it) -> fading
    since = T0 + timedelta(hours=5)
    parking = by_members(mine_topics(docs, since=since, min_size=1))[frozenset(PARKING_IDS)]
    assert (parking.size, parking.previous) == (1, 5)
    assert parking.growth == pytest.approx(-0.8)
    assert trend(parking.growth) == "fading"
    # min_size counts current members only
    assert frozenset(PARKING_IDS) not in by_members(mine_topics(docs, since=since, min_size=3))

    undated = [replace(d, when=None) if d.id == "d0" else d for d in docs]
    parking = by_members(mine_topics(undated, since=T0 + timedelta(hours=2)))[frozenset(PARKING_IDS)]
    assert (parking.size, parking.previous) == (5, 1)
    assert parking.first_at == T0 + timedelta(hours=1)


def test_people_supports_and_regions_count_current_members():
    docs = []
    for k, d in enumerate(make_docs()):
        if d.id in PARKING_IDS:
            d = replace(d, person="same" if k < 4 else None, region=f"r{k % 2}", supports=k)
        docs.append(d)
    parking = by_members(mine_topics(docs))[frozenset(PARKING_IDS)]
    # "same" is one person, each of the two messages without a person counts as one
    assert parking.people == 3
    assert parking.regions == 2
    assert parking.supports == sum(range(6))
    expected = heat(size=6, people=3, supports=15, regions=2, growth=6.0)
    assert parking.heat == pytest.approx(expected)


def test_the_same_input_gives_the_same_topics():
    docs = make_docs()
    first = mine_topics(docs)
    assert mine_topics(list(docs)) == first
    assert mine_topics(iter(docs)) == first  # any iterable, read once


def test_pre_segmented_tokens_give_the_same_topics_as_text():
    docs = make_docs()
    tokenised = [replace(d, tokens=segment(normalize(d.text)), text="") for d in docs]
    spaced = [replace(d, tokens=" ".join(segment(normalize(d.text))), text="") for d in docs]
    expected = [(set(t.doc_ids), t.keywords) for t in mine_topics(docs)]
    assert [(set(t.doc_ids), t.keywords) for t in mine_topics(tokenised)] == expected
    assert [(set(t.doc_ids), t.keywords) for t in mine_topics(spaced)] == expected


def test_title_missing_from_text_is_added():
    docs = [replace(d, text=d.text.split("\n", 1)[1]) for d in make_docs()]
    found = by_members(mine_topics(docs))
    assert frozenset(PARKING_IDS) in found and frozenset(ROAD_IDS) in found


def test_progress_is_reported():
    seen = []
    mine_topics(make_docs(), progress=seen.append)
    assert seen == [len(PARKING + ROAD + OTHER)]
    seen.clear()
    many = make_docs((PARKING + ROAD + OTHER) * 150)
    mine_topics(many, progress=seen.append)
    assert seen == sorted(seen) and seen[0] == 1000 and seen[-1] == len(many)


# --------------------------------------------------------------------------------------------- bad input


def test_empty_and_tiny_inputs():
    assert mine_topics([]) == []
    assert mine_topics(iter(())) == []
    five = make_docs(OTHER)
    assert mine_topics(five) == []
    assert len(mine_topics(make_docs(PARKING[:5]))) == 1
    assert len(mine_topics(make_docs(PARKING[:2] + OTHER[:3]))) <= 1
    assert mine_topics(make_docs([("", "")] * 5)) == []


def test_hostile_input_does_not_crash_and_still_clusters():
    invisible = "\u200b\u200d\u202e\u2066\ufeff\x00\x07"
    docs = make_docs()
    hostile = [
        replace(d, text=invisible.join(d.text[i : i + 3] for i in range(0, len(d.text), 3))) for d in docs
    ]
    found = by_members(mine_topics(hostile))
    assert frozenset(PARKING_IDS) in found and frozenset(ROAD_IDS) in found
    assert all(c not in t.title for t in found.values() for c in invisible)

    weird = [
        TopicDoc(id=1, text=None, title=None, when="not a date", person=None, supports="abc"),  # type: ignore[arg-type]
        TopicDoc(id=2, text="，。！？…… !!! ###", supports=-5),
        TopicDoc(id=3, text="12345 67890 2025"),
        TopicDoc(id=4, text="<script>alert(1)</script>' OR 1=1 --", title="<b>x</b>"),
        TopicDoc(id=5, text="伊景园滨河苑捆绑销售车位" * 20_000),  # 240,000 characters
        TopicDoc(id=6, text="", tokens=["车位", None, 3, "", "\u200b车位\u200b", "捆绑"] * 3000),  # type: ignore[list-item]
        TopicDoc(id=7, text="", tokens="车位 捆绑 销售"),
        TopicDoc(id=8, text=b"\xe8\xbd\xa6\xe4\xbd\x8d", when=datetime(2025, 1, 1)),  # type: ignore[arg-type]
        TopicDoc(id=9, text="\ud800伊景园\udfff车位", person=["unhashable"]),  # type: ignore[arg-type]
    ]
    topics = mine_topics([*weird, *docs], since=T0 + timedelta(hours=2), min_size=1)
    assert topics and all(isinstance(t.heat, float) and math.isfinite(t.heat) for t in topics)
    members = [d for t in topics for d in t.doc_ids]
    assert len(members) == len(set(members))
    assert mine_topics(weird) is not None


def test_naive_and_aware_times_mix():
    docs = make_docs()
    mixed = [replace(d, when=d.when.replace(tzinfo=None)) if i % 2 else d for i, d in enumerate(docs)]
    topics = mine_topics(mixed, since=datetime(2025, 3, 1, 11))  # naive since, read as UTC
    parking = by_members(topics)[frozenset(PARKING_IDS)]
    assert (parking.size, parking.previous) == (4, 2)


# --------------------------------------------------------------------------------------------- heat, trend


def test_heat_formula():
    value = heat(size=6, people=4, supports=10, regions=2, growth=0.5)
    by_hand = 10 * (math.log(7) + math.log(5) + 0.5 * math.log(11) + 0.8 * math.log(3) + 0.5)
    assert value == pytest.approx(by_hand)
    assert value == pytest.approx(61.33, abs=0.01)  # 10 × (1.946 + 1.609 + 1.199 + 0.879 + 0.5)
    # growth is clamped to [-1, 3]
    assert heat(size=1, people=1, supports=0, regions=0, growth=10) == pytest.approx(
        10 * (2 * math.log(2) + 3)
    )
    assert heat(size=1, people=1, supports=0, regions=0, growth=-5) == pytest.approx(
        10 * (2 * math.log(2) - 1)
    )
    assert heat(size=0, people=0, supports=0, regions=0, growth=0) == 0
    # weights override the defaults one by one
    assert heat(
        size=6, people=4, supports=10, regions=2, growth=0.5, weights={"supports": 0, "growth": 2}
    ) == (pytest.approx(10 * (math.log(7) + math.log(5) + 0.8 * math.log(3) + 1.0)))
    assert HEAT_WEIGHTS == {"size": 1.0, "people": 1.0, "supports": 0.5, "regions": 0.8, "growth": 1.0}
    with pytest.raises(ValueError):
        heat(size=1, people=1, supports=0, regions=0, growth=0, weights={"size": math.inf})
    # nonsense counts count as 0
    assert heat(size=-3, people=None, supports="x", regions=0, growth=math.nan) == 0  # type: ignore[arg-type]


def test_mine_topics_uses_the_given_weights():
    topics = mine_topics(make_docs(), weights={"growth": 0, "people": 0, "size": 2})
    parking = by_members(topics)[frozenset(PARKING_IDS)]
    assert parking.heat == pytest.approx(10 * 2 * math.log(7))


@pytest.mark.parametrize(
    ("growth", "expected"),
    [
        (0.5, "rising"),
        (3.0, "rising"),
        (0.49, "steady"),
        (0.0, "steady"),
        (-0.29, "steady"),
        (-0.3, "fading"),
        (-1.0, "fading"),
        (math.nan, "steady"),
        ("x", "steady"),
    ],
)
def test_trend_thresholds(growth, expected):
    assert trend(growth) == expected


def test_merge_threshold():
    assert merge_threshold(0.3) == pytest.approx(0.65)


# --------------------------------------------------------------------------------------------- matching


def _previous(topics: list[Topic], ids: list[str]) -> dict:
    return {pid: (t.signature, t.doc_ids) for pid, t in zip(ids, topics, strict=True)}


def test_match_keeps_ids_when_a_topic_grows_and_a_new_matter_gets_none():
    # the previous run saw four parking messages and no road works yet
    before = mine_topics(make_docs(PARKING[:4] + OTHER))
    assert len(before) == 1
    previous = _previous(before, ["topic-7"])
    now = mine_topics(make_docs())
    found = match_topics(now, previous)
    parking_index = next(i for i, t in enumerate(now) if set(t.doc_ids) == PARKING_IDS)
    assert found == {parking_index: "topic-7"}
    # with no previous topics nothing matches
    assert match_topics(now, {}) == {}
    assert match_topics([], previous) == {}


def test_match_with_different_member_ids_uses_the_signature():
    before = mine_topics(make_docs(PARKING[:4], prefix="old"))
    now = mine_topics(make_docs())
    assert set(before[0].doc_ids).isdisjoint(now[0].doc_ids)
    found = match_topics(now, {42: (before[0].signature, before[0].doc_ids)})
    assert list(found.values()) == [42]
    assert set(now[next(iter(found))].doc_ids) == PARKING_IDS


def test_match_is_one_to_one_best_first():
    now = mine_topics(make_docs())
    parking = next(t for t in now if set(t.doc_ids) == PARKING_IDS)
    road = next(t for t in now if set(t.doc_ids) == ROAD_IDS)
    previous = {
        "weak": (parking.signature, list(parking.doc_ids)[:1]),
        "exact": (parking.signature, parking.doc_ids),
        "road": (road.signature, ["elsewhere"]),
    }
    found = match_topics(now, previous)
    assert found == {now.index(parking): "exact", now.index(road): "road"}
    # a threshold above every score matches nothing
    assert match_topics(now, previous, threshold=1.01) == {}


def test_match_ignores_bad_previous_data():
    now = mine_topics(make_docs())
    previous = {
        1: ({}, []),
        2: ({"车位": math.nan, "捆绑": -1, "x": "y"}, None),
        3: ("not a mapping", [[1, 2]]),
    }
    assert match_topics(now, previous) == {}  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- real data


@pytest.mark.data
def test_hot_messages_give_coherent_topics_with_the_known_big_matters(shared_data):
    from minyi.text.dates import DateParseError, parse_datetime
    from minyi.text.tabular import read_table

    docs, texts = [], {}
    with read_table(shared_data / "hot_messages.csv") as table:
        col = {name: i for i, name in enumerate(table.header)}
        for _, values in table.rows:
            try:
                when = parse_datetime(values[col["留言时间"]])
            except DateParseError:
                when = None
            text = f"{values[col['留言主题']]}\n{values[col['留言详情']]}"
            texts[values[col["留言编号"]]] = normalize(text)
            docs.append(
                TopicDoc(
                    id=values[col["留言编号"]],
                    text=text,
                    title=values[col["留言主题"]],
                    when=when,
                    person=values[col["留言用户"]] or None,
                    supports=int(values[col["点赞数"]] or 0),
                )
            )
    assert len(docs) == 4326
    topics = mine_topics(docs)
    assert 100 <= len(topics) <= 1000
    top = topics[:10]
    for t in top:  # coherent: most members contain the topic's first keyword
        share = sum(t.keywords[0] in texts[d] for d in t.doc_ids) / len(t.doc_ids)
        assert share >= 0.7, (t.label, share)

    def best(*words: str, among: list[Topic] = top) -> tuple[int, float]:
        """The largest count of members mentioning every word in one topic, and that topic's share of them."""
        scores = [(sum(all(w in texts[d] for w in words) for d in t.doc_ids), t) for t in among]
        count, t = max(scores, key=lambda s: s[0])
        return count, count / len(t.doc_ids)

    count, share = best("伊景园", "车位")  # the estate whose parking spaces were sold bundled (57 messages)
    assert count >= 45 and share >= 0.9
    count, share = best("五矿万境", "K9")  # A市A5区汇金路五矿万境K9县 (7 messages, 2,097 up-votes on one)
    assert count >= 5 and share >= 0.9
    count, share = best("丽发", "搅拌")  # the concrete plant next to 丽发新城
    assert count >= 40 and share >= 0.9
    count, share = best("58车贷")
    assert count >= 8 and share >= 0.9
    # every message is in at most one topic
    members = [d for t in topics for d in t.doc_ids]
    assert len(members) == len(set(members))
