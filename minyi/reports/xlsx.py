"""Writing report workbooks: ``write_xlsx(path, sheets)``, each sheet a header and rows.

openpyxl in write-only mode (rows stream to disk, so a sheet of a million rows takes little memory), the
header bold and frozen, column widths as given. The workbook is written to a temporary file beside ``path``
and moved into place when complete (``minyi.text.atomic.publish``): a failure leaves no half file.

Cells follow the project's rule for spreadsheets of citizens' text (``minyi.text.commands`` for ``minyi
classify``, ``minyi.core.xlsx_stream`` for the staff exports): characters that XML cannot carry are dropped,
and a text starting with ``=``, ``+``, ``-`` or ``@`` gets a leading apostrophe, so that no cell becomes a
formula. Text longer than Excel's 32,767 characters per cell is cut there. A sheet that would pass Excel's
1,048,576 rows continues on a sheet named "<name> (2)". Sheet names are made valid (no ``[]:*?/\\``, at
most 31 characters, unique).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from minyi.text.atomic import publish
from minyi.text.commands import _xlsx_safe

__all__ = ["EXCEL_MAX_CELL_CHARS", "EXCEL_MAX_ROWS", "Sheet", "safe_cell", "sheet_title", "write_xlsx"]

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_XML_INVALID = re.compile("[\ud800-\udfff\ufffe\uffff]")


@dataclass
class Sheet:
    """One sheet: ``name``, ``header``, ``rows`` (any iterable of sequences) and optional column ``widths``."""

    name: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[float] = field(default_factory=tuple)


def safe_cell(value: Any) -> Any:
    """A value openpyxl can write and Excel will not evaluate: see the module docstring."""
    if value is None or isinstance(value, bool | int | float | datetime | date):
        if isinstance(value, float) and value != value:  # NaN: an empty cell
            return None
        return value
    if not isinstance(value, str):
        value = str(value)
    value = _XML_INVALID.sub("", value)
    value = _xlsx_safe(value)
    if len(value) > EXCEL_MAX_CELL_CHARS:
        value = value[: EXCEL_MAX_CELL_CHARS - 1] + "…"
    return value


def sheet_title(name: str, taken: set[str] | None = None) -> str:
    """A valid, unique (case-insensitively, as Excel compares) sheet name for ``name``."""
    base = _BAD_SHEET_CHARS.sub("_", str(name)).strip("'").strip() or "Sheet"
    base = base[:31]
    taken = taken if taken is not None else set()
    title, number = base, 1
    while title.casefold() in taken:
        number += 1
        suffix = f" ({number})"
        title = base[: 31 - len(suffix)] + suffix
    taken.add(title.casefold())
    return title


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def write_xlsx(path: str | os.PathLike[str], sheets: Iterable[Sheet]) -> int:
    """Write ``sheets`` to the workbook ``path`` (replaced atomically); returns the number of data rows written.

    ``OSError`` when the directory cannot be written; any exception from a sheet's rows leaves ``path`` as it
    was (the temporary file is removed).
    """
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".xlsx", dir=target.parent)
    os.close(fd)
    written = 0
    workbook = openpyxl.Workbook(write_only=True)
    try:
        taken: set[str] = set()
        bold = Font(bold=True)
        for sheet in sheets:
            header = [safe_cell(h) for h in sheet.header]

            def start(name: str, sheet: Sheet = sheet, header: list[Any] = header) -> Any:
                worksheet = workbook.create_sheet(sheet_title(name, taken))
                for index, width in enumerate(sheet.widths, start=1):
                    if width:
                        worksheet.column_dimensions[_column_letter(index)].width = float(width)
                if header:
                    worksheet.freeze_panes = "A2"
                    cells = []
                    for value in header:
                        cell = WriteOnlyCell(worksheet, value=value)
                        cell.font = bold
                        cells.append(cell)
                    worksheet.append(cells)
                return worksheet

            worksheet = start(sheet.name)
            used = 1 if header else 0
            part = 1
            for row in sheet.rows:
                if used >= EXCEL_MAX_ROWS:
                    part += 1
                    worksheet = start(f"{sheet.name} ({part})")
                    used = 1 if header else 0
                worksheet.append([safe_cell(v) for v in row])
                used += 1
                written += 1
        if not workbook.worksheets:
            workbook.create_sheet("Sheet")
        workbook.save(tmp)
        publish(tmp, target)
    except BaseException:
        for worksheet in getattr(workbook, "worksheets", ()):  # the write-only sheets' own temporary files
            with contextlib.suppress(Exception):
                worksheet.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return written
