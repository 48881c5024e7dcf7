"""The streaming XLSX and CSV writers: what openpyxl and the csv module read back, streaming, memory."""

from __future__ import annotations

import csv
import io
import random
import tracemalloc
import zipfile
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minyi.core import xlsx_stream
from minyi.core.xlsx_stream import CSV_FLUSH_ROWS, clean_text, stream_csv, stream_xlsx
from minyi.text.commands import _xlsx_safe
from minyi.text.tests import PROPERTY

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = ["text", "number", "when", "flag"]


def xlsx_bytes(header, rows, **kwargs) -> bytes:
    return b"".join(stream_xlsx(header, rows, **kwargs))


def read_xlsx(data: bytes, *, read_only: bool = False) -> list[tuple]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=read_only)
    return [tuple(row) for row in workbook.active.iter_rows(values_only=True)]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


class Recorder:
    """An iterator over `rows` that counts how many were pulled."""

    def __init__(self, rows):
        self.rows = iter(rows)
        self.pulled = 0

    def __iter__(self):
        return self

    def __next__(self):
        row = next(self.rows)
        self.pulled += 1
        return row


def noisy_rows(count: int, seed: int = 7):
    """Rows that do not compress to nothing (so the archive has to grow as they come)."""
    rng = random.Random(seed)
    for i in range(count):
        yield [f"MY{i:010d}", rng.randbytes(24).hex(), rng.random(), i % 2 == 0]


# ---------------------------------------------------------------------------------------------- XLSX values

HOSTILE = [
    "中文：小区电梯停运，老人上下楼困难",
    "<script>alert('x')</script> & &amp; ]]> <![CDATA[",
    "quote \" and apostrophe ' and backslash \\",
    "tab\tnewline\ncarriage\rreturn",
    "\u202eevil.exe\u202c zero\u200bwidth\u200d\ufeff",
    "emoji 🙂 and 𠀀 (outside the BMP)",
    "   leading and trailing spaces   ",
]


def test_openpyxl_reads_back_strings_exactly():
    rows = [[text] for text in HOSTILE]
    for read_only in (False, True):
        got = read_xlsx(xlsx_bytes(["text"], rows), read_only=read_only)
        assert got == [("text",), *[(text,) for text in HOSTILE]]


def test_control_characters_xml_forbids_are_dropped_and_the_rest_kept():
    got = read_xlsx(xlsx_bytes(["text"], [["a\x00b\x07c\x1bd\x0be\x0cf\tg\nh"], ["\ud800x\ufffey\uffff"]]))
    assert got[1:] == [("abcdef\tg\nh",), ("xy",)]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ('=HYPERLINK("http://evil.example","点我")', '\'=HYPERLINK("http://evil.example","点我")'),
        ("\x00=1+1", "'=1+1"),  # a dropped control character does not uncover a formula
        ("\ud800=1+1", "'=1+1"),
        ("=", "="),  # _xlsx_safe leaves a lone sign alone
        ("a=1", "a=1"),
    ],
)
def test_formulas_are_guarded_as_minyi_text_guards_them(value, written):
    assert read_xlsx(xlsx_bytes(["v"], [[value]]))[1] == (written,)
    assert read_csv(b"".join(stream_csv(["v"], [[value]])))[1] == [written]


def test_numbers_booleans_none_and_dates_keep_their_types():
    aware = datetime(2026, 12, 1, 15, 30, 5, tzinfo=SHANGHAI)
    naive = datetime(2026, 12, 1, 7, 30, 5, 250000)
    rows = [
        [1, -2, 3.25, Decimal("4.5"), 10**16, None, "", True, False, aware, naive, date(2026, 2, 28)],
    ]
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_bytes([f"c{i}" for i in range(12)], rows)))
    sheet = workbook.active
    values = [cell.value for cell in sheet[2]]
    assert values == [
        1,
        -2,
        3.25,
        4.5,
        "10000000000000000",  # beyond Excel's 15 digits: text, so no digit is lost
        None,
        None,
        True,
        False,
        datetime(2026, 12, 1, 15, 30, 5),  # an aware datetime keeps its own wall-clock time
        datetime(2026, 12, 1, 7, 30, 5, 250000),
        datetime(2026, 2, 28, 0, 0),
    ]
    assert [type(v) for v in values[:5]] == [int, int, float, float, str]
    assert [type(v) for v in values[7:9]] == [bool, bool]
    assert sheet["J2"].is_date and sheet["J2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet["L2"].is_date and sheet["L2"].number_format == "yyyy-mm-dd"


def test_dates_excel_cannot_show_and_non_finite_numbers_become_text():
    rows = [[datetime(1899, 1, 1, 12, 0), date(1900, 1, 1), float("nan"), float("inf"), Decimal("sNaN")]]
    assert read_xlsx(xlsx_bytes(["a", "b", "c", "d", "e"], rows))[1] == (
        "1899-01-01 12:00:00",
        "1900-01-01",
        "nan",
        "inf",
        "sNaN",
    )


def test_other_values_are_written_as_text():
    class Code(str):
        pass

    assert read_xlsx(xlsx_bytes(["a", "b"], [[Code("complaint"), ZoneInfo("UTC")]]))[1] == (
        "complaint",
        "UTC",
    )


def test_the_header_is_bold_and_frozen_and_the_package_is_complete():
    data = xlsx_bytes(HEADER, [["x", 1, datetime(2026, 1, 1), True]], sheet_name="诉求")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.active
    assert sheet.title == "诉求"
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    assert not sheet["A2"].font.b
    assert sheet.column_dimensions["C"].width >= 19  # a datetime shows in full, not as ####
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
        flags = {info.filename: info.flag_bits for info in archive.infolist()}
    assert names == [
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/worksheets/sheet1.xml",
    ]
    assert 't="inlineStr"' in sheet_xml
    assert "sharedStrings" not in names
    # Written onto a sink that cannot seek: sizes follow each member in a data descriptor.
    assert all(flag & 0x08 for flag in flags.values())


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("a/b[c]:d*e?f\\g", "a_b_c__d_e_f_g"),
        ("'quoted'", "quoted"),
        ("a\ufffeb\x01c", "abc"),
        ("", "Sheet1"),
        ("长" * 40, "长" * 31),
    ],
)
def test_sheet_names_are_made_acceptable_to_excel(name, title):
    assert openpyxl.load_workbook(io.BytesIO(xlsx_bytes(["a"], [], sheet_name=name))).active.title == title


def test_an_empty_export_is_a_valid_workbook_with_the_header_only():
    assert read_xlsx(xlsx_bytes(HEADER, [])) == [tuple(HEADER)]
    assert read_csv(b"".join(stream_csv(HEADER, []))) == [HEADER]


def test_rows_longer_than_the_header_are_kept():
    assert read_xlsx(xlsx_bytes(["a"], [["x", "y", 3]])) == [("a", None, None), ("x", "y", 3)]


def test_text_longer_than_an_excel_cell_is_cut_at_excels_limit():
    got = read_xlsx(xlsx_bytes(["a", "b"], [["字" * 40_000, "🙂" * 20_000]]))[1]
    assert got[0] == "字" * 32_767
    assert got[1] == "🙂" * (32_767 // 2)  # two UTF-16 units each
    assert read_csv(b"".join(stream_csv(["a"], [["字" * 40_000]])))[1] == ["字" * 40_000]


def test_more_rows_than_a_sheet_holds_is_an_error_not_a_short_file(monkeypatch):
    monkeypatch.setattr(xlsx_stream, "EXCEL_MAX_ROWS", 4)
    chunks = []
    with pytest.raises(ValueError, match="rows"):
        chunks.extend(stream_xlsx(["a"], [[i] for i in range(10)]))
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert read_xlsx(xlsx_bytes(["a"], [[i] for i in range(3)]))[-1] == (2,)


def test_a_failure_in_the_rows_never_yields_a_complete_looking_file():
    def failing():
        yield from noisy_rows(5_000)
        raise RuntimeError("database went away")

    chunks = []
    with pytest.raises(RuntimeError):
        chunks.extend(stream_xlsx(HEADER, failing()))
    assert len(chunks) > 1  # data had been sent
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(b"".join(chunks)))


@PROPERTY
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\ufffe\uffff")))
def test_clean_text_is_exactly_the_xlsx_guard_of_minyi_text(value):
    assert clean_text(value) == _xlsx_safe(value)


@PROPERTY
@given(st.text())
def test_clean_text_leaves_nothing_xml_forbids_and_no_formula(value):
    cleaned = clean_text(value)
    cleaned.encode("utf-8")  # no lone surrogate
    assert not any(c in cleaned for c in "\x00\x08\x0b\x0c\x1f\ufffe\uffff")
    assert len(cleaned) <= 1 or cleaned[0] not in "=+-@"


@PROPERTY
@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_any_text_round_trips_through_xlsx_as_the_cleaned_text(values):
    got = read_xlsx(xlsx_bytes(["a"] * (len(values) + 1), [[*values, "end"]]))[1]
    assert got == (*(clean_text(v) or None for v in values), "end")


# ---------------------------------------------------------------------------------------------- streaming


def test_xlsx_yields_chunks_while_the_rows_are_still_coming():
    rows = Recorder(noisy_rows(20_000))
    pulled_at_each_chunk = []
    data = bytearray()
    for chunk in stream_xlsx(HEADER, rows):
        pulled_at_each_chunk.append(rows.pulled)
        data += chunk
    assert rows.pulled == 20_000
    before_the_end = [n for n in pulled_at_each_chunk if 0 < n < 20_000]
    assert len(before_the_end) >= 5  # sheet data went out in several chunks before the last row was read
    assert pulled_at_each_chunk[0] == 0  # the package's first parts go out before any row is read
    assert read_xlsx(bytes(data), read_only=True)[-1][0] == "MY0000019999"


def test_csv_yields_a_chunk_every_few_hundred_rows():
    rows = Recorder(noisy_rows(2_000))
    pulled_at_each_chunk = [rows.pulled for _chunk in stream_csv(HEADER, rows)]
    assert pulled_at_each_chunk == [0, *range(CSV_FLUSH_ROWS, 2_001, CSV_FLUSH_ROWS)]


def _peak_while(consume) -> int:
    tracemalloc.start()
    try:
        consume()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("writer", [stream_xlsx, stream_csv], ids=["xlsx", "csv"])
def test_memory_stays_flat_for_100000_rows(writer):
    count = 100_000
    sizes = []
    peak_streaming = _peak_while(lambda: sizes.extend(len(c) for c in writer(HEADER, noisy_rows(count))))

    def hold() -> None:
        held = list(noisy_rows(count))
        assert len(held) == count

    peak_holding = _peak_while(hold)
    assert peak_streaming * 10 < peak_holding
    assert peak_streaming * 10 < sum(sizes)  # the output is not buffered whole either


# ---------------------------------------------------------------------------------------------- CSV values


def test_csv_round_trips_through_the_csv_module():
    aware = datetime(2026, 12, 1, 15, 30, 5, tzinfo=SHANGHAI)
    rows = [[text, 1, aware, True] for text in HOSTILE] + [[None, 2.5, date(2026, 1, 2), False]]
    got = read_csv(b"".join(stream_csv(HEADER, rows)))
    assert got[0] == HEADER
    assert got[1:] == [[text, "1", "2026-12-01 15:30:05", "true"] for text in HOSTILE] + [
        ["", "2.5", "2026-01-02", "false"]
    ]


def test_csv_drops_what_xml_forbids_too():
    got = read_csv(b"".join(stream_csv(["a"], [["a\x00b\x1bc\ud800d"]])))
    assert got[1] == ["abcd"]
