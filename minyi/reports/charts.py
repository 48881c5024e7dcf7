"""Static SVG charts for reports (HTML pages and WeasyPrint PDFs): ``line_chart``, ``bar_chart``, ``pie_chart``.

Each returns one ``<svg>`` element as a string, of a fixed ``width`` × ``height`` (with a ``viewBox``, so a
page may scale it). No script, no external reference, no ``style`` attribute: colours and fonts are
presentation attributes, the font family is "Noto Sans SC" (the PDF's font, minyi.reports.pdf), then
sans-serif.

Bad input never raises:

- every text (title, labels, series names) is turned into a string, stripped of the characters XML cannot
  carry (control characters, lone surrogates, U+FFFE/U+FFFF) and of bidi/zero-width controls, cut to a
  length that fits (with "…"), and escaped (``& < > " '``); the full title is kept in ``<title>``;
- a value that is not a finite number (``None``, NaN, infinity, text) is missing: a gap in a line (the line
  is broken there; a point between two gaps is drawn as a dot), nothing in a bar chart, left out of a pie;
  a value beyond ±10¹⁵ is drawn as ±10¹⁵;
- negative values are drawn below a zero line in line and bar charts; a pie leaves out what is not positive;
- no data at all (no labels, every value missing, a pie summing to zero) gives the same frame with the title
  and 暂无数据 in the middle: an empty state, not an error.

The SVG carries ``xmlns`` so that it is valid as a file of its own; an HTML page may drop it (``inline``).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["EMPTY_TEXT", "FONT_FAMILY", "PALETTE", "bar_chart", "inline", "line_chart", "pie_chart"]

FONT_FAMILY = "Noto Sans SC, sans-serif"
EMPTY_TEXT = "暂无数据"
PALETTE = (
    "#2f6fb0",
    "#e07b39",
    "#3a9d5d",
    "#c94c4c",
    "#8a63b8",
    "#b8860b",
    "#4aa3a3",
    "#d46fa6",
    "#7f7f7f",
    "#9bbb59",
)
INK = "#222222"
MUTED = "#666666"
GRID = "#e3e3e3"
AXIS = "#999999"

TITLE_SIZE = 14
LABEL_SIZE = 11
MAX_TITLE_CHARS = 60
MAX_PIE_SLICES = 8  # more items: the largest 7 and 其他
OTHER_LABEL = "其他"
MAX_VALUE = 1e15  # larger values are drawn as this

_SVG_NS = ' xmlns="http://www.w3.org/2000/svg"'
# XML 1.0 cannot carry these; bidi and zero-width controls would reorder or hide a label
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACES = re.compile(r"\s+")


# --- text and numbers -----------------------------------------------------------------------


def _clean(value: Any) -> str:
    try:
        text = value if isinstance(value, str) else ("" if value is None else str(value))
    except Exception:  # noqa: BLE001 - a label whose __str__ fails is shown as nothing
        return ""
    return _SPACES.sub(" ", _UNSAFE.sub("", text)).strip()


def _char_width(ch: str) -> float:
    # CJK, full-width forms and the punctuation a CJK font draws wide (the middle dot of topic labels: ·)
    return 1.0 if ord(ch) >= 0x2000 or ch == "\u00b7" else 0.62


def _width_of(text: str) -> float:
    """An estimate of the text's width in ems: wide (CJK, full-width) characters 1, others about 0.6."""
    return sum(_char_width(ch) for ch in text)


def _fit(text: str, ems: float) -> str:
    """``text`` cut to about ``ems`` em widths, with "…" when it was cut."""
    if _width_of(text) <= ems:
        return text
    out = []
    used = 1.0  # the ellipsis
    for ch in text:
        w = _char_width(ch)
        if used + w > ems:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    return max(-MAX_VALUE, min(MAX_VALUE, number))  # beyond this the axis arithmetic would overflow


def _fmt(value: float) -> str:
    if abs(value - round(value)) < 1e-9 and abs(value) < 1e15:
        return str(round(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _nice_step(span: float, intervals: int = 4) -> float:
    raw = span / max(intervals, 1)
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _axis(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """(bottom, top, ticks) of a value axis that includes zero and the data."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    step = _nice_step(hi - lo)
    bottom = math.floor(lo / step) * step
    top = math.ceil(hi / step) * step
    ticks = []
    tick = bottom
    while tick <= top + step / 2 and len(ticks) < 12:
        ticks.append(round(tick, 10))
        tick += step
    return bottom, top, ticks


def _size(value: Any, default: int, low: int) -> int:
    number = _num(value)
    if number is None:
        return default
    return int(min(max(number, low), 4000))


# --- the frame ------------------------------------------------------------------------------


def _open(title: str, width: int, height: int) -> list[str]:
    shown = _fit(title, (width - 16) / TITLE_SIZE)
    return [
        f'<svg{_SVG_NS} class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_esc(title)}" font-family="{FONT_FAMILY}">',
        f"<title>{_esc(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="8" y="20" font-size="{TITLE_SIZE}" font-weight="700" fill="{INK}">{_esc(shown)}</text>',
    ]


def _empty(title: str, width: int, height: int) -> str:
    parts = _open(title, width, height)
    parts.append(
        f'<text class="empty" x="{width / 2:.1f}" y="{(height + 20) / 2:.1f}" font-size="{TITLE_SIZE}" '
        f'text-anchor="middle" fill="{MUTED}">{EMPTY_TEXT}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _value_axis(parts: list[str], ticks: list[float], y_of: Any, left: float, right: float) -> None:
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 4:.1f}" y="{y + 4:.1f}" font-size="{LABEL_SIZE}" text-anchor="end" '
            f'fill="{MUTED}">{_esc(_fmt(tick))}</text>'
        )


def _legend(parts: list[str], names: Sequence[str], width: int, y: float) -> None:
    x = 8.0
    for i, name in enumerate(names):
        shown = _fit(name, 12)
        if x + 16 + _width_of(shown) * LABEL_SIZE > width - 8:
            break
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        parts.append(
            f'<text x="{x + 14:.1f}" y="{y:.1f}" font-size="{LABEL_SIZE}" fill="{INK}">{_esc(shown)}</text>'
        )
        x += 14 + _width_of(shown) * LABEL_SIZE + 14


# --- line ------------------------------------------------------------------------------------


def line_chart(
    title: str,
    x_labels: Sequence[Any],
    series: Iterable[tuple[Any, Sequence[Any]]],
    *,
    width: int = 640,
    height: int = 260,
) -> str:
    """A line chart of one or more ``(name, values)`` series over ``x_labels`` (``None`` values are gaps)."""
    title = _clean(title)
    width, height = _size(width, 640, 120), _size(height, 260, 80)
    try:
        labels = [_clean(label) for label in (x_labels or ())]
        lines = [(_clean(name), [_num(v) for v in (values or ())]) for name, values in (series or ())]
    except (TypeError, ValueError):
        return _empty(title, width, height)
    n = len(labels) or max((len(v) for _, v in lines), default=0)
    lines = [(name, (values + [None] * n)[:n]) for name, values in lines]
    present = [v for _, values in lines for v in values if v is not None]
    if not n or not present:
        return _empty(title, width, height)

    parts = _open(title, width, height)
    top_margin = 32
    if len(lines) > 1:
        _legend(parts, [name for name, _ in lines], width, 40)
        top_margin = 52
    bottom, top, ticks = _axis(min(present), max(present))
    left = 10 + max(_width_of(_fmt(t)) for t in ticks) * LABEL_SIZE
    right = width - 14
    plot_top, plot_bottom = float(top_margin), float(height - 28)

    def x_of(i: int) -> float:
        return (left + right) / 2 if n == 1 else left + (right - left) * i / (n - 1)

    def y_of(v: float) -> float:
        return plot_bottom - (v - bottom) / (top - bottom) * (plot_bottom - plot_top)

    _value_axis(parts, ticks, y_of, left, right)
    parts.append(
        f'<line x1="{left:.1f}" y1="{plot_bottom:.1f}" x2="{right:.1f}" y2="{plot_bottom:.1f}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    if labels:
        room = (right - left) / max(n - 1, 1)  # between two points
        longest = min(max(_width_of(label) for label in labels), 12) * LABEL_SIZE + 8
        step = max(1, math.ceil(longest / room)) if n > 1 else 1
        for i in range(0, n, step):
            shown = _fit(labels[i], max(step * room / LABEL_SIZE - 0.5, 2))
            half = _width_of(shown) * LABEL_SIZE / 2
            x = min(max(x_of(i), half + 2), width - half - 2)  # the first and last labels stay inside
            parts.append(
                f'<text x="{x:.1f}" y="{plot_bottom + 16:.1f}" font-size="{LABEL_SIZE}" '
                f'text-anchor="middle" fill="{MUTED}">{_esc(shown)}</text>'
            )
    for index, (_name, values) in enumerate(lines):
        color = PALETTE[index % len(PALETTE)]
        run: list[str] = []
        runs: list[list[str]] = []
        for i, v in enumerate(values):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{x_of(i):.1f},{y_of(v):.1f}")
        if run:
            runs.append(run)
        for points in runs:
            if len(points) == 1:
                x, y = points[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>')
            else:
                parts.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" '
                    f'stroke-width="2" stroke-linejoin="round"/>'
                )
    parts.append("</svg>")
    return "".join(parts)


# --- bar --------------------------------------------------------------------------------------


def bar_chart(
    title: str,
    labels: Sequence[Any],
    values: Sequence[Any],
    *,
    horizontal: bool = False,
    width: int = 640,
    height: int = 260,
) -> str:
    """A bar chart, one bar per label (``horizontal=True``: labels on the left, bars to the right)."""
    title = _clean(title)
    width, height = _size(width, 640, 120), _size(height, 260, 80)
    try:
        names = [_clean(label) for label in (labels or ())]
        numbers = [_num(v) for v in (values or ())]
    except (TypeError, ValueError):
        return _empty(title, width, height)
    n = len(names)
    numbers = (numbers + [None] * n)[:n]
    present = [v for v in numbers if v is not None]
    if not n or not present:
        return _empty(title, width, height)
    bottom, top, ticks = _axis(min(present), max(present))
    parts = _open(title, width, height)
    if horizontal:
        label_ems = min(max(_width_of(name) for name in names), 12)
        left = 16 + label_ems * LABEL_SIZE
        right = width - 12 - max(_width_of(_fmt(v)) for v in present) * LABEL_SIZE - 8
        plot_top, plot_bottom = 32.0, float(height - 22)
        band = (plot_bottom - plot_top) / n

        def x_of(v: float) -> float:
            return left + (v - bottom) / (top - bottom) * (right - left)

        for tick in ticks:
            x = x_of(tick)
            parts.append(
                f'<line x1="{x:.1f}" y1="{plot_top:.1f}" x2="{x:.1f}" y2="{plot_bottom:.1f}" '
                f'stroke="{GRID}" stroke-width="1"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{plot_bottom + 14:.1f}" font-size="{LABEL_SIZE}" text-anchor="middle" '
                f'fill="{MUTED}">{_esc(_fmt(tick))}</text>'
            )
        zero = x_of(0.0)
        font = min(LABEL_SIZE, max(band * 0.8, 6))
        for i, (name, v) in enumerate(zip(names, numbers, strict=True)):
            y = plot_top + band * i
            parts.append(
                f'<text x="{left - 6:.1f}" y="{y + band / 2 + font / 3:.1f}" font-size="{font:.1f}" '
                f'text-anchor="end" fill="{INK}">{_esc(_fit(name, label_ems))}</text>'
            )
            if v is None:
                continue
            x0, x1 = sorted((zero, x_of(v)))
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + band * 0.15:.1f}" width="{max(x1 - x0, 0.5):.1f}" '
                f'height="{band * 0.7:.1f}" fill="{PALETTE[0]}"/>'
            )
            parts.append(
                f'<text x="{max(x1, zero) + 4:.1f}" y="{y + band / 2 + font / 3:.1f}" font-size="{font:.1f}" '
                f'fill="{MUTED}">{_esc(_fmt(v))}</text>'
            )
    else:
        left = 10 + max(_width_of(_fmt(t)) for t in ticks) * LABEL_SIZE
        right = width - 10
        plot_top, plot_bottom = 40.0, float(height - 28)
        band = (right - left) / n

        def y_of(v: float) -> float:
            return plot_bottom - (v - bottom) / (top - bottom) * (plot_bottom - plot_top)

        _value_axis(parts, ticks, y_of, left, right)
        zero = y_of(0.0)
        label_ems = max(band / LABEL_SIZE - 0.3, 1.5)
        for i, (name, v) in enumerate(zip(names, numbers, strict=True)):
            x = left + band * i
            parts.append(
                f'<text x="{x + band / 2:.1f}" y="{plot_bottom + 16:.1f}" font-size="{LABEL_SIZE}" '
                f'text-anchor="middle" fill="{INK}">{_esc(_fit(name, label_ems))}</text>'
            )
            if v is None:
                continue
            y0, y1 = sorted((zero, y_of(v)))
            parts.append(
                f'<rect x="{x + band * 0.15:.1f}" y="{y0:.1f}" width="{band * 0.7:.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}" fill="{PALETTE[0]}"/>'
            )
            if band >= 18:
                parts.append(
                    f'<text x="{x + band / 2:.1f}" y="{min(y0, zero) - 3:.1f}" font-size="{LABEL_SIZE}" '
                    f'text-anchor="middle" fill="{MUTED}">{_esc(_fmt(v))}</text>'
                )
        parts.append(
            f'<line x1="{left:.1f}" y1="{zero:.1f}" x2="{right:.1f}" y2="{zero:.1f}" stroke="{AXIS}" stroke-width="1"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- pie ---------------------------------------------------------------------------------------


def pie_chart(
    title: str,
    items: Iterable[tuple[Any, Any]],
    *,
    width: int = 640,
    height: int = 260,
) -> str:
    """A pie of ``(label, value)`` items with a legend (label, value, share); more than 8: the rest is 其他."""
    title = _clean(title)
    width, height = _size(width, 640, 120), _size(height, 260, 80)
    try:
        pairs = [(_clean(label), _num(value)) for label, value in (items or ())]
    except (TypeError, ValueError):
        return _empty(title, width, height)
    slices = [(label, v) for label, v in pairs if v is not None and v > 0]
    total = sum(v for _, v in slices)
    if not slices or total <= 0 or not math.isfinite(total):
        return _empty(title, width, height)
    slices.sort(key=lambda item: -item[1])
    if len(slices) > MAX_PIE_SLICES:
        rest = sum(v for _, v in slices[MAX_PIE_SLICES - 1 :])
        slices = [*slices[: MAX_PIE_SLICES - 1], (OTHER_LABEL, rest)]
    parts = _open(title, width, height)
    radius = max(min((height - 44) / 2, width / 4), 10)
    cx, cy = 16 + radius, 32 + (height - 32) / 2
    angle = -math.pi / 2
    for i, (_label, v) in enumerate(slices):
        color = PALETTE[i % len(PALETTE)]
        share = v / total
        if share >= 0.9999:
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" fill="{color}"/>')
            break
        end = angle + share * 2 * math.pi
        x0, y0 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        x1, y1 = cx + radius * math.cos(end), cy + radius * math.sin(end)
        large = 1 if share > 0.5 else 0
        parts.append(
            f'<path d="M{cx:.1f},{cy:.1f} L{x0:.2f},{y0:.2f} A{radius:.1f},{radius:.1f} 0 {large} 1 '
            f'{x1:.2f},{y1:.2f} Z" fill="{color}" stroke="#ffffff" stroke-width="1"/>'
        )
        angle = end
    legend_x = cx + radius + 24
    row = min(20.0, (height - 40) / len(slices))
    font = min(LABEL_SIZE, max(row * 0.75, 6))
    ems = max((width - legend_x - 24) / font, 4)
    for i, (label, v) in enumerate(slices):
        y = 40 + row * i + row / 2
        color = PALETTE[i % len(PALETTE)]
        line = f"{label}  {_fmt(v)}（{v / total:.1%}）"
        parts.append(
            f'<rect x="{legend_x:.1f}" y="{y - font + 2:.1f}" width="10" height="10" fill="{color}"/>'
        )
        parts.append(
            f'<text x="{legend_x + 16:.1f}" y="{y + 2:.1f}" font-size="{font:.1f}" fill="{INK}">'
            f"{_esc(_fit(line, ems))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def inline(svg: str) -> str:
    """The chart for an HTML page: without its ``xmlns`` (the HTML parser puts ``<svg>`` in its namespace)."""
    return svg.replace(_SVG_NS, "", 1)
