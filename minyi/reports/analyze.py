"""``minyi analyze FILE… --out DIR``: the barometer for analysts holding a hotline export (docs/analyze.md).

No server, no database, no Django. It reads CSV and XLSX files (the encodings of ``minyi.text.tabular``;
several files are read one after the other), finds the columns by the names hotline exports use
(``minyi.text.records``: 留言编号, 留言时间, 留言主题, 留言详情, 点赞数, 留言用户 ...; ``--id-col``,
``--time-col``, ``--title-col``, ``--text-col`` override), and for every row:

- normalises and segments the text; classifies it with ``--model`` (``minyi train-classifier``), or takes the
  file's own category column when it has one, or leaves it unclassified (the report says so);
- finds personal data (``minyi.text.pii``): the count per row, and every text written out (xlsx, html, pdf)
  is masked;
- judges risk (``minyi.text.risk``); finds the place with ``--gazetteer`` (the gazetteer file of
  docs/gazetteer.md).

Over all rows it finds near-duplicates (``minyi.text.dedupe``), hot topics (``minyi.text.topics``), surges
over the file's own timeline per topic, per category, per place and overall (``minyi.text.surge``), and
combines surges with risk into warnings with a level (``surge.level``).

It writes ``DIR/report.html`` (one self-contained page: inline CSS and SVG, no external reference),
``DIR/report.pdf`` (the same page through ``minyi.reports.pdf.render_pdf``), ``DIR/appeals.xlsx`` (every row
with its triage columns, the topics, the warnings) and ``DIR/summary.json``. The four files are written in a
temporary directory inside DIR and moved into place only when all are complete: a failed or interrupted run
leaves no half file (and the previous run's files as they were).

A file without a time column is analysed without the time-based parts (no surges, no timeline); the report
and ``summary.json`` (``"time_based": false``) say so. No rows at all gives a report of empty states.

Exit codes: 0 on success; 2 for bad input (an unreadable file, a missing column, a bad model or gazetteer,
an output directory that cannot be written), with a message on stderr naming the file, row or column;
130 when interrupted; 1 for an unexpected failure (one line, no traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import html
import importlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from minyi.reports import charts
from minyi.text.commands import CommandError, _parser, _split_cols
from minyi.text.tabular import BadRow, TableError

__all__ = ["OUTPUT_FILES", "analyze_main"]

REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
APPEALS_XLSX = "appeals.xlsx"
SUMMARY_JSON = "summary.json"
OUTPUT_FILES = (REPORT_HTML, REPORT_PDF, APPEALS_XLSX, SUMMARY_JSON)
SUMMARY_VERSION = 1

BATCH = 2048
DEFAULT_TOP = 20
DEFAULT_DUPLICATE_THRESHOLD = 0.5
REPORT_WARNINGS = 30  # warnings shown in the report (all of them are in the xlsx and summary.json)
REPORT_DUPLICATE_GROUPS = 10
REPORT_IDS = 5  # message ids shown per warning or duplicate group (all of them are in the xlsx and json)
SUMMARY_DUPLICATE_GROUPS = 50
MESSAGE_LEVELS = ("red", "orange")  # a single message is a warning of its own only at these levels
BROAD_RISK_MESSAGES = 3  # a burst of all messages or of a category: the risk that 3 of its messages share
LEVEL_ORDER = {"red": 0, "orange": 1, "yellow": 2}
LEVEL_NAMES = {"red": "红色", "orange": "橙色", "yellow": "黄色"}
RISK_LEVELS = ("none", "low", "medium", "high")
RISK_LEVEL_NAMES = {"none": "无", "low": "低", "medium": "中", "high": "高"}
RISK_CODE_NAMES = {
    "group": "群体诉求",
    "self_harm": "自伤自杀",
    "threat": "威胁他人",
    "gathering": "聚集",
    "road_block": "堵路",
    "escalation": "越级上访/扩散",
    "repeated": "反复反映",
    "wages": "欠薪",
    "wage_festival": "节前欠薪",
}

#: The hot-topic and surge engines (minyi.text.topics, minyi.text.surge); tests may put stand-ins here.
topics_module: ModuleType | None = None
surge_module: ModuleType | None = None


def _topics() -> Any:
    return topics_module or importlib.import_module("minyi.text.topics")


def _surge() -> Any:
    return surge_module or importlib.import_module("minyi.text.surge")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"minyi analyze: {text}\n")


# --- the command ---------------------------------------------------------------------------------


def analyze_main(argv: Sequence[str]) -> int:
    """``minyi analyze FILE… --out DIR``; returns the exit code (see the module docstring)."""
    from minyi.text.classify import ModelFileError

    try:
        return _analyze(list(argv))
    except (CommandError, TableError, ModelFileError) as exc:
        _err(f"error: {exc}")
        return 2
    except SystemExit as exc:  # --help, or argparse's own exit
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        _err("interrupted; nothing was written")
        return 130
    except Exception as exc:  # noqa: BLE001 - one line instead of a traceback
        _err(f"unexpected failure: {type(exc).__name__}: {exc}")
        return 1


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = _parser(
        "analyze",
        "Analyse hotline or message-board exports (CSV/XLSX) offline: triage, duplicates, hot topics, surges "
        "and warnings; writes report.html, report.pdf, appeals.xlsx and summary.json into --out.",
    )
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="CSV or XLSX files (read one after the other)"
    )
    parser.add_argument("--out", required=True, help="the output directory (created if needed)")
    parser.add_argument("--model", help="a classifier written by minyi train-classifier (default: none)")
    parser.add_argument("--threshold", type=float, help="override the model's abstention threshold")
    parser.add_argument("--gazetteer", help="a gazetteer file (docs/gazetteer.md) to find places")
    parser.add_argument("--id-col", help="the id column (default: 留言编号/工单编号/编号/id ...)")
    parser.add_argument("--time-col", help="the time column (default: 留言时间/来电时间/受理时间/time ...)")
    parser.add_argument("--title-col", help="the title column (default: 留言主题/标题/title ...)")
    parser.add_argument(
        "--text-col",
        help="the content column(s), comma-separated (default: 留言详情/诉求内容/内容/content ...)",
    )
    parser.add_argument("--encoding", help="the encoding of CSV inputs (default: detected)")
    parser.add_argument("--sheet", help="the sheet of XLSX inputs (default: the first)")
    parser.add_argument(
        "--since", help="hot topics: the current window starts on this date (YYYY-MM-DD; default: all rows)"
    )
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help="hot topics in the report (default 20)")
    parser.add_argument("--min-size", type=int, default=3, help="messages a topic needs at least (default 3)")
    parser.add_argument(
        "--topic-threshold", type=float, default=0.3, help="similarity to join a topic (default 0.3)"
    )
    parser.add_argument(
        "--duplicate-threshold",
        type=float,
        default=DEFAULT_DUPLICATE_THRESHOLD,
        help="similarity of near-duplicates (default 0.5)",
    )
    parser.add_argument("--baseline-days", type=int, help="surges: days of baseline (default 28)")
    parser.add_argument("--window-days", type=int, help="surges: days of the burst window (default 3)")
    parser.add_argument("--min-count", type=int, help="surges: messages a burst needs at least (default 5)")
    parser.add_argument("--title", help="the report's title (default 民意分析报告)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise CommandError("--threshold must be between 0 and 1")
    for name in ("topic_threshold", "duplicate_threshold"):
        if not 0.0 < getattr(args, name) <= 1.0:
            raise CommandError(f"--{name.replace('_', '-')} must be above 0 and at most 1")
    if args.top < 1 or args.min_size < 2:
        raise CommandError("--top must be at least 1 and --min-size at least 2")
    for name in ("baseline_days", "window_days", "min_count"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
    if args.since:
        from minyi.text.dates import DateParseError, parse_datetime

        try:
            args.since = parse_datetime(args.since)
        except DateParseError as exc:
            raise CommandError(f"--since {args.since!r}: {exc}") from None
    return args


# --- progress ---------------------------------------------------------------------------------------


class _Bar:
    """A tqdm bar on stderr when progress bars are enabled (minyi.text.progress), else nothing."""

    def __init__(self, desc: str, total: int | None, *, quiet: bool, unit: str = "rows") -> None:
        from minyi.text.progress import enabled

        self.bar: Any = None
        if enabled(quiet=quiet):
            from tqdm import tqdm

            self.bar = tqdm(
                desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False
            )

    def update(self, n: int = 1) -> None:
        if self.bar is not None and n > 0:
            self.bar.update(n)

    def to(self, done: int) -> None:
        """Move the bar to ``done`` (for callbacks that report a running total)."""
        if self.bar is not None and done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- reading ------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One message and its triage."""

    source: str
    number: int
    id: Any
    title: str  # masked
    content: str  # masked
    when: dt.datetime | None
    person: str | None
    supports: int
    region: str | None
    file_category: str
    normalized: str = ""
    tokens: str = ""  # the segmented text, tokens separated by spaces (a list of str objects would take ~10x the memory)
    category: str | None = None
    confidence: float | None = None
    abstained: bool | None = None
    risk_score: int = 0
    risk_level: str = "none"
    risk_codes: tuple[str, ...] = ()
    risk_reasons: str = ""
    pii: int = 0
    place_id: Any = None
    place: str = ""
    duplicate: int | None = None
    topic: int | None = None


@dataclass
class Reading:
    rows: list[Row] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    has_id: bool = False
    has_time: bool = False
    has_category: bool = False
    bad_rows: list[tuple[str, int, str]] = field(default_factory=list)
    empty_rows: list[tuple[str, int]] = field(default_factory=list)
    bad_times: list[tuple[str, int, str]] = field(default_factory=list)
    no_time: int = 0
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> field -> column names


def _mapping(args: argparse.Namespace) -> Any:
    from minyi.text.records import Mapping

    columns: dict[str, tuple[str, ...]] = {}
    for field_name, value in (
        ("external_id", args.id_col),
        ("time", args.time_col),
        ("title", args.title_col),
        ("content", args.text_col),
    ):
        names = _split_cols(value)
        if names:
            columns[field_name] = tuple(names)
    return Mapping(columns=columns) if columns else None


def _supports(text: str) -> int:
    if not text:
        return 0
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return 0
    return int(number) if math.isfinite(number) and number > 0 else 0


def _person(record: dict[str, str]) -> str | None:
    """A key for the person behind a row: the user column, else a hash of the phone number (never the number)."""
    if record.get("user"):
        return "user:" + record["user"]
    digits = "".join(ch for ch in record.get("contact_phone", "") if ch.isdigit())
    if len(digits) >= 7:
        return "tel:" + hashlib.sha256(digits[-11:].encode()).hexdigest()[:16]
    return None


def _read(args: argparse.Namespace) -> Reading:
    from minyi.text.dates import DateParseError, parse_datetime
    from minyi.text.pii import find_pii, mask_pii
    from minyi.text.records import record_of, resolve_fields
    from minyi.text.tabular import count_rows, read_table

    mapping = _mapping(args)
    out = Reading()
    several = len(args.files) > 1
    for path in args.files:
        name = Path(path).name
        out.files.append(name)
        total = count_rows(path, encoding=args.encoding, sheet=args.sheet)
        with read_table(path, encoding=args.encoding, sheet=args.sheet, on_bad_row="report") as table:
            fields = resolve_fields(table.header, mapping, path=path)
            out.columns[name] = dict(fields.describe())
            has_id = "external_id" in fields.indices
            has_time = "time" in fields.indices
            out.has_id = out.has_id or has_id
            out.has_time = out.has_time or has_time
            out.has_category = out.has_category or "category" in fields.indices
            with _Bar(f"reading {name}", total, quiet=args.quiet) as bar:
                for number, values in table.rows:
                    bar.update()
                    if isinstance(values, BadRow):
                        out.bad_rows.append((name, number, values.reason))
                        continue
                    record = record_of(values, fields)
                    title, content = record.get("title", ""), record.get("content", "")
                    if not title and not content:
                        out.empty_rows.append((name, number))
                        continue
                    when = None
                    raw_time = record.get("time", "")
                    if raw_time:
                        try:
                            when = parse_datetime(raw_time)
                        except DateParseError as exc:
                            out.bad_times.append((name, number, str(exc)))
                    if when is None:
                        out.no_time += 1
                    spans_title, spans_content = find_pii(title), find_pii(content)
                    row_number: Any = f"{name}:{number}" if several else number
                    row = Row(
                        source=name,
                        number=number,
                        id=(record.get("external_id") or row_number) if has_id else row_number,
                        title=mask_pii(title, spans=spans_title),
                        content=mask_pii(content, spans=spans_content),
                        when=when,
                        person=_person(record),
                        supports=_supports(record.get("supports", "")),
                        region=record.get("region") or None,
                        file_category=record.get("category", ""),
                        pii=len(spans_title) + len(spans_content),
                    )
                    # the raw text is analysed (and never written out): keep it until triage
                    row.normalized = f"{title}\n{content}".strip()
                    out.rows.append(row)
    return out


# --- the gazetteer --------------------------------------------------------------------------------------

_GAZETTEER_COLUMNS = {
    "name": ("名称", "name", "地名", "名稱"),
    "kind": ("类型", "kind", "類型"),
    "parent": ("上级", "parent", "上級"),
    "code": ("编码", "code", "編碼"),
    "aliases": ("别名", "aliases", "alias", "別名"),
}
# the kinds of docs/gazetteer.md, as minyi.text.locate knows them (as minyi.routing.services maps them)
_GAZETTEER_KINDS = {
    label: kind
    for kind, labels in {
        "city": "province 省 city 城市 市",
        "district": "district 区县 区 县 區縣 區 縣",
        "street": "street 街道乡镇 街道 乡镇 镇 乡 街道鄉鎮 鄉鎮 鎮 鄉",
        "community": "community 社区村 社区 村 社區村 社區",
        "estate": "estate 小区 小區",
        "road": "road 道路",
        # schools, hospitals and markets are landmarks to the place finder
        "landmark": "landmark 地标 地標 school 学校 學校 hospital 医院 醫院 market 市场商场 市场 商场 市場商場 市場 商場",
        "company": "company 单位企业 单位 企业 單位企業 單位 企業",
        "other": "other 其他",
    }.items()
    for label in labels.split()
}


def _load_gazetteer(path: str, encoding: str | None) -> tuple[Any, dict[Any, str]]:
    """(Gazetteer, place id -> name) from a gazetteer file; ``CommandError`` naming the row for a bad one."""
    import re

    from minyi.text.locate import Gazetteer, Place
    from minyi.text.tabular import read_table

    def key(name: str) -> str:
        return "".join(str(name).split()).lstrip("\ufeff").casefold()

    places: list[Place] = []
    by_code: dict[str, str] = {}
    by_name: dict[str, list[str]] = defaultdict(list)
    names: dict[Any, str] = {}
    with read_table(path, encoding=encoding) as table:
        header = [key(h) for h in table.header]
        index = {
            column: next((header.index(key(n)) for n in options if key(n) in header), None)
            for column, options in _GAZETTEER_COLUMNS.items()
        }
        if index["name"] is None or index["kind"] is None:
            raise CommandError(
                f"{path}: a gazetteer needs the columns 名称/name and 类型/kind "
                f"(columns found: {', '.join(repr(h) for h in table.header)})"
            )
        for number, values in table.rows:
            cell = {c: (" ".join(str(values[i]).split()) if i is not None else "") for c, i in index.items()}
            if not cell["name"]:
                continue
            kind = _GAZETTEER_KINDS.get(cell["kind"].casefold())
            if kind is None:
                raise CommandError(f"{path}: row {number}: unknown kind {cell['kind']!r} (column 类型/kind)")
            parent = None
            if cell["parent"]:
                value = cell["parent"]
                if value in by_code:
                    parent = by_code[value]
                else:
                    found = by_name.get(value.split("/")[-1].strip(), [])
                    if len(found) != 1:
                        why = "is not unique" if found else "is not on an earlier row"
                        raise CommandError(
                            f"{path}: row {number}: the parent {value!r} {why} (column 上级/parent)"
                        )
                    parent = found[0]
            place_id = cell["code"] or f"row{number}"
            if cell["code"]:
                by_code[cell["code"]] = place_id
            by_name[cell["name"]].append(place_id)
            aliases = tuple(a for a in re.split(r"[\s、,，;；]+", cell["aliases"]) if a)
            places.append(Place(id=place_id, name=cell["name"], kind=kind, parent=parent, aliases=aliases))
            names[place_id] = cell["name"]
    try:
        return Gazetteer(places), names
    except ValueError as exc:  # e.g. two places with one code
        raise CommandError(f"{path}: not a usable gazetteer ({exc})") from None


# --- triage -----------------------------------------------------------------------------------------------


@dataclass
class Triage:
    classified: str | None = None  # "model", "file" or None
    model_name: str = ""


@dataclass
class Engines:
    """The optional classifier and gazetteer, loaded before any row is read (a bad one fails fast)."""

    model: Any = None
    gazetteer: Any = None
    place_names: dict[Any, str] = field(default_factory=dict)


def _engines(args: argparse.Namespace) -> Engines:
    from minyi.text.normalize import normalize
    from minyi.text.segment import default_segmenter

    engines = Engines()
    if args.model:
        from minyi.text.classify import Classifier

        engines.model = Classifier.load(args.model)
        if args.threshold is not None:
            engines.model.threshold = args.threshold
    if args.gazetteer:
        engines.gazetteer, engines.place_names = _load_gazetteer(args.gazetteer, args.encoding)
        # full names of 3+ characters stay one token (阳光花园, not 阳光 / 花园), as intake's triage does
        places = engines.gazetteer.places
        words = {normalize(p.name) for p in places if len(p.name) >= 3}
        words |= {normalize(a) for p in places for a in p.aliases if len(a) >= 3}
        default_segmenter().add_words(sorted(words))
    return engines


def _triage(reading: Reading, args: argparse.Namespace, engines: Engines) -> Triage:
    from minyi.text.normalize import normalize
    from minyi.text.risk import assess_many
    from minyi.text.segment import segment_many

    model, gazetteer, place_names = engines.model, engines.gazetteer, engines.place_names
    result = Triage()
    if model is not None:
        result.classified, result.model_name = "model", Path(args.model).name
    elif reading.has_category and any(r.file_category for r in reading.rows):
        result.classified = "file"
    rows = reading.rows
    with _Bar("triage", len(rows), quiet=args.quiet) as bar:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            normalized = [normalize(r.normalized) for r in batch]
            tokens = segment_many(normalized)
            risks = assess_many(normalized, when=[r.when for r in batch])
            predictions = model.predict_with_confidence(tokens) if model is not None else None
            locations = gazetteer.locate_many(normalized) if gazetteer is not None else None
            for i, row in enumerate(batch):
                row.normalized = normalized[i]
                row.tokens = " ".join(t for t in tokens[i] if t and not t.isspace())
                risk = risks[i]
                row.risk_score, row.risk_level, row.risk_codes = risk.score, risk.level, risk.codes
                row.risk_reasons = "；".join(
                    f"{RISK_CODE_NAMES.get(r.code, r.code)}：{r.evidence}" for r in risk.reasons
                )
                if predictions is not None:
                    p = predictions[i]
                    row.category = p.label
                    row.confidence = round(p.confidence, 4) if p.best is not None else None
                    row.abstained = p.abstained
                elif result.classified == "file":
                    row.category = row.file_category or None
                if locations is not None:
                    location = locations[i]
                    row.place_id = location.place_id
                    row.place = (
                        place_names.get(location.place_id, "") if location.place_id is not None else ""
                    )
                    if location.region_id is not None and not row.region:
                        row.region = str(location.region_id)
            bar.update(len(batch))
    return result


# --- duplicates --------------------------------------------------------------------------------------------


def _duplicates(rows: list[Row], threshold: float, *, quiet: bool) -> list[list[int]]:
    """Groups (row indexes, the earliest first) of near-duplicates, largest first; sets ``Row.duplicate``."""
    from minyi.text.dedupe import DuplicateIndex, InMemoryStorage

    index = DuplicateIndex(storage=InMemoryStorage(), threshold=threshold)
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    texts = [r.normalized for r in rows]
    with _Bar("duplicates", 2 * len(rows), quiet=quiet) as bar:
        for start in range(0, len(rows), BATCH):
            index.add_many(
                ((i, texts[i]) for i in range(start, min(start + BATCH, len(rows)))), normalized=True
            )
            bar.update(min(BATCH, len(rows) - start))
        for start in range(0, len(rows), BATCH):
            ids = list(range(start, min(start + BATCH, len(rows))))
            found = index.query_many([texts[i] for i in ids], normalized=True, exclude=ids)
            for i, matches in zip(ids, found, strict=True):
                for other, _similarity in matches:
                    a, b = find(i), find(int(other))
                    if a != b:
                        parent[max(a, b)] = min(a, b)
            bar.update(len(ids))
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(rows)):
        members[find(i)].append(i)
    groups = sorted((m for m in members.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
    for number, group in enumerate(groups, start=1):
        for i in group:
            rows[i].duplicate = number
    return groups


# --- topics -------------------------------------------------------------------------------------------------


def _mine(rows: list[Row], args: argparse.Namespace) -> list[Any]:
    topics = _topics()
    docs = [
        topics.TopicDoc(
            id=i,
            text=row.normalized,
            title=row.title,
            tokens=row.tokens,
            when=row.when,
            person=row.person,
            region=row.region,
            supports=row.supports,
        )
        for i, row in enumerate(rows)
    ]
    with _Bar("hot topics", len(docs), quiet=args.quiet) as bar:
        found = list(
            topics.mine_topics(
                docs,
                since=args.since,
                min_size=args.min_size,
                threshold=args.topic_threshold,
                progress=bar.to,  # called with the documents read so far
            )
        )
    for rank, topic in enumerate(found, start=1):
        for i in topic.doc_ids:
            if rows[i].topic is None:
                rows[i].topic = rank
    return found


# --- surges and warnings -------------------------------------------------------------------------------


@dataclass
class Alert:
    level: str
    source: str  # all, topic, category, place, message
    label: str
    start: dt.date | None
    end: dt.date | None
    count: int
    baseline: float | None
    reasons: list[dict[str, Any]]
    rows: list[int]


def _surge_config(args: argparse.Namespace) -> Any:
    surge = _surge()
    options = {
        name: getattr(args, name)
        for name in ("baseline_days", "window_days", "min_count")
        if getattr(args, name) is not None
    }
    return surge.SurgeConfig(**options)


def _risk_of(
    rows: list[Row], indexes: Iterable[int], *, broad: bool = False
) -> tuple[int, tuple[str, ...], int]:
    """(score, codes, how many are medium or high) of the messages behind a warning.

    One matter (a topic, a place, a message) is as risky as its riskiest message: the highest score and the
    codes of every message with a risk. For a broad key (all messages, a category) one risky message among
    many unrelated ones says little about the burst: the score is the one that at least
    ``BROAD_RISK_MESSAGES`` of them reach, and a code counts when that many messages have it.
    """
    chosen = [rows[i] for i in indexes]
    need = BROAD_RISK_MESSAGES if broad else 1
    scores = sorted((r.risk_score for r in chosen), reverse=True)
    score = scores[need - 1] if len(scores) >= need else 0
    codes: Counter[str] = Counter()
    for row in chosen:
        if row.risk_score:
            codes.update(set(row.risk_codes))
    kept = tuple(code for code, n in codes.most_common() if n >= need)
    risky = sum(1 for r in chosen if r.risk_level in ("medium", "high"))
    return score, kept, risky


def _risk_reason(score: int, codes: Sequence[str], risky: int) -> dict[str, Any]:
    return {"code": "risk", "params": {"score": score, "codes": list(codes), "messages": risky}}


def _warnings(
    rows: list[Row],
    topics: list[Any],
    time_based: bool,
    args: argparse.Namespace,
    place_names: dict[Any, str],
) -> tuple[list[Alert], Any, dt.date | None]:
    """The warnings (surges with their risk, risky topics, risky messages), the surge config and the first
    day surges could be reported on (``None`` without times)."""
    surge = _surge()
    found: list[Alert] = []
    config = None
    surges_from: dt.date | None = None
    members: dict[str, list[int]] = {"all": [i for i, r in enumerate(rows) if r.when is not None]}
    labels: dict[str, tuple[str, str]] = {"all": ("all", "全部留言")}
    for i, row in enumerate(rows):
        if row.when is None:
            continue
        if row.category:
            members.setdefault(f"category:{row.category}", []).append(i)
            labels[f"category:{row.category}"] = ("category", f"分类：{row.category}")
        if row.place_id is not None:
            key = f"place:{row.place_id}"
            members.setdefault(key, []).append(i)
            labels[key] = ("place", f"地点：{place_names.get(row.place_id, row.place_id)}")
    for rank, topic in enumerate(topics, start=1):
        key = f"topic:{rank}"
        members[key] = [i for i in topic.doc_ids if rows[i].when is not None]
        labels[key] = ("topic", f"热点：{_masked(topic.label)}")
    surged_topics: set[str] = set()
    if time_based:
        config = _surge_config(args)
        series = {
            key: surge.daily_counts(rows[i].when.date() for i in indexes)  # type: ignore[union-attr]
            for key, indexes in members.items()
            if indexes
        }
        # the file's first days have no past: surges are reported after a warm-up of baseline + window days
        first = min(rows[i].when.date() for i in members["all"])  # type: ignore[union-attr]
        last = max(rows[i].when.date() for i in members["all"])  # type: ignore[union-attr]
        surges_from = first + dt.timedelta(days=config.baseline_days + config.window_days)
        bursts = []
        if surges_from <= last:
            with _Bar("surges", len(series), quiet=args.quiet, unit="series") as bar:
                bursts = list(surge.detect_many(series, config=config, start=surges_from))
                bar.update(len(series))
        for burst in bursts:
            indexes = [
                i
                for i in members.get(burst.key, ())
                if burst.start <= rows[i].when.date() <= burst.end  # type: ignore[union-attr]
            ]
            source, label = labels.get(burst.key, ("other", burst.key))
            score, codes, risky = _risk_of(rows, indexes, broad=source in ("all", "category"))
            level = surge.level(burst, risk_score=score, risk_codes=codes)
            if level is None:
                continue
            reasons = [
                {
                    "code": "surge",
                    "params": {
                        "count": int(burst.count),
                        "baseline": round(float(burst.baseline), 2),
                        "threshold": int(burst.threshold),
                        "ratio": round(float(burst.ratio), 2) if math.isfinite(burst.ratio) else None,
                        "p_value": float(f"{float(burst.p_value):.3g}"),
                        "days": (burst.end - burst.start).days + 1,
                    },
                }
            ]
            if score:
                reasons.append(_risk_reason(score, codes, risky))
            if source == "topic":
                surged_topics.add(burst.key)
            found.append(
                Alert(
                    level,
                    source,
                    label,
                    burst.start,
                    burst.end,
                    int(burst.count),
                    float(burst.baseline),
                    reasons,
                    indexes,
                )
            )
    # topics whose messages carry risk enough for a level of their own
    for rank, topic in enumerate(topics, start=1):
        key = f"topic:{rank}"
        if key in surged_topics:
            continue
        score, codes, risky = _risk_of(rows, topic.doc_ids)
        level = surge.level(None, risk_score=score, risk_codes=codes) if score else None
        if level is None:
            continue
        days = [rows[i].when.date() for i in topic.doc_ids if rows[i].when is not None]  # type: ignore[union-attr]
        found.append(
            Alert(
                level,
                "topic",
                labels[key][1],
                min(days) if days else None,
                max(days) if days else None,
                len(topic.doc_ids),
                None,
                [_risk_reason(score, codes, risky)],
                list(topic.doc_ids),
            )
        )
    # single messages at a high level, unless a warning about their matter (a topic, a place) holds them: in a
    # burst of all messages or of a category they would be lost among the others
    covered = {i for w in found if w.source not in ("all", "category") for i in w.rows}
    for i, row in enumerate(rows):
        if i in covered or not row.risk_score:
            continue
        level = surge.level(None, risk_score=row.risk_score, risk_codes=row.risk_codes)
        if level not in MESSAGE_LEVELS:
            continue
        day = row.when.date() if row.when is not None else None
        found.append(
            Alert(
                level,
                "message",
                f"留言：{_cut(row.title or row.content, 40)}",
                day,
                day,
                1,
                None,
                [
                    _risk_reason(
                        row.risk_score, row.risk_codes, 1 if row.risk_level in ("medium", "high") else 0
                    )
                ],
                [i],
            )
        )
    found.sort(key=lambda w: (LEVEL_ORDER.get(w.level, 9), -w.count, w.start or dt.date.min, w.label))
    return found, config, surges_from


# --- helpers -------------------------------------------------------------------------------------------------


def _masked(text: Any) -> str:
    from minyi.text.pii import mask_pii

    return mask_pii(str(text or ""))


def _cut(text: str, size: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return value.isoformat()


def _json_id(value: Any) -> Any:
    return value if isinstance(value, int | str) else str(value)


def _timeline(rows: list[Row]) -> tuple[str, list[str], list[int], list[int]]:
    """(unit, labels, counts, medium-or-high counts) of the rows with a time: by day, week or month."""
    days = [r.when.date() for r in rows if r.when is not None]
    if not days:
        return "day", [], [], []
    first, last = min(days), max(days)
    span = (last - first).days + 1
    if span <= 92:
        unit = "day"

        def bucket(d: dt.date) -> dt.date:
            return d
    elif span <= 731:
        unit = "week"

        def bucket(d: dt.date) -> dt.date:
            return d - dt.timedelta(days=d.weekday())
    else:
        unit = "month"

        def bucket(d: dt.date) -> dt.date:
            return d.replace(day=1)

    counts: Counter[dt.date] = Counter()
    risky: Counter[dt.date] = Counter()
    for row in rows:
        if row.when is None:
            continue
        b = bucket(row.when.date())
        counts[b] += 1
        if row.risk_level in ("medium", "high"):
            risky[b] += 1
    keys = []
    current = bucket(first)
    while current <= last:
        keys.append(current)
        if unit == "day":
            current += dt.timedelta(days=1)
        elif unit == "week":
            current += dt.timedelta(days=7)
        else:
            current = (current + dt.timedelta(days=32)).replace(day=1)
    labels = [k.strftime("%Y-%m") if unit == "month" else k.isoformat() for k in keys]
    return unit, labels, [counts[k] for k in keys], [risky[k] for k in keys]


# --- the outputs -----------------------------------------------------------------------------------------------


@dataclass
class Analysis:
    args: argparse.Namespace
    reading: Reading
    triage: Triage
    groups: list[list[int]]
    topics: list[Any]
    warnings: list[Alert]
    surge_config: Any
    surges_from: dt.date | None
    time_based: bool
    notes: list[str]
    generated_at: dt.datetime

    @property
    def rows(self) -> list[Row]:
        return self.reading.rows

    def ids(self, indexes: Iterable[int]) -> list[Any]:
        return [_json_id(self.rows[i].id) for i in indexes]


def _topic_entry(analysis: Analysis, rank: int, topic: Any) -> dict[str, Any]:
    return {
        "rank": rank,
        "label": _masked(topic.label),
        "keywords": [_masked(k) for k in topic.keywords],
        "size": int(topic.size),
        "heat": round(float(topic.heat), 2),
        "message_ids": analysis.ids(topic.doc_ids),
        "title": _masked(topic.title),
        "representative_id": _json_id(analysis.rows[topic.representative_id].id)
        if isinstance(topic.representative_id, int) and 0 <= topic.representative_id < len(analysis.rows)
        else None,
        "previous": int(topic.previous),
        "people": int(topic.people),
        "supports": int(topic.supports),
        "regions": int(topic.regions),
        "growth": round(float(topic.growth), 3),
        "first_at": _iso(topic.first_at),
        "last_at": _iso(topic.last_at),
    }


def _summary(analysis: Analysis) -> dict[str, Any]:
    rows = analysis.rows
    categories = Counter(r.category for r in rows if r.category)
    dated = [r.when for r in rows if r.when is not None]
    unit, labels, counts, _risky = _timeline(rows) if analysis.time_based else ("day", [], [], [])
    in_groups = sum(len(g) for g in analysis.groups)
    return {
        "version": SUMMARY_VERSION,
        "generated_at": _iso(analysis.generated_at),
        "files": analysis.reading.files,
        "messages": len(rows),
        "rows_skipped": len(analysis.reading.bad_rows) + len(analysis.reading.empty_rows),
        "time_based": analysis.time_based,
        "period": {"start": _iso(min(dated).date()), "end": _iso(max(dated).date())} if dated else None,
        "ids": "input" if analysis.reading.has_id else "row_numbers",
        "columns": analysis.reading.columns,
        "classified": analysis.triage.classified,
        "categories": dict(categories.most_common()),
        "unclassified": sum(1 for r in rows if not r.category),
        "risk_levels": {level: sum(1 for r in rows if r.risk_level == level) for level in RISK_LEVELS},
        "pii_messages": sum(1 for r in rows if r.pii),
        "duplicates": {
            "threshold": analysis.args.duplicate_threshold,
            "groups": len(analysis.groups),
            "messages": in_groups,
            "redundant": in_groups - len(analysis.groups),
            "top": [
                {
                    "group": number,
                    "size": len(group),
                    "title": _cut(rows[group[0]].title or rows[group[0]].content, 60),
                    "message_ids": analysis.ids(group),
                }
                for number, group in enumerate(analysis.groups[:SUMMARY_DUPLICATE_GROUPS], start=1)
            ],
        },
        "hot_topics": [
            _topic_entry(analysis, rank, topic)
            for rank, topic in enumerate(analysis.topics[: analysis.args.top], start=1)
        ],
        "topics_found": len(analysis.topics),
        "warnings": [
            {
                "level": w.level,
                "label": w.label,
                "start": _iso(w.start),
                "end": _iso(w.end),
                "count": w.count,
                "baseline": round(w.baseline, 2) if w.baseline is not None else None,
                "reasons": w.reasons,
                "message_ids": analysis.ids(w.rows),
                "source": w.source,
            }
            for w in analysis.warnings
        ],
        "timeline": {"unit": unit, "points": [[label, n] for label, n in zip(labels, counts, strict=True)]},
        "notes": analysis.notes,
    }


# the report ------------------------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 14mm 12mm; @bottom-center { content: counter(page) " / " counter(pages);
  font-size: 9pt; color: #888; } }
* { box-sizing: border-box; }
html { font-family: "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: #222; }
body { margin: 0 auto; max-width: 960px; padding: 16px; font-size: 14px; line-height: 1.55; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #2f6fb0; }
.meta { color: #666; font-size: 12px; margin: 0; }
.figures { display: flex; flex-wrap: wrap; gap: 8px; }
.figure { flex: 1 1 150px; border: 1px solid #dde3ea; border-radius: 6px; padding: 8px 10px; background: #f7f9fb; }
.figure .value { display: block; font-size: 20px; font-weight: 700; color: #2f6fb0; }
.figure .label { display: block; font-size: 12px; color: #555; }
.chart-block { margin: 10px 0; break-inside: avoid; page-break-inside: avoid; }
svg.chart { max-width: 100%; height: auto; }
table { table-layout: fixed; width: 100%; border-collapse: collapse; font-size: 12px; margin: 6px 0; }
th, td { border: 1px solid #dde3ea; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eef3f8; font-weight: 700; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.label { font-weight: 700; }
.level { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; white-space: nowrap; }
.level-red { background: #c62828; } .level-orange { background: #ef6c00; } .level-yellow { background: #b8960b; }
.empty { color: #777; font-style: normal; padding: 8px 0; }
.notes li { margin: 4px 0; }
.small { font-size: 11px; color: #666; }
.w5 { width: 5%; } .w6 { width: 6%; } .w7 { width: 7%; } .w13 { width: 13%; } .w19 { width: 19%; }
.w18 { width: 18%; } .w20 { width: 20%; } .w22 { width: 22%; } .w30 { width: 30%; } .w35 { width: 35%; }
.w52 { width: 52%; }
td { overflow-wrap: anywhere; }
td.label { overflow-wrap: normal; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _reason_text(reason: dict[str, Any]) -> str:
    params = reason.get("params", {})
    if reason.get("code") == "surge":
        ratio = params.get("ratio")
        return (
            f"突增：{params.get('days')} 天内 {params.get('count')} 条，基线 {params.get('baseline')} 条"
            f"（报警阈值 {params.get('threshold')} 条"
            + (f"，为基线的 {ratio} 倍" if ratio is not None else "")
            + f"，p={params.get('p_value')}）"
        )
    if reason.get("code") == "risk":
        codes = "、".join(RISK_CODE_NAMES.get(c, c) for c in params.get("codes", [])) or "—"
        return f"风险信号：{codes}（风险分 {params.get('score')}，中高风险留言 {params.get('messages')} 条）"
    return str(reason.get("code"))


def _figure(value: Any, label: str) -> str:
    return f'<div class="figure"><span class="value">{_e(value)}</span><span class="label">{_e(label)}</span></div>'


def _report_html(analysis: Analysis, summary: dict[str, Any]) -> str:
    rows = analysis.rows
    title = analysis.args.title or "民意分析报告"
    period = summary["period"]
    levels = Counter(w.level for w in analysis.warnings)
    risk = summary["risk_levels"]
    parts: list[str] = [
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="meta">数据文件：{_e("、".join(analysis.reading.files))}；'
        f"生成时间：{_e(_iso(analysis.generated_at))}"
        + (f"；时间范围：{_e(period['start'])} 至 {_e(period['end'])}" if period else "")
        + "</p></header>",
    ]
    # 1. figures
    parts.append('<section id="overview"><h2>一、概览</h2><div class="figures">')
    parts.append(_figure(len(rows), "留言总数"))
    if period:
        start, end = dt.date.fromisoformat(period["start"]), dt.date.fromisoformat(period["end"])
        days = (end - start).days + 1
        parts.append(_figure(days, "覆盖天数"))
        dated = sum(1 for r in rows if r.when is not None)
        parts.append(_figure(f"{dated / days:.1f}", "日均留言"))
    parts.append(_figure(len(analysis.topics), "热点话题"))
    parts.append(
        _figure(
            f"{levels.get('red', 0)} / {levels.get('orange', 0)} / {levels.get('yellow', 0)}",
            "预警（红/橙/黄）",
        )
    )
    parts.append(_figure(risk["high"] + risk["medium"], "中高风险留言"))
    parts.append(_figure(summary["duplicates"]["groups"], "重复留言组"))
    parts.append(_figure(summary["pii_messages"], "含个人信息的留言（已脱敏）"))
    if analysis.triage.classified:
        parts.append(_figure(len(summary["categories"]), "分类数"))
    parts.append("</div></section>")
    # 2. charts
    parts.append('<section id="charts"><h2>二、图表</h2>')
    if analysis.time_based:
        unit, labels, counts, risky = _timeline(rows)
        unit_name = {"day": "按日", "week": "按周", "month": "按月"}[unit]
        parts.append(
            '<div class="chart-block">'
            + charts.inline(
                charts.line_chart(
                    f"留言量走势（{unit_name}）",
                    labels,
                    [("全部留言", counts), ("中高风险", risky)],
                    height=260,
                )
            )
            + "</div>"
        )
    else:
        parts.append('<p class="empty">没有可用的留言时间，无法绘制留言量走势（见“说明”）。</p>')
    categories = list(summary["categories"].items())[:15]
    if analysis.triage.classified:
        cat_labels = [c for c, _ in categories] + (["未定"] if summary["unclassified"] else [])
        cat_values = [n for _, n in categories] + (
            [summary["unclassified"]] if summary["unclassified"] else []
        )
        chart = charts.bar_chart(
            "分类分布", cat_labels, cat_values, horizontal=True, height=max(160, 40 + 22 * len(cat_labels))
        )
    else:
        chart = charts.bar_chart("分类分布（未分类）", [], [], horizontal=True, height=160)
    parts.append(f'<div class="chart-block">{charts.inline(chart)}</div>')
    parts.append(
        '<div class="chart-block">'
        + charts.inline(
            charts.bar_chart(
                "风险等级分布",
                [RISK_LEVEL_NAMES[level] for level in RISK_LEVELS],
                [risk[level] for level in RISK_LEVELS],
                height=220,
            )
        )
        + "</div>"
    )
    top_topics = summary["hot_topics"][:10]
    parts.append(
        '<div class="chart-block">'
        + charts.inline(
            charts.bar_chart(
                "热点话题热度（前 10）",
                [t["label"] for t in top_topics],
                [round(t["heat"], 1) for t in top_topics],
                horizontal=True,
                height=max(160, 40 + 22 * len(top_topics)),
            )
        )
        + "</div></section>"
    )
    # 3. hot topics
    shown = summary["hot_topics"]
    parts.append(f'<section id="topics"><h2>三、热点话题（前 {len(shown)} 个）</h2>' if shown else "")
    if not shown:
        parts.append(
            '<section id="topics"><h2>三、热点话题</h2>'
            f'<p class="empty">未发现热点话题（一个话题至少要有 {analysis.args.min_size} 条相近的留言）。</p>'
        )
    else:
        parts.append(
            '<table><thead><tr><th class="num w5">排名</th><th class="w20">话题</th><th class="w19">关键词</th>'
            '<th class="num w7">留言数</th><th class="num w6">人数</th><th class="num w6">点赞</th>'
            '<th class="num w7">热度</th><th class="w30">代表性标题</th></tr>'
            "</thead><tbody>"
        )
        for t in shown:
            parts.append(
                f'<tr><td class="num">{t["rank"]}</td><td class="label">{_e(t["label"])}</td>'
                f'<td>{_e("、".join(t["keywords"]))}</td><td class="num">{t["size"]}</td>'
                f'<td class="num">{t["people"]}</td><td class="num">{t["supports"]}</td>'
                f'<td class="num">{t["heat"]:.1f}</td><td>{_e(_cut(t["title"], 60))}</td></tr>'
            )
        parts.append("</tbody></table>")
        parts.append(
            '<p class="small">热度 = 10 ×（ln(1+留言数) + ln(1+人数) + 0.5·ln(1+点赞数) + 0.8·ln(1+地区数) + '
            "增长率，增长率限于 −1 到 3）；增长率 =（本期 − 上期）/ max(上期, 1)。"
            + (
                f"本期自 {_e(_iso(analysis.args.since))} 起。"
                if analysis.args.since
                else "未指定 --since，全部留言都算本期。"
            )
            + f"共发现 {len(analysis.topics)} 个话题，全部见 appeals.xlsx 的“热点”工作表。</p>"
        )
    parts.append("</section>")
    # 4. warnings
    parts.append('<section id="warnings"><h2>四、预警</h2>')
    if not analysis.warnings:
        parts.append(
            '<p class="empty">没有预警。'
            + ("" if analysis.time_based else "（没有留言时间，未做突增检测，只看了风险信号。）")
            + "</p>"
        )
    else:
        parts.append(
            '<table><thead><tr><th class="w7">级别</th><th class="w20">对象</th><th class="w13">时段</th>'
            '<th class="num w6">数量</th><th class="num w6">基线</th><th class="w30">原因</th>'
            '<th class="w18">留言编号（前 5 条）</th></tr></thead><tbody>'
        )
        for w in analysis.warnings[:REPORT_WARNINGS]:
            span = (
                "—"
                if w.start is None
                else (_iso(w.start) if w.start == w.end else f"{_iso(w.start)} 至 {_iso(w.end)}")
            )
            ids = analysis.ids(w.rows[:REPORT_IDS])
            parts.append(
                f'<tr><td><span class="level level-{_e(w.level)}">{_e(LEVEL_NAMES.get(w.level, w.level))}</span></td>'
                f'<td>{_e(w.label)}</td><td>{_e(span)}</td><td class="num">{w.count}</td>'
                f'<td class="num">{"—" if w.baseline is None else f"{w.baseline:.1f}"}</td>'
                f"<td>{'<br>'.join(_e(_reason_text(r)) for r in w.reasons)}</td>"
                f"<td>{_e(', '.join(str(i) for i in ids))}{' …' if len(w.rows) > REPORT_IDS else ''}</td></tr>"
            )
        parts.append("</tbody></table>")
        if len(analysis.warnings) > REPORT_WARNINGS:
            parts.append(
                f'<p class="small">共 {len(analysis.warnings)} 条预警，此处列出前 {REPORT_WARNINGS} 条；'
                "全部见 appeals.xlsx 的“预警”工作表和 summary.json。</p>"
            )
    parts.append("</section>")
    # 5. duplicates
    dup = summary["duplicates"]
    parts.append('<section id="duplicates"><h2>五、重复留言</h2>')
    if not analysis.groups:
        parts.append(f'<p class="empty">未发现重复留言（相似度阈值 {dup["threshold"]}）。</p>')
    else:
        parts.append(
            f"<p>发现 {dup['groups']} 组重复或近似重复的留言，共 {dup['messages']} 条，"
            f"其中 {dup['redundant']} 条是重复的副本（相似度阈值 {dup['threshold']}）。</p>"
            '<table><thead><tr><th class="num w6">组</th><th class="num w7">条数</th>'
            '<th class="w52">标题（最早一条）</th><th class="w35">留言编号</th></tr></thead><tbody>'
        )
        for entry in dup["top"][:REPORT_DUPLICATE_GROUPS]:
            ids = entry["message_ids"]
            parts.append(
                f'<tr><td class="num">{entry["group"]}</td><td class="num">{entry["size"]}</td>'
                f"<td>{_e(entry['title'])}</td>"
                f"<td>{_e(', '.join(str(i) for i in ids[:REPORT_IDS]))}{' …' if len(ids) > REPORT_IDS else ''}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</section>")
    # 6. notes
    parts.append('<section id="notes" class="notes"><h2>六、说明</h2><ul>')
    parts.extend(f"<li>{_e(note)}</li>" for note in analysis.notes)
    parts.append("</ul></section></body></html>\n")
    return "".join(parts)


def _notes(analysis: Analysis, fonts: bool) -> list[str]:
    reading, args = analysis.reading, analysis.args
    notes: list[str] = []
    if not reading.rows:
        notes.append("输入文件中没有可分析的留言，报告中各部分均为空。")
    if not reading.has_time:
        notes.append(
            "输入文件没有时间列（如“留言时间”），本次分析不含时间相关部分：没有留言量走势，也没有突增检测；可用 --time-col 指定时间列。"
        )
    elif not analysis.time_based:
        notes.append("时间列中没有可以识别的时间，本次分析不含时间相关部分：没有留言量走势，也没有突增检测。")
    elif reading.no_time:
        example = ""
        if reading.bad_times:
            name, number, why = reading.bad_times[0]
            example = f"（例如 {name} 第 {number} 行：{why}）"
        notes.append(f"{reading.no_time} 条留言的时间为空或无法识别{example}，未计入走势和突增检测。")
    if analysis.triage.classified == "model":
        notes.append(
            f"分类由模型 {analysis.triage.model_name} 给出；置信度低于阈值的留言标为“未定”，需人工判断。"
        )
    elif analysis.triage.classified == "file":
        notes.append("未提供分类模型，分类取自输入文件中的分类列。")
    else:
        notes.append(
            "未提供分类模型（--model），留言未分类，也没有按分类的突增检测；可先用 minyi train-classifier 训练模型。"
        )
    if not args.gazetteer:
        notes.append("未提供地名表（--gazetteer），没有识别留言涉及的地点，也没有按地点的突增检测。")
    if not reading.has_id:
        notes.append("输入文件没有留言编号列，留言以行号标识（表头为第 1 行）。")
    if reading.bad_rows:
        name, number, why = reading.bad_rows[0]
        notes.append(f"{len(reading.bad_rows)} 行无法读取，已跳过（例如 {name} 第 {number} 行：{why}）。")
    if reading.empty_rows:
        name, number = reading.empty_rows[0]
        notes.append(f"{len(reading.empty_rows)} 行没有标题和内容，已跳过（例如 {name} 第 {number} 行）。")
    rules = _surge().LevelRules()
    if analysis.time_based and analysis.surge_config is not None:
        c = analysis.surge_config
        last = max(r.when for r in reading.rows if r.when is not None).date()
        notes.append(
            f"突增检测：全部留言、每个热点{'、每个分类' if analysis.triage.classified else ''}"
            f"{'、每个地点' if args.gazetteer else ''}各自按日计数，与此前 {c.baseline_days} 天的基线比较"
            f"（{'按星期几调整，' if getattr(c, 'weekday', False) else ''}泊松检验 p ≤ {c.p_value}），"
            f"{c.window_days} 天以内的窗口至少 {c.min_count} 条且达到基线的 {c.ratio} 倍才报警。"
        )
        if analysis.surges_from is not None and analysis.surges_from <= last:
            notes.append(
                f"文件最初 {c.baseline_days + c.window_days} 天的留言只用作基线，突增从 "
                f"{analysis.surges_from.isoformat()} 起报告。"
            )
        else:
            notes.append(
                f"留言时间跨度不足 {c.baseline_days + c.window_days + 1} 天，没有足够的基线，未做突增检测。"
            )
        notes.append(
            f"定级：有突增时，达到基线的 {rules.red_ratio} 倍且不少于 {rules.red_count} 条、或风险分达 "
            f"{rules.red_risk}、或有聚集、堵路、自伤、威胁信号为红色；达到 {rules.orange_ratio} 倍、或不少于 "
            f"{rules.orange_count} 条、或风险分达 {rules.orange_risk} 为橙色；其余为黄色。全部留言和分类的突增，"
            f"风险按至少 {BROAD_RISK_MESSAGES} 条留言共有的信号计。"
        )
    notes.append(
        f"没有突增时：热点或单条留言的风险分达 {rules.red_risk} 为橙色，达 {rules.orange_risk} 或有聚集、堵路、"
        "自伤、威胁信号的热点为黄色；单条留言只在橙色时单独列为预警。"
    )
    notes.append(
        f"重复留言：按字符片段的相似度（MinHash）判断，阈值 {args.duplicate_threshold}；相似的留言归为一组。"
    )
    notes.append("电话、身份证号、银行卡号、邮箱、车牌、姓名和门牌号等个人信息在报告和表格中均已脱敏。")
    if not fonts:
        notes.append(
            "未找到 Noto Sans SC 字体（npm ci 或 $MINYI_FONT_DIR），PDF 使用系统字体，中文可能无法显示。"
        )
    notes.append(
        "每条留言的分类、风险、重复组和热点见 appeals.xlsx；机器可读的结果见 summary.json（docs/analyze.md）。"
    )
    return notes


def _xlsx_sheets(analysis: Analysis) -> list[Any]:
    from minyi.reports.xlsx import Sheet

    rows = analysis.rows
    labels = {rank: _masked(t.label) for rank, t in enumerate(analysis.topics, start=1)}

    def appeal_rows() -> Iterator[list[Any]]:
        for row in rows:
            yield [
                _json_id(row.id),
                row.source,
                row.number,
                row.when,
                row.title,
                row.content,
                row.category or "",
                row.confidence,
                row.abstained,
                RISK_LEVEL_NAMES.get(row.risk_level, row.risk_level),
                row.risk_score,
                row.risk_reasons,
                row.pii,
                row.duplicate,
                row.topic,
                labels.get(row.topic, "") if row.topic else "",
                row.place,
                row.supports,
            ]

    def topic_rows() -> Iterator[list[Any]]:
        for rank, topic in enumerate(analysis.topics, start=1):
            entry = _topic_entry(analysis, rank, topic)
            yield [
                rank,
                entry["label"],
                "、".join(entry["keywords"]),
                entry["size"],
                entry["previous"],
                entry["people"],
                entry["supports"],
                entry["regions"],
                entry["growth"],
                entry["heat"],
                entry["title"],
                entry["first_at"],
                entry["last_at"],
                "、".join(str(i) for i in entry["message_ids"]),
            ]

    def warning_rows() -> Iterator[list[Any]]:
        for w in analysis.warnings:
            yield [
                LEVEL_NAMES.get(w.level, w.level),
                w.label,
                w.start,
                w.end,
                w.count,
                round(w.baseline, 2) if w.baseline is not None else None,
                "；".join(_reason_text(r) for r in w.reasons),
                "、".join(str(i) for i in analysis.ids(w.rows)),
            ]

    return [
        Sheet(
            "留言",
            [
                "留言编号",
                "来源文件",
                "行号",
                "留言时间",
                "留言主题",
                "留言详情（已脱敏）",
                "分类",
                "置信度",
                "未定",
                "风险等级",
                "风险分",
                "风险原因",
                "个人信息数",
                "重复组",
                "热点排名",
                "热点话题",
                "地点",
                "点赞数",
            ],
            appeal_rows(),
            widths=(12, 14, 7, 18, 36, 60, 12, 8, 6, 8, 7, 24, 9, 8, 8, 20, 14, 7),
        ),
        Sheet(
            "热点",
            [
                "排名",
                "话题",
                "关键词",
                "留言数",
                "上期留言数",
                "人数",
                "点赞数",
                "地区数",
                "增长率",
                "热度",
                "代表性标题",
                "最早",
                "最晚",
                "留言编号",
            ],
            topic_rows(),
            widths=(6, 20, 30, 8, 10, 6, 8, 8, 8, 8, 40, 18, 18, 40),
        ),
        Sheet(
            "预警",
            ["级别", "对象", "开始", "结束", "数量", "基线", "原因", "留言编号"],
            warning_rows(),
            widths=(6, 30, 12, 12, 8, 8, 60, 40),
        ),
    ]


def _write(analysis: Analysis, out: Path) -> dict[str, Any]:
    from minyi.reports.pdf import fonts_available, render_pdf
    from minyi.reports.xlsx import write_xlsx
    from minyi.text.atomic import publish

    fonts = fonts_available()
    analysis.notes = _notes(analysis, fonts)
    summary = _summary(analysis)
    page = _report_html(analysis, summary)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".analyze-", dir=out))
    except OSError as exc:
        raise CommandError(f"{out}: cannot write the output ({exc.strerror or exc})") from exc
    try:
        with _Bar("writing", len(OUTPUT_FILES), quiet=analysis.args.quiet, unit="files") as bar:
            (staging / SUMMARY_JSON).write_text(
                json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            bar.update()
            (staging / REPORT_HTML).write_text(page, encoding="utf-8")
            bar.update()
            write_xlsx(staging / APPEALS_XLSX, _xlsx_sheets(analysis))
            bar.update()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the missing fonts are reported below and in the notes
                (staging / REPORT_PDF).write_bytes(render_pdf(page))
            bar.update()
        for name in OUTPUT_FILES:
            publish(str(staging / name), out / name)
    except OSError as exc:
        raise CommandError(f"{out}: cannot write the output ({exc.strerror or exc})") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not fonts:
        _err(
            "warning: the Noto Sans SC fonts were not found (run `npm ci`, or set MINYI_FONT_DIR); "
            "report.pdf uses the system's fonts"
        )
    return summary


def _output_dir(value: str) -> Path:
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise CommandError(f"{value}: --out must be a directory, and this is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"{value}: cannot create the output directory ({exc.strerror or exc})") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise CommandError(f"{value}: the output directory is not writable")
    return out


def _analyze(argv: list[str]) -> int:
    started = time.perf_counter()
    args = _arguments(argv)
    for path in args.files:
        if not Path(path).is_file():
            raise CommandError(f"{path}: no such file")
    for option in ("model", "gazetteer"):
        value = getattr(args, option)
        if value and not Path(value).is_file():
            raise CommandError(f"{value}: no such file (--{option})")
    out = _output_dir(args.out)
    stages: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(name: str) -> Iterator[None]:
        begun = time.perf_counter()
        try:
            yield
        finally:
            stages[name] = round(time.perf_counter() - begun, 2)

    with stage("read"):
        engines = _engines(args)
        reading = _read(args)
    with stage("triage"):
        triage = _triage(reading, args, engines)
    for what, items in (
        ("could not be read", reading.bad_rows),
        ("have no title or content", reading.empty_rows),
    ):
        if items:
            shown = ", ".join(f"{item[0]} row {item[1]}" for item in items[:5])
            more = f" and {len(items) - 5} more" if len(items) > 5 else ""
            _err(f"skipped {len(items)} row(s) that {what}: {shown}{more}")
    rows = reading.rows
    time_based = any(r.when is not None for r in rows)
    with stage("duplicates"):
        groups = _duplicates(rows, args.duplicate_threshold, quiet=args.quiet)
    with stage("topics"):
        topics = _mine(rows, args) if rows else []
    with stage("warnings"):
        found, config, surges_from = _warnings(rows, topics, time_based, args, engines.place_names)
    analysis = Analysis(
        args=args,
        reading=reading,
        triage=triage,
        groups=groups,
        topics=topics,
        warnings=found,
        surge_config=config,
        surges_from=surges_from,
        time_based=time_based,
        notes=[],
        generated_at=dt.datetime.now().replace(microsecond=0),  # noqa: DTZ005 - the analyst's local clock
    )
    with stage("write"):
        summary = _write(analysis, out)
    _out(
        json.dumps(
            {
                "out": str(out),
                "messages": summary["messages"],
                "time_based": summary["time_based"],
                "hot_topics": summary["topics_found"],
                "warnings": len(summary["warnings"]),
                "duplicate_groups": summary["duplicates"]["groups"],
                "seconds": round(time.perf_counter() - started, 2),
                "stages": stages,
            },
            ensure_ascii=False,
        )
    )
    return 0
