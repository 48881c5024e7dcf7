"""Reading CSV/XLSX exports: encodings, columns, row numbers and bad files."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from minyi.text.tabular import TableError, detect_columns, detect_encoding, read_table, row_text

HEADER = ["留言编号", "留言主题", "留言详情", "一级分类"]
ROWS = [
    ["1", "小区噪音扰民", "楼下商铺每晚音响很吵，影响休息。", "环境保护"],
    ["2", "學校收費問題", "孩子所在學校亂收補課費。", "教育文体"],
]


def write_csv(path, rows, encoding, *, sep=","):
    lines = [sep.join(r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def read_all(path, **kwargs):
    with read_table(path, **kwargs) as table:
        return table.header, list(table.rows), table.encoding


HEADER_BIG5 = ["留言編號", "留言主題", "留言詳情", "一級分類"]
ROWS_BIG5 = [
    ["1", "社區噪音擾民", "樓下商鋪每晚音響很吵，影響休息。", "環境保護"],
    ["2", "學校收費問題", "孩子所在學校亂收補課費。", "教育文體"],
]


@pytest.mark.parametrize(
    ("encoding", "expected", "table"),
    [
        ("utf-8", "utf-8-sig", [HEADER, *ROWS]),
        ("utf-8-sig", "utf-8-sig", [HEADER, *ROWS]),
        ("gb18030", "gb18030", [HEADER, *ROWS]),
        ("big5", "big5", [HEADER_BIG5, *ROWS_BIG5]),
    ],
)
def test_reads_each_encoding(tmp_path, encoding, expected, table):
    path = write_csv(tmp_path / f"{encoding}.csv", table, encoding)
    header, rows, used = read_all(path)
    assert used == expected
    assert header == table[0]
    assert [values for _, values in rows] == table[1:]
    assert [number for number, _ in rows] == [2, 3]
    columns = detect_columns(header, need_label=True)
    assert [header[i] for i in columns.text] == table[0][1:3] and columns.label == 3


def test_reads_utf16_tab_separated_excel_export(tmp_path):
    path = write_csv(tmp_path / "excel.txt", [HEADER, *ROWS], "utf-16", sep="\t")
    header, rows, used = read_all(path)
    assert used == "utf-16"
    assert header == HEADER and [v for _, v in rows] == ROWS


def test_detect_encoding_prefers_utf8_and_tells_big5_from_gb18030():
    text = "市民反映小区物业乱收费，请有关部门调查处理。" * 5
    assert detect_encoding(text.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding(text.encode("gb18030")) == "gb18030"
    traditional = "市民反映社區物業亂收費，請有關部門調查處理。" * 5
    assert detect_encoding(traditional.encode("big5")) == "big5"


def test_row_numbers_count_records_not_lines(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('id,title,detail\n1,a,"line one\nline two"\n2,b,c\n', encoding="utf-8")
    _, rows, _ = read_all(path)
    assert rows == [(2, ["1", "a", "line one\nline two"]), (3, ["2", "b", "c"])]


def test_short_and_long_rows_are_fitted_to_the_header(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1\n1,2,3,4\n\n5,6,7\n", encoding="utf-8")
    _, rows, _ = read_all(path)
    assert [v for _, v in rows] == [["1", "", ""], ["1", "2", "3"], ["5", "6", "7"]]
    assert [n for n, _ in rows] == [2, 3, 5]


def test_undecodable_bytes_late_in_the_file_name_the_file_and_row(tmp_path):
    path = tmp_path / "mixed.csv"
    good = "id,title\n" + "".join(f"{i},正常的标题{i}\n" for i in range(40_000))  # > 1 MB sample
    path.write_bytes(good.encode("utf-8") + "40000,乱码标题\n".encode("gb18030"))
    with read_table(path) as table, pytest.raises(TableError) as info:
        list(table.rows)
    message = str(info.value)
    assert "mixed.csv" in message and "row 40002" in message and "utf-8" in message


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(TableError, match=r"photo\.csv.*binary"):
        read_table(path)


@pytest.mark.parametrize("content", [b"", b"   \n\n"])
def test_empty_file_is_refused(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(TableError, match=r"empty\.csv.*empty"):
        read_table(path)


def test_missing_file_is_a_table_error(tmp_path):
    with pytest.raises(TableError, match="cannot open"):
        read_table(tmp_path / "nope.csv")


def test_explicit_wrong_encoding_is_refused(tmp_path):
    path = write_csv(tmp_path / "gb.csv", [HEADER, *ROWS], "gb18030")
    with pytest.raises(TableError, match="cannot be decoded as utf-8"):
        read_table(path, encoding="utf-8")


def test_reads_xlsx_with_numbers_dates_and_blank_rows(tmp_path):
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["留言编号", "留言主题", "留言时间", "留言详情"])
    sheet.append([1, "路灯不亮", dt.datetime(2020, 1, 2, 3, 4, 5), "晚上路灯坏了"])
    sheet.append([None, None, None, None])
    sheet.append([3.0, "噪音", None, "-1 号楼"])
    workbook.save(path)
    header, rows, _ = read_all(path)
    assert header == ["留言编号", "留言主题", "留言时间", "留言详情"]
    assert rows == [
        (2, ["1", "路灯不亮", "2020-01-02 03:04:05", "晚上路灯坏了"]),
        (4, ["3", "噪音", "", "-1 号楼"]),
    ]


def test_corrupted_xlsx_is_refused(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 100)
    with pytest.raises(TableError, match=r"broken\.xlsx.*xlsx"):
        read_table(path)


def test_old_xls_is_refused_with_advice(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(TableError, match="xls"):
        read_table(path)


def test_detect_columns_knows_message_board_and_english_names():
    columns = detect_columns(HEADER)
    assert [HEADER[i] for i in columns.text] == ["留言主题", "留言详情"]
    assert HEADER[columns.label] == "一级分类"
    english = ["id", "Title", "detail", "label", "source"]
    columns = detect_columns(english)
    assert [english[i] for i in columns.text] == ["Title", "detail"]
    assert english[columns.label] == "label"
    hotline = ["工单号", "诉求内容", "一级标签"]
    columns = detect_columns(hotline)
    assert [hotline[i] for i in columns.text] == ["诉求内容"] and columns.label == 2


def test_detect_columns_lists_the_columns_found_when_none_fit():
    with pytest.raises(TableError) as info:
        detect_columns(["编号", "时间", "备注"], path="x.csv")
    assert "x.csv" in str(info.value) and "'编号', '时间', '备注'" in str(info.value)
    with pytest.raises(TableError, match="no label column"):
        detect_columns(["title", "detail"], need_label=True)
    with pytest.raises(TableError, match=r"no text column 'body'.*'title'"):
        detect_columns(["title", "detail"], text_cols=["body"])


def test_tokens_column_applies_only_where_present():
    assert detect_columns(["tokens", "label"], tokens_col="tokens").tokens == 0
    columns = detect_columns(["title", "label"], tokens_col="tokens")
    assert columns.tokens is None and columns.text == (0,)


def test_row_text_joins_title_and_body():
    columns = detect_columns(HEADER)
    assert row_text(ROWS[0], columns) == "小区噪音扰民\n楼下商铺每晚音响很吵，影响休息。"
    assert row_text(["3", "  ", "只有详情", "x"], columns) == "只有详情"


def test_a_small_utf8_file_with_one_bad_row_is_not_read_as_gb18030(tmp_path):
    path = tmp_path / "small.csv"
    path.write_bytes(("title,detail\n" + "正常,内容\n" * 50).encode("utf-8") + "亂碼,內容\n".encode("big5"))
    with read_table(path) as table, pytest.raises(TableError, match=r"small\.csv: row 52 .*utf-8"):
        assert table.encoding == "utf-8-sig"
        list(table.rows)
