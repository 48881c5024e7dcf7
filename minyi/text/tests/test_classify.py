"""Classifier: learning, probabilities, abstention, the model file and scikit-learn conventions."""

from __future__ import annotations

import copy
import io
import json
import random
import zipfile

import numpy as np
import pytest
from sklearn.base import clone

from minyi.text.classify import FORMAT_VERSION, Classifier, ModelFileError, Prediction, pretokenized

TOPICS = {
    "交通运输": ["公交车", "红绿灯", "道路", "拥堵", "停车场", "地铁站", "出租车", "路口", "高速", "驾驶员"],
    "教育文体": ["学校", "老师", "学生", "学费", "幼儿园", "教室", "补课", "校长", "考试", "体育馆"],
    "环境保护": ["污染", "噪音", "垃圾", "排放", "河道", "臭味", "废水", "烟尘", "环保局", "绿化"],
}
FILLER = ["我们", "小区", "附近", "最近", "问题", "严重", "希望", "领导", "尽快", "处理", "居民", "反映"]


def make_text(label: str, rng: random.Random) -> str:
    words = rng.sample(TOPICS[label], 4) + rng.sample(FILLER, 4)
    rng.shuffle(words)
    return "，".join(words[:4]) + "。" + "".join(words[4:]) + "！"


def make_data(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    labels = [rng.choice(sorted(TOPICS)) for _ in range(n)]
    return [make_text(label, rng) for label in labels], labels


@pytest.fixture(scope="module")
def fitted() -> Classifier:
    X, y = make_data(240, seed=1)
    return Classifier(calibration_folds=3).fit(X, y)


def test_learns_and_predicts_unseen_texts(fitted):
    X, y = make_data(90, seed=2)
    predicted = fitted.predict(X)
    assert np.mean(predicted == np.array(y, dtype=object)) >= 0.95
    assert list(fitted.classes_) == sorted(TOPICS)


def test_fit_returns_self_and_sets_learned_attributes_only():
    X, y = make_data(60, seed=3)
    model = Classifier()
    assert not [k for k in vars(model) if k.endswith("_")]
    assert model.fit(X, y) is model
    assert hasattr(model, "coef_") and hasattr(model, "classes_") and hasattr(model, "idf_")


def test_probabilities_sum_to_one_and_match_predictions(fitted):
    X, _ = make_data(30, seed=4)
    proba = fitted.predict_proba(X)
    assert proba.shape == (30, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    best = fitted.classes_[proba.argmax(axis=1)]
    confident = proba.max(axis=1) >= fitted.threshold
    assert list(fitted.predict(X)[confident]) == list(best[confident])


def test_top_k_is_sorted_and_sized(fitted):
    X, _ = make_data(5, seed=5)
    for ranked in fitted.top_k(X, k=2):
        assert len(ranked) == 2
        assert ranked[0][1] >= ranked[1][1]
    assert [len(r) for r in fitted.top_k(X, k=10)] == [3] * 5
    assert fitted.top_k([""], k=2) == [[]]


def test_abstains_below_the_threshold(fitted):
    X, _ = make_data(10, seed=6)
    strict = copy.copy(fitted)
    strict.threshold = 1.01  # above every probability
    results = strict.predict_with_confidence(X)
    assert all(r.abstained and r.label is None and r.best in TOPICS for r in results)
    assert list(strict.predict(X)) == [None] * 10
    lenient = fitted.predict_with_confidence(X)
    assert all(isinstance(r, Prediction) for r in lenient)
    assert [r.best for r in lenient] == [r.best for r in results]


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200b", "，。！", None])
def test_empty_text_abstains_without_error(fitted, text):
    [result] = fitted.predict_with_confidence([text])
    assert result.abstained and result.label is None and result.best is None
    assert fitted.predict([text])[0] is None


def test_empty_text_abstains_even_with_threshold_zero(fitted):
    model = copy.copy(fitted)
    model.threshold = 0.0
    assert model.predict(["", "学校老师补课收费"])[0] is None
    assert model.predict(["学校老师补课收费"])[0] == "教育文体"


def test_pretokenized_rows_and_raw_text_give_the_same_features(fitted):
    raw = "学校老师乱收补课费，学生家长意见很大。"
    from minyi.text.normalize import normalize
    from minyi.text.segment import segment

    tokens = segment(normalize(raw))
    np.testing.assert_allclose(fitted.predict_proba([raw]), fitted.predict_proba([tokens]))
    assert pretokenized("學校  老師\u200b 补课") == ["学校", "老师", "补课"]
    assert pretokenized("   ") == []
    as_array = np.array(tokens, dtype=object)
    np.testing.assert_allclose(fitted.predict_proba([as_array]), fitted.predict_proba([tokens]))
    assert len(fitted.predict([[2020, "学校", None]])) == 1  # odd token types do not crash


def test_trains_on_a_mix_of_raw_text_and_token_lists():
    X, y = make_data(120, seed=7)
    from minyi.text.normalize import normalize
    from minyi.text.segment import segment

    mixed = [x if i % 2 else segment(normalize(x)) for i, x in enumerate(X)]
    model = Classifier().fit(mixed, y)
    test_X, test_y = make_data(40, seed=8)
    assert np.mean(model.predict(test_X) == np.array(test_y, dtype=object)) >= 0.9


def test_two_labels_work():
    X, y = make_data(200, seed=9)
    keep = [i for i, label in enumerate(y) if label != "环境保护"]
    model = Classifier().fit([X[i] for i in keep], [y[i] for i in keep])
    assert list(model.classes_) == ["交通运输", "教育文体"]
    assert model.predict_proba(["公交车在路口拥堵"]).shape == (1, 2)
    assert model.predict(["公交车在路口拥堵，红绿灯坏了"])[0] == "交通运输"


def test_fit_refuses_bad_training_data():
    with pytest.raises(ValueError, match="at least two labels"):
        Classifier().fit(["学校老师", "学生考试"], ["a", "a"])
    with pytest.raises(ValueError, match="3 documents but y has 2"):
        Classifier().fit(["a", "b", "c"], ["x", "y"])
    with pytest.raises(ValueError, match="no document"):
        Classifier().fit(["", "  "], ["x", "y"])
    with pytest.raises(TypeError):
        Classifier().fit("学校老师", ["x"])


def test_hostile_and_huge_text_is_handled(fitted):
    hostile = [
        "<script>alert('x')</script>学校",
        "'; DROP TABLE cases; -- 公交车",
        "\u202e\u2066噪音\u2069\x00\x07污染",
        "\ud83d\ude00" * 50,
    ]
    assert len(fitted.predict_with_confidence(hostile)) == 4
    huge = "学校老师补课收费问题严重。" * 9000  # 117,000 characters
    [result] = fitted.predict_with_confidence([huge])
    assert result.best == "教育文体"


def test_save_and_load_round_trip(fitted, tmp_path):
    path = tmp_path / "model.npz"
    fitted.save(path)
    loaded = Classifier.load(path)
    X, _ = make_data(20, seed=10)
    np.testing.assert_allclose(loaded.predict_proba(X), fitted.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert list(loaded.classes_) == list(fitted.classes_)
    assert loaded.threshold == fitted.threshold
    assert loaded.get_params()["stop_words"] == list(fitted.stop_words_)


def test_model_file_is_data_not_pickles(fitted, tmp_path):
    path = tmp_path / "model.npz"
    fitted.save(path)
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    assert names == ["coef.npy", "feature_slots.npy", "header.npy", "idf.npy", "intercept.npy"]
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["header"].tobytes().decode("utf-8"))
        assert all(npz[k].dtype != object for k in npz.files)
    assert header["format"] == "minyi-classifier" and header["version"] == FORMAT_VERSION
    assert header["labels"] == sorted(TOPICS)
    assert header["params"]["char_ngrams"] == [1, 2]


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def _header_with(path, **fields):
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["header"].tobytes().decode("utf-8"))
    header.update(fields)
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(b"not a model at all"), "not a minyi classifier"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a minyi classifier"),
        (lambda p: _rewrite(p, header=_header_with(p, version=99)), "version 99 is not supported"),
        # version 1 featurised differently (character n-grams only inside words)
        (lambda p: _rewrite(p, header=_header_with(p, version=1)), "version 1 is not supported"),
        (lambda p: _rewrite(p, header=_header_with(p, format="other")), "wrong format"),
        (lambda p: _rewrite(p, header=np.frombuffer(b"{oops", dtype=np.uint8)), "not valid JSON"),
        (lambda p: _rewrite(p, coef=None), "lacks the array 'coef'"),
        (lambda p: _rewrite(p, idf=np.array([np.nan, 1.0])), "inconsistent"),
        (lambda p: _rewrite(p, intercept=np.array(["a", "b", "c"])), "inconsistent"),
        (lambda p: _rewrite(p, pickled=np.array([{"a": 1}], dtype=object)), "not a minyi classifier"),
    ],
)
def test_damaged_or_foreign_model_files_are_refused(fitted, tmp_path, damage, message):
    path = tmp_path / "model.npz"
    fitted.save(path)
    damage(path)
    with pytest.raises(ModelFileError, match=message) as info:
        Classifier.load(path)
    assert "model.npz" in str(info.value)


def test_missing_model_file_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read"):
        Classifier.load(tmp_path / "absent.npz")


def test_save_leaves_no_partial_file_on_failure(fitted, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(tmp_path / "model.npz")
    assert list(tmp_path.iterdir()) == []


def test_scikit_learn_conventions():
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    )

    model = Classifier(threshold=0.7, C=2.0)
    check_no_attributes_set_in_init("Classifier", model)
    check_parameters_default_constructible("Classifier", model)
    check_get_params_invariance("Classifier", model)
    check_set_params("Classifier", model)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    assert copy.set_params(threshold=0.2).threshold == 0.2


def test_predict_before_fit_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        Classifier().predict(["学校"])


def test_bad_feature_settings_are_refused():
    X, y = make_data(20, seed=11)
    with pytest.raises(ValueError, match="char_ngrams"):
        Classifier(char_ngrams=(2, 5)).fit(X, y)
    with pytest.raises(ValueError, match="word_ngrams"):
        Classifier(word_ngrams=3).fit(X, y)


@pytest.mark.data
def test_real_appeals_are_classified_well_above_chance(shared_data):
    from sklearn.metrics import f1_score

    from minyi.text.tabular import detect_columns, read_table, row_text

    with read_table(shared_data / "appeals_labeled.csv") as table:
        columns = detect_columns(table.header, need_label=True)
        rows = [(row_text(v, columns), v[columns.label]) for _, v in table.rows]
    rng = random.Random(0)
    rng.shuffle(rows)
    train, test = rows[:1600], rows[1600:2200]
    model = Classifier(calibration_folds=0).fit([t for t, _ in train], [label for _, label in train])
    best = [p.best for p in model.predict_with_confidence([t for t, _ in test])]
    macro_f1 = f1_score([label for _, label in test], best, average="macro")
    assert macro_f1 > 0.75  # chance is about 0.14 for 7 labels
