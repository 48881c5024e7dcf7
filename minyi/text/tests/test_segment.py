"""segment, segment_many, Segmenter, stopwords."""

from __future__ import annotations

import copy
import logging
import os
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minyi.text.segment import (
    DOMAIN_DICT,
    USER_DICT_ENV,
    DictionaryError,
    Segmenter,
    read_dictionary,
    segment,
    segment_many,
    stopwords,
)
from minyi.text.tests import PROPERTY

# Hotline terms that jieba's own dictionary cuts apart.
DOMAIN_TERMS = ["12345热线", "接诉即办", "业主委员会", "棚户区改造", "征地拆迁", "住建局", "人社局"]


@pytest.fixture(autouse=True)
def _no_user_dict_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(USER_DICT_ENV, raising=False)


def test_domain_terms_stay_whole() -> None:
    plain = Segmenter(domain_dict=False, use_env=False)
    with_domain = Segmenter(use_env=False)
    for term in DOMAIN_TERMS:
        sentence = f"我想通过{term}反映问题"
        assert term not in plain.cut(sentence), term  # shows the dictionary is what keeps it whole
        assert term in with_domain.cut(sentence), term


def test_domain_dictionary_lists_the_issue_terms() -> None:
    words = {word for word, _, _ in read_dictionary(DOMAIN_DICT)}
    for term in ("12345热线", "接诉即办", "物业", "拖欠工资", "信访", "农民工", "业主委员会", "棚户区改造"):
        assert term in words
    for term in ("征地拆迁", "社保", "医保", "公积金"):
        assert term in words


def test_segment_uses_the_domain_dictionary() -> None:
    tokens = segment("我要投诉12345热线，接诉即办的物业拖欠工资，业主委员会不管")
    for term in ("12345热线", "接诉即办", "物业", "拖欠工资", "业主委员会"):
        assert term in tokens


@pytest.mark.parametrize("text", ["", " ", "\n\t \u3000"])
def test_empty_and_blank_give_no_tokens(text: str) -> None:
    assert segment(text) == []
    assert Segmenter(use_env=False).cut(text) == []


def test_whitespace_tokens_are_dropped() -> None:
    tokens = segment("  物业 费\t太高\n\n了 a  b ")
    assert tokens
    assert all(t.strip() == t and t for t in tokens)
    assert "".join(tokens) == "物业费太高了ab"


def test_add_words_and_user_dictionary_files(tmp_path: Path) -> None:
    seg = Segmenter(use_env=False)
    assert "芙蓉雅苑小区" not in seg.cut("我住在芙蓉雅苑小区三栋")
    seg.add_words(["芙蓉雅苑小区"])
    assert "芙蓉雅苑小区" in seg.cut("我住在芙蓉雅苑小区三栋")

    dictionary = tmp_path / "places.txt"
    dictionary.write_text("# estates\n\n星沙街道办 100 ns\n麓谷科技园\n", encoding="utf-8")
    seg2 = Segmenter(user_dicts=[dictionary], use_env=False)
    tokens = seg2.cut("星沙街道办和麓谷科技园")
    assert "星沙街道办" in tokens and "麓谷科技园" in tokens

    seg3 = Segmenter(use_env=False).load_dictionary(dictionary)
    assert "麓谷科技园" in seg3.cut("麓谷科技园")


def test_words_parameter_accepts_frequencies() -> None:
    seg = Segmenter(words=[("桐梓坡路", 2000), ("火炬路", None, "ns")], use_env=False)
    assert "桐梓坡路" in seg.cut("桐梓坡路和火炬路")
    assert seg.has_word("火炬路")


def test_pure_digit_words_do_not_cut_numbers() -> None:
    seg = Segmenter(words=["12345"], use_env=False)
    assert "0123456789" in seg.cut("电话0123456789")


def test_environment_lists_user_dictionaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = tmp_path / "a.txt"
    first.write_text("望城区政务中心\n", encoding="utf-8")
    second = tmp_path / "b.txt"
    second.write_text("\ufeff黄花机场快线\n", encoding="utf-8")  # a BOM is tolerated
    missing = tmp_path / "missing.txt"
    monkeypatch.setenv(USER_DICT_ENV, os.pathsep.join([str(first), str(missing), "", str(second)]))
    with caplog.at_level(logging.WARNING, logger="minyi.text.segment"):
        tokens = Segmenter().cut("望城区政务中心和黄花机场快线")
    assert "望城区政务中心" in tokens and "黄花机场快线" in tokens
    assert "missing.txt" in caplog.text
    assert "望城区政务中心" not in Segmenter(use_env=False).cut("望城区政务中心")


def test_explicit_missing_or_broken_dictionary_raises(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match=r"nope\.txt"):
        Segmenter(user_dicts=[tmp_path / "nope.txt"], use_env=False).cut("文本")
    broken = tmp_path / "gbk.txt"
    broken.write_bytes("物业公司".encode("gbk"))
    with pytest.raises(DictionaryError, match=r"gbk\.txt"):
        Segmenter(user_dicts=[broken], use_env=False).cut("文本")


def test_segmenter_pickles_and_copies_with_added_words() -> None:
    seg = Segmenter(use_env=False).add_words(["芙蓉雅苑小区"])
    text = "我住在芙蓉雅苑小区，12345热线没人接"
    expected = seg.cut(text)
    for clone in (pickle.loads(pickle.dumps(seg)), copy.deepcopy(seg)):
        assert isinstance(clone, Segmenter)
        assert clone.cut(text) == expected
        assert "芙蓉雅苑小区" in clone.cut(text)
    assert seg.get_params()["use_env"] is False


def test_set_params_and_repr() -> None:
    seg = Segmenter(use_env=False)
    assert "接诉即办" in seg.cut("接诉即办")
    seg.set_params(domain_dict=False)
    assert "接诉即办" not in seg.cut("接诉即办")
    assert "domain_dict=False" in repr(seg)
    with pytest.raises(ValueError, match="no parameter"):
        seg.set_params(colour="red")


def test_segment_many_matches_segment() -> None:
    texts = ["物业费太高", "", "  ", "12345热线打不通", "拖欠工资"]
    assert segment_many(texts) == [segment(t) for t in texts]


def test_segmenter_is_a_callable_tokenizer() -> None:
    seg = Segmenter(use_env=False)
    assert seg("物业费太高") == seg.cut("物业费太高")


def test_stopwords() -> None:
    words = stopwords()
    assert isinstance(words, frozenset)
    for word in ("的", "了", "是", "在", "和", "您好", "谢谢", "，", "。"):
        assert word in words
    assert all(w and not w.startswith("#") and w.strip() == w for w in words)
    domain = {word for word, _, _ in read_dictionary(DOMAIN_DICT)}
    assert not words & domain


def test_lone_surrogates_do_not_crash() -> None:
    assert segment("物业\ud800费太高\udfff") == segment("物业费太高")
    assert segment_many(["\ud800"]) == [[]]


def test_long_input_completes() -> None:
    tokens = segment("物业拖欠工资。" * 20_000)
    assert tokens.count("拖欠工资") == 20_000


@PROPERTY
@given(st.text())
def test_segment_never_raises_and_keeps_every_non_space_character(text: str) -> None:
    tokens = segment(text)
    assert all(t and not t.isspace() for t in tokens)
    assert "".join(tokens) == "".join(ch for ch in text if not ch.isspace())
