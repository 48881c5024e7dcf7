"""Gazetteer: names and stems, leftmost-longest mentions, resolution along the hierarchy, bad input."""

from __future__ import annotations

import csv
import itertools
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minyi.text import locate as locate_module
from minyi.text.locate import GENERIC_STEMS, Gazetteer, Location, Place, PlaceMatch, stems
from minyi.text.normalize import normalize

PLACES = [
    Place("city", "江州市", "city"),
    Place("jb", "江北区", "district", "city"),
    Place("cn", "城南区", "district", "city"),
    Place("bj-jb", "滨江街道", "street", "jb"),
    Place("bj-cn", "滨江街道", "street", "cn"),
    Place("zs", "中山街道", "street", "jb"),
    Place("xfl", "幸福里社区", "community", "bj-jb"),
    Place("yg", "阳光花园", "estate", "xfl"),
    Place("cy", "翠苑小区", "estate", "bj-cn"),
    Place("hs", "红枫小区", "estate", "zs"),
    Place("bjl", "北京路", "road", "cn"),
    Place("hospital", "江州市第一人民医院", "landmark", "jb", aliases=("市一医院",)),
]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer(PLACES)


def ids(matches: list[PlaceMatch] | tuple[PlaceMatch, ...]) -> list[object]:
    return [m.place_id for m in matches]


# --- names and stems -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("江北区", "district", ["江北"]),
        ("长沙县", "district", ["长沙"]),
        ("浏阳市", "district", ["浏阳"]),
        ("江州市", "city", ["江州"]),
        ("滨江街道", "street", ["滨江"]),
        ("滨江街道办事处", "street", ["滨江"]),
        ("滨江街道办", "street", ["滨江"]),
        ("黄花镇", "street", ["黄花"]),
        ("幸福里社区", "community", ["幸福里"]),
        ("茶场村", "community", ["茶场"]),
        ("尖山居委会", "community", ["尖山"]),
        ("翠苑小区", "estate", ["翠苑"]),
        ("阳光花园", "estate", []),  # only 小区 is cut from estates
        ("北区", "district", []),  # a 1-character stem
        ("A3区", "district", []),  # no Han character left
        ("北京路", "road", []),  # roads get no automatic alias
        ("江北区", "estate", []),  # the suffix table is per kind
    ],
)
def test_stems_follow_the_suffix_table(name: str, kind: str, expected: list[str]) -> None:
    assert stems(name, kind) == expected


def test_names_hold_full_names_aliases_and_stems(gaz: Gazetteer) -> None:
    assert gaz.names("jb") == ["江北", "江北区"]
    assert gaz.names("yg") == ["阳光花园"]
    assert gaz.names("hospital") == ["市一医院", "江州市第一人民医院"]
    assert len(gaz) == len(PLACES)
    assert "jb" in gaz and "nowhere" not in gaz and [] not in gaz
    assert gaz.place("cy").name == "翠苑小区"
    assert repr(gaz).startswith("Gazetteer(12 places")


def test_traditional_and_full_width_names_match_normalised_text() -> None:
    gaz = Gazetteer([Place(1, "江北區", "district"), Place(2, "ＡＢ廣場", "landmark", 1)])
    assert gaz.names(1) == ["江北", "江北区"]
    assert ids(gaz.find(normalize("我住在江北區ＡＢ廣場附近"))) == [1, 2]


def test_names_shorter_than_two_characters_are_ignored() -> None:
    gaz = Gazetteer([Place("a", "北", "district"), Place("b", "", "other"), Place("c", "南湖", "other", "a")])
    assert gaz.find("北边的南湖") == [PlaceMatch(3, 5, "南湖", "c", "other")]
    assert gaz.ancestors("c") == ["c", "a"]


def test_ancestors_run_from_the_place_to_the_root(gaz: Gazetteer) -> None:
    assert gaz.ancestors("yg") == ["yg", "xfl", "bj-jb", "jb", "city"]
    assert gaz.ancestors("city") == ["city"]
    with pytest.raises(KeyError):
        gaz.ancestors("nowhere")


def test_bad_gazetteers() -> None:
    with pytest.raises(ValueError, match="repeated"):
        Gazetteer([Place(1, "江北区", "district"), Place(1, "城南区", "district")])
    with pytest.raises(ValueError, match="unknown kind"):
        Gazetteer([Place(1, "江北区", "province")])
    # an unknown parent is no parent; a cycle is cut where it closes
    gaz = Gazetteer(
        [
            Place(1, "江北区", "district", 99),
            Place(2, "甲乙街道", "street", 3),
            Place(3, "丙丁社区", "community", 2),
        ]
    )
    assert gaz.ancestors(1) == [1]
    assert gaz.ancestors(2) == [2, 3]
    assert gaz.locate("甲乙街道丙丁社区").place_id in (2, 3)
    empty = Gazetteer([])
    assert len(empty) == 0 and empty.locate("江北区") == Location(None, None, ())
    assert empty.locate_many(["江北区", ""]) == [Location(None, None, ())] * 2


# --- finding --------------------------------------------------------------------------------


def test_find_gives_offsets_and_the_matched_text(gaz: Gazetteer) -> None:
    text = "我是江北区滨江街道幸福里社区阳光花园的业主"
    found = gaz.find(text)
    assert [(m.start, m.end, m.text, m.kind) for m in found] == [
        (2, 5, "江北区", "district"),
        (5, 9, "滨江街道", "street"),
        (9, 14, "幸福里社区", "community"),
        (14, 18, "阳光花园", "estate"),
    ]
    assert all(text[m.start : m.end] == m.text for m in found)


def test_longest_match_wins_and_mentions_do_not_overlap(gaz: Gazetteer) -> None:
    # 江州市 is a prefix of the hospital's name: the longer name is the mention
    found = gaz.find("江州市第一人民医院挂号难")
    assert ids(found) == ["hospital"]
    assert ids(gaz.find("市一医院在江州市")) == ["hospital", "city"]


def test_a_stem_gives_way_to_an_overlapping_full_name(gaz: Gazetteer) -> None:
    # 江北 (stem of 江北区) would start first, but 北京路 is a full name that runs past it
    assert ids(gaz.find("江北京路口")) == ["bjl"]
    # a full name starting first keeps its place
    assert ids(gaz.find("江北区北京路")) == ["jb", "bjl"]


def test_full_names_beat_stems_of_the_same_key() -> None:
    gaz = Gazetteer([Place("d", "江北区", "district"), Place("l", "江北", "landmark")])
    assert gaz.names("d") == ["江北区"]
    assert ids(gaz.find("去江北玩")) == ["l"]
    assert ids(gaz.find("去江北区玩")) == ["d"]


def test_ascii_names_need_ascii_boundaries() -> None:
    gaz = Gazetteer([Place(1, "A1区", "district"), Place(2, "K1区", "district")])
    assert ids(gaz.find("A1区的问题")) == [1]
    assert gaz.find("BA1区的问题") == []
    assert ids(gaz.find("和K1区")) == [2]


def test_generic_stems_do_not_fire_alone(gaz: Gazetteer) -> None:
    assert "中山" in GENERIC_STEMS
    assert gaz.names("zs") == ["中山", "中山街道"]
    assert gaz.find("我在中山大学读书") == []
    assert gaz.find("江州市的中山公园") == [
        PlaceMatch(0, 3, "江州市", "city", "city")
    ]  # the city encloses all
    # its parent, a place inside it, or a house number supports it
    assert ids(gaz.find("江北区中山那边")) == ["jb", "zs"]
    assert ids(gaz.find("中山红枫小区")) == ["zs", "hs"]
    assert ids(gaz.find("中山12号")) == ["zs"]
    # the full name always counts
    assert ids(gaz.find("中山街道")) == ["zs"]


# --- resolving --------------------------------------------------------------------------------


def test_the_deepest_consistent_place_is_chosen(gaz: Gazetteer) -> None:
    loc = gaz.locate("江北区滨江街道幸福里社区路灯坏了")
    assert loc.place_id == "xfl" and loc.region_id == "xfl" and loc.ambiguous == ()
    loc = gaz.locate("阳光花园的电梯")
    assert loc.place_id == "yg" and loc.region_id == "xfl"  # an estate's region is its community
    loc = gaz.locate("北京路修路")
    assert loc.place_id == "bjl" and loc.region_id == "cn"


def test_a_shared_name_is_resolved_by_another_mention(gaz: Gazetteer) -> None:
    loc = gaz.locate("城南区滨江街道的垃圾站")
    assert loc.place_id == "bj-cn" and loc.ambiguous == ()
    assert loc.matches[1].place_id == "bj-cn" and loc.matches[1].candidates == ()
    # a mention below it resolves it too
    loc = gaz.locate("滨江街道翠苑小区")
    assert loc.place_id == "cy" and ids(loc.matches) == ["bj-cn", "cy"]
    # and the order of the mentions does not matter
    assert gaz.locate("滨江街道，城南区").place_id == "bj-cn"


def test_an_unresolved_name_is_ambiguous_and_falls_back_to_the_common_ancestor(gaz: Gazetteer) -> None:
    loc = gaz.locate("滨江街道的问题")
    assert loc.ambiguous == ("bj-jb", "bj-cn")
    assert loc.place_id == "city" and loc.region_id == "city"
    assert loc.matches[0].candidates == ("bj-jb", "bj-cn")
    # the city supports both candidates equally: still ambiguous
    assert gaz.locate("江州市滨江街道").ambiguous == ("bj-jb", "bj-cn")
    # without a common ancestor there is no place
    two_roots = Gazetteer([Place(1, "滨江街道", "street"), Place(2, "滨江街道", "street")])
    loc = two_roots.locate("滨江街道")
    assert loc.place_id is None and loc.region_id is None and loc.ambiguous == (1, 2)


def test_an_ambiguous_name_does_not_hide_a_resolved_place(gaz: Gazetteer) -> None:
    # 北京路 is in 城南区 like one of the two 滨江街道, but siblings are not related (only
    # ancestors and descendants are): the street stays ambiguous and the road is the place
    loc = gaz.locate("滨江街道，还有北京路")
    assert loc.place_id == "bjl"
    assert loc.ambiguous == ("bj-jb", "bj-cn")
    loc = gaz.locate("滨江街道，还有红枫小区")
    assert loc.place_id == "hs" and loc.ambiguous == ("bj-jb", "bj-cn")


def test_address_like_mentions_are_good_evidence(gaz: Gazetteer) -> None:
    # two unrelated estates: the one with a house number wins
    assert gaz.locate("翠苑的朋友说，阳光花园3栋2单元漏水").place_id == "yg"
    assert gaz.locate("翠苑小区5栋旁边，阳光花园").place_id == "cy"
    # without one: the deeper place, then the earlier mention; a full name outweighs a stem
    assert gaz.locate("城南区，阳光花园").place_id == "yg"
    assert gaz.locate("翠苑小区，红枫小区").place_id == "cy"
    assert gaz.locate("红枫小区，翠苑小区").place_id == "hs"
    assert gaz.locate("翠苑，红枫小区").place_id == "hs"


def test_more_mentions_of_a_line_beat_a_lone_mention(gaz: Gazetteer) -> None:
    loc = gaz.locate("红枫小区的人说，江北区滨江街道幸福里社区门口")
    assert loc.place_id == "xfl"


def test_locate_with_nothing_found(gaz: Gazetteer) -> None:
    assert gaz.locate("今天天气很好") == Location(None, None, ())
    assert gaz.find("今天天气很好") == []


# --- bad input and speed paths --------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "江", 42, b"\xe6\xb1\x9f\xe5\x8c\x97\xe5\x8c\xba", ["江北区"]])
def test_bad_input_gives_no_match(gaz: Gazetteer, text: object) -> None:
    assert gaz.locate(text) == Location(None, None, ())  # type: ignore[arg-type]
    assert gaz.find(text) == []  # type: ignore[arg-type]


def test_control_zero_width_and_surrogate_characters_do_not_break_it(gaz: Gazetteer) -> None:
    text = "\x00\u200b江北区\ud800\x07滨江\u200d街道\U0001f600翠苑小区\n"
    found = gaz.find(text)
    # 滨江\u200d街道 is not the full name (callers normalise first); its stem 滨江 is, supported by 江北区
    assert [(m.place_id, m.text) for m in found] == [("jb", "江北区"), ("bj-jb", "滨江"), ("cy", "翠苑小区")]
    assert all(text[m.start : m.end] == m.text for m in found)
    assert gaz.locate_many([text]) == [gaz.locate(text)]


def test_a_huge_text(gaz: Gazetteer) -> None:
    text = ("城南区滨江街道翠苑小区" + "无关的文字" * 40) * 5000  # about 1 MB
    assert len(text) > 1_000_000
    loc = gaz.locate(text)
    assert loc.place_id == "cy" and len(loc.matches) == 15000
    assert gaz.locate_many([text, "江北区"])[0] == loc


def test_locate_many_equals_locate_one_at_a_time(gaz: Gazetteer) -> None:
    rng = random.Random(7)
    alphabet = "江北区滨城南街道幸福里社区阳光花园翠苑小北京路中山红枫市一医院州第人民的了在12号栋 \x00"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120))) for _ in range(500)]
    texts += [None, "", "江北区"]  # type: ignore[list-item]
    assert gaz.locate_many(texts) == [gaz.locate(t) for t in texts]


def test_batches_are_cut_without_changing_results(gaz: Gazetteer, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"{i}号：城南区滨江街道{'的' * (i % 50)}翠苑小区" for i in range(300)]
    expected = gaz.locate_many(texts)
    monkeypatch.setattr(locate_module, "_BATCH_CHARS", 200)
    assert gaz.locate_many(texts) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("江北区滨城南街道幸福里社区阳光花园翠苑小京路中山红枫12号栋")),
        max_size=90,
    )
)
def test_the_vector_and_loop_paths_find_the_same_starts(text: str) -> None:
    gaz = Gazetteer(PLACES)
    loop = [i for i in range(len(text) - 1) if text[i : i + 2] in gaz._lengths]
    padded = text + "的" * locate_module._VECTOR_MIN  # long enough for the vector path
    assert gaz._starts(padded)[: len(loop)] == loop
    assert gaz.locate(text) == gaz.locate_many([text])[0]


def test_locate_imports_nothing_from_django_or_the_rest_of_minyi() -> None:
    code = (
        "import sys\n"
        "import minyi.text.locate, minyi.text.risk\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'django'"
        " or (m.startswith('minyi.') and not m.startswith('minyi.text')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_the_package_exports_the_gazetteer() -> None:
    import minyi.text

    assert minyi.text.Gazetteer is Gazetteer
    assert "Gazetteer" in minyi.text.__all__


# --- real messages ----------------------------------------------------------------------------

REAL = [
    Place("A市", "A市", "city"),
    Place("A7县", "A7县", "district", "A市"),
    Place("A5区", "A5区", "district", "A市"),
    Place("泉塘街道", "泉塘街道", "street", "A7县"),
    Place("星沙街道", "星沙街道", "street", "A7县"),
    Place("暮云街道", "暮云街道", "street", "A5区"),
    Place("黄花镇", "黄花镇", "street", "A7县"),
    Place("丽发新城小区", "丽发新城小区", "estate", "暮云街道"),
    Place("魅力之城小区", "魅力之城小区", "estate", "泉塘街道"),
]


def test_real_messages(shared_data) -> None:
    texts = []
    for name in ("appeals_unlabeled.csv", "hot_messages.csv"):
        with open(shared_data / name, encoding="utf-8-sig", newline="") as handle:
            texts += [normalize(f"{r['留言主题']}\n{r['留言详情']}") for r in csv.DictReader(handle)]
    gaz = Gazetteer(REAL)
    located = gaz.locate_many(texts)
    assert located == [gaz.locate(t) for t in texts]
    for text, loc in zip(texts, located, strict=True):
        assert all(text[m.start : m.end] == m.text for m in loc.matches)
        assert [m.start for m in loc.matches] == sorted(m.start for m in loc.matches)
        assert all(a.end <= b.start for a, b in itertools.pairwise(loc.matches))
    places = [loc.place_id for loc in located]
    # every message that names the estate in full is about it (or a place in it)
    lifa = [loc for text, loc in zip(texts, located, strict=True) if "丽发新城小区" in text]
    assert lifa and all(loc.place_id == "丽发新城小区" for loc in lifa)
    assert all(loc.region_id == "暮云街道" for loc in lifa)
    # the masked districts are everywhere: most messages have a place, and streets are found
    assert sum(p is not None for p in places) / len(places) > 0.5
    assert places.count("泉塘街道") >= 10 and places.count("黄花镇") >= 10
