"""DuplicateIndex: reposts are found, unrelated texts are not, storage is pluggable."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from minyi.text.dedupe import DuplicateIndex, InMemoryStorage, SettingsMismatchError, Storage, shingle_text

ORIGINAL = (
    "我是幸福小区的业主，小区门口的道路施工已经三个月了，挖开以后一直没有人管，"
    "晚上没有路灯，老人孩子出门很不安全。前几天还有电动车摔倒在坑里。"
    "希望有关部门尽快督促施工单位恢复路面，安装临时照明。"
)
OTHERS = [
    "孩子就读的实验小学要求家长购买指定的教辅资料，每学期三百多元，不买就被老师点名批评，请教育局调查。",
    "本人在某物流公司工作两年，公司一直不给缴纳社会保险，今年还拖欠了四个月工资，劳动监察部门能否处理？",
    "河边的化工厂每天夜里偷偷排放废水，河水发黑发臭，鱼都死了，附近村民饮水困难，请环保部门查处。",
    "市第一医院挂号难，专家号凌晨就被号贩子抢光，高价转卖，希望卫生部门整顿。",
]


@pytest.fixture
def index() -> DuplicateIndex:
    idx = DuplicateIndex()
    idx.add_many([("orig", ORIGINAL)] + [(f"other{i}", t) for i, t in enumerate(OTHERS)])
    return idx


def exact_jaccard(a: str, b: str, k: int = 3) -> float:
    x, y = shingle_text(a), shingle_text(b)
    sx = {x[i : i + k] for i in range(len(x) - k + 1)}
    sy = {y[i : i + k] for i in range(len(y) - k + 1)}
    return len(sx & sy) / len(sx | sy)


@pytest.mark.parametrize(
    "repost",
    [
        "尊敬的领导：您好！" + ORIGINAL + "谢谢！",  # greeting and closing
        ORIGINAL.replace("，", ",").replace("。", "!"),  # punctuation swapped
        ORIGINAL.replace("三个月", "快四个月").replace("尽快", "马上"),  # wording edited
        "\u200b".join(ORIGINAL[:60]) + ORIGINAL[60:],  # zero-width characters sprinkled in
        ORIGINAL.split("。")[1]
        + "。"
        + ORIGINAL.split("。")[0]
        + "。"
        + ORIGINAL.split("。")[2],  # reordered
        "我是幸福小區的業主，小區門口的道路施工已經三個月了，挖開以後一直沒有人管，"  # traditional characters
        "晚上沒有路燈，老人孩子出門很不安全。前幾天還有電動車摔倒在坑裡。"
        "希望有關部門儘快督促施工單位恢復路面，安裝臨時照明。",
    ],
)
def test_finds_reposts(index, repost):
    results = index.query(repost)
    assert results and results[0][0] == "orig"
    assert results[0][1] >= 0.5
    assert all(i == "orig" for i, _ in results)


def test_unrelated_text_finds_nothing(index):
    assert index.query("公园里的健身器材坏了很久，希望园林局派人来修理一下，谢谢。") == []


def test_results_are_sorted_and_above_the_threshold():
    idx = DuplicateIndex(threshold=0.2)
    most = ORIGINAL[: len(ORIGINAL) * 3 // 4]
    idx.add_many([("full", ORIGINAL), ("half", most + OTHERS[0][:20]), ("other", OTHERS[1])])
    results = idx.query(ORIGINAL)
    assert [i for i, _ in results] == ["full", "half"]
    assert results[0][1] == 1.0 and 0.2 <= results[1][1] < 1.0
    assert [s for _, s in results] == sorted((s for _, s in results), reverse=True)


def test_estimated_similarity_tracks_exact_jaccard():
    idx = DuplicateIndex(threshold=0.0)
    edited = ORIGINAL[:80] + OTHERS[2]
    sig = idx.signatures([ORIGINAL, edited])
    estimate = float((sig[0] == sig[1]).mean())
    assert abs(estimate - exact_jaccard(ORIGINAL, edited)) < 0.15


def test_remove_and_replace(index):
    assert index.remove("orig") is True
    assert index.remove("orig") is False
    assert index.query(ORIGINAL) == []
    assert len(index) == len(OTHERS)
    index.add("orig", OTHERS[0])  # the id now holds another text
    assert {i for i, _ in index.query(OTHERS[0])} == {"orig", "other0"}
    assert index.add("orig", ORIGINAL) is True
    assert [i for i, _ in index.query(OTHERS[0])] == ["other0"]


@pytest.mark.parametrize("text", ["", "   \n\t", "，。！？", "\u200b\u200c"])
def test_empty_text_is_neither_indexed_nor_matched(index, text):
    assert index.query(text) == []
    assert index.add("blank", text) is False
    assert "blank" not in index.storage


def test_adding_empty_text_under_a_known_id_forgets_the_old_text(index):
    assert index.add("orig", "   ") is False
    assert index.query(ORIGINAL) == []


def test_batches_match_one_at_a_time(index):
    queries = [ORIGINAL + "谢谢", OTHERS[1], "", "毫不相干的一句话，没有任何关系。"]
    assert index.query_many(queries) == [index.query(q) for q in queries]


def test_exclude_leaves_out_the_text_itself(index):
    assert index.query(ORIGINAL, exclude="orig") == []
    assert index.query_many([ORIGINAL, OTHERS[0]], exclude=["orig", None])[1][0][0] == "other0"


def test_normalized_flag_skips_normalisation():
    from minyi.text.normalize import normalize

    idx = DuplicateIndex()
    idx.add("a", normalize(ORIGINAL), normalized=True)
    assert idx.query(ORIGINAL)[0] == ("a", 1.0)


def test_signatures_serialise_to_bytes():
    idx = DuplicateIndex()
    sig = idx.signatures([ORIGINAL])[0]
    assert sig.dtype == np.uint32 and len(sig.tobytes()) == idx.num_perm * 4
    np.testing.assert_array_equal(np.frombuffer(sig.tobytes(), dtype=np.uint32), sig)
    keys = idx._bucket_keys(idx.signatures([ORIGINAL]))[0]
    assert len(keys) == idx.bands and all(0 <= int(k) < 2**63 for k in keys)


def test_huge_text_is_handled():
    idx = DuplicateIndex()
    huge = (ORIGINAL + OTHERS[0]) * 800  # about 115,000 characters
    assert len(huge) > 100_000
    idx.add("huge", huge)
    assert idx.query(huge)[0] == ("huge", 1.0)


class DictStorage:
    """A plain implementation of the Storage protocol, shaped like the database tables will be."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] | None = None
        self.signature_rows: dict[Any, bytes] = {}
        self.bucket_rows: dict[int, set[Any]] = defaultdict(set)
        self.keys_of: dict[Any, list[int]] = {}

    def get_meta(self) -> dict[str, Any] | None:
        return self.meta

    def set_meta(self, meta: dict[str, Any]) -> None:
        self.meta = dict(meta)

    def put(self, entries):
        for id, signature, keys in entries:
            self.delete([id])
            self.signature_rows[id] = bytes(signature)
            self.keys_of[id] = list(keys)
            for key in keys:
                self.bucket_rows[key].add(id)

    def delete(self, ids):
        gone = 0
        for id in ids:
            if id in self.signature_rows:
                del self.signature_rows[id]
                for key in self.keys_of.pop(id):
                    self.bucket_rows[key].discard(id)
                gone += 1
        return gone

    def signatures(self, ids):
        return [self.signature_rows.get(i) for i in ids]

    def candidates(self, key_lists):
        return [set().union(*(self.bucket_rows.get(k, set()) for k in keys)) for keys in key_lists]

    def __len__(self):
        return len(self.signature_rows)


def test_any_storage_that_follows_the_protocol_gives_the_same_answers():
    storage = DictStorage()
    assert isinstance(storage, Storage) and isinstance(InMemoryStorage(), Storage)
    texts = [("orig", ORIGINAL)] + [(f"other{i}", t) for i, t in enumerate(OTHERS)]
    plain, memory = DuplicateIndex(storage=storage), DuplicateIndex()
    plain.add_many(texts)
    memory.add_many(texts)
    queries = [ORIGINAL + "谢谢！", OTHERS[3].replace("，", ","), "无关的内容，什么也不像。"]
    assert plain.query_many(queries) == memory.query_many(queries)
    plain.remove("orig")
    assert plain.query(ORIGINAL) == []
    # the signature round-trips through bytes, as database rows would store it
    assert storage.signature_rows["other0"] == memory.storage.signatures(["other0"])[0]


def test_storage_written_with_other_settings_is_refused():
    storage = InMemoryStorage()
    DuplicateIndex(storage=storage).add("a", ORIGINAL)
    with pytest.raises(SettingsMismatchError, match="other settings"):
        DuplicateIndex(storage=storage, shingle=2).query(ORIGINAL)
    assert DuplicateIndex(storage=storage).query(ORIGINAL)[0][0] == "a"


def test_in_memory_storage_merges_single_additions():
    idx = DuplicateIndex()
    texts = [f"第{i}号投诉：{OTHERS[i % 4]}{ORIGINAL[i % 50 :]}{i}" for i in range(40)]
    for i, t in enumerate(texts):  # single additions go to the pending dict first
        idx.add(i, t)
    before = idx.query_many(texts)
    idx.storage._merge_pending()
    assert idx.storage._pending == {} and len(idx.storage._keys) == 40 * idx.bands
    assert idx.query_many(texts) == before
    assert all(r and r[0] == (i, 1.0) for i, r in enumerate(before))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="shingle"):
        DuplicateIndex(shingle=5)
    with pytest.raises(ValueError, match="bands"):
        DuplicateIndex(bands=0)


@pytest.mark.parametrize("recent_min", [1, 50, 10**9])
def test_in_memory_storage_finds_every_member_across_its_sorted_runs(monkeypatch, recent_min):
    """Batches land in a recent sorted run that joins the main one when it grows: lookups must see both."""
    import random

    from minyi.text import dedupe

    monkeypatch.setattr(dedupe, "_RECENT_MIN", recent_min)
    rng = random.Random(recent_min)
    storage = dedupe.InMemoryStorage()
    truth: dict[int, set[int]] = {}
    next_id = 0
    for _batch in range(30):
        entries = []
        for _ in range(rng.randint(17, 60)):  # more than 16: the sorted-run path, not the pending dict
            keys = [rng.randrange(400) for _ in range(5)]
            entries.append((next_id, b"s", keys))
            for k in keys:
                truth.setdefault(k, set()).add(next_id)
            next_id += 1
        storage.put(entries)
    probes = [[k] for k in range(400)]
    found = storage.candidates(probes)
    assert found == [truth.get(k, set()) for k in range(400)]
