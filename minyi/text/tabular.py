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
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LABEL_COLUMNS",
    "TEXT_COLUMNS",
    "TOKENS_COLUMNS",
    "Columns",
    "Table",
    "TableError",
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
MAX_FIELD_CHARS = 1 << 26


class TableError(ValueError):
    """A file that cannot be read as a table, or lacks the columns asked for."""


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
    if encoding == "utf-16":
        return False
    return b"\x00" in sample


# --- tables -----------------------------------------------------------------------------


@dataclass
class Table:
    """An open table: ``header`` and ``rows`` (an iterator of ``(row_number, values)``).

    ``values`` has exactly ``len(header)`` strings (missing cells are ``""``). Use it as a
    context manager, or call ``close()``, to release the file.
    """

    path: str
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
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

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        return self.rows


def read_table(
    path: str | os.PathLike[str], *, encoding: str | None = None, sheet: str | None = None
) -> Table:
    """Open a CSV or XLSX file (decided by its content, not only its name); ``TableError`` if it cannot be read."""
    name = os.fspath(path)
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed by Table.close
    except OSError as exc:
        raise TableError(f"{name}: cannot open the file ({exc.strerror or exc})") from exc
    try:
        head = handle.read(8)
        handle.seek(0)
        if head.startswith(b"PK\x03\x04"):
            handle.close()
            return _read_xlsx(name, sheet=sheet)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise TableError(f"{name}: an old Excel .xls file; save it as .xlsx or CSV")
        return _read_csv(name, handle, encoding=encoding)
    except BaseException:
        handle.close()
        raise


def _read_csv(name: str, handle: Any, *, encoding: str | None) -> Table:
    sample = handle.read(SAMPLE_BYTES)
    handle.seek(0)
    if not sample.strip():
        raise TableError(f"{name}: the file is empty (no header row)")
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
    position = {"line": 0}
    if encoding == "utf-16":
        # a newline byte can be half of a UTF-16 character: let the text layer split lines
        text: Any = io.TextIOWrapper(handle, encoding=encoding, errors="strict", newline="")
        lines: Any = text
        close = text.close
    else:
        # newline bytes never occur inside a UTF-8, GB18030 or Big5 character, so lines can be
        # decoded one by one and an undecodable byte is pinned to its line
        rest = "utf-8" if encoding == "utf-8-sig" else encoding

        def decoded() -> Iterator[str]:
            for number, raw in enumerate(handle, start=1):
                position["line"] = number
                yield raw.decode(encoding if number == 1 else rest)

        lines = decoded()
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
        raise TableError(f"{name}: row 1: cannot be decoded as {encoding} ({exc.reason})") from exc
    except csv.Error as exc:
        close()
        raise TableError(f"{name}: row 1: not valid CSV ({exc})") from exc
    header = [h.strip().lstrip("\ufeff") for h in header]
    width = len(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for values in reader:
                state["row"] += 1
                if not values or (len(values) == 1 and not values[0].strip() and width > 1):
                    continue  # blank line
                if len(values) < width:
                    values = values + [""] * (width - len(values))
                elif len(values) > width:
                    values = values[:width]
                yield state["row"], values
        except UnicodeDecodeError as exc:
            raise TableError(
                f"{name}: row {state['row'] + 1} (line {position['line'] or reader.line_num + 1}): "
                f"cannot be decoded as {encoding} ({exc.reason})"
            ) from exc
        except csv.Error as exc:
            raise TableError(f"{name}: row {state['row'] + 1}: not valid CSV ({exc})") from exc

    return Table(path=name, header=header, rows=rows(), format="csv", encoding=encoding, _closer=close)


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


def _read_xlsx(name: str, *, sheet: str | None) -> Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(name, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise TableError(f"{name}: not a readable .xlsx workbook ({exc})") from exc
    try:
        if sheet is None:
            worksheet = workbook.worksheets[0] if workbook.worksheets else None
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            raise TableError(f"{name}: no sheet named {sheet!r} (sheets: {', '.join(workbook.sheetnames)})")
        if worksheet is None:
            raise TableError(f"{name}: the workbook has no sheet")
        cells = worksheet.iter_rows(values_only=True)
        header: list[str] | None = None
        for values in cells:
            header = [_cell(v).strip() for v in values]
            break
        if header is None or not any(header):
            raise TableError(f"{name}: the first sheet is empty (no header row)")
        while header and not header[-1]:
            header.pop()
        width = len(header)
    except TableError:
        workbook.close()
        raise
    except Exception as exc:  # openpyxl raises many kinds on broken files
        workbook.close()
        raise TableError(f"{name}: not a readable .xlsx workbook ({exc})") from exc

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for values in cells:
                number += 1
                row = [_cell(v) for v in values[:width]]
                if not any(v.strip() for v in row):
                    continue
                if len(row) < width:
                    row += [""] * (width - len(row))
                yield number, row
        except Exception as exc:
            raise TableError(f"{name}: row {number + 1}: cannot be read ({exc})") from exc

    return Table(path=name, header=header, rows=rows(), format="xlsx", encoding=None, _closer=workbook.close)


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
