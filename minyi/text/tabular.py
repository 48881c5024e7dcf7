"""Reading CSV and XLSX exports of hotlines and message boards, streaming.

``read_table(path)`` opens a file and returns a ``Table``: its header and an iterator of
``(row_number, values)``. Row numbers count records as a spreadsheet shows them: the
header is row 1, the first data row is row 2. Nothing is loaded whole: a CSV file is
decoded as it is read, an XLSX file is read with openpyxl's read-only mode.

Encodings (CSV): a UTF-16 byte-order mark is honoured; otherwise the first megabyte
decides between strict UTF-8 (with or without BOM), GB18030 and Big5 (GB18030 decodes
almost any byte string, so Big5 wins when the GB18030 reading is mostly characters
outside GB2312 and Big5 reads the sample cleanly). An explicit ``encoding=`` skips the
guess. Bytes that the chosen encoding cannot decode later in the file raise
``TableError`` naming the file and the row.

Bad rows: with ``on_bad_row="report"`` a row that cannot be decoded, is not valid CSV or
that openpyxl cannot read is yielded as ``(row_number, BadRow(reason))`` and reading goes on
with the next row. A CSV line that fails strict decoding is decoded again with replacement
characters and handed to the CSV parser as usual, and the record it belongs to (the whole
record, when the line is part of a quoted multi-line field) becomes one ``BadRow``. That
keeps the parser in step with the file: in UTF-8, GB18030 and Big5 no byte of a multi-byte
character is a quote, delimiter or newline, and the decoders replace only the bytes they
cannot read, so the structure of the line is what the file says. After a CSV syntax error
(a lone carriage return inside an unquoted field, a field over the size limit) the parser
would restart in the middle of a quoted field; an odd number of quotes since the record
began means it was inside one, and the lines up to the one that closes it belong to the
bad record. In UTF-16 files, undecodable bytes still raise ``TableError`` (the text layer
decodes them, not line by line). An XLSX row whose cells openpyxl cannot read (a number
that is not one, a shared-string index out of range) is a ``BadRow``; XML or ZIP damage
stops the sheet with ``TableError`` in both modes.

Files that are not tables are refused from their first bytes (64 KiB): images, PDF,
archives, executables, HTML or XML saved as ".xls", ZIP files without a workbook (.docx,
.ods, zipped exports), and anything with more than a few NUL bytes that is not UTF-16. Nothing else of
such a file is read. ``count_rows(path)`` estimates the number of data rows for a
progress bar without parsing.

``detect_columns(header)`` finds the text, label and tokens columns by the names that
hotline and message-board exports use (留言主题/留言详情/诉求内容/标题/内容/title/detail/
content; 一级标签/一级分类/类别/label/category; tokens), unless told which.

Every problem is a ``TableError`` whose message names the file and, where it applies,
the row or column; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LABEL_COLUMNS",
    "TEXT_COLUMNS",
    "TOKENS_COLUMNS",
    "BadRow",
    "Columns",
    "Table",
    "TableError",
    "count_rows",
    "detect_columns",
    "detect_encoding",
    "read_table",
    "row_text",
]

# Names, in order of preference, compared after stripping spaces and ignoring case.
TEXT_COLUMNS: tuple[str, ...] = (
    # titles first, so that "title + detail" is the text
    "留言主题",
    "诉求标题",
    "标题",
    "主题",
    "title",
    "subject",
    "留言详情",
    "诉求内容",
    "来电内容",
    "问题描述",
    "内容",
    "详情",
    "正文",
    "detail",
    "details",
    "content",
    "body",
    "text",
    "description",
)
# the same names in traditional characters (exports from Big5 systems)
TEXT_COLUMNS += (
    "留言主題",
    "訴求標題",
    "標題",
    "主題",
    "留言詳情",
    "訴求內容",
    "來電內容",
    "問題描述",
    "內容",
    "詳情",
    "正文",
)
TITLE_COLUMNS = frozenset((*TEXT_COLUMNS[:6], "留言主題", "訴求標題", "標題", "主題"))
LABEL_COLUMNS: tuple[str, ...] = (
    "一级标签",
    "一级分类",
    "类别",
    "分类",
    "标签",
    "label",
    "category",
    "一級標籤",
    "一級分類",
    "類別",
    "分類",
    "標籤",
)
TOKENS_COLUMNS: tuple[str, ...] = ("tokens", "分词")

SAMPLE_BYTES = 1 << 20
HEAD_BYTES = 1 << 16
MAX_FIELD_CHARS = 1 << 26
BAD_ROW_MODES = ("raise", "report")


class TableError(ValueError):
    """A file that cannot be read as a table, or lacks the columns asked for."""


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read (``on_bad_row="report"``); ``reason`` says why, naming the line."""

    reason: str


def _norm_name(name: str) -> str:
    return "".join(str(name).split()).lstrip("\ufeff").casefold()


# --- encodings -------------------------------------------------------------------------


def _gb2312_share(text: str) -> float:
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not han:
        return 1.0
    inside = 0
    for c in han:
        try:
            c.encode("gb2312")
        except UnicodeEncodeError:
            continue
        inside += 1
    return inside / len(han)


def _decodes(sample: bytes, encoding: str) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return None


def _mostly_utf8(sample: bytes) -> bool:
    text = codecs.getincrementaldecoder("utf-8-sig")("replace").decode(sample, final=False)
    bad = text.count("\ufffd")
    wide = sum(1 for c in text if ord(c) > 0x7F) - bad
    return wide >= 20 and bad <= 0.02 * wide


def detect_encoding(sample: bytes) -> str | None:
    """The encoding of a CSV file from its first bytes: utf-16, utf-8-sig, gb18030, big5; ``None`` if none fits."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(sample, "utf-8-sig") is not None:
        return "utf-8-sig"
    if _mostly_utf8(sample):
        # a UTF-8 file with a few bad bytes: read it as UTF-8 so that the bad row is reported,
        # instead of turning the whole file into GB18030 mojibake
        return "utf-8-sig"
    gb = _decodes(sample, "gb18030")
    big5 = _decodes(sample, "big5")
    if gb is not None and (big5 is None or _gb2312_share(gb) >= 0.9):
        return "gb18030"
    if big5 is not None:
        return "big5"
    return gb and "gb18030"


def _looks_binary(sample: bytes, encoding: str) -> bool:
    """NUL bytes in a narrow encoding: a binary file, unless they are a few strays in text (an export with a NUL
    in a cell, which the reader keeps and the importer drops)."""
    if _is_wide(encoding):
        return False
    return sample.count(b"\x00") > max(4, len(sample) // 1000)


def _is_wide(encoding: str) -> bool:
    """UTF-16 and UTF-32: a newline byte can be half of a character."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    return name.startswith(("utf-16", "utf-32"))


# (magic bytes, what the file is) for files that are certainly not tables
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"BZh91AY&SY", "a bzip2 archive"),
    (b"\x7fELF", "an executable"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


def _not_a_table(head: bytes) -> str | None:
    """What the file is, from its first bytes, when it is certainly not a CSV or XLSX table."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"{what}, not a table (CSV or XLSX)"
    start = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        return (
            "an HTML page, not a spreadsheet (some systems save HTML tables as .xls); "
            "open it in Excel and save it as .xlsx or CSV"
        )
    if start.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
            return "an Excel 2003 XML spreadsheet; save it as .xlsx or CSV"
        return "an XML file, not a table (CSV or XLSX)"
    return None


# --- tables -----------------------------------------------------------------------------


@dataclass
class Table:
    """An open table: ``header`` and ``rows`` (an iterator of ``(row_number, values)``).

    ``values`` has exactly ``len(header)`` strings (missing cells are ``""``), or is a
    ``BadRow`` when the table was opened with ``on_bad_row="report"``. Use it as a context
    manager, or call ``close()``, to release the file.
    """

    path: str
    header: list[str]
    rows: Iterator[tuple[int, list[str] | BadRow]]
    format: str
    encoding: str | None = None
    _closer: Any = field(default=None, repr=False)

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[int, list[str] | BadRow]]:
        return self.rows


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    on_bad_row: str = "raise",
) -> Table:
    """Open a CSV or XLSX file (decided by its content, not only its name); ``TableError`` if it cannot be read.

    ``on_bad_row="raise"`` (the default): a row that cannot be read raises ``TableError``
    while iterating. ``"report"``: it is yielded as ``(row_number, BadRow(reason))`` and
    reading goes on (see the module docstring for what can and cannot be recovered).
    """
    if on_bad_row not in BAD_ROW_MODES:
        raise ValueError(f"on_bad_row must be one of {BAD_ROW_MODES}, not {on_bad_row!r}")
    report = on_bad_row == "report"
    name = os.fspath(path)
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed by Table.close
    except OSError as exc:
        raise TableError(f"{name}: cannot open the file ({exc.strerror or exc})") from exc
    try:
        head = handle.read(HEAD_BYTES)
        handle.seek(0)
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return _read_xlsx(name, handle, sheet=sheet, report=report)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise TableError(
                f"{name}: an old Excel .xls file (or a password-protected workbook); "
                "save it as .xlsx or CSV (without a password)"
            )
        what = _not_a_table(head)
        if what is not None:
            raise TableError(f"{name}: {what}")
        return _read_csv(name, handle, head, encoding=encoding, report=report)
    except BaseException:
        handle.close()
        raise


def _read_csv(name: str, handle: Any, head: bytes, *, encoding: str | None, report: bool) -> Table:
    if not head.strip():
        raise TableError(f"{name}: the file is empty (no header row)")
    utf16_bom = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if _looks_binary(head, "utf-8") and not utf16_bom and not (encoding and _is_wide(encoding)):
        # NUL bytes do not occur in UTF-8, GB18030 or Big5 text (a few strays aside): refuse from the first bytes
        raise TableError(f"{name}: not a text table (it holds NUL bytes; is it a binary file?)")
    sample = head + handle.read(SAMPLE_BYTES - len(head)) if len(head) == HEAD_BYTES else head
    handle.seek(0)
    if encoding is None:
        encoding = detect_encoding(sample)
        if encoding is None or _looks_binary(sample, encoding):
            raise TableError(
                f"{name}: not a text table (cannot be decoded as UTF-8, GB18030 or Big5; is it a binary file?)"
            )
    else:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise TableError(f"{name}: unknown encoding {encoding!r}") from exc
        if _decodes(sample, encoding) is None:
            raise TableError(f"{name}: cannot be decoded as {encoding}")
    first_line = (codecs.getincrementaldecoder(encoding)("replace").decode(sample[:65536]) or "").split(
        "\n", 1
    )[0]
    delimiter = _delimiter(first_line)
    with contextlib.suppress(OverflowError):
        if csv.field_size_limit() < MAX_FIELD_CHARS:
            csv.field_size_limit(MAX_FIELD_CHARS)
    position: dict[str, Any] = {"line": 0, "bad": None, "odd": 0, "header": True}
    shown = "utf-8" if encoding == "utf-8-sig" else encoding  # the name in messages
    if _is_wide(encoding):
        # a newline byte can be half of a UTF-16 character: let the text layer split lines
        text: Any = io.TextIOWrapper(handle, encoding=encoding, errors="strict", newline="")
        lines: Any = _counting(text, position) if report else text
        close = text.close
    else:
        # newline bytes never occur inside a UTF-8, GB18030 or Big5 character, so lines can be
        # decoded one by one and an undecodable byte is pinned to its line
        rest = "utf-8" if encoding == "utf-8-sig" else encoding

        def decoded() -> Iterator[str]:
            for number, raw in enumerate(handle, start=1):
                position["line"] = number
                yield raw.decode(encoding if number == 1 else rest)

        def decoded_reporting() -> Iterator[str]:
            # strict decoding; a line that fails is decoded with replacement characters (which
            # keeps its quotes, delimiters and newline) and its record is marked bad
            for number, raw in enumerate(handle, start=1):
                position["line"] = number
                try:
                    line = raw.decode(encoding if number == 1 else rest)
                except UnicodeDecodeError as exc:
                    if position["header"]:
                        raise
                    if position["bad"] is None:
                        position["bad"] = f"line {number}: cannot be decoded as {shown} ({exc.reason})"
                    line = raw.decode(encoding if number == 1 else rest, "replace")
                if '"' in line:
                    position["odd"] ^= line.count('"') & 1
                yield line

        lines = decoded_reporting() if report else decoded()
        close = handle.close
    reader = csv.reader(lines, delimiter=delimiter)
    state = {"row": 1}
    try:
        header = next(reader)
    except StopIteration:
        close()
        raise TableError(f"{name}: the file is empty (no header row)") from None
    except UnicodeDecodeError as exc:
        close()
        raise TableError(f"{name}: row 1: cannot be decoded as {shown} ({exc.reason})") from exc
    except csv.Error as exc:
        close()
        raise TableError(f"{name}: row 1: not valid CSV ({exc})") from exc
    position["header"] = False
    header = [h.strip().lstrip("\ufeff") for h in header]
    width = len(header)

    def fitted(values: list[str]) -> list[str] | None:
        if not values or (len(values) == 1 and not values[0].strip() and width > 1):
            return None  # blank line
        if len(values) < width:
            return values + [""] * (width - len(values))
        if len(values) > width:
            return values[:width]
        return values

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for values in reader:
                state["row"] += 1
                row = fitted(values)
                if row is not None:
                    yield state["row"], row
        except UnicodeDecodeError as exc:
            raise TableError(
                f"{name}: row {state['row'] + 1} (line {position['line'] or reader.line_num + 1}): "
                f"cannot be decoded as {shown} ({exc.reason})"
            ) from exc
        except csv.Error as exc:
            raise TableError(f"{name}: row {state['row'] + 1}: not valid CSV ({exc})") from exc

    def rows_reporting() -> Iterator[tuple[int, list[str] | BadRow]]:
        while True:
            position["bad"] = None
            position["odd"] = 0
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:  # UTF-16: the text layer cannot go on
                raise TableError(
                    f"{name}: row {state['row'] + 1}: cannot be decoded as {encoding} ({exc.reason})"
                ) from exc
            except csv.Error as exc:
                state["row"] += 1
                reason = f"line {position['line'] or reader.line_num}: not valid CSV ({exc})"
                if position["odd"]:
                    # the parser stopped inside a quoted field: the record goes on to the line
                    # that closes the field (the line generators keep the parity)
                    for _ in lines:
                        if not position["odd"]:
                            break
                yield state["row"], BadRow(reason)
                continue
            state["row"] += 1
            if position["bad"] is not None:
                yield state["row"], BadRow(position["bad"])
                continue
            row = fitted(values)
            if row is not None:
                yield state["row"], row

    return Table(
        path=name,
        header=header,
        rows=rows_reporting() if report else rows(),
        format="csv",
        encoding=encoding,
        _closer=close,
    )


def _counting(lines: Any, position: dict[str, Any]) -> Iterator[str]:
    """Lines of a text stream, with the parity of their quotes kept in ``position``."""
    for number, line in enumerate(lines, start=1):
        position["line"] = number
        position["odd"] ^= line.count('"') & 1
        yield line


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _read_xlsx(name: str, handle: Any, *, sheet: str | None, report: bool) -> Table:
    _check_workbook_archive(name, handle)
    import openpyxl

    try:
        # the open handle, not the name: openpyxl would refuse a workbook by its extension
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on broken files
        raise TableError(f"{name}: not a readable .xlsx workbook ({exc})") from exc

    def close() -> None:
        try:
            workbook.close()
        finally:
            handle.close()

    try:
        if sheet is None:
            worksheet = workbook.worksheets[0] if workbook.worksheets else None
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            raise TableError(f"{name}: no sheet named {sheet!r} (sheets: {', '.join(workbook.sheetnames)})")
        if worksheet is None:
            raise TableError(f"{name}: the workbook has no sheet")
        cells = _sheet_rows(worksheet)
        header: list[str] | None = None
        for number, values in cells:
            if number == 1 and not isinstance(values, _Broken):
                header = [_cell(v).strip() for v in values]
            elif isinstance(values, _Broken):
                raise TableError(f"{name}: row {number} (the header) cannot be read ({values.reason})")
            break
        if header is None or not any(header):
            raise TableError(f"{name}: the first sheet is empty (no header row)")
        while header and not header[-1]:
            header.pop()
        width = len(header)
    except TableError:
        close()
        raise
    except Exception as exc:  # openpyxl raises many kinds on broken files
        close()
        raise TableError(f"{name}: not a readable .xlsx workbook ({exc})") from exc

    def rows() -> Iterator[tuple[int, list[str] | BadRow]]:
        number = 1
        try:
            for number, values in cells:
                if isinstance(values, _Broken):
                    if not report:
                        raise TableError(f"{name}: row {number}: cannot be read ({values.reason})")
                    yield number, BadRow(f"row {number}: cannot be read ({values.reason})")
                    continue
                row = [_cell(v) for v in values[:width]]
                if not any(v.strip() for v in row):
                    continue
                if len(row) < width:
                    row += [""] * (width - len(row))
                yield number, row
        except TableError:
            raise
        except Exception as exc:
            raise TableError(f"{name}: row {number + 1}: cannot be read ({exc})") from exc

    return Table(path=name, header=header, rows=rows(), format="xlsx", encoding=None, _closer=close)


def _check_workbook_archive(name: str, handle: Any) -> None:
    """Refuse a ZIP file that holds no workbook, from its central directory only."""
    try:
        with zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise TableError(f"{name}: not a readable .xlsx workbook ({exc})") from exc
    finally:
        handle.seek(0)
    present = set(names)
    if "xl/workbook.bin" in present:
        raise TableError(f"{name}: a binary .xlsb workbook; save it as .xlsx or CSV")
    if "[Content_Types].xml" in present and any(n.startswith("xl/") for n in names):
        return
    if "word/document.xml" in present:
        what = "a Word document (.docx), not a table"
    elif any(n.startswith("ppt/") for n in names):
        what = "a PowerPoint file (.pptx), not a table"
    elif "content.xml" in present and "mimetype" in present:
        what = "an OpenDocument file (.ods/.odt); save it as .xlsx or CSV"
    else:
        inside = [n for n in names if n.lower().endswith((".xlsx", ".csv", ".xls"))]
        what = "a ZIP archive without a workbook in it (not an .xlsx file)"
        if inside:
            what = f"a ZIP archive (holding {', '.join(inside[:3])}); unpack it first"
    raise TableError(f"{name}: {what}")


@dataclass(frozen=True)
class _Broken:
    """A sheet row that openpyxl could not read."""

    reason: str


def _sheet_rows(worksheet: Any) -> Iterator[tuple[int, Any]]:
    """``(row_number, values)`` of a read-only worksheet, by the row numbers in the file.

    openpyxl's sheet parser is used with each row parsed on its own, so a row it cannot read
    becomes ``_Broken`` instead of ending the sheet. Rows past the sheet's declared
    dimension are read too (some writers declare ``A1``). Another openpyxl without these
    internals falls back to ``iter_rows``, where a broken row ends the sheet.
    """
    try:
        from openpyxl.worksheet._reader import WorkSheetParser

        parent = worksheet.parent
        options = {
            "data_only": True,
            "epoch": parent.epoch,
            "date_formats": parent._date_formats,
            "timedelta_formats": parent._timedelta_formats,
        }
        shared = worksheet._shared_strings
        source = worksheet._get_source()
    except (ImportError, AttributeError):
        yield from enumerate(worksheet.iter_rows(values_only=True), start=1)
        return

    class Parser(WorkSheetParser):  # type: ignore[misc, valid-type]
        def parse_row(self, row: Any) -> tuple[int, Any]:
            before = self.row_counter
            try:
                return super().parse_row(row)
            except Exception as exc:  # noqa: BLE001 - any damage inside one row becomes a bad row
                if self.row_counter == before:
                    self.row_counter += 1
                return self.row_counter, _Broken(f"{type(exc).__name__}: {exc}")

    with source:
        for number, cells in Parser(source, shared, **options).parse():
            if isinstance(cells, _Broken):
                yield number, cells
                continue
            values: list[Any] = []
            for cell in cells:
                column = cell["column"]
                if column > len(values):
                    values.extend([None] * (column - len(values)))
                values[column - 1] = cell["value"]
            yield number, values


# --- row counts (progress bars) -----------------------------------------------------------------


def count_rows(
    path: str | os.PathLike[str], *, encoding: str | None = None, sheet: str | None = None
) -> int | None:
    """An estimate of the number of data rows, for progress bars; ``None`` when unknown.

    CSV: the number of newlines (a scan of the bytes, about 1 s per GB), less the header.
    Quoted newlines and blank lines are counted too, so it is an upper bound on the rows
    ``read_table`` yields. XLSX: the sheet's declared dimension (last row, less the
    header), read from the sheet's first bytes; ``None`` when the sheet declares none or
    only ``A1``. Anything unreadable is ``None``.
    """
    name = os.fspath(path)
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with handle:
        try:
            head = handle.read(8)
            handle.seek(0)
            if head.startswith(b"PK\x03\x04"):
                return _declared_rows(handle, sheet)
            if head.startswith(b"\xd0\xcf\x11\xe0") or _not_a_table(head):
                return None
            newline = b"\n"
            if head.startswith(codecs.BOM_UTF16_BE) or (
                encoding and _is_wide(encoding) and "be" in encoding.lower()
            ):
                newline = b"\x00\n"
            elif head.startswith(codecs.BOM_UTF16_LE) or (encoding and _is_wide(encoding)):
                newline = b"\n\x00"
            lines = 0
            last = b""
            while chunk := handle.read(SAMPLE_BYTES):  # even-sized chunks: UTF-16 units are never split
                lines += chunk.count(newline)
                last = chunk
        except (OSError, ValueError):
            return None
    if last and not last.endswith(newline):
        lines += 1  # a last line without a newline
    return max(lines - 1, 0)


_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+[0-9]+)(?::([A-Z]+)([0-9]+))?\"")
_SHEET_DATA = re.compile(rb"<(?:\w+:)?sheetData[\s>/]")


def _declared_rows(handle: Any, sheet: str | None) -> int | None:
    try:
        with zipfile.ZipFile(handle) as archive:
            target = _sheet_path(archive, sheet)
            if target is None:
                return None
            with archive.open(target) as part:
                start = part.read(HEAD_BYTES)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError):
        return None
    data = _SHEET_DATA.search(start)
    match = _DIMENSION.search(start, 0, data.start() if data else len(start))
    if match is None or match.group(3) is None:
        return None  # no dimension, or only "A1"
    return max(int(match.group(3)) - 1, 0)


def _sheet_path(archive: zipfile.ZipFile, sheet: str | None) -> str | None:
    """The path inside the archive of the first sheet (or the one named), from workbook.xml and its rels."""
    from openpyxl.xml.functions import fromstring

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    workbook = fromstring(archive.read("xl/workbook.xml"))
    chosen = None
    for element in workbook.iter(f"{main}sheet"):
        if sheet is None or element.get("name") == sheet:
            chosen = element.get(f"{rel_ns}id")
            break
    if chosen is None:
        return None
    rels = fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for element in rels:
        if element.get("Id") == chosen:
            target = element.get("Target") or ""
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


# --- columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Indices into the header: ``text`` (title first), ``label`` and ``tokens`` (``None`` when absent)."""

    text: tuple[int, ...]
    label: int | None
    tokens: int | None
    names: tuple[str, ...] = ()

    def describe(self) -> str:
        def show(i: int | None) -> str:
            return "-" if i is None else repr(self.names[i])

        text = ", ".join(repr(self.names[i]) for i in self.text) or "-"
        return f"text: {text}; label: {show(self.label)}; tokens: {show(self.tokens)}"


def _find(header: Sequence[str], wanted: str, *, path: str, what: str) -> int:
    normalised = [_norm_name(h) for h in header]
    key = _norm_name(wanted)
    if key in normalised:
        return normalised.index(key)
    raise TableError(f"{path}: no {what} column {wanted!r} (columns found: {_listing(header)})")


def _listing(header: Sequence[str]) -> str:
    return ", ".join(repr(h) for h in header) if header else "none"


def detect_columns(
    header: Sequence[str],
    *,
    path: str = "<table>",
    text_cols: Sequence[str] | None = None,
    label_col: str | None = None,
    tokens_col: str | None = None,
    need_text: bool = True,
    need_label: bool = False,
) -> Columns:
    """Find the text, label and tokens columns of ``header``.

    Explicit names must exist (``TableError`` otherwise), except ``tokens_col``, which
    applies to the files that have it. Without explicit text columns, the known title
    and body names are used (title first). ``need_text`` is satisfied by a tokens column.
    """
    normalised = [_norm_name(h) for h in header]
    if tokens_col is not None:
        key = _norm_name(tokens_col)
        tokens = normalised.index(key) if key in normalised else None
    else:
        tokens = next((normalised.index(n) for n in map(_norm_name, TOKENS_COLUMNS) if n in normalised), None)
    if text_cols:
        text = tuple(_find(header, c, path=path, what="text") for c in text_cols)
    else:
        found = []
        title_seen = body_seen = False
        for candidate in TEXT_COLUMNS:
            key = _norm_name(candidate)
            if key not in normalised:
                continue
            is_title = candidate in TITLE_COLUMNS
            if (is_title and title_seen) or (not is_title and body_seen):
                continue
            found.append(normalised.index(key))
            title_seen = title_seen or is_title
            body_seen = body_seen or not is_title
        text = tuple(found)
    if label_col is not None:
        label: int | None = _find(header, label_col, path=path, what="label")
    else:
        label = next((normalised.index(n) for n in map(_norm_name, LABEL_COLUMNS) if n in normalised), None)
    if need_text and not text and tokens is None:
        raise TableError(
            f"{path}: no text column found (columns found: {_listing(header)}); "
            "name them with --text-cols (or --tokens-col for pre-segmented text)"
        )
    if need_label and label is None:
        raise TableError(
            f"{path}: no label column found (columns found: {_listing(header)}); name it with --label-col"
        )
    return Columns(text=text, label=label, tokens=tokens, names=tuple(header))


def row_text(values: Sequence[str], columns: Columns) -> str:
    """The text of a row: its non-empty text cells joined by a newline (title, then body)."""
    parts = [values[i].strip() for i in columns.text if values[i] and not values[i].isspace()]
    return "\n".join(parts)


def output_path_kind(path: str | os.PathLike[str]) -> str:
    """``"xlsx"`` or ``"csv"`` by the file name's extension."""
    return "xlsx" if Path(path).suffix.lower() in (".xlsx", ".xlsm") else "csv"
