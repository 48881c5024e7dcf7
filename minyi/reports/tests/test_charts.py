"""SVG charts: escaped text, gaps for missing values, an empty state for no data, never an exception."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from minyi.reports.charts import EMPTY_TEXT, bar_chart, inline, line_chart, pie_chart

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = [
    "<script>alert(1)</script>",
    '" onload="alert(1)',
    "' onmouseover='x",
    "A & B < C > D",
    "控制\x00字符\x1b\x07",
    "\u202e反转\u202c零宽\u200b\ufeff",
    "孤立代理\ud800",
    "]]><svg onload=alert(1)>",
]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def assert_inert(root: ET.Element) -> None:
    for node in root.iter():
        assert node.tag.removeprefix(SVG) not in ("script", "foreignObject", "a", "image", "style", "use")
        for name in node.attrib:
            assert not name.lower().startswith("on"), (node.tag, name)
            assert name not in ("style", "href", "{http://www.w3.org/1999/xlink}href")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_escaped_in_every_chart(hostile):
    charts = [
        line_chart(hostile, [hostile, "b"], [(hostile, [1, 2])]),
        bar_chart(hostile, [hostile, "b"], [1, 2]),
        bar_chart(hostile, [hostile, "b"], [1, 2], horizontal=True),
        pie_chart(hostile, [(hostile, 1), ("b", 2)]),
    ]
    for svg in charts:
        root = parse(svg)
        assert_inert(root)
        assert "<script" not in svg and svg.count("<svg") == 1 and svg.count("<") == svg.count(">")
        for ch in "\x00\x1b\x07\u202e\u200b\ufeff\ud800":
            assert ch not in svg


def test_text_survives_escaping_and_the_title_is_kept_whole():
    title = 'A & B <民意> "周报"'
    root = parse(bar_chart(title, ["甲&乙"], [3]))
    assert root.find(f"{SVG}title").text == title
    assert title in texts(root)
    assert "甲&乙" in texts(root)


def test_font_family_is_noto_sans_sc():
    for svg in (line_chart("t", ["a"], [("s", [1])]), bar_chart("t", ["a"], [1]), pie_chart("t", [("a", 1)])):
        assert parse(svg).get("font-family").startswith("Noto Sans SC")


def test_missing_values_are_gaps_in_a_line():
    root = parse(line_chart("t", list("abcdefg"), [("s", [1, None, 3, 4, float("nan"), "x", 7])]))
    lines = root.findall(f".//{SVG}polyline")
    dots = root.findall(f".//{SVG}circle")
    assert len(lines) == 1 and len(lines[0].get("points").split()) == 2  # 3, 4
    assert len(dots) == 2  # 1 and 7 stand alone


def test_several_series_get_a_legend_and_their_own_lines():
    root = parse(line_chart("t", ["a", "b"], [("全部", [1, 2]), ("高风险", [0, 1])]))
    assert len(root.findall(f".//{SVG}polyline")) == 2
    assert {"全部", "高风险"} <= set(texts(root))


@pytest.mark.parametrize(
    "svg",
    [
        line_chart("空", [], []),
        line_chart("空", ["a", "b"], [("s", [None, None])]),
        line_chart("空", ["a"], [("s", [float("inf")])]),
        bar_chart("空", [], []),
        bar_chart("空", ["a"], [None]),
        bar_chart("空", [], [], horizontal=True),
        pie_chart("空", []),
        pie_chart("空", [("a", 0), ("b", -3), ("c", None)]),
    ],
)
def test_no_data_is_an_empty_state(svg):
    root = parse(svg)
    assert EMPTY_TEXT in texts(root)
    assert "空" in texts(root)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    "call",
    [
        lambda: line_chart(None, None, None),
        lambda: line_chart("t", ["a", "b", "c"], [("s", [1])]),  # fewer values than labels
        lambda: line_chart("t", ["a"], [("s", [1, 2, 3])]),  # more values than labels
        lambda: line_chart("t", [], [("s", [1, 2, 3])]),  # no labels at all
        lambda: line_chart(Unprintable(), [Unprintable()], [(Unprintable(), [1])]),
        lambda: line_chart("t", ["a", "b"], [("s", [1e308, -1e308])]),
        lambda: line_chart("t", ["a"], [("s", [5])], width="wide", height=-3),
        lambda: bar_chart("t", ["a", "b"], [-5, 3]),
        lambda: bar_chart("t", ["a", "b"], [-5, -3], horizontal=True),
        lambda: bar_chart("t", ["a"] * 500, list(range(500))),
        lambda: bar_chart("t", ["a", "b"], [True, "3"]),
        lambda: bar_chart("t", "abc", [1, 2, 3]),
        lambda: pie_chart("t", [("a", 1e308), ("b", 1e308)]),
        lambda: pie_chart("t", [(str(i), i + 1) for i in range(30)]),
        lambda: pie_chart("t", [("only", 5)]),
        lambda: bar_chart("t", ["很长很长的标签" * 20], [1], horizontal=True),
    ],
)
def test_odd_input_never_raises_and_stays_well_formed(call):
    root = parse(call())
    assert_inert(root)


def test_a_pie_of_many_items_groups_the_rest_as_other():
    root = parse(pie_chart("t", [(f"类{i}", 10 - i) for i in range(10)]))
    labels = [t for t in texts(root) if t.startswith(("类", "其他"))]
    assert len(labels) == 8 and labels[-1].startswith("其他")
    assert len(root.findall(f".//{SVG}path")) == 8


def test_shares_in_the_pie_legend_add_up():
    root = parse(pie_chart("t", [("a", 1), ("b", 3)]))
    shares = sorted(t for t in texts(root) if "%" in t)
    assert shares == ["a  1（25.0%）", "b  3（75.0%）"]


def test_long_labels_are_cut_with_an_ellipsis():
    root = parse(bar_chart("t", ["一二三四五六七八九十" * 3], [1], horizontal=True))
    label = next(t for t in texts(root) if t.startswith("一二"))
    assert label.endswith("…") and len(label) < 30


def test_the_size_is_fixed_and_scalable():
    root = parse(line_chart("t", ["a"], [("s", [1])], width=500, height=200))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("500", "200", "0 0 500 200")


def test_inline_drops_the_namespace_for_html_pages():
    svg = bar_chart("t", ["a"], [1])
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    page = inline(svg)
    assert "xmlns" not in page and "http" not in page


def test_bars_have_positive_sizes():
    root = parse(bar_chart("t", ["a", "b", "c"], [0, 5, -2]))
    for rect in root.findall(f".//{SVG}rect")[1:]:
        assert float(rect.get("width")) > 0 and float(rect.get("height")) > 0
        assert math.isfinite(float(rect.get("x"))) and math.isfinite(float(rect.get("y")))
