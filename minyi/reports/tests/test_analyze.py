"""``minyi analyze``: small hand-made exports in, the four outputs checked (and one run on the real data)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from minyi.reports import analyze
from minyi.reports.analyze import OUTPUT_FILES, analyze_main

HEADER = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "点赞数"]
PHONE = "13812345678"
ID_CARD = "11010519491231002X"
START = dt.datetime(2019, 3, 1, 9, 30)
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

# a matter that many people raise (a topic that bursts at the end), a second topic, and background noise
PARKING = [
    (
        "幸福花园小区地下车位捆绑销售",
        "幸福花园小区开发商把地下车位和住房捆绑销售，车位价格太高，业主无法接受。",
    ),
    ("幸福花园车位捆绑销售问题", "幸福花园小区的车位必须和房子一起买，开发商捆绑销售车位，请住建部门查处。"),
    (
        "投诉幸福花园开发商捆绑销售车位",
        "我们是幸福花园小区业主，开发商强制捆绑销售地下车位，车位价格远高于市场。",
    ),
]
SCHOOL = [
    ("实验中学周末强制补课收费", "实验中学周末组织学生补课并收取补课费，家长反映强烈，请教育局调查。"),
    ("实验中学违规补课", "实验中学初三年级周六强制补课，每人收费五百元，违反减负规定。"),
]
NOISE = [
    ("路灯不亮", "人民路路灯坏了很久了，晚上出行很不方便。"),
    ("公交线路调整建议", "建议增加到高铁站的公交班次，早高峰太挤了。"),
    ("噪音扰民", "建筑工地夜间施工噪音很大，影响居民休息。"),
    ("垃圾清运不及时", "小区门口垃圾堆放多日没有清运，气味很大。"),
    ("医保报销咨询", "请问异地就医的医保报销需要哪些材料？"),
]


def make_rows(days: int = 60) -> list[list[str]]:
    """~70 messages over ``days`` days; the parking topic surges on the last three days."""
    rows = []
    number = 1000
    for day in range(days):
        when = START + dt.timedelta(days=day)
        items = [NOISE[day % len(NOISE)]]
        if day % 9 == 0:
            items.append(PARKING[day % 3])
        if day % 15 == 3:
            items.append(SCHOOL[day % 2])
        if day >= days - 3:
            items += [PARKING[(day + k) % 3] for k in range(6)]
        for k, (title, content) in enumerate(items):
            number += 1
            rows.append(
                [
                    str(number),
                    f"U{number % 37:04d}",
                    title,
                    when.replace(minute=k).strftime("%Y/%m/%d %H:%M:%S"),
                    content,
                    str(k),
                ]
            )
    rows[0][4] += f"我的电话是{PHONE}，身份证号{ID_CARD}。"
    rows[5][2] = "<script>alert(1)</script>路灯问题"
    rows[6][4] = '=HYPERLINK("http://evil.example")' + rows[6][4]
    rows.append(
        [
            str(number + 1),
            "U9999",
            "全体业主要去市政府门口拉横幅",
            START.strftime("%Y/%m/%d"),
            "全体业主准备到市政府门口拉横幅静坐，要求解决车位问题。",
            "0",
        ]
    )
    return rows


def write_csv(path: Path, header, rows, encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def run(*args, capsys=None) -> int:
    return analyze_main([*map(str, args), "-q"])


def outputs(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    page = (out / "report.html").read_text(encoding="utf-8")
    workbook = openpyxl.load_workbook(out / "appeals.xlsx", read_only=True)
    sheets = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}
    workbook.close()
    return {"summary": summary, "html": page, "sheets": sheets, "pdf": (out / "report.pdf").read_bytes()}


def pdf_text(data: bytes) -> str:
    import pypdf

    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """One analysis of the standard export (UTF-8 CSV with an id and a time column), shared by several tests."""
    base = tmp_path_factory.mktemp("full")
    rows = make_rows()
    source = write_csv(base / "export.csv", HEADER, rows)
    code = analyze_main([str(source), "--out", str(base / "out"), "-q"])
    assert code == 0
    return {"rows": rows, **outputs(base / "out"), "out": base / "out"}


def test_the_four_outputs_are_written_and_nothing_else(full):
    assert sorted(p.name for p in full["out"].iterdir()) == sorted(OUTPUT_FILES)


def test_summary_has_the_documented_shape(full):
    summary = full["summary"]
    for key in ("messages", "duplicates", "categories", "hot_topics", "warnings"):
        assert key in summary
    assert summary["messages"] == len(full["rows"])
    assert summary["time_based"] is True and summary["ids"] == "input"
    assert summary["hot_topics"], "the parking matter is a topic"
    for topic in summary["hot_topics"]:
        assert set(topic) >= {"rank", "label", "keywords", "size", "heat", "message_ids"}
        assert topic["label"] == "·".join(topic["keywords"][:3])
    assert [t["rank"] for t in summary["hot_topics"]] == list(range(1, len(summary["hot_topics"]) + 1))
    assert summary["warnings"]
    for warning in summary["warnings"]:
        assert set(warning) >= {
            "level",
            "label",
            "start",
            "end",
            "count",
            "baseline",
            "reasons",
            "message_ids",
        }
        assert warning["level"] in ("red", "orange", "yellow")
        assert warning["reasons"] and all({"code", "params"} <= set(r) for r in warning["reasons"])
    assert set(summary["duplicates"]) >= {"groups", "messages", "top"}


def test_message_ids_are_the_inputs_own_ids(full):
    ids = {row[0] for row in full["rows"]}
    summary = full["summary"]
    listed = [i for t in summary["hot_topics"] for i in t["message_ids"]]
    listed += [i for w in summary["warnings"] for i in w["message_ids"]]
    listed += [i for g in summary["duplicates"]["top"] for i in g["message_ids"]]
    assert listed and set(listed) <= ids


def test_the_parking_matter_is_the_top_topic_and_its_burst_a_warning(full):
    summary = full["summary"]
    top = summary["hot_topics"][0]
    assert any(word in top["label"] for word in ("车位", "捆绑", "幸福"))
    parking_ids = {r[0] for r in full["rows"] if "车位" in r[2]}
    assert len(set(top["message_ids"]) & parking_ids) >= 0.8 * len(top["message_ids"])
    last_day = (START + dt.timedelta(days=59)).date().isoformat()
    burst = [w for w in summary["warnings"] if w["start"] and w["end"] == last_day and w["count"] >= 10]
    assert burst, summary["warnings"]


def test_the_rally_message_is_a_warning_of_its_own_or_in_one(full):
    rally = full["rows"][-1][0]
    assert any(rally in w["message_ids"] for w in full["summary"]["warnings"])


def test_the_xlsx_has_every_row_with_masked_text(full):
    sheet = full["sheets"]["留言"]
    header, body = sheet[0], sheet[1:]
    assert len(body) == len(full["rows"])
    assert [r[0] for r in body] == [r[0] for r in full["rows"]]
    for column in (
        "分类",
        "置信度",
        "未定",
        "风险等级",
        "风险分",
        "风险原因",
        "个人信息数",
        "重复组",
        "热点排名",
    ):
        assert column in header
    first = dict(zip(header, body[0], strict=True))
    assert (
        first["个人信息数"] >= 2
        and PHONE not in first["留言详情（已脱敏）"]
        and "138****5678" in first["留言详情（已脱敏）"]
    )
    assert ID_CARD not in str(first)
    formula = dict(zip(header, body[6], strict=True))["留言详情（已脱敏）"]
    assert formula.startswith("'=")
    assert {"热点", "预警"} <= set(full["sheets"])
    assert not any(r[header.index("分类")] for r in body), "no model and no category column: unclassified"


def test_no_raw_phone_or_id_number_anywhere(full):
    pdf = pdf_text(full["pdf"])
    for text in (full["html"], json.dumps(full["summary"], ensure_ascii=False), pdf, str(full["sheets"])):
        assert PHONE not in text and ID_CARD not in text
        assert not MOBILE_RE.search(text)


def test_the_html_is_self_contained_and_escaped(full):
    page = full["html"]
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    lowered = page.lower()
    for needle in ("http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link", "<iframe"):
        assert needle not in lowered, needle
    assert "&lt;script&gt;" in page
    assert page.count("<svg") >= 3 and "<style>" in page
    assert "民意分析报告" in page and "热点话题" in page and "预警" in page and "说明" in page


def test_the_pdf_carries_the_top_topic_label(full):
    from minyi.reports.pdf import fonts_available

    if not fonts_available():
        pytest.skip("needs the Noto Sans SC TTFs (npm ci) to extract Chinese text from the PDF")
    text = re.sub(r"\s+", "", pdf_text(full["pdf"]))
    assert "民意分析报告" in text
    assert re.sub(r"\s+", "", full["summary"]["hot_topics"][0]["label"]) in text


def test_the_report_says_what_was_not_possible(full):
    notes = " ".join(full["summary"]["notes"])
    assert "--model" in notes and "--gazetteer" in notes
    assert "--model" in full["html"]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-16"])
def test_legacy_encodings_and_a_bom(tmp_path, encoding):
    rows = make_rows(days=40)
    source = write_csv(tmp_path / "in.csv", HEADER, rows, encoding=encoding)
    assert run(source, "--out", tmp_path / "out") == 0
    result = outputs(tmp_path / "out")
    assert result["summary"]["messages"] == len(rows)
    titles = {r[4] for r in result["sheets"]["留言"][1:]}
    assert "幸福花园小区地下车位捆绑销售" in titles


def test_without_a_time_column_the_time_based_parts_are_left_out(tmp_path):
    rows = [[r[0], r[2], r[4]] for r in make_rows(days=30)]
    source = write_csv(tmp_path / "notime.csv", ["编号", "标题", "内容"], rows)
    assert run(source, "--out", tmp_path / "out") == 0
    result = outputs(tmp_path / "out")
    summary = result["summary"]
    assert summary["time_based"] is False and summary["period"] is None
    assert any("时间列" in note for note in summary["notes"])
    assert "没有可用的留言时间" in result["html"]
    assert all(w["start"] is None or w["baseline"] is None for w in summary["warnings"])
    assert not any(r["code"] == "surge" for w in summary["warnings"] for r in w["reasons"])
    assert summary["hot_topics"]


def test_five_rows_work(tmp_path):
    rows = make_rows(days=5)[:5]
    source = write_csv(tmp_path / "five.csv", HEADER, rows)
    assert run(source, "--out", tmp_path / "out") == 0
    result = outputs(tmp_path / "out")
    assert result["summary"]["messages"] == 5
    assert len(result["sheets"]["留言"]) == 6
    if not result["summary"]["hot_topics"]:
        assert "未发现热点话题" in result["html"]


def test_a_header_without_rows_gives_empty_states(tmp_path):
    source = write_csv(tmp_path / "empty.csv", HEADER, [])
    assert run(source, "--out", tmp_path / "out") == 0
    result = outputs(tmp_path / "out")
    summary = result["summary"]
    assert summary["messages"] == 0 and summary["hot_topics"] == [] and summary["warnings"] == []
    assert "暂无数据" in result["html"] and "没有可分析的留言" in result["html"]


def test_row_numbers_stand_in_for_missing_ids(tmp_path):
    rows = [[r[2], r[3], r[4]] for r in make_rows(days=30)]
    source = write_csv(tmp_path / "noid.csv", ["标题", "时间", "内容"], rows)
    assert run(source, "--out", tmp_path / "out") == 0
    summary = outputs(tmp_path / "out")["summary"]
    assert summary["ids"] == "row_numbers"
    ids = [i for t in summary["hot_topics"] for i in t["message_ids"]]
    assert ids and all(isinstance(i, int) and 2 <= i <= len(rows) + 1 for i in ids)


def test_xlsx_input_with_spreadsheet_dates_and_several_files(tmp_path):
    rows = make_rows(days=40)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for i, row in enumerate(rows[:30]):
        when = dt.datetime.strptime(row[3].split()[0], "%Y/%m/%d")
        # a real date cell, or the serial number some exports hold
        cell = when if i % 2 else (when - dt.datetime(1899, 12, 30)).days + 0.5
        sheet.append([int(row[0]), row[1], row[2], cell, row[4], int(row[5])])
    workbook.save(tmp_path / "part1.xlsx")
    second = write_csv(tmp_path / "part2.csv", HEADER, rows[30:])
    assert run(tmp_path / "part1.xlsx", second, "--out", tmp_path / "out") == 0
    result = outputs(tmp_path / "out")
    summary = result["summary"]
    assert summary["messages"] == len(rows) and summary["time_based"] is True
    assert summary["period"]["start"] == START.date().isoformat()
    body = result["sheets"]["留言"][1:]
    assert [r[1] for r in body].count("part1.xlsx") == 30
    assert {str(r[0]) for r in body} == {r[0] for r in rows}


def test_column_overrides(tmp_path):
    rows = [[r[0], r[2], r[3], r[4]] for r in make_rows(days=30)]
    source = write_csv(tmp_path / "odd.csv", ["单号", "事由", "日子", "情况说明"], rows)
    args = ["--id-col", "单号", "--title-col", "事由", "--time-col", "日子", "--text-col", "情况说明"]
    assert run(source, "--out", tmp_path / "out", *args) == 0
    summary = outputs(tmp_path / "out")["summary"]
    assert summary["time_based"] is True and summary["ids"] == "input"
    assert set(summary["hot_topics"][0]["message_ids"]) <= {r[0] for r in rows}


def test_a_model_classifies_the_rows(tmp_path):
    from minyi.text.classify import Classifier

    docs, labels = [], []
    for title, content in PARKING * 3:
        docs.append(title + content)
        labels.append("城乡建设")
    for title, content in SCHOOL * 4 + NOISE[:1] * 2:
        docs.append(title + content)
        labels.append("教育文体" if "补课" in title else "城乡建设")
    model = tmp_path / "model.npz"
    Classifier(threshold=0.3).fit(docs, labels).save(model)
    source = write_csv(tmp_path / "in.csv", HEADER, make_rows(days=30))
    assert run(source, "--out", tmp_path / "out", "--model", model) == 0
    result = outputs(tmp_path / "out")
    assert result["summary"]["classified"] == "model"
    assert (
        set(result["summary"]["categories"]) <= {"城乡建设", "教育文体"} and result["summary"]["categories"]
    )
    header = result["sheets"]["留言"][0]
    assert any(r[header.index("分类")] for r in result["sheets"]["留言"][1:])


def test_a_gazetteer_finds_places(tmp_path):
    gazetteer = write_csv(
        tmp_path / "places.csv",
        ["名称", "类型", "上级", "编码"],
        [["江城市", "城市", "", "jc"], ["江北区", "区县", "jc", "jb"], ["幸福花园", "小区", "江北区", ""]],
    )
    source = write_csv(tmp_path / "in.csv", HEADER, make_rows(days=40))
    assert run(source, "--out", tmp_path / "out", "--gazetteer", gazetteer) == 0
    result = outputs(tmp_path / "out")
    header = result["sheets"]["留言"][0]
    places = {r[header.index("地点")] for r in result["sheets"]["留言"][1:]}
    assert "幸福花园" in places
    assert not any("--gazetteer" in note for note in result["summary"]["notes"])


def expect_error(capsys, code: int, *fragments: str) -> str:
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_a_broken_file_is_refused_and_nothing_is_written(tmp_path, capsys):
    bad = tmp_path / "photo.csv"
    bad.write_bytes(b"%PDF-1.4 not a table")
    code = run(bad, "--out", tmp_path / "out")
    expect_error(capsys, code, "photo.csv", "PDF")
    assert not any((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_a_file_without_text_columns_names_the_columns(tmp_path, capsys):
    source = write_csv(tmp_path / "numbers.csv", ["a", "b"], [["1", "2"]])
    code = run(source, "--out", tmp_path / "out")
    expect_error(capsys, code, "numbers.csv", "'a'", "'b'")


def test_an_undecodable_row_is_skipped_and_named(tmp_path, capsys):
    rows = make_rows(days=10)
    source = write_csv(tmp_path / "in.csv", HEADER, rows)
    data = source.read_bytes().replace("路灯不亮".encode(), b"\xff\xfe\xfa", 1)
    source.write_bytes(data)
    assert run(source, "--out", tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "in.csv row" in err
    summary = outputs(tmp_path / "out")["summary"]
    assert summary["messages"] == len(rows) - 1 and summary["rows_skipped"] == 1


@pytest.mark.parametrize(
    ("make_args", "fragments"),
    [
        (lambda d: [d / "missing.csv", "--out", d / "o"], ["missing.csv", "no such file"]),
        (lambda d: [d / "in.csv", "--out", d / "in.csv"], ["--out must be a directory"]),
        (lambda d: [d / "in.csv", "--out", d / "o", "--model", d / "in.csv"], ["in.csv", "model"]),
        (lambda d: [d / "in.csv", "--out", d / "o", "--id-col", "编号X"], ["in.csv", "编号X"]),
        (lambda d: [d / "in.csv", "--out", d / "o", "--top", "0"], ["--top"]),
        (lambda d: [d / "in.csv", "--out", d / "o", "--since", "someday"], ["--since"]),
        (lambda d: [d / "in.csv"], ["--out"]),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, make_args, fragments):
    write_csv(tmp_path / "in.csv", HEADER, make_rows(days=3))
    expect_error(capsys, run(*make_args(tmp_path)), *fragments)


def test_a_bad_gazetteer_row_is_named(tmp_path, capsys):
    gazetteer = write_csv(tmp_path / "places.csv", ["名称", "类型"], [["江城市", "城市"], ["某地", "火星"]])
    source = write_csv(tmp_path / "in.csv", HEADER, make_rows(days=3))
    code = run(source, "--out", tmp_path / "out", "--gazetteer", gazetteer)
    expect_error(capsys, code, "places.csv", "row 3", "火星")


def test_a_failed_run_leaves_the_previous_outputs_and_no_half_files(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("previous", encoding="utf-8")
    source = write_csv(tmp_path / "in.csv", HEADER, make_rows(days=10))

    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr("minyi.reports.pdf.render_pdf", broken)
    code = run(source, "--out", out)
    assert code == 1
    err = capsys.readouterr().err
    assert "renderer crashed" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    assert (out / "summary.json").read_text(encoding="utf-8") == "previous"


def test_the_console_script_runs_it(tmp_path):
    from minyi.cli import main as cli_main

    source = write_csv(tmp_path / "in.csv", HEADER, make_rows(days=5))
    assert cli_main(["minyi", "analyze", str(source), "--out", str(tmp_path / "out"), "-q"]) == 0
    assert (tmp_path / "out" / "summary.json").exists()


def test_analyze_needs_no_django(tmp_path):
    source = write_csv(tmp_path / "in.csv", HEADER, make_rows(days=5))
    code = (
        "import sys\n"
        "import minyi.reports.pdf\n"
        "minyi.reports.pdf.render_pdf = lambda html, **kw: b'%PDF-1.7'  # WeasyPrint is tested elsewhere\n"
        "from minyi.cli import main\n"
        f"code = main(['minyi', 'analyze', {str(source)!r}, '--out', {str(tmp_path / 'out')!r}, '-q'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'django')\n"
        "print(code, ','.join(bad))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.does_not_exist"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
        env=env,
    )
    assert result.stdout.split("\n")[-2].strip() == "0", result.stderr


def test_the_engines_are_the_real_ones():
    assert analyze.topics_module is None and analyze.surge_module is None
    assert (
        analyze._topics().__name__ == "minyi.text.topics" and analyze._surge().__name__ == "minyi.text.surge"
    )


@pytest.mark.data
def test_the_hot_messages_export(shared_data, tmp_path):
    assert run(shared_data / "hot_messages.csv", "--out", tmp_path / "out") == 0
    result = outputs(tmp_path / "out")
    summary = result["summary"]
    assert summary["messages"] == 4326 and summary["time_based"] is True
    assert len(summary["hot_topics"]) == 20 and summary["warnings"]
    with open(shared_data / "hot_messages.csv", encoding="utf-8-sig", newline="") as handle:
        ids = {row["留言编号"] for row in csv.DictReader(handle)}
    assert set(summary["hot_topics"][0]["message_ids"]) <= ids
    assert len(result["sheets"]["留言"]) == 4327
    assert not MOBILE_RE.search(result["html"])


def test_hostile_text_is_analysed_and_written_safely(tmp_path):
    hostile = [
        ["1", "U1", "\u202e反转标题\u202c\u200b", "2019/03/01", "控制\x01\x07字符\ufeff和零宽\u200d", "0"],
        [
            "2",
            "U2",
            "'; DROP TABLE cases; --",
            "2019/03/02",
            "<img src=x onerror=alert(1)> &amp; </table>",
            "x",
        ],
        ["3", "U3", "超长", "2019/03/03", "噪音扰民" * 50_000, "-5"],
        ["4", "U4", "=1+2", "2019/03/04", "@SUM(A1:A9) 拨打 13912345678", "1e9"],
        ["5", "U5", "學校亂收費(fèi)", "2019/03/05", "老師要求學生補課", ""],
    ]
    source = write_csv(tmp_path / "hostile.csv", HEADER, hostile)
    assert run(source, "--out", tmp_path / "out") == 0
    result = outputs(tmp_path / "out")
    page = result["html"]
    assert "<img" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    for ch in "\x01\x07":
        assert ch not in page and ch not in json.dumps(result["summary"])
    body = result["sheets"]["留言"][1:]
    assert len(body) == 5
    assert body[3][4] == "'=1+2" and body[3][5].startswith("'@SUM")
    assert "13912345678" not in str(body)
    assert len(body[2][5]) <= 32_767
