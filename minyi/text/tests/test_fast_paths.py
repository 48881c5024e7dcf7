"""The fast paths of the text engine give exactly what the plain computations give.

Each fast path (a pre-check that skips a regex, a class spelt out instead of a category,
a vectorised filter instead of a per-token one, a directory in front of a binary search)
is compared here with the straightforward computation it replaces, on inputs built to
hit both sides of every pre-check.
"""

from __future__ import annotations

import importlib
import random
import re
import unicodedata

import numpy as np

from minyi.text.classify import Classifier
from minyi.text.dedupe import DuplicateIndex, InMemoryStorage

# the package re-exports the functions under the modules' names
normalize_module = importlib.import_module("minyi.text.normalize")
pii_module = importlib.import_module("minyi.text.pii")

# --- normalize -------------------------------------------------------------------------------


def test_horizontal_space_class_is_whitespace_except_newline() -> None:
    reference = re.compile(r"[^\S\n]")
    differ = [
        hex(cp)
        for cp in range(0x110000)
        if (reference.match(chr(cp)) is None) != (normalize_module._HSPACE_RE.match(chr(cp)) is None)
    ]
    assert differ == []


def test_split_invisible_classes_remove_what_the_single_class_removes() -> None:
    single = re.compile(f"[{normalize_module._INVISIBLE_CLASS}]")
    differ = [
        hex(cp)
        for cp in range(0x110000)
        if chr(cp) not in "\r\u2028\u2029"  # line endings are turned into \n first
        and (single.match(chr(cp)) is not None) != (normalize_module.strip_invisible(f"a{chr(cp)}b") == "ab")
    ]
    assert differ == []


def test_trigger_scan_agrees_with_the_trigger_set() -> None:
    converter, triggers = normalize_module._load_converter()
    assert converter is not None
    chars = [chr(cp) for lo, hi in normalize_module._PROBE_RANGES for cp in range(lo, hi + 1)]
    converted = {ch for ch in chars if normalize_module.to_simplified(f"中{ch}文") != f"中{ch}文"}
    # only trigger characters make to_simplified run t2s (and t2s then changes them)
    assert converted <= triggers
    assert {ch for ch in triggers if normalize_module.to_simplified(ch) == ch} == set()


def _fold_plainly(text: str) -> str:
    """Width folding as specified: NFKC of everything between the kept punctuation marks."""
    pieces = normalize_module._KEEP_SPLIT_RE.split(text)
    pieces[::2] = [unicodedata.normalize("NFKC", p) for p in pieces[::2]]
    return normalize_module._chinese_punctuation("".join(pieces))


def test_width_folding_fast_path_equals_plain_nfkc() -> None:
    contexts = ("{}", "中{}，", "a{}", "{}\u0301", "\u3000{}\xa0", "ᄀ{}", "{}…（文）")
    differ = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or (cp > 0xFFFF and cp % 5):  # every BMP character, a fifth of the rest
            continue
        for context in contexts:
            text = context.format(chr(cp))
            if normalize_module._fold_width(text) != _fold_plainly(text):
                differ.append((hex(cp), context))
    assert differ == []


def _collapse_plainly(text: str) -> str:
    text = normalize_module._HSPACE_RE.sub(" ", text)
    text = re.sub(r" ?\n ?(?:\n ?)+", "\n\n", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return normalize_module._WIDE_SPACE_RE.sub("", text).strip()


def test_line_break_fast_path_equals_the_regex_passes() -> None:
    rng = random.Random(11)
    pieces = [" ", "  ", "\t", "\n", "\n\n", "\n \n", "\r", "\u3000", "\xa0", "\u2028", "a", "中", "，"]
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert normalize_module._collapse_whitespace(text) == _collapse_plainly(text), repr(text)


# --- find_pii ----------------------------------------------------------------------------------


def test_view_fast_path_equals_the_full_view() -> None:
    differ = []
    for cp in [*range(0x10000), *range(0x10000, 0x110000, 97), 0xE0041, 0x110BD]:
        text = f"中{chr(cp)}1３"
        folded = text.translate(pii_module._FOLD_TABLE)
        keep = [i for i, ch in enumerate(folded) if pii_module._INVISIBLE_RE.match(ch) is None]
        expected = "".join(folded[i] for i in keep)
        view, positions = pii_module._view(text)
        if view != expected or (positions is not None and positions[:-1] != keep):
            differ.append(hex(cp))
        if positions is None and len(keep) != len(text):
            differ.append(hex(cp))
    assert differ == []


def _candidates_without_hints(view: str) -> list[tuple[int, int, str]]:
    """What _candidates found before the finer pre-checks: every pattern of a kind runs once
    the kind's first, coarse check passes (a digit for plates, an @ for e-mail, a unit word
    or digit-dash-digit for addresses)."""
    found = []
    if pii_module._HAS_DIGIT_RE.search(view) and pii_module._LONG_NUMBER_RE.search(view):
        found += pii_module._candidates(view, numbers_only=True)
    if pii_module._HAS_DIGIT_RE.search(view):
        for m in pii_module._PLATE_RE.finditer(view):
            if sum(ch.isdigit() for ch in m.group()) >= 3:
                found.append((m.start(), m.end(), pii_module.PLATE))
    if "@" in view:
        for m in pii_module._EMAIL_RE.finditer(view):
            found.append((m.start(), m.end(), pii_module.EMAIL))
    if pii_module._ADDRESS_HINT_RE.search(view):
        for pattern, group in (
            (pii_module._ROAD_NUMBER_RE, "road"),
            (pii_module._ESTATE_NUMBER_RE, "estate"),
            (pii_module._UNITS_RE, "units"),
        ):
            for m in pattern.finditer(view):
                found.append((m.start(group), m.end(group), pii_module.ADDRESS))
    for m in pii_module._name_re().finditer(view):
        group = "colon" if m.group("colon") else "plain"
        found.append((m.start(group), m.end(group), pii_module.NAME))
    return found


def test_pii_pre_checks_never_skip_a_match() -> None:
    rng = random.Random(7)
    pieces = [
        *"0123456789-·. 号楼栋幢座层室户房组元单區区村路街道巷弄同苑园一二三两十湘粤京AaBbDdFf",
        "小区", "花园", "胡同", "大道", "单元", "号楼", "我叫", "本人", "姓名：", "张三", "李四",
        "@", "x.com", "13812345678", "0731-88888888", "中山路12号", "3栋2单元501室", "村5组",
    ]  # fmt: skip
    for _ in range(4000):
        view = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        assert sorted(pii_module._candidates(view)) == sorted(_candidates_without_hints(view)), view


# --- classify ----------------------------------------------------------------------------------


def test_vectorised_token_filter_drops_what_kept_drops() -> None:
    rng = random.Random(3)
    stop = ["的", "了", "我们", "是"]
    vocab = [
        *stop,
        "道路",
        "拥堵",
        "A1",
        "x",
        "，",
        "。",
        "!!",
        "_",
        "  ",
        "",
        "𠀀",
        "１２",
        "路口",
        "\u200b",
    ]
    docs = [[rng.choice(vocab) for _ in range(rng.randint(0, 30))] for _ in range(300)]
    labels = [rng.choice(["a", "b"]) for _ in docs]
    labels[:2] = ["a", "b"]
    docs[0] += ["道路"]
    docs[1] += ["拥堵"]
    model = Classifier(stop_words=stop, min_df=1, calibration_folds=0).fit(docs, labels)
    featurizer = model._featurizer_
    rows, slots, n_kept = featurizer.coordinates(docs)
    kept_docs = [featurizer.kept(d) for d in docs]
    assert n_kept.tolist() == [len(d) for d in kept_docs]
    # the same features as the kept words alone make (where no token is dropped any more)
    ref_rows, ref_slots, ref_kept = featurizer.coordinates(kept_docs)
    assert ref_kept.tolist() == n_kept.tolist()
    key = np.sort(rows * featurizer.n_slots + slots)
    assert np.array_equal(key, np.sort(ref_rows * featurizer.n_slots + ref_slots))


# --- dedupe ------------------------------------------------------------------------------------


def test_directory_search_equals_binary_search() -> None:
    rng = np.random.default_rng(11)
    for trial in range(12):
        storage = InMemoryStorage()
        n = int(rng.integers(1, 20_000))
        if trial % 3 == 0:
            keys = rng.integers(0, 2**63 - 1, n, dtype=np.int64)
        elif trial % 3 == 1:  # band in the top byte, as DuplicateIndex makes them
            keys = (rng.integers(0, 42, n, dtype=np.int64) << 56) | rng.integers(0, 2**56, n, dtype=np.int64)
        else:  # crowded cells
            keys = rng.integers(0, 300, n, dtype=np.int64) << 50
        keys = np.concatenate([keys, np.full(int(rng.integers(0, 300)), keys[0])])  # one long bucket
        storage._merge(keys, np.arange(len(keys), dtype=np.int64))
        needles = np.concatenate(
            [
                rng.choice(keys, 2000),
                rng.integers(-(2**62), 2**63 - 1, 2000, dtype=np.int64),
                [0, -1, 2**63 - 1, int(storage._keys[0]), int(storage._keys[-1])],
            ]
        )
        assert np.array_equal(storage._left(needles), np.searchsorted(storage._keys, needles, side="left"))
        lo = storage._left(needles)
        right = np.searchsorted(storage._keys, needles, side="right")
        assert np.array_equal(storage._run_lengths(lo, needles), right - lo)
        storage._merge(rng.integers(0, 2**63 - 1, 500, dtype=np.int64), np.arange(500, dtype=np.int64))
        assert np.array_equal(storage._left(needles), np.searchsorted(storage._keys, needles, side="left"))


def test_batched_signatures_equal_one_text_at_a_time() -> None:
    # shingles come from shifted slices over the whole batch: none may reach into the next text,
    # and texts shorter than a shingle are padded with zeros as on their own
    rng = random.Random(12)
    alphabet = "ab中文字1，\U00020000"
    index = DuplicateIndex()
    for _ in range(300):
        texts = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7))) for _ in range(rng.randint(1, 9))
        ]
        batched = index.signatures(texts, normalized=True)
        alone = np.vstack([index.signatures([t], normalized=True) for t in texts])
        assert np.array_equal(batched, alone), texts
