"""Streaming spreadsheet writers: XLSX and CSV as an iterator of bytes, in constant memory.

``stream_xlsx(header, rows)`` writes an Office Open XML workbook with one sheet straight into a zip archive
(Python's zipfile on a write-only sink, so every member after the first uses a data descriptor) and yields
the compressed bytes as they come out: no temporary file, nothing held but the current chunk. Cells are
inline strings (``t="inlineStr"``: no shared-string table to keep in memory), numbers, booleans and dates
(serial numbers with a date style); the header row is bold and frozen.

``stream_csv(header, rows)`` writes UTF-8 with a byte-order mark (Excel then reads Chinese correctly),
quoted by the csv module, a chunk every ``CSV_FLUSH_ROWS`` rows.

Both treat strings the same way: characters XML 1.0 forbids (control characters other than tab, newline
and carriage return; lone surrogates; U+FFFE, U+FFFF) are dropped, and a text that would start a formula
gets a leading apostrophe, exactly as ``minyi.text.commands`` guards its XLSX output. Datetimes are written
as their wall-clock time: an aware datetime keeps the time of its own zone and loses the zone, so the
caller converts to the zone it wants first.

If ``rows`` raises, the generator stops without finishing the file (an XLSX without its central
directory, a CSV cut short), so a failed export never looks like a complete one.

Limits of the XLSX format (Excel's, not ours): at most 1,048,576 rows per sheet (``ValueError`` beyond
that), at most 32,767 characters per cell (longer text is cut there), and a sheet of at most 2 GiB before
compression (the members are plain zip, not zip64, which Excel opens reliably). CSV has none of these.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from minyi.text.commands import _xlsx_safe

__all__ = ["CSV_FLUSH_ROWS", "EXCEL_MAX_ROWS", "stream_csv", "stream_xlsx"]

#: Yield the archive's bytes once this much has been produced.
CHUNK_BYTES = 64 * 1024
#: Hand the rows' XML to the compressor in pieces of about this many characters.
_XML_BATCH_CHARS = 32 * 1024
#: Rows per CSV chunk.
CSV_FLUSH_ROWS = 500
#: Rows per sheet in Excel, the header included.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
#: Integers beyond this lose digits in Excel (15 significant digits): they are written as text.
_EXACT_INT_LIMIT = 10**15
#: Excel's day zero as an ordinal (1900 date system, its fictitious 1900-02-29 accounted for from March on).
_EPOCH = date(1899, 12, 30).toordinal()
#: Earlier dates are written as text.
_FIRST_SERIAL_DAY = date(1900, 3, 1).toordinal()

# What XML 1.0 cannot carry beyond what _xlsx_safe removes (C0 controls): lone surrogates, U+FFFE, U+FFFF.
_XML_INVALID = re.compile("[\ud800-\udfff\ufffe\uffff]")
#: Anything clean_text may have to remove: the above and the C0 controls that _xlsx_safe drops.
_SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: The leading characters that _xlsx_safe guards (a text starting with one may become a formula).
_FORMULA_START = ("=", "+", "-", "@")

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Cell styles (indexes into cellXfs below).
_STYLE_HEADER = 1
_STYLE_DATETIME = 2
_STYLE_DATE = 3
_STYLE_TIME = 4

_CONTENT_TYPES = (
    _XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _XML_DECL + f'<Relationships xmlns="{_NS_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    _XML_DECL + f'<Relationships xmlns="{_NS_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_NS_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_NS_REL}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_FONT = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
_STYLES = (
    _XML_DECL + f'<styleSheet xmlns="{_NS_MAIN}">'
    '<numFmts count="3">'
    '<numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="166" formatCode="hh:mm:ss"/>'
    "</numFmts>"
    f'<fonts count="2"><font>{_FONT}</font><font><b/>{_FONT}</font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_VIEWS = (
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
    "</sheetView></sheetViews>"
)


# ---------------------------------------------------------------------------------------------- text


def clean_text(value: str) -> str:
    """`value` without the characters XML 1.0 forbids, guarded against formula injection (_xlsx_safe)."""
    if _SUSPECT.search(value) is None and not value.startswith(_FORMULA_START):
        return value  # the common case, and exactly what _xlsx_safe would return (a test holds them equal)
    if _XML_INVALID.search(value):
        # Before the guard: removing a character must not uncover a leading "=".
        value = _XML_INVALID.sub("", value)
    return _xlsx_safe(value)


def _escape(value: str) -> str:
    # A literal CR would come back as LF (XML end-of-line handling); a character reference survives.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _escape_attr(value: str) -> str:
    return _escape(value).replace('"', "&quot;")


def _cut_for_excel(value: str) -> str:
    """Excel holds at most 32,767 UTF-16 code units in a cell; longer text is cut there."""
    if len(value) <= EXCEL_MAX_CELL_CHARS // 2:
        return value
    units = len(value.encode("utf-16-le")) // 2
    if units <= EXCEL_MAX_CELL_CHARS:
        return value
    out, used = [], 0
    for char in value:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > EXCEL_MAX_CELL_CHARS:
            break
        out.append(char)
    return "".join(out)


def _sheet_name(name: str) -> str:
    """A name Excel accepts: no []:*?/\\, no control characters, not quoted, 1-31 characters."""
    cleaned = "".join(
        "_" if c in "[]:*?/\\" else c
        for c in _XML_INVALID.sub("", str(name))
        if unicodedata.category(c) != "Cc"
    )
    cleaned = cleaned.strip().strip("'")[:31].strip()
    return cleaned or "Sheet1"


# ---------------------------------------------------------------------------------------------- XLSX cells


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _serial(value: datetime) -> float | None:
    """Excel's serial number of a wall-clock datetime; None before 1900-03-01 (Excel cannot show those)."""
    day = value.toordinal()  # the wall-clock date, also of an aware datetime
    if day < _FIRST_SERIAL_DAY:
        return None
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1_000_000
    return day - _EPOCH + seconds / 86_400


def _text_cell(ref: str, value: str, style: str = "") -> str:
    value = _cut_for_excel(clean_text(value))
    if not value:
        return ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{_escape(value)}</t></is></c>'


def _cell(ref: str, value: Any) -> str:
    """One <c> element, or "" for an empty cell."""
    kind = type(value)
    if kind is str:
        return _text_cell(ref, value)
    if value is None:
        return ""
    if kind is bool:
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if kind is int:
        if -_EXACT_INT_LIMIT < value < _EXACT_INT_LIMIT:
            return f'<c r="{ref}"><v>{value}</v></c>'
        return _text_cell(ref, str(value))
    if kind is float or kind is Decimal:
        if not (value.is_finite() if kind is Decimal else math.isfinite(value)):
            return _text_cell(ref, str(value))  # Excel has no NaN or infinity
        number = repr(value) if kind is float else str(value)
        return f'<c r="{ref}"><v>{number}</v></c>'
    if isinstance(value, datetime):
        serial = _serial(value)
        if serial is None:
            return _text_cell(ref, value.replace(tzinfo=None).isoformat(sep=" "))
        return f'<c r="{ref}" s="{_STYLE_DATETIME}"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        serial = _serial(datetime.combine(value, time()))
        if serial is None:
            return _text_cell(ref, value.isoformat())
        return f'<c r="{ref}" s="{_STYLE_DATE}"><v>{int(serial)}</v></c>'
    if isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1_000_000
        return f'<c r="{ref}" s="{_STYLE_TIME}"><v>{seconds / 86_400!r}</v></c>'
    if isinstance(value, int):
        return _cell(ref, int(value))
    if isinstance(value, float):
        return _cell(ref, float(value))
    return _text_cell(ref, str(value))  # str subclasses (lazy translations, SafeString), UUIDs, ...


def _display_width(value: Any) -> float:
    """Roughly how many character widths `value` takes in a cell (CJK characters count double)."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    if isinstance(value, bool):
        return 5
    text = str(value)[:80]
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cols(header: Sequence[Any], first: Sequence[Any] | None) -> str:
    """Column widths from the header and the first row, so that dates do not show as ####."""
    count = max(len(header), len(first or ()))
    if not count:
        return ""
    parts = []
    for i in range(count):
        wide = max(
            _display_width(header[i]) if i < len(header) else 0,
            _display_width(first[i]) if first is not None and i < len(first) else 0,
        )
        width = min(max(wide + 2, 8), 60)
        parts.append(f'<col min="{i + 1}" max="{i + 1}" width="{width:g}" customWidth="1"/>')
    return "<cols>" + "".join(parts) + "</cols>"


# ---------------------------------------------------------------------------------------------- XLSX package


class _Sink:
    """A write-only file for zipfile: collects what it is given until the generator takes it."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.abandoned = False

    def write(self, data: bytes) -> int:
        if not self.abandoned:
            self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _member(name: str, stamp: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def stream_xlsx(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet_name: str = "Sheet1"
) -> Iterator[bytes]:
    """The workbook as bytes chunks: `header` as a bold, frozen first row, then one row per item of `rows`.

    Values: str (inline string), int/float/Decimal (number), bool, datetime/date/time (serial number with a
    date style; an aware datetime is written in its own wall-clock time), None (empty cell); anything else
    is written as its str(). Raises ValueError when there are more rows than a sheet holds.
    """
    stamp = datetime.now().timetuple()[:6]  # noqa: DTZ005 - zip timestamps are local wall-clock
    stamp = (max(stamp[0], 1980), *stamp[1:])
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED)  # zlib's default level
    try:
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/workbook.xml", _workbook(_sheet_name(sheet_name))),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
        ):
            archive.writestr(_member(name, stamp), text)
        yield sink.take()

        source = iter(rows)
        first = next(source, None)
        letters = [_column_letters(i) for i in range(max(len(header), len(first or ()), 1))]
        with archive.open(_member("xl/worksheets/sheet1.xml", stamp), "w") as out:
            head = [
                _XML_DECL,
                f'<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">',
                _SHEET_VIEWS,
                '<sheetFormatPr defaultRowHeight="15"/>',
                _cols(header, first),
                '<sheetData><row r="1">',
            ]
            style = f' s="{_STYLE_HEADER}"'
            head += [_text_cell(f"{letters[i]}1", str(label), style) for i, label in enumerate(header)]
            head.append("</row>")
            out.write("".join(head).encode("utf-8"))

            batch: list[str] = []
            size = 0
            number = 1
            pending = [first] if first is not None else []
            for values in _chain(pending, source):
                number += 1
                if number > EXCEL_MAX_ROWS:
                    raise ValueError(f"more than {EXCEL_MAX_ROWS - 1} rows: an XLSX sheet holds no more")
                if len(values) > len(letters):
                    letters += [_column_letters(i) for i in range(len(letters), len(values))]
                row = f"{number}"
                xml = (
                    f'<row r="{row}">'
                    + "".join([_cell(letters[i] + row, v) for i, v in enumerate(values)])
                    + "</row>"
                )
                batch.append(xml)
                size += len(xml)
                if size >= _XML_BATCH_CHARS:
                    out.write("".join(batch).encode("utf-8"))
                    batch.clear()
                    size = 0
                    if len(sink.buffer) >= CHUNK_BYTES:
                        yield sink.take()
            batch.append("</sheetData></worksheet>")
            out.write("".join(batch).encode("utf-8"))
        archive.close()
    except BaseException:
        # Do not finish the archive: a cut-off download must not open as a complete (but short) file.
        sink.abandoned = True
        archive.close()
        raise
    yield sink.take()


def _chain(first: list[Sequence[Any]], rest: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    yield from first
    yield from rest


def _workbook(sheet: str) -> str:
    return (
        _XML_DECL + f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
        "<bookViews><workbookView/></bookViews>"
        f'<sheets><sheet name="{_escape_attr(sheet)}" sheetId="1" r:id="rId1"/></sheets>'
        "</workbook>"
    )


# ---------------------------------------------------------------------------------------------- CSV


def _csv_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime):
        # The wall-clock part of the ISO form (always a 4-digit year), without any UTC offset.
        return value.isoformat(sep=" ")[: 26 if value.microsecond else 19]
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return value
    return clean_text(str(value))


def stream_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The table as UTF-8 CSV (with BOM) in bytes chunks: the header first, then every CSV_FLUSH_ROWS rows.

    Strings are cleaned and guarded as in stream_xlsx; datetimes are "YYYY-MM-DD HH:MM:SS" wall-clock time,
    booleans true/false, None an empty field.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_csv_value(v) for v in header])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for values in rows:
        writer.writerow([_csv_value(v) for v in values])
        pending += 1
        if pending >= CSV_FLUSH_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")
