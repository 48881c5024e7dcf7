"""Bulk import of history (minyi.intake.importer and `minyi import`): finished cases with their numbers, times,
categories, departments and replies; idempotent, resumable, forgiving of bad rows, strict about bad files."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.timezone import localtime

from minyi.cases.models import Case, CaseContact, CaseEvent, Evaluation, Reply
from minyi.cases.tests.factories import NOW
from minyi.cases.workflow import CaseStatus
from minyi.intake import importer
from minyi.intake.importer import ImportOptions, import_file
from minyi.intake.models import ImportIssue, ImportJob, ImportRow, Triage, TriageState
from minyi.routing.models import Category
from minyi.text.records import mapping_from_dict
from minyi.text.tabular import TableError

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = [
    "留言编号",
    "留言用户",
    "留言主题",
    "留言时间",
    "留言详情",
    "一级分类",
    "承办单位",
    "答复意见",
    "答复时间",
]
ROWS = [
    ["1001", "A0001", "小区电梯停运", "2019/4/16 22:05:13", "3号楼电梯停运两周，老人上下楼困难。", "城乡建设", "市住建局",
     "已督促物业维修，电梯已恢复运行。", "2019/4/20 10:00:00"],
    ["1002", "A0002", "工资拖欠", "2019-04-17 09:00:00", "公司拖欠三个月工资不发。", "劳动和社会保障", "市人社局",
     "已责令企业限期支付。", "43580.5"],
    ["1003", "A0001", "电梯又坏了", "43577.41875", "3号楼电梯停运两周，老人上下楼困难，再次反映。", "城乡建设", "市住建局", "", ""],
]  # fmt: skip


def write_csv(path: Path, rows, header=HEADER, encoding="utf-8-sig") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture
def history(tmp_path) -> Path:
    return write_csv(tmp_path / "history.csv", ROWS)


def run(path, **kw):
    return import_file(str(path), options=ImportOptions(**kw), now=NOW)


def test_history_goes_in_as_finished_cases(history):
    report = run(history)
    assert (report.rows_read, report.imported, report.errors) == (3, 3, 0)
    first = Case.objects.get(external_number="1001")
    assert first.channel == "import" and first.status == CaseStatus.CLOSED
    assert first.created_at == datetime(2019, 4, 16, 22, 5, 13, tzinfo=SHANGHAI)
    assert first.tracking_number.startswith("MY20190416")
    assert first.category.name == "城乡建设" and first.department.name == "市住建局"
    reply = Reply.objects.get(case=first)
    assert reply.text.startswith("已督促") and reply.state == "sent"
    assert first.replied_at == datetime(2019, 4, 20, 10, 0, tzinfo=SHANGHAI)
    # a spreadsheet serial number as the reply time
    second = Case.objects.get(external_number="1002")
    assert second.replied_at == datetime(2019, 4, 25, 12, 0, tzinfo=SHANGHAI)
    # a serial number as the submission time, and no reply: closed without one
    third = Case.objects.get(external_number="1003")
    assert localtime(third.created_at).date().isoformat() == "2019-04-22" and not third.replies.exists()
    assert CaseContact.objects.get(case=first).external_user == "A0001"
    # the organisation's own categories and departments were created
    assert set(report.created_categories) == {"城乡建设", "劳动和社会保障"}
    assert set(report.created_departments) == {"市住建局", "市人社局"}
    # every case has its import event and its triage, with the history's parts marked as history
    event = CaseEvent.objects.get(case=first, action="import")
    assert event.data["row"] == 2 and event.data["source"] == "default"
    triage = Triage.objects.get(case=first)
    assert (
        triage.category_state == TriageState.HISTORICAL and triage.department_state == TriageState.HISTORICAL
    )
    # the same user about the same lift: a repeat (重复件) of the first
    assert third.is_repeat and third.duplicate_of_id == first.pk
    assert report.repeats == 1
    job = ImportJob.objects.get(pk=report.job_id)
    assert job.status == "finished" and job.imported == 3 and job.checkpoint_row == 4


def test_a_second_run_adds_nothing_and_a_longer_export_adds_only_the_new_rows(history, tmp_path):
    run(history)
    again = run(history)
    assert again.already_imported and again.imported == 0
    assert Case.objects.count() == 3
    longer = write_csv(tmp_path / "longer.csv", [*ROWS, ["1004", "A0009", "路灯不亮", "2019/5/1 8:00:00", "人民路路灯坏了。",
                                                         "城乡建设", "市住建局", "", ""]])  # fmt: skip
    report = run(longer)
    assert (report.imported, report.already_present) == (1, 3)
    assert Case.objects.count() == 4 and ImportRow.objects.count() == 4


def test_a_number_seen_before_with_other_content_is_reported(history, tmp_path):
    run(history)
    changed = [list(r) for r in ROWS]
    changed[0][4] = "完全不同的内容"
    report = run(write_csv(tmp_path / "changed.csv", changed))
    assert report.imported == 0 and report.already_present == 2 and report.errors == 1
    (issue,) = ImportIssue.objects.filter(job_id=report.job_id)
    assert issue.row_number == 2 and "已于此前导入" in issue.reason


def test_rows_without_numbers_are_told_apart_by_content_and_order(tmp_path):
    header = ["title", "detail", "label"]
    rows = [["", "同一条留言", "城乡建设"], ["", "同一条留言", "城乡建设"], ["标题", "另一条", "城乡建设"]]
    path = write_csv(tmp_path / "plain.csv", rows, header=header)
    assert run(path).imported == 3  # two identical rows are two appeals
    assert run(path, source="other").imported == 3  # another source is another namespace
    assert Case.objects.filter(channel="import").count() == 6
    rerun = write_csv(tmp_path / "plain2.csv", rows, header=header)  # the same rows in a renamed file
    report = run(rerun)
    assert (report.imported, report.already_present) == (0, 3)
    untitled = Case.objects.filter(content="同一条留言").first()
    assert untitled.title == "同一条留言"  # no title: the first sentence of the content


def test_bad_rows_are_skipped_and_named_while_the_good_rows_go_in(tmp_path):
    rows = [
        ["1", "u", "好的", "2019/4/16 22:05:13", "内容", "城乡建设", "", "", ""],
        ["2", "u", "", "2019/4/16 22:05:13", "", "城乡建设", "", "", ""],  # no text
        ["3", "u", "日期坏了", "2019/13/45 99:99", "内容三", "城乡建设", "", "", ""],
        ["4", "u", "未来", "2099/1/1 00:00:00", "内容四", "城乡建设", "", "", ""],
        ["5", "u", "好的二", "", "内容五", "城乡建设", "", "", ""],  # no time: dated at import
    ]
    report = run(write_csv(tmp_path / "bad.csv", rows))
    assert report.imported == 2 and report.errors == 3
    assert {r for r, _c, _w in report.issues} == {3, 4, 5}
    reasons = {r: (c, w) for r, c, w in report.issues}
    assert reasons[4][0] == "留言时间" and "2019/13/45" in reasons[4][1]
    assert report.without_time == 1
    assert Case.objects.get(external_number="5").created_at == NOW


def test_status_kind_and_rating_columns(tmp_path):
    header = ["编号", "标题", "内容", "时间", "状态", "诉求类型", "满意度", "答复内容", "答复时间"]
    rows = [
        ["a", "一", "内容一", "2020-01-02 10:00", "已办结", "咨询", "满意", "答复一", "2020-01-03 10:00"],
        ["b", "二", "内容二", "2020-01-02 10:00", "不予受理", "投诉", "", "", ""],
        ["c", "三", "内容三", "2020-01-02 10:00", "办理中", "投诉", "", "", ""],
        ["d", "四", "内容四", "2020-01-02 10:00", "已办结", "吐槽", "", "", ""],
        ["e", "五", "内容五", "2020-01-02 10:00", "已答复", "建议", "很好", "答复五", "2020-01-03 10:00"],
    ]
    report = run(write_csv(tmp_path / "status.csv", rows, header=header))
    assert report.imported == 2
    assert {r for r, _c, _w in report.issues} == {4, 5, 6}
    a = Case.objects.get(external_number="a")
    assert (a.status, a.kind) == ("closed", "question")
    assert Evaluation.objects.get(case=a).rating == "satisfied"
    assert Case.objects.get(external_number="b").status == "declined"


def test_xlsx_with_dates_and_numbers_as_cells(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["工单编号", "诉求标题", "诉求内容", "来电时间", "一级分类"])
    sheet.append([20190001, "噪音", "工地夜间施工噪音扰民", datetime(2019, 6, 1, 23, 30), "环境保护"])
    sheet.append([20190002, "=1+1", "<script>alert(1)</script>", 43620.5, "环境保护"])
    sheet["B3"].data_type = "s"  # a text cell that looks like a formula, as a hostile export may hold
    path = tmp_path / "history.xlsx"
    workbook.save(path)
    report = run(path)
    assert report.imported == 2
    case = Case.objects.get(external_number="20190001")
    assert case.created_at == datetime(2019, 6, 1, 23, 30, tzinfo=SHANGHAI)
    hostile = Case.objects.get(external_number="20190002")
    assert hostile.title == "=1+1" and hostile.content == "<script>alert(1)</script>"  # kept as written


@pytest.mark.parametrize("encoding", ["gb18030", "big5", "utf-16"])
def test_other_encodings(tmp_path, encoding):
    rows = [["1", "u", "噪音擾民", "2019/4/16 22:05:13", "工地夜間施工", "環境保護", "", "", ""]]
    # a Big5 system names its columns in traditional characters
    header = HEADER if encoding != "big5" else ["留言編號", "留言用戶", "留言主題", "留言時間", "留言詳情", "一級分類",
                                                "承辦單位", "答覆意見", "答覆時間"]  # fmt: skip
    path = write_csv(tmp_path / f"{encoding}.csv", rows, header=header, encoding=encoding)
    report = run(path)
    assert report.imported == 1
    assert Case.objects.get(external_number="1").title == "噪音擾民"


def test_a_broken_encoding_halfway_costs_only_that_row(tmp_path):
    lines = [",".join(HEADER)]
    for i in range(1, 201):
        lines.append(f"{i},u,标题{i},2019/4/16 22:05:13,内容{i},城乡建设,,,")
    data = "\n".join(lines).encode("utf-8")
    bad = "100,u,标题100,2019/4/16 22:05:13,内容100,城乡建设,,,".encode()
    data = data.replace(
        bad, "100,u,标题100,2019/4/16 22:05:13,".encode() + "内容".encode("gb18030") + b",,,,"
    )
    path = tmp_path / "broken.csv"
    path.write_bytes(data)
    report = run(path)
    assert report.imported == 199 and report.errors == 1
    assert report.issues[0][0] == 101  # row 101 holds record 100 (the header is row 1)
    assert "utf-8" in report.issues[0][2].lower()


def test_zero_rows(tmp_path):
    report = run(write_csv(tmp_path / "empty.csv", []))
    assert (report.rows_read, report.imported, report.errors) == (0, 0, 0)
    assert ImportJob.objects.get(pk=report.job_id).status == "finished"


def test_files_that_are_refused_whole_write_nothing(tmp_path):
    empty = tmp_path / "nothing.csv"
    empty.write_bytes(b"")
    png = tmp_path / "picture.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4000)
    no_text = write_csv(tmp_path / "numbers.csv", [["1", "2"]], header=["金额", "数量"])
    for path in (empty, png, no_text):
        with pytest.raises(TableError):
            run(path)
    with pytest.raises(TableError) as caught:
        run(no_text)
    assert "'金额'" in str(caught.value) and "'数量'" in str(caught.value)
    assert not ImportJob.objects.exists() and not Case.objects.exists()


def test_dry_run_writes_nothing(history):
    report = run(history, dry_run=True)
    assert report.dry_run and report.imported == 3 and report.errors == 0
    assert set(report.created_categories) == {"城乡建设", "劳动和社会保障"}
    assert not Case.objects.exists() and not ImportJob.objects.exists() and not Category.objects.exists()


def test_unknown_names_are_reported_when_nothing_may_be_created(history):
    report = run(history, create_missing=False)
    assert report.imported == 0 and report.errors == 3
    assert "不存在" in report.issues[0][2]


def test_a_mapping_names_unusual_columns_and_translates_values(tmp_path):
    header = ["事项", "描述", "日期", "类", "处理情况"]
    rows = [["漏水", "楼上漏水", "16/04/2019", "建", "完结"]]
    mapping = mapping_from_dict(
        {
            "source": "hotline-b",
            "day_first": True,
            "columns": {
                "title": "事项",
                "content": "描述",
                "time": "日期",
                "category": "类",
                "status": "处理情况",
            },
            "values": {"category": {"建": "城乡建设"}, "status": {"完结": "closed"}},
        }
    )
    report = run(write_csv(tmp_path / "odd.csv", rows, header=header), mapping=mapping)
    assert report.imported == 1 and report.source == "hotline-b"
    case = Case.objects.get()
    assert case.category.name == "城乡建设" and localtime(case.created_at).date().isoformat() == "2019-04-16"


def test_a_failure_midway_is_resumed_without_loss_or_doubles(tmp_path, monkeypatch):
    rows = [[str(i), "u", f"标题{i}", "2019/4/16 22:05:13", f"第{i}件内容，各不相同的文字{i * 7919}", "城乡建设", "", "", ""]
            for i in range(1, 61)]  # fmt: skip
    path = write_csv(tmp_path / "sixty.csv", rows)
    real = importer._Runner._create
    calls = {"n": 0}

    def failing(self, batch, ticket):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the power went out")
        return real(self, batch, ticket)

    monkeypatch.setattr(importer._Runner, "_create", failing)
    with pytest.raises(RuntimeError):
        run(path, batch_size=10)
    job = ImportJob.objects.get()
    assert job.status == "failed" and job.checkpoint_row == 21 and job.imported == 20
    assert Case.objects.count() == 20
    monkeypatch.setattr(importer._Runner, "_create", real)
    report = run(path, batch_size=10)
    assert report.resumed_from == 21 and report.job_id == job.pk
    assert Case.objects.count() == 60 and ImportRow.objects.count() == 60
    assert sorted(Case.objects.values_list("external_number", flat=True)) == sorted(
        str(i) for i in range(1, 61)
    )
    assert ImportJob.objects.get().status == "finished"


def test_the_command_writes_import_errors_and_sets_the_exit_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rows = [*ROWS, ["9", "u", "", "2019/4/16 22:05:13", "", "城乡建设", "", "", ""]]
    path = write_csv(tmp_path / "h.csv", rows)
    with pytest.raises(SystemExit) as exited:
        call_command("intake_import", str(path), "--workers", "0", "-q")
    assert exited.value.code == 1
    with open(tmp_path / "import-errors.csv", encoding="utf-8-sig") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["file", "row", "column", "reason"]
    assert lines[1][:2] == [str(path), "5"]
    out = capsys.readouterr().out
    assert "imported 3" in out and "row 5" in out
    # a second run: nothing to add, nothing wrong
    call_command("intake_import", str(path), "--workers", "0", "-q")
    assert "already imported" in capsys.readouterr().out


def test_the_command_refuses_a_bad_file_with_exit_code_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_csv(tmp_path / "numbers.csv", [["1", "2"]], header=["金额", "数量"])
    with pytest.raises(CommandError) as caught:
        call_command("intake_import", str(path), "--workers", "0", "-q")
    assert caught.value.returncode == 2 and "金额" in str(caught.value)
    bad_mapping = tmp_path / "m.toml"
    bad_mapping.write_text("[columns]\nnot_a_field = 'x'\n", encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("intake_import", str(path), "--mapping", str(bad_mapping), "--workers", "0", "-q")
    assert caught.value.returncode == 2 and "not_a_field" in str(caught.value)


def test_minyi_import_is_the_command(tmp_path, monkeypatch):
    from minyi import cli

    monkeypatch.chdir(tmp_path)
    seen = {}
    monkeypatch.setattr(
        "django.core.management.execute_from_command_line", lambda argv: seen.setdefault("argv", argv)
    )
    cli.main(["minyi", "import", "a.csv", "--dry-run"])
    assert seen["argv"][:3] == ["minyi", "intake_import", "a.csv"]


def test_hostile_cells_are_kept_as_written_and_triaged(tmp_path):
    hostile = [
        ["h1", "u", "<script>alert('x')</script>", "2019/4/16 22:05:13", "'; DROP TABLE cases_case; --", "城乡建设", "", "", ""],
        ["h2", "u", "控制\x07字符\u202e反向\u200b零宽", "2019/4/16 22:05:13", "内容\x00含空字节\ufeff", "城乡建设", "", "", ""],
        ["h3", "u", "=HYPERLINK(\"http://x\")", "2019/4/16 22:05:13", "+cmd|' /C calc'!A0", "城乡建设", "", "", ""],
        ["h4", "u", "太长", "2019/4/16 22:05:13", "长" * 100_001, "城乡建设", "", "", ""],
    ]  # fmt: skip
    report = run(write_csv(tmp_path / "hostile.csv", hostile))
    assert report.imported == 3 and [r for r, _c, _w in report.issues] == [5]  # the oversized one
    assert Case.objects.get(external_number="h1").title == "<script>alert('x')</script>"
    assert Case.objects.get(external_number="h1").content == "'; DROP TABLE cases_case; --"
    second = Case.objects.get(external_number="h2")
    # the title is cleaned like a web form's (invisible and bidi characters dropped); the content keeps its
    # text, without NUL (PostgreSQL cannot store it) and without the cell's surrounding blanks and BOM
    assert second.title == "控制字符反向零宽"
    assert second.content == "内容含空字节"
    assert Case.objects.get(external_number="h3").content == "+cmd|' /C calc'!A0"
    assert Triage.objects.filter(case__external_number__in=["h1", "h2", "h3"]).count() == 3


def test_a_gb18030_file_declared_utf8_is_refused_whole(tmp_path):
    path = write_csv(tmp_path / "gb.csv", ROWS, encoding="gb18030")
    mapping = mapping_from_dict({"encoding": "utf-8"})
    with pytest.raises(TableError) as caught:
        run(path, mapping=mapping)
    assert "utf-8" in str(caught.value).lower()
    assert not Case.objects.exists()


def test_after_an_import_live_cases_find_the_imported_ones_as_duplicates(history, org):
    from minyi.cases.tests.factories import create_case
    from minyi.intake.models import DuplicateCandidate, DuplicateSignature
    from minyi.intake.triage import triage_case

    run(history)
    assert not DuplicateSignature.objects.filter(bucketed=False).exists()  # written at the end of the import
    live = create_case(title="小区电梯停运", content="3号楼电梯停运两周，老人上下楼困难。")
    triage_case(case_id=live.pk)
    imported = Case.objects.get(external_number="1001")
    assert DuplicateCandidate.objects.filter(case=live, candidate=imported).exists()
