"""Reading CSV/XLSX exports: encodings, columns, row numbers and bad files."""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
import zipfile
import zlib

import openpyxl
import pytest

from minyi.text.tabular import (
    BadRow,
    TableError,
    count_rows,
    detect_columns,
    detect_encoding,
    read_table,
    row_text,
)

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


# --- bad rows (on_bad_row="report") ----------------------------------------------------------


def bad_rows(rows):
    return [(n, v) for n, v in rows if isinstance(v, BadRow)]


def test_one_undecodable_line_in_the_middle_is_one_bad_row(tmp_path):
    path = tmp_path / "line5000.csv"
    lines = ["编号,标题,内容".encode()]
    lines += [f"{n},标题{n},内容{n}".encode() for n in range(2, 10_001)]
    lines[4999] = "5000,亂碼標題,內容".encode("big5")  # line 5000 of 10000
    path.write_bytes(b"\n".join(lines) + b"\n")
    with read_table(path, on_bad_row="report") as table:
        assert table.encoding == "utf-8-sig"
        rows = list(table.rows)
    assert len(rows) == 9999
    assert bad_rows(rows) == [(5000, BadRow("line 5000: cannot be decoded as utf-8 (invalid start byte)"))]
    good = [(n, v) for n, v in rows if not isinstance(v, BadRow)]
    assert good == [(n, [str(n), f"标题{n}", f"内容{n}"]) for n in range(2, 10_001) if n != 5000]
    with read_table(path) as table, pytest.raises(TableError, match=r"line5000\.csv: row 5000 \(line 5000\)"):
        list(table.rows)  # the default still raises


@pytest.mark.parametrize("bad_line", [1, 2, 3])
def test_a_bad_line_inside_a_quoted_multiline_field_spoils_only_its_record(tmp_path, bad_line):
    path = tmp_path / "multiline.csv"
    records = ["id,title,detail"]
    for n in range(2, 1002):
        records.append(f'{n},标题{n},"第一行{n}\n第二行说""好""{n}\n第三行{n}"')
    data = ("\n".join(records) + "\n").encode()
    # record 500 spans three physical lines: spoil its first, middle or last (closing) line
    if bad_line == 2:  # the middle line, which holds escaped quotes
        old = '第二行说""好""500'.encode()
        new = "第二行說".encode("big5") + '""好""500'.encode()
    else:
        target = "第一行500" if bad_line == 1 else "第三行500"
        old = target.encode()
        new = target[:3].encode("gb18030") + target[3:].encode()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))
    with read_table(path, on_bad_row="report") as table:
        rows = list(table.rows)
    assert [n for n, _ in bad_rows(rows)] == [500]
    assert [n for n, _ in rows] == list(range(2, 1002))
    good = dict(rows)
    assert good[499] == ["499", "标题499", '第一行499\n第二行说"好"499\n第三行499']
    assert good[501] == ["501", "标题501", '第一行501\n第二行说"好"501\n第三行501']
    assert good[1001][0] == "1001"


def test_a_csv_syntax_error_is_a_bad_row_and_a_quoted_field_it_opened_is_skipped(tmp_path):
    path = tmp_path / "syntax.csv"
    path.write_bytes(
        b'id,title,detail\n1,ok,fine\n2,a\rb,"opens a quoted field\nthat ends here",x\n3,ok,"fine, too"\n'
        b"4,a\rb,no quote\n5,ok,end\n"
    )
    with read_table(path, on_bad_row="report") as table:
        rows = list(table.rows)
    assert rows[0] == (2, ["1", "ok", "fine"])
    assert rows[1][0] == 3 and isinstance(rows[1][1], BadRow) and "line 3: not valid CSV" in rows[1][1].reason
    assert rows[2] == (4, ["3", "ok", "fine, too"])  # not the tail of the quoted field
    assert rows[3][0] == 5 and isinstance(rows[3][1], BadRow)
    assert rows[4] == (6, ["5", "ok", "end"])
    assert len(rows) == 5
    with read_table(path) as table, pytest.raises(TableError, match=r"row 3: not valid CSV"):
        list(table.rows)


def test_utf8_file_with_a_gb18030_second_half_reports_those_rows(tmp_path):
    path = tmp_path / "half.csv"
    first = "".join(f"{n},正常的标题{n},内容\n" for n in range(2, 30_002))  # > 1 MB: detection sees UTF-8
    second = "".join(
        f"{n},乱码的标题{n},内容\n" if n % 2 else f"{n},ascii title,text\n" for n in range(30_002, 31_002)
    )
    path.write_bytes(b"id,title,detail\n" + first.encode() + second.encode("gb18030"))
    with read_table(path, on_bad_row="report") as table:
        assert table.encoding == "utf-8-sig"
        rows = list(table.rows)
    assert len(rows) == 31_000
    assert [n for n, _ in bad_rows(rows)] == [n for n in range(30_002, 31_002) if n % 2]
    assert dict(rows)[31_000] == ["31000", "ascii title", "text"]
    assert all(not isinstance(v, BadRow) for n, v in rows if n < 30_002)


@pytest.mark.parametrize(
    ("encoding", "table"),
    [("gb18030", [HEADER, *ROWS]), ("big5", [HEADER_BIG5, *ROWS_BIG5])],
)
def test_gb18030_and_big5_are_detected_and_read_without_bad_rows(tmp_path, encoding, table):
    path = write_csv(tmp_path / f"{encoding}.csv", table * 30, encoding)  # header repeated: rows too
    with read_table(path, on_bad_row="report") as opened:
        assert opened.encoding == encoding
        rows = list(opened.rows)
    assert not bad_rows(rows) and len(rows) == len(table) * 30 - 1
    assert rows[0][1] == table[1]


def test_utf16_raises_on_bad_bytes_even_in_report_mode(tmp_path):
    path = tmp_path / "u16bad.txt"
    rows = "".join(f"{n}\t内容{n}\n" for n in range(5000))  # past the text layer's first chunk
    path.write_bytes(f"a\tb\n{rows}".encode("utf-16") + b"\x00\xd8\n\x00")  # then a lone surrogate
    with read_table(path, on_bad_row="report") as table, pytest.raises(TableError, match="cannot be decoded"):
        list(table.rows)


def test_on_bad_row_must_be_raise_or_report(tmp_path):
    path = write_csv(tmp_path / "a.csv", [HEADER, *ROWS], "utf-8")
    with pytest.raises(ValueError, match="on_bad_row"):
        read_table(path, on_bad_row="skip")


def test_an_undecodable_header_is_refused_in_report_mode_too(tmp_path):
    path = tmp_path / "head.csv"
    body = "".join(f"{n},正常的内容{n}\n" for n in range(40_000))  # > 1 MB of UTF-8: detected as UTF-8
    path.write_bytes("標題,內容\n".encode("big5") + body.encode())
    with pytest.raises(TableError, match=r"head\.csv: row 1: cannot be decoded as utf-8 "):
        read_table(path, on_bad_row="report")


def broken_xlsx(tmp_path):
    good = tmp_path / "good.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["留言编号", "留言主题", "点赞数"])
    for n in range(2, 8):
        sheet.append([n, f"标题{n}", 1000 + n])
    workbook.save(good)
    with zipfile.ZipFile(good) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"]
    assert xml.count(b"<v>1004</v>") == 1
    parts["xl/worksheets/sheet1.xml"] = xml.replace(b"<v>1004</v>", b"<v>not a number</v>")
    path = tmp_path / "broken_cell.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_an_xlsx_row_openpyxl_cannot_read_is_a_bad_row(tmp_path):
    path = broken_xlsx(tmp_path)
    with read_table(path, on_bad_row="report") as table:
        rows = list(table.rows)
    assert [n for n, _ in rows] == [2, 3, 4, 5, 6, 7]
    assert rows[1] == (3, ["3", "标题3", "1003"])
    assert isinstance(rows[2][1], BadRow) and "row 4: cannot be read" in rows[2][1].reason
    assert rows[3] == (5, ["5", "标题5", "1005"])
    with (
        read_table(path) as table,
        pytest.raises(TableError, match=r"broken_cell\.xlsx: row 4: cannot be read"),
    ):
        list(table.rows)


def test_xlsx_is_decided_by_content_and_rows_past_a_wrong_dimension_are_read(tmp_path):
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["标题", "内容"])
    sheet.append(["a", "b"])
    sheet.append(["c", "d"])
    workbook.save(path)
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b'<dimension ref="A1:B3"', b'<dimension ref="A1"'
    )
    renamed = tmp_path / "export.dat"
    with zipfile.ZipFile(renamed, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    header, rows, _ = read_all(renamed)
    assert header == ["标题", "内容"] and rows == [(2, ["a", "b"]), (3, ["c", "d"])]
    assert count_rows(renamed) is None  # "A1" says nothing
    assert count_rows(path) == 2


# --- header-only, empty, not-a-table files --------------------------------------------------


@pytest.mark.parametrize("content", [b"id,title,detail", b"id,title,detail\r\n", b"\xef\xbb\xbfid,title\n\n"])
def test_a_header_only_csv_has_no_rows(tmp_path, content):
    path = tmp_path / "header.csv"
    path.write_bytes(content)
    for mode in ("raise", "report"):
        with read_table(path, on_bad_row=mode) as table:
            assert table.header[0] == "id" and list(table.rows) == []
    assert count_rows(path) == (1 if content.endswith(b"\n\n") else 0)


def test_an_empty_file_is_refused_in_report_mode_too(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(TableError, match=r"empty\.csv: the file is empty"):
        read_table(path, on_bad_row="report")


class _CountingFile(io.FileIO):
    """A raw file that adds up the bytes read through it."""

    read_bytes = 0

    def readinto(self, buffer):
        count = super().readinto(buffer)
        _CountingFile.read_bytes += count or 0
        return count

    def readall(self):
        data = super().readall()
        _CountingFile.read_bytes += len(data)
        return data

    def read(self, size=-1):
        data = super().read(size)
        _CountingFile.read_bytes += len(data or b"")
        return data


@pytest.fixture
def counted_reads(monkeypatch):
    import builtins

    from minyi.text import tabular

    def counting_open(file, mode="r", *args, **kwargs):
        if mode == "rb":
            return io.BufferedReader(_CountingFile(file, "r"))
        return builtins.open(file, mode, *args, **kwargs)

    _CountingFile.read_bytes = 0
    monkeypatch.setattr(tabular, "open", counting_open, raising=False)
    return _CountingFile


BIG = 200 << 20


def sparse(path, head: bytes, size: int = BIG):
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)  # the rest is a hole: no disk space, reads as zeros
    return path


def sparse_zip(path, size: int = BIG):
    """A valid ZIP holding one stored member of ``size`` zero bytes written as a hole."""
    name = b"data/big.bin"
    crc = 0
    chunk = bytes(1 << 20)
    for _ in range(size >> 20):
        crc = zlib.crc32(chunk, crc)
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, size, size, len(name), 0) + name
    with open(path, "wb") as handle:
        handle.write(local)
        handle.seek(size, io.SEEK_CUR)
        offset = handle.tell()
        central = (
            struct.pack(
                "<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, size, size, len(name), 0, 0, 0, 0, 0, 0
            )
            + name
        )
        handle.write(central)
        handle.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), offset, 0))
    return path


def random_head(size=1 << 20, *, nul=True):
    data = bytearray(random.Random(7).randbytes(size))
    if not nul:
        data = data.replace(b"\x00", b"\x01")
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: sparse(p, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "a PNG image"),
        (lambda p: sparse(p, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "a PDF document"),
        (lambda p: sparse(p, b"\xff\xd8\xff\xe0\x00\x10JFIF"), "a JPEG image"),
        (lambda p: sparse(p, b"\x1f\x8b\x08\x00"), "a gzip archive"),
        (lambda p: sparse(p, "<html><body><table><tr><td>标题</td></tr>".encode()), "an HTML page"),
        (sparse_zip, "a ZIP archive without a workbook"),
        (lambda p: sparse(p, random_head()), "binary"),
        (lambda p: sparse(p, random_head(nul=False), size=BIG), "not a text table"),
    ],
    ids=["png", "pdf", "jpeg", "gzip", "html", "zip", "random", "random-without-nul"],
)
def test_non_tables_are_refused_from_their_first_bytes(tmp_path, counted_reads, make, message):
    path = make(tmp_path / "upload.csv")
    assert path.stat().st_size >= BIG
    with pytest.raises(TableError, match=message) as info:
        read_table(path)
    assert str(info.value).startswith(str(path))
    assert 0 < counted_reads.read_bytes <= (1 << 20) + (1 << 17)  # at most the 1 MB sample, not 200 MB


def test_a_zip_holding_a_workbook_or_a_document_is_named(tmp_path):
    zipped = tmp_path / "exports.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("2019/export.xlsx", b"PK")
    with pytest.raises(TableError, match=r"a ZIP archive \(holding 2019/export\.xlsx\); unpack it first"):
        read_table(zipped)
    docx = tmp_path / "letter.docx"
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(TableError, match="a Word document"):
        read_table(docx)


def test_a_real_xlsx_is_read_through_the_same_handle(tmp_path, counted_reads):
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["标题", "内容"])
    workbook.active.append(["a", "b"])
    workbook.save(path)
    header, rows, _ = read_all(path)
    assert header == ["标题", "内容"] and rows == [(2, ["a", "b"])]
    assert counted_reads.read_bytes > 0  # openpyxl read the workbook through read_table's handle


# --- count_rows -------------------------------------------------------------------------------


def test_count_rows_of_csv_is_an_upper_bound_from_newlines(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b'id,title\n1,a\n2,"two\nlines"\n3,c')  # no newline at the end
    assert count_rows(path) == 4
    with read_table(path) as table:
        assert len(list(table.rows)) == 3 <= count_rows(path)
    utf16 = write_csv(tmp_path / "u16.txt", [HEADER, *ROWS], "utf-16", sep="\t")
    assert count_rows(utf16) == 2
    assert count_rows(utf16, encoding="utf-16") == 2
    assert count_rows(tmp_path / "missing.csv") is None
    assert count_rows(sparse(tmp_path / "p.png", b"\x89PNG\r\n\x1a\n", size=1000)) is None


def test_count_rows_of_xlsx_reads_the_declared_dimension(tmp_path):
    path = tmp_path / "rows.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["标题", "内容"])
    for n in range(41):
        workbook.active.append([f"t{n}", "c"])
    other = workbook.create_sheet("其他")
    other.append(["x"])
    other.append(["y"])
    workbook.save(path)
    assert count_rows(path) == 41
    assert count_rows(path, sheet="其他") == 1
    assert count_rows(path, sheet="nope") is None
