"""Report workbooks: formulas neutralised, XML-unsafe characters dropped, atomic, large sheets split."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from minyi.reports import xlsx
from minyi.reports.xlsx import Sheet, safe_cell, sheet_title, write_xlsx


def read(path):
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}
    finally:
        workbook.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("-", "-"),
        ("正常文本", "正常文本"),
        ("控制\x00\x07字符", "控制字符"),
        ("孤立\ud800代理", "孤立代理"),
        (None, None),
        (3, 3),
        (2.5, 2.5),
        (float("nan"), None),
        (True, True),
        (dt.datetime(2019, 1, 2, 3, 4), dt.datetime(2019, 1, 2, 3, 4)),
    ],
)
def test_cells_are_made_safe(value, expected):
    assert safe_cell(value) == expected


def test_long_text_is_cut_at_excels_limit():
    assert len(safe_cell("字" * 40_000)) == xlsx.EXCEL_MAX_CELL_CHARS


def test_sheet_names_are_valid_and_unique():
    taken: set[str] = set()
    assert sheet_title("a/b:c*?[d]", taken) == "a_b_c___d_"
    assert sheet_title("留言", taken) == "留言"
    assert sheet_title("留言", taken) == "留言 (2)"
    assert len(sheet_title("很" * 40, taken)) == 31
    assert sheet_title("", taken) == "Sheet"


def test_sheets_are_written_with_their_header_and_rows(tmp_path):
    path = tmp_path / "out.xlsx"
    rows = [["1", "=cmd|' /C calc'!A0", 3, None], ["2", "普通", 4.5, dt.date(2020, 1, 2)]]
    count = write_xlsx(
        path, [Sheet("留言", ["编号", "内容", "数", "日期"], iter(rows), widths=(8, 40)), Sheet("空", [], [])]
    )
    assert count == 2
    sheets = read(path)
    assert list(sheets) == ["留言", "空"]
    assert sheets["留言"][0] == ["编号", "内容", "数", "日期"]
    assert sheets["留言"][1][:3] == ["1", "'=cmd|' /C calc'!A0", 3]
    assert sheets["留言"][2][2] == 4.5
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_a_failure_leaves_no_file_and_no_temporary_file(tmp_path):
    def rows():
        yield ["ok"]
        raise RuntimeError("broken source")

    (tmp_path / "keep.xlsx").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        write_xlsx(tmp_path / "keep.xlsx", [Sheet("a", ["h"], rows())])
    assert [p.name for p in tmp_path.iterdir()] == ["keep.xlsx"]
    assert (tmp_path / "keep.xlsx").read_bytes() == b"old"


def test_a_sheet_past_excels_row_limit_continues_on_another(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 4)  # header + 3 rows per sheet
    write_xlsx(tmp_path / "big.xlsx", [Sheet("data", ["n"], ([i] for i in range(7)))])
    sheets = read(tmp_path / "big.xlsx")
    assert list(sheets) == ["data", "data (2)", "data (3)"]
    assert [r[0] for s in sheets.values() for r in s if r[0] != "n"] == list(range(7))
