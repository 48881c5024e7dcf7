"""The offline commands: train-classifier, evaluate-classifier and classify, and their bad inputs."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import openpyxl
import pytest

from minyi.cli import main as cli_main
from minyi.text.commands import classify_main, evaluate_classifier_main, train_classifier_main

TOPICS = {
    "交通运输": ["公交车", "红绿灯", "道路", "拥堵", "停车场", "地铁站", "出租车", "路口"],
    "教育文体": ["学校", "老师", "学生", "学费", "幼儿园", "教室", "补课", "校长"],
    "环境保护": ["污染", "噪音", "垃圾", "排放", "河道", "臭味", "废水", "烟尘"],
}
FILLER = ["我们", "小区", "附近", "最近", "问题", "严重", "希望", "领导"]


def rows(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.choice(sorted(TOPICS))
        words = rng.sample(TOPICS[label], 4) + rng.sample(FILLER, 3)
        out.append(("".join(words[:2]) + "的问题", "，".join(words[2:]) + "。", label))
    return out


def write_csv(path, header, data, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(data)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmd")
    labelled = write_csv(
        root / "labelled.csv",
        ["留言编号", "留言主题", "留言详情", "一级分类"],
        [(str(i), *r) for i, r in enumerate(rows(90, seed=1))],
    )
    tokens = write_csv(
        root / "tokens.csv",
        ["tokens", "label"],
        [(" ".join([*TOPICS[lab][:3], "反映"]), lab) for *_, lab in rows(30, seed=2)],
    )
    test = write_csv(root / "test.csv", ["title", "detail", "label"], rows(30, seed=3))
    model = root / "model.npz"
    code = train_classifier_main(
        [
            "--input",
            str(labelled),
            "--input",
            str(tokens),
            "--tokens-col",
            "tokens",
            "--out",
            str(model),
            "-q",
        ]
    )
    assert code == 0
    return {"root": root, "labelled": labelled, "tokens": tokens, "test": test, "model": model}


def test_train_writes_a_model_and_a_summary(files, tmp_path, capsys):
    out = tmp_path / "sub" / "m.npz"
    code = train_classifier_main(
        ["--input", str(files["labelled"]), "--out", str(out), "--threshold", "0.4", "-q"]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["documents"] == 90 and set(summary["labels"]) == set(TOPICS)
    assert out.exists() and summary["model_bytes"] == out.stat().st_size
    from minyi.text.classify import Classifier

    assert Classifier.load(out).threshold == 0.4


def test_evaluate_prints_the_metrics(files, capsys):
    code = evaluate_classifier_main(["--model", str(files["model"]), "--input", str(files["test"]), "-q"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "per_class", "confusion"} <= set(report)
    assert report["accuracy"] >= 0.9 and report["documents"] == 30
    matrix = np.array(report["confusion"]["matrix"])
    assert matrix.sum() == 30 and report["confusion"]["labels"] == sorted(TOPICS)
    assert sum(v["support"] for v in report["per_class"].values()) == 30


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_classify_adds_three_columns(files, tmp_path, suffix, capsys):
    source = write_csv(
        tmp_path / "in.csv",
        ["编号", "留言主题", "留言详情"],
        [
            ("1", "学校乱收费", "老师要求学生补课交学费"),
            ("2", "", ""),
            ("3", "=cmd|' /C calc'!A0", "公交车路口拥堵"),
        ],
    )
    out = tmp_path / f"out{suffix}"
    assert (
        classify_main(["--model", str(files["model"]), "--input", str(source), "--out", str(out), "-q"]) == 0
    )
    if suffix == ".csv":
        with open(out, encoding="utf-8-sig", newline="") as handle:
            table = list(csv.reader(handle))
    else:
        sheet = openpyxl.load_workbook(out, read_only=True).worksheets[0]
        table = [[("" if v is None else v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert table[0] == ["编号", "留言主题", "留言详情", "category", "confidence", "abstained"]
    assert len(table) == 4
    assert table[1][3] == "教育文体" and float(table[1][4]) > 0.5 and str(table[1][5]).lower() == "false"
    assert table[2][3] == "" and str(table[2][5]).lower() == "true"  # empty text abstains
    if suffix == ".xlsx":
        assert table[3][1].startswith("'=")  # no formula from a citizen's text
    assert json.loads(capsys.readouterr().out)["rows"] == 3


@pytest.mark.parametrize("encoding", ["gb18030", "big5", "utf-8-sig"])
def test_classify_reads_legacy_encodings(files, tmp_path, encoding):
    text = ("學校亂收費", "老師要求學生補課") if encoding == "big5" else ("学校乱收费", "老师要求学生补课")
    header = ["留言主題", "內容"] if encoding == "big5" else ["留言主题", "内容"]
    source = write_csv(tmp_path / "in.csv", header, [text], encoding)
    out = tmp_path / "out.csv"
    args = ["--model", str(files["model"]), "--input", str(source), "--out", str(out), "-q"]
    assert classify_main(args) == 0
    with open(out, encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle))[1][-3] == "教育文体"


def test_the_console_script_dispatches_without_django(files, tmp_path, capsys):
    out = tmp_path / "o.csv"
    code = cli_main(
        [
            "minyi",
            "classify",
            "--model",
            str(files["model"]),
            "--input",
            str(files["test"]),
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0 and out.exists()


def expect_error(capsys, code, *fragments):
    assert code == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_binary_input_is_refused(files, tmp_path, capsys):
    bad = tmp_path / "photo.csv"
    bad.write_bytes(bytes(range(256)) * 10)
    code = train_classifier_main(["--input", str(bad), "--out", str(tmp_path / "m.npz"), "-q"])
    expect_error(capsys, code, "photo.csv", "binary")
    assert not (tmp_path / "m.npz").exists()


def test_undecodable_row_is_named(files, tmp_path, capsys):
    bad = tmp_path / "mixed.csv"
    bad.write_bytes(
        ("title,detail\n" + "正常,内容\n" * 40_000).encode("utf-8") + "亂碼,內容\n".encode("big5")
    )
    out = tmp_path / "out.csv"
    code = classify_main(["--model", str(files["model"]), "--input", str(bad), "--out", str(out), "-q"])
    expect_error(capsys, code, "mixed.csv", "row 40002", "cannot be decoded")
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["mixed.csv"]  # nothing half-written


def test_unknown_columns_list_what_was_found(files, tmp_path, capsys):
    bad = write_csv(tmp_path / "odd.csv", ["编号", "时间", "备注"], [("1", "2020", "x")])
    code = classify_main(
        ["--model", str(files["model"]), "--input", str(bad), "--out", str(tmp_path / "o.csv"), "-q"]
    )
    expect_error(capsys, code, "odd.csv", "'编号', '时间', '备注'")
    code = train_classifier_main(
        ["--input", str(files["labelled"]), "--label-col", "类型", "--out", str(tmp_path / "m.npz")]
    )
    expect_error(capsys, code, "no label column '类型'", "'一级分类'")


def test_empty_label_column_is_named(files, tmp_path, capsys):
    bad = write_csv(
        tmp_path / "nolabels.csv", ["title", "detail", "label"], [("学校", "收费", ""), ("公交", "拥堵", " ")]
    )
    code = train_classifier_main(["--input", str(bad), "--out", str(tmp_path / "m.npz"), "-q"])
    expect_error(capsys, code, "nolabels.csv", "label column 'label' is empty")


def test_label_seen_once_is_named_with_its_row(files, tmp_path, capsys):
    data = [(t, d, lab) for t, d, lab in rows(20, seed=4)] + [("医院挂号难", "专家号被倒卖", "卫生计生")]
    bad = write_csv(tmp_path / "once.csv", ["title", "detail", "label"], data)
    code = train_classifier_main(["--input", str(bad), "--out", str(tmp_path / "m.npz"), "-q"])
    expect_error(capsys, code, "'卫生计生'", "once.csv row 22", "at least two")


def test_rows_without_label_are_skipped_with_a_note(files, tmp_path, capsys):
    data = [*rows(40, seed=5), ("学校", "收费", "")]
    source = write_csv(tmp_path / "some.csv", ["title", "detail", "label"], data)
    assert train_classifier_main(["--input", str(source), "--out", str(tmp_path / "m.npz"), "-q"]) == 0
    assert "skipped 1 row(s) without a label: some.csv row 42" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"garbage", b"PK\x03\x04broken zip"])
def test_corrupted_model_is_refused(files, tmp_path, capsys, content):
    model = tmp_path / "bad.npz"
    model.write_bytes(content)
    code = classify_main(
        ["--model", str(model), "--input", str(files["test"]), "--out", str(tmp_path / "o.csv")]
    )
    expect_error(capsys, code, "bad.npz", "not a minyi classifier")
    code = evaluate_classifier_main(["--model", str(model), "--input", str(files["test"])])
    expect_error(capsys, code, "bad.npz")


def test_wrong_version_model_is_refused(files, tmp_path, capsys):
    with np.load(files["model"], allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["header"].tobytes())
    header["version"] = 99
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    model = tmp_path / "future.npz"
    np.savez(model, **arrays)
    code = classify_main(
        ["--model", str(model), "--input", str(files["test"]), "--out", str(tmp_path / "o.csv")]
    )
    expect_error(capsys, code, "future.npz", "version 99 is not supported")


def test_usage_errors_exit_2(files, tmp_path, capsys):
    expect_error(capsys, train_classifier_main(["--out", "x.npz"]), "--input")
    expect_error(capsys, classify_main(["--model", "m", "--input", "a.csv", "--out", "a.csv"]), "must differ")
    code = train_classifier_main(["--input", str(files["labelled"]), "--out", "m.npz", "--threshold", "3"])
    expect_error(capsys, code, "--threshold")
    code = classify_main(
        ["--model", str(files["model"]), "--input", str(tmp_path / "absent.csv"), "--out", "o.csv"]
    )
    expect_error(capsys, code, "absent.csv", "cannot open")
    assert train_classifier_main(["--help"]) == 0


def test_outputs_follow_the_umask_not_the_private_temp_file_mode(tmp_path):
    # given: a finished temporary file, created private as tempfile does
    import os
    import stat
    import tempfile

    from minyi.text.atomic import publish

    fd, tmp = tempfile.mkstemp(dir=tmp_path)
    os.close(fd)
    old = os.umask(0o022)
    try:
        # when
        publish(tmp, tmp_path / "model.npz")
    finally:
        os.umask(old)
    # then: readable by others, like any file the user creates
    assert stat.S_IMODE(os.stat(tmp_path / "model.npz").st_mode) == 0o644
