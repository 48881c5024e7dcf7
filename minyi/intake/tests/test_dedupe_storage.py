"""DatabaseStorage: the Storage contract in database rows, the same answers as InMemoryStorage, no stale
buckets, all-or-nothing writes inside the caller's transaction, and a bounded number of queries."""

from __future__ import annotations

import csv
import math
import random
import re

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from minyi.intake import dedupe_storage
from minyi.intake.dedupe_storage import DatabaseStorage, case_index, case_index_text
from minyi.intake.models import DuplicateBucket, DuplicateIndexMeta, DuplicateSignature
from minyi.text.dedupe import DuplicateIndex, InMemoryStorage, SettingsMismatchError, Storage

pytestmark = pytest.mark.django_db

SIG = bytes(range(16))
COMMON = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所"
    "民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日"
    "那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想"
    "已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指"
    "小区道路施工路灯噪音物业投诉维修停车学校医院社保工资拖欠环境污染垃圾供暖供水燃气电梯拆迁补偿安置"
)
GREETINGS = ("您好！", "尊敬的领导：你好！", "领导好，", "市长您好：")


# ---------------------------------------------------------------------------------------------- helpers


#: The write paths: "bulk" (COPY on PostgreSQL, executemany elsewhere) and, on PostgreSQL only,
#: "small" (INSERT ... unnest, for batches under copy_min_entries).
PATHS = ["bulk", "small"] if connection.vendor == "postgresql" else ["bulk"]


def database_storage(path: str) -> DatabaseStorage:
    storage = DatabaseStorage()
    # "bulk": the path of big batches (COPY on PostgreSQL); "small": INSERT ... unnest on PostgreSQL
    storage.copy_min_entries = 1 if path == "bulk" else 10**9
    return storage


@pytest.fixture(params=["memory", *PATHS])
def storage(request) -> Storage:
    """Every contract check runs against the reference (InMemoryStorage) too, so the checks themselves hold."""
    if request.param == "memory":
        return InMemoryStorage()
    request.getfixturevalue("db")
    return database_storage(request.param)


@pytest.fixture(params=PATHS)
def db_storage(request, db) -> DatabaseStorage:
    return database_storage(request.param)


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Chunks of 7 values and 5 rows per write, so that every chunked loop runs several times."""
    monkeypatch.setattr(dedupe_storage, "_PG_CHUNK", 7)
    monkeypatch.setattr(dedupe_storage, "_SQLITE_MAX_PARAMS", 7)
    monkeypatch.setattr(dedupe_storage, "_ROWS_PER_WRITE", 5)


def sig(n: int) -> bytes:
    return np.full(4, n, dtype="<u4").tobytes()


def generated_texts(count: int, seed: int) -> list[str]:
    """Appeal-like texts of random common characters, 40 to 200 long, every fourth a repost of an earlier one."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(count):
        if i >= 4 and i % 4 == 0:
            chars = list(rng.choice(GREETINGS) + out[rng.randrange(len(out))])
            for j in rng.sample(range(len(chars)), len(chars) // 10):
                chars[j] = rng.choice(COMMON)
            out.append("".join(chars))
        else:
            out.append("".join(rng.choice(COMMON) for _ in range(rng.randint(40, 200))) + "。")
    return out


def real_texts(shared_data, count: int) -> list[str]:
    with open(shared_data / "appeals_labeled.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    seen: set[str] = set()
    out = []
    for row in rows:
        text = case_index_text(row["title"].strip(), row["detail"].strip())
        key = re.sub(r"\s+", "", text)
        if len(key) >= 20 and key not in seen:
            seen.add(key)
            out.append(text)
        if len(out) == count:
            break
    return out


def edited(texts: list[str], seed: int) -> list[str]:
    """Reposts: a greeting added and a tenth of the characters changed."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        chars = list(rng.choice(GREETINGS) + text)
        for j in rng.sample(range(len(chars)), len(chars) // 10):
            chars[j] = rng.choice(COMMON)
        out.append("".join(chars))
    return out


def as_dicts(results: list[list[tuple[int, float]]]) -> list[dict[int, float]]:
    """Results without the order of equal similarities (that order follows set iteration)."""
    return [dict(r) for r in results]


def stored_pairs() -> set[tuple[int, int]]:
    return set(DuplicateBucket.objects.values_list("key", "case_id"))


def pairs_from_signature_rows() -> set[tuple[int, int]]:
    """Every (key, case) that the signature rows' stored keys say should exist."""
    return {
        (int(k), case_id)
        for case_id, keys in DuplicateSignature.objects.values_list("case_id", "keys")
        for k in np.frombuffer(bytes(keys), dtype="<i8")
    }


def row_counts() -> tuple[int, int]:
    return DuplicateSignature.objects.count(), DuplicateBucket.objects.count()


# ---------------------------------------------------------------------------------------------- the contract


def test_database_storage_follows_the_protocol():
    assert isinstance(DatabaseStorage(), Storage)


def test_a_new_storage_is_empty(storage):
    assert storage.get_meta() is None
    assert len(storage) == 0
    assert storage.signatures([1, 2]) == [None, None]
    assert storage.signatures([]) == []
    assert storage.candidates([[10, 11], []]) == [set(), set()]
    assert storage.candidates([]) == []
    assert storage.delete([1]) == 0
    storage.put([])
    assert len(storage) == 0


def test_put_then_read_back(storage):
    storage.put([(1, sig(1), [10, 11, 12]), (2, sig(2), [12, 13]), (3, sig(3), [14])])
    assert len(storage) == 3
    assert storage.signatures([3, 99, 1, 1]) == [sig(3), None, sig(1), sig(1)]
    assert storage.candidates([[10], [12], [13, 14], [15], [10, 13, 14]]) == [
        {1},
        {1, 2},
        {2, 3},
        set(),
        {1, 2, 3},
    ]


def test_put_replaces_an_id_and_drops_its_old_buckets(storage):
    storage.put([(1, sig(1), [10, 11]), (2, sig(2), [11])])
    storage.put([(1, sig(9), [11, 12])])
    assert len(storage) == 2
    assert storage.signatures([1]) == [sig(9)]
    assert storage.candidates([[10], [11], [12]]) == [set(), {1, 2}, {1}]


def test_the_same_id_twice_in_one_batch_keeps_the_last(storage):
    storage.put([(1, sig(1), [10]), (2, sig(2), [20]), (1, sig(7), [30])])
    assert len(storage) == 2
    assert storage.signatures([1, 2]) == [sig(7), sig(2)]
    assert storage.candidates([[10], [30]]) == [set(), {1}]


def test_delete_counts_what_existed(storage):
    storage.put([(1, sig(1), [10, 11]), (2, sig(2), [11]), (3, sig(3), [12])])
    assert storage.delete([1, 1, 4]) == 1
    assert storage.delete([]) == 0
    assert len(storage) == 2
    assert storage.signatures([1, 2]) == [None, sig(2)]
    assert storage.candidates([[10], [11]]) == [set(), {2}]
    assert storage.delete([2, 3]) == 2
    assert len(storage) == 0


def test_meta_round_trips_and_is_replaced(storage):
    meta = {"kind": "minyi-duplicate-index", "version": 1, "bands": 42}
    storage.set_meta(meta)
    meta["bands"] = 0  # the storage keeps its own copy
    assert storage.get_meta() == {"kind": "minyi-duplicate-index", "version": 1, "bands": 42}
    storage.set_meta({"kind": "other"})
    assert storage.get_meta() == {"kind": "other"}


def test_meta_rows_are_per_name(db):
    DatabaseStorage("cases").set_meta({"a": 1})
    assert DatabaseStorage("other").get_meta() is None
    assert DuplicateIndexMeta.objects.get(name="cases").meta == {"a": 1}


def test_numpy_ids_and_keys_are_accepted_and_other_ids_refused(db_storage):
    db_storage.put([(np.int64(5), sig(5), np.array([10, 11], dtype=np.int64))])
    assert db_storage.signatures([5]) == [sig(5)]
    assert db_storage.candidates([np.array([11], dtype=np.int64)]) == [{5}]
    assert 5 in db_storage and 6 not in db_storage and "5" not in db_storage
    with pytest.raises(TypeError):
        db_storage.put([("6", sig(6), [12])])
    with pytest.raises(TypeError):
        db_storage.put([(7, sig(7), [13]), (7.5, sig(7), [13])])
    with pytest.raises(OverflowError):
        db_storage.put([(8, sig(8), [14]), (9, sig(9), [2**64])])
    with pytest.raises(OverflowError):
        db_storage.put([(8, sig(8), np.array([2**63], dtype=np.uint64))])
    with pytest.raises(OverflowError):
        db_storage.put([(8, sig(8), [1, 2**63])])
    with pytest.raises(TypeError):
        db_storage.put([(8, sig(8), [14]), (9, sig(9), [1.5])])
    with pytest.raises(TypeError):
        db_storage.put([(8, sig(8), ["14"])])
    with pytest.raises(TypeError):
        db_storage.put([(8, "not bytes", [14])])
    assert row_counts() == (1, 2), "a refused batch wrote something"


# ---------------------------------------------------------------------------------------------- len()


@pytest.fixture
def small_exact_limit(monkeypatch):
    monkeypatch.setattr(dedupe_storage, "EXACT_LEN_LIMIT", 5)


def test_len_is_exact_while_small_and_more_than_the_limit_above(db_storage, small_exact_limit):
    db_storage.put([(i, sig(i), [100 + i]) for i in range(5)])
    assert len(db_storage) == 5
    db_storage.put([(i, sig(i), [100 + i]) for i in range(5, 12)])
    assert len(db_storage) > 5
    assert db_storage.count() == 12
    db_storage.delete(list(range(9)))
    assert len(db_storage) == 3 == db_storage.count()
    db_storage.delete([9, 10, 11])
    assert len(db_storage) == 0


def test_the_index_answers_the_same_above_the_exact_len_limit(db_storage, small_exact_limit):
    texts = generated_texts(40, seed=3)
    index, reference = DuplicateIndex(storage=db_storage), DuplicateIndex()
    index.add_many(enumerate(texts))
    reference.add_many(enumerate(texts))
    assert len(index) > 5
    queries = edited(texts[:10], seed=4)
    assert as_dicts(index.query_many(queries)) == as_dicts(reference.query_many(queries))
    assert all(result for result in index.query_many(queries))


def test_an_empty_database_index_costs_one_size_query(db, django_assert_num_queries):
    index = DuplicateIndex(storage=DatabaseStorage())
    assert index.query("小区门口的道路施工三个月了") == []  # first use: reads and writes the meta
    with django_assert_num_queries(1):
        assert index.query_many(["小区门口的道路施工三个月了", "晚上没有路灯"]) == [[], []]


# ---------------------------------------------------------------------------------------------- settings


def test_an_index_built_with_other_settings_is_refused(db):
    DuplicateIndex(storage=DatabaseStorage()).add(1, generated_texts(1, seed=1)[0])
    with pytest.raises(SettingsMismatchError, match="other settings"):
        DuplicateIndex(storage=DatabaseStorage(), shingle=2).query("小区门口的道路施工")
    with pytest.raises(SettingsMismatchError):
        DuplicateIndex(storage=DatabaseStorage(), bands=32).add(2, "晚上没有路灯，老人孩子出门不安全")
    assert DatabaseStorage().count() == 1
    assert case_index().query(generated_texts(1, seed=1)[0])[0] == (1, 1.0)


def test_case_index_reads_the_threshold_setting(db, settings):
    assert case_index().threshold == 0.3
    assert isinstance(case_index().storage, DatabaseStorage)
    settings.MINYI_DUPLICATE_THRESHOLD = 0.6
    assert case_index().threshold == 0.6
    assert case_index(threshold=0.2).threshold == 0.2
    with pytest.raises(ValueError, match="threshold"):
        case_index(threshold=1.5)
    settings.MINYI_DUPLICATE_THRESHOLD = "high"
    with pytest.raises(ImproperlyConfigured, match="MINYI_DUPLICATE_THRESHOLD"):
        case_index()


def test_case_index_text_is_title_newline_content():
    assert case_index_text("电梯故障", "3号楼电梯停运两周。") == "电梯故障\n3号楼电梯停运两周。"
    assert case_index_text("", "") == "\n"


def test_real_cases_are_found_by_their_primary_keys(make_case):
    first = make_case(
        title="小区门口道路施工", content="道路施工已经三个月了，晚上没有路灯，老人孩子出门很不安全。"
    )
    other = make_case(
        title="工资拖欠", content="公司拖欠了四个月工资，一直不给缴纳社会保险，请劳动监察部门处理。"
    )
    index = case_index()
    index.add_many((c.pk, case_index_text(c.title, c.content)) for c in (first, other))
    repost = case_index_text(
        "您好！小区门口道路施工", "道路施工已经三个多月了，晚上没有路灯，老人孩子出门很不安全，谢谢。"
    )
    assert [i for i, _ in case_index().query(repost)] == [first.pk]
    assert case_index().query(repost, exclude=first.pk) == []


# ---------------------------------------------------------------------------------------------- equivalence


def check_same_as_in_memory(storage: DatabaseStorage, texts: list[str], seed: int) -> None:
    """Add, replace and remove the same texts in both; every answer must be the same."""
    rng = random.Random(seed)
    index, reference = DuplicateIndex(storage=storage), DuplicateIndex()
    half = len(texts) // 2
    for idx in (index, reference):
        idx.add_many(list(enumerate(texts[:half])))
        for start in range(half, len(texts), 37):  # batches of assorted sizes, some of one entry
            idx.add_many([(i, texts[i]) for i in range(start, min(start + 37, len(texts)))])
        idx.add(len(texts), texts[0])
    replaced = rng.sample(range(len(texts)), len(texts) // 5)
    new_texts = edited([texts[i] for i in replaced], seed=seed + 1)
    removed = rng.sample(range(len(texts)), len(texts) // 10)
    for idx in (index, reference):
        idx.add_many(list(zip(replaced, new_texts, strict=True)))
        for i in removed:
            idx.remove(i)
    assert storage.count() == len(reference.storage)
    queries = edited(rng.sample(texts, 60), seed=seed + 2) + texts[:30] + generated_texts(20, seed=seed + 3)
    expected = reference.query_many(queries)
    assert sum(map(len, expected)) > 60, "the queries should find things"
    assert as_dicts(index.query_many(queries)) == as_dicts(expected)
    assert as_dicts([index.query(q) for q in queries[:10]]) == as_dicts(expected[:10])
    # the storages themselves: the same candidates and signatures for the same keys and ids
    key_lists = [index._bucket_keys(index.signatures([q]))[0].tolist() for q in queries[:40]]
    assert storage.candidates(key_lists) == reference.storage.candidates(key_lists)
    ids = list(range(len(texts) + 2))
    assert storage.signatures(ids) == reference.storage.signatures(ids)
    assert stored_pairs() == pairs_from_signature_rows()


def test_same_answers_as_in_memory_on_generated_texts(db_storage):
    check_same_as_in_memory(db_storage, generated_texts(300, seed=11), seed=12)


def test_same_answers_as_in_memory_with_tiny_chunks(db_storage, tiny_chunks):
    check_same_as_in_memory(db_storage, generated_texts(120, seed=21), seed=22)


@pytest.mark.data
def test_same_answers_as_in_memory_on_real_messages(db_storage, shared_data):
    check_same_as_in_memory(db_storage, real_texts(shared_data, 400), seed=31)


# ---------------------------------------------------------------------------------------------- rows


def test_replacing_in_place_leaves_no_stale_buckets(db_storage):
    texts = generated_texts(200, seed=41)
    index = DuplicateIndex(storage=db_storage)
    index.add_many(enumerate(texts))
    assert row_counts() == (200, 200 * index.bands)
    index.add_many(enumerate(edited(texts[:100], seed=42)))  # a batch of replacements
    index.add(150, texts[3])  # one replacement
    index.add(7, "   ")  # an empty text forgets the id
    assert row_counts() == (199, 199 * index.bands)
    assert stored_pairs() == pairs_from_signature_rows()
    assert all(i != 7 for r in index.query_many(texts[:10]) for i, _ in r)
    assert [i for i, _ in index.query(texts[3])][:2] in ([3, 150], [150, 3])


# ---------------------------------------------------------------------------------------------- transactions


def test_a_rolled_back_transaction_leaves_no_rows(db_storage):
    entries = [(i, sig(i), [1000 + i, 2000 + i]) for i in range(60)]
    with pytest.raises(RuntimeError), transaction.atomic():
        db_storage.put(entries)
        assert row_counts() == (60, 120)
        raise RuntimeError("the import batch dies")
    assert row_counts() == (0, 0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", PATHS)
def test_a_put_that_fails_halfway_changes_nothing_even_in_autocommit(path, monkeypatch):
    storage = database_storage(path)
    storage.put([(i, sig(i), [1000 + i, 2000 + i]) for i in range(60)])
    before = (row_counts(), stored_pairs(), storage.signatures(list(range(60))))
    insert = DatabaseStorage._insert

    def insert_then_die(self, cursor, latest, **kwargs):
        insert(self, cursor, latest, **kwargs)  # old rows deleted, new ones written: then the process dies
        raise RuntimeError("killed")

    monkeypatch.setattr(DatabaseStorage, "_insert", insert_then_die)
    assert connection.get_autocommit()
    with pytest.raises(RuntimeError, match="killed"):
        storage.put([(i, sig(100 + i), [3000 + i]) for i in range(30, 90)])
    assert (row_counts(), stored_pairs(), storage.signatures(list(range(60)))) == before


@pytest.mark.postgres
def test_postgresql_big_batches_go_through_copy(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL variant: set DATABASE_URL=postgres://...")
    storage = DatabaseStorage()
    with CaptureQueriesContext(connection) as big:
        storage.put([(i, sig(i), [10_000 + i, 20_000 + i]) for i in range(storage.copy_min_entries)])
    with CaptureQueriesContext(connection) as small:
        storage.put([(i, sig(i), [10_000 + i, 20_000 + i]) for i in range(1000, 1003)])
    assert sum("COPY" in q["sql"] for q in big.captured_queries) == 2  # signatures, buckets
    assert not any("COPY" in q["sql"] for q in small.captured_queries)
    assert row_counts() == (storage.copy_min_entries + 3, 2 * (storage.copy_min_entries + 3))
    assert storage.candidates([[10_001, 20_002, 21_001, 1]]) == [{1, 2, 1001}]


# ---------------------------------------------------------------------------------------------- query counts


def test_put_of_500_entries_costs_a_few_queries(db_storage, django_assert_max_num_queries):
    index = DuplicateIndex(storage=db_storage)
    index.add(10_000, "预热：先写入索引设置。")
    texts = generated_texts(500, seed=51)
    with django_assert_max_num_queries(3):  # which ids exist, the signatures, the buckets
        index.add_many(enumerate(texts))
    # + their old bucket rows (two values a pair) and their signature rows go, a query per chunk
    deletes = math.ceil(500 * index.bands / db_storage._pair_chunk()) + math.ceil(
        500 / db_storage._in_chunk()
    )
    with django_assert_max_num_queries(3 + deletes):
        index.add_many(enumerate(edited(texts, seed=52)))
    assert row_counts() == (501, 501 * index.bands)


def test_query_many_of_100_texts_costs_a_few_queries(db_storage, django_assert_max_num_queries):
    index = DuplicateIndex(storage=db_storage)
    texts = generated_texts(500, seed=61)
    index.add_many(enumerate(texts))
    queries = edited(texts[:100], seed=62)
    per_query = db_storage._in_chunk()
    # len(), then one query per chunk of the 100 x 42 bucket keys and of the candidates' signatures
    expected = 1 + math.ceil(100 * index.bands / per_query) + math.ceil(500 / per_query)
    with django_assert_max_num_queries(expected):
        results = index.query_many(queries)
    assert sum(bool(r) for r in results) >= 90


def test_deferred_buckets_are_written_later_in_one_pass():
    """put(defer_buckets=True) stores the signatures at once and the bucket rows on build_deferred(): the cases
    are found only then, exactly as if they had been put the ordinary way; building again changes nothing."""
    index = DuplicateIndex(storage=DatabaseStorage())
    ordinary = DuplicateIndex(storage=InMemoryStorage())
    texts = [
        f"第{i}号楼电梯停运已经{i % 9 + 2}天，物业公司一直不来维修，老人上下楼非常困难。" for i in range(60)
    ]
    sigs = index.signatures(texts)
    keys = index._bucket_keys(sigs)
    entries = [(i + 1, sigs[i].tobytes(), keys[i].tolist()) for i in range(len(texts))]
    index.storage.put(entries, defer_buckets=True)
    ordinary.storage.put(entries)
    assert DuplicateSignature.objects.filter(bucketed=False).count() == 60
    assert not DuplicateBucket.objects.exists()
    assert index.query(texts[0]) == []  # not findable yet
    assert index.storage.build_deferred(chunk=25) == 60  # in three chunks
    assert not DuplicateSignature.objects.filter(bucketed=False).exists()
    assert DuplicateBucket.objects.count() == sum(len(set(k)) for _i, _s, k in entries)
    for text in texts[:10]:
        assert index.query(text) == ordinary.query(text)
    assert index.storage.build_deferred() == 0
