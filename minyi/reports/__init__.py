"""Reports without Django: SVG charts, PDF rendering, XLSX sheets and the offline ``minyi analyze``.

- ``minyi.reports.charts``: ``line_chart``, ``bar_chart``, ``pie_chart`` return SVG strings (no script, every
  text escaped, font-family "Noto Sans SC"), an empty state (暂无数据) for no data, never an exception.
- ``minyi.reports.pdf``: ``font_files``, ``font_face_css``, ``render_pdf`` (WeasyPrint with the whole Noto Sans SC
  TTF files; a warning, or ``FontsMissing`` when asked, without them).
- ``minyi.reports.xlsx``: ``write_xlsx`` (sheets of a header and rows, write-only, atomic, formulas neutralised).
- ``minyi.reports.analyze``: ``analyze_main(argv)``, the ``minyi analyze FILE… --out DIR`` command (docs/analyze.md).

This package imports nothing of Django (tests/test_layers.py): the barometer app builds on it.
"""

from __future__ import annotations
