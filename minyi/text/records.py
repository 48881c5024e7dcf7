"""The columns of a hotline or message-board export, recognised for import.

A 12345 hotline centre or a 信访 office exports its records as CSV or XLSX with headers
that differ from system to system (留言主题 or 诉求标题 or 标题; 来电时间 or 受理时间 ...).
This module maps such a header onto minyi's record fields and turns each row into a dict
``field -> cleaned text``:

- ``FIELDS``: field -> the header names recognised for it, in order of preference:
  simplified Chinese, English, then traditional Chinese (Big5 systems; every simplified
  name's OpenCC ``s2t`` form is there, checked by a test). No name belongs to two fields.
- **Name comparison** is exact after ``column_key``: NFKC (full-width and half-width
  forms are the same), case folded, and whitespace, BOM and zero-width characters,
  ``_``, ``-`` and ``*`` (the "required" mark of import templates) removed, so
  ``Created_At``, ``created at`` and ``＊留言主题`` match ``created_at`` and ``留言主题``.
- **Names left out on purpose**: ``name`` (in an English export it is as often the name
  of the item, a category or a department as the caller's; 姓名 is recognised),
  ``contact`` (a person or a phone number), ``source`` (the intake channel in some exports,
  the provenance of a data set in others), ``序号`` (a row counter that restarts in every
  export: as an external id it would merge different tickets). Map them explicitly.
- ``Mapping`` (``load_mapping`` from TOML, ``mapping_from_dict`` from the web UI's JSON)
  says what the recognition cannot know: which columns are which, value translations
  (``已办结`` -> ``closed``), defaults, columns to ignore, the encoding, sheet and date
  formats of the file. Unknown keys and fields and wrong types are ``TableError`` naming
  the file and the key.
- ``resolve_fields(header, mapping)``: the mapping's columns first (a mapped name missing
  from the header is an error that lists the columns found), then the recognised names for
  the other fields, the first name in ``FIELDS`` order that the header has; a column is used
  by one field only. A header without any title or content column is an error that says
  how to map one.
- ``record_of(values, fields)``: each field's cell stripped; several columns of one field
  joined (title and content with a newline, other fields with a space, e.g. a date column
  and a time column); the mapping's value table applied (exact after stripping, case
  insensitive); the default used for an empty value or a field without a column. The
  work per field is precomputed in the ``FieldMap``, for exports of a million rows.

Dates stay text here: parse them with ``minyi.text.dates.parse_datetime(record["time"],
formats=mapping.date_formats, day_first=mapping.day_first)``.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import os
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from minyi.text.tabular import TableError

__all__ = [
    "FIELDS",
    "FieldMap",
    "Mapping",
    "column_key",
    "load_mapping",
    "mapping_from_dict",
    "record_of",
    "resolve_fields",
]

FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "留言编号", "工单编号", "工单号", "受理编号", "受理号", "信件编号", "信访编号", "诉求编号",
        "来电编号", "事项编号", "流水号", "件号", "编号",
        "id", "ticket_id", "ticket_no", "ticket_number", "tracking_number", "external_id",
        "external_number", "case_id", "case_number", "reference_number",
        "留言編號", "工單編號", "工單號", "受理編號", "受理號", "信件編號", "信訪編號", "訴求編號",
        "來電編號", "事項編號", "流水號", "件號", "編號",
    ),
    "title": (
        "留言主题", "诉求标题", "留言标题", "信件标题", "来信标题", "工单标题", "诉求主题", "事项名称",
        "标题", "主题", "事项", "诉求摘要", "摘要",
        "title", "subject", "summary",
        "留言主題", "訴求標題", "留言標題", "信件標題", "來信標題", "工單標題", "訴求主題", "事項名稱",
        "標題", "主題", "事項", "訴求摘要",
    ),
    "content": (
        "留言详情", "留言内容", "诉求内容", "来电内容", "来信内容", "信件内容", "工单内容", "诉求详情",
        "问题描述", "反映内容", "投诉内容", "事项内容", "内容", "详情", "正文", "描述",
        "detail", "details", "content", "body", "text", "description", "message",
        "留言詳情", "留言內容", "訴求內容", "來電內容", "來信內容", "信件內容", "工單內容", "訴求詳情",
        "問題描述", "反映內容", "投訴內容", "事項內容", "內容", "詳情",
    ),
    "time": (
        "留言时间", "来电时间", "来信时间", "受理时间", "提交时间", "登记时间", "创建时间", "发布时间",
        "诉求时间", "反映时间", "投诉时间", "留言日期", "来电日期", "受理日期", "登记日期", "时间", "日期",
        "time", "date", "datetime", "created_at", "created", "create_time", "created_time",
        "submitted_at", "submit_time", "timestamp",
        "留言時間", "來電時間", "來信時間", "受理時間", "提交時間", "登記時間", "創建時間", "建立時間",
        "發佈時間", "發布時間", "訴求時間", "反映時間", "投訴時間", "來電日期", "登記日期", "時間",
    ),
    "category": (
        "一级分类", "一级标签", "一级类别", "诉求分类", "问题分类", "业务分类", "事项分类", "诉求类别",
        "问题类别", "分类", "类别", "标签",
        "label", "category",
        "一級分類", "一級標籤", "一級類別", "訴求分類", "問題分類", "業務分類", "事項分類", "訴求類別",
        "問題類別", "分類", "類別", "標籤",
    ),
    "subcategory": (
        "二级分类", "二级标签", "二级类别", "子分类", "小类",
        "subcategory",
        "二級分類", "二級標籤", "二級類別", "子分類", "小類",
    ),
    "department": (
        "承办单位", "承办部门", "处理部门", "处理单位", "责任单位", "责任部门", "办理单位", "办理部门",
        "主办单位", "答复单位", "答复部门", "回复单位",
        "department", "dept", "agency",
        "承辦單位", "承辦部門", "處理部門", "處理單位", "責任單位", "責任部門", "辦理單位", "辦理部門",
        "主辦單位", "答覆單位", "答覆部門", "回覆單位", "答復單位", "答復部門",
    ),
    "region": (
        "区域", "区县", "所属区县", "所属区域", "所在区县", "所属地区", "行政区", "行政区划", "区划", "地区",
        "region", "district", "area",
        "區域", "區縣", "所屬區縣", "所屬區域", "所在區縣", "所屬地區", "行政區", "行政區劃", "區劃", "地區",
    ),
    "address": (
        "地址", "事发地址", "事发地点", "详细地址", "发生地址", "问题地址", "地点", "位置", "所在地",
        "address", "location",
        "事發地址", "事發地點", "詳細地址", "發生地址", "問題地址", "地點",
    ),
    "kind": (
        "诉求类型", "来电类型", "工单类型", "信件类型", "留言类型", "问题类型", "事项类型", "业务类型", "类型",
        "kind", "type",
        "訴求類型", "來電類型", "工單類型", "信件類型", "留言類型", "問題類型", "事項類型", "業務類型", "類型",
    ),
    "channel": (
        "来源", "渠道", "来源渠道", "受理渠道", "诉求渠道", "信件来源", "工单来源", "受理方式",
        "channel",
        "來源", "來源渠道", "訴求渠道", "信件來源", "工單來源",
    ),
    "status": (
        "状态", "办理状态", "工单状态", "处理状态", "办结状态", "留言状态", "信件状态",
        "status", "state",
        "狀態", "辦理狀態", "工單狀態", "處理狀態", "辦結狀態", "留言狀態", "信件狀態",
    ),
    "priority": (
        "紧急程度", "优先级", "紧急度", "缓急程度", "重要程度",
        "priority", "urgency",
        "緊急程度", "優先級", "緊急度", "緩急程度",
    ),
    "reply": (
        "答复意见", "答复内容", "回复内容", "回复意见", "处理结果", "办理结果", "处理意见", "办理意见",
        "官方回复", "答复", "回复",
        "reply", "response", "answer",
        "答覆意見", "答覆內容", "回覆內容", "回覆意見", "處理結果", "辦理結果", "處理意見", "辦理意見",
        "官方回覆", "答覆", "回覆", "答復意見", "答復內容", "回復內容", "答復", "回復",
    ),
    "reply_time": (
        "答复时间", "回复时间", "反馈时间", "答复日期", "回复日期",
        "reply_time", "replied_at", "response_time", "answered_at",
        "答覆時間", "回覆時間", "反饋時間", "答覆日期", "回覆日期", "答復時間", "回復時間",
    ),
    "closed_time": (
        "办结时间", "结案时间", "办结日期", "完成时间", "归档时间",
        "closed_at", "closed_time", "close_time", "finished_at",
        "辦結時間", "結案時間", "辦結日期", "完成時間", "歸檔時間",
    ),
    "contact_name": (
        "姓名", "来电人", "来电人姓名", "联系人", "联系人姓名", "诉求人", "诉求人姓名", "反映人", "投诉人",
        "来信人", "市民姓名",
        "contact_name", "caller", "caller_name",
        "來電人", "來電人姓名", "聯繫人", "聯繫人姓名", "聯絡人", "聯絡人姓名", "訴求人", "訴求人姓名",
        "投訴人", "來信人",
    ),
    "contact_phone": (
        "联系电话", "来电号码", "电话", "手机", "手机号码", "手机号", "电话号码", "联系方式", "诉求人电话",
        "来电人电话",
        "contact_phone", "phone", "mobile", "tel", "telephone", "phone_number",
        "聯繫電話", "聯絡電話", "來電號碼", "電話", "手機", "手機號碼", "手機號", "電話號碼", "聯繫方式",
        "聯絡方式", "訴求人電話", "來電人電話",
    ),
    "contact_email": (
        "邮箱", "电子邮件", "电子邮箱", "邮件",
        "email", "contact_email", "mail",
        "郵箱", "電子郵件", "電子郵箱", "郵件",
    ),
    "user": (
        "留言用户", "用户", "用户编号", "用户名", "用户id", "网民", "网友", "网民昵称", "昵称", "留言人",
        "user", "user_id", "username",
        "留言用戶", "用戶", "用戶編號", "用户編號", "用戶名", "用戶id", "網民", "網友", "網民暱稱", "暱稱",
    ),
    "satisfaction": (
        "满意度", "评价", "评价结果", "回访结果", "满意度评价", "群众评价", "满意程度", "回访满意度",
        "satisfaction", "rating",
        "滿意度", "評價", "評價結果", "回訪結果", "滿意度評價", "羣衆評價", "群眾評價", "羣眾評價", "滿意程度",
        "回訪滿意度",
    ),
    "resolved": (
        "是否解决", "解决情况", "是否已解决",
        "resolved", "is_resolved",
        "是否解決", "解決情況", "是否已解決",
    ),
    "supports": (
        "点赞数", "支持数", "点赞", "赞同数",
        "likes", "supports", "upvotes",
        "點贊數", "點讚數", "支持數", "點贊", "點讚", "贊同數",
    ),
    "opposes": (
        "反对数", "反对",
        "opposes", "dislikes", "downvotes",
        "反對數", "反對",
    ),
}  # fmt: skip

TEXT_FIELDS = ("title", "content")
MAPPING_KEYS = (
    "source",
    "encoding",
    "sheet",
    "date_formats",
    "day_first",
    "columns",
    "values",
    "defaults",
    "ignore",
)

# what record_of strips from a cell: Unicode whitespace, zero-width characters and the BOM
_STRIP = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\u200b\u200c\u200d\u2060\ufeff"
_DROPPED = re.compile("[\\s_\\-*\u200b-\u200f\u2060\ufeff]+")


def column_key(name: str) -> str:
    """The form in which header names are compared: NFKC, case folded, without spaces, BOM, ``_ - *``."""
    text = str(name)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _DROPPED.sub("", text).casefold()


_FIELD_OF_KEY: dict[str, str] = {}
for _field, _names in FIELDS.items():
    for _name in _names:
        _FIELD_OF_KEY.setdefault(column_key(_name), _field)


# --- mappings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    """How to import one kind of export; every part is optional (see docs/import-mapping.example.toml)."""

    source: str | None = None  # namespace of row identities
    encoding: str | None = None
    sheet: str | None = None
    date_formats: tuple[str, ...] = ()
    day_first: bool = False
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> header names
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {source value: our value}
    defaults: dict[str, str] = field(default_factory=dict)  # field -> value for empty cells / no column
    ignore: tuple[str, ...] = ()  # header names never recognised


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """Read a TOML mapping file; ``TableError`` naming the file (and key) if it is unreadable or invalid."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise TableError(f"{name}: cannot open the mapping file ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(f"{name}: a mapping file must be UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TableError(f"{name}: not valid TOML ({exc})") from exc
    return mapping_from_dict(data, origin=name)


def mapping_from_dict(data: dict[str, Any], *, origin: str = "<mapping>") -> Mapping:
    """A ``Mapping`` from parsed TOML or JSON, with the same checks as ``load_mapping``."""
    if not isinstance(data, dict):
        raise TableError(f"{origin}: a mapping must be a table of keys, not {type(data).__name__}")
    for key in data:
        if key not in MAPPING_KEYS:
            raise TableError(f"{origin}: unknown key {key!r}{_suggest(key, MAPPING_KEYS)}")
    source = _optional_text(data, "source", origin)
    encoding = _optional_text(data, "encoding", origin)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise TableError(f"{origin}: encoding: unknown encoding {encoding!r}") from None
    sheet = _optional_text(data, "sheet", origin)
    date_formats = _text_list(data.get("date_formats", []), "date_formats", origin)
    for number, fmt in enumerate(date_formats):
        _check_format(fmt, f"date_formats[{number}]", origin)
    day_first = data.get("day_first", False)
    if not isinstance(day_first, bool):
        raise TableError(f"{origin}: day_first must be true or false, not {day_first!r}")

    columns: dict[str, tuple[str, ...]] = {}
    for name, value in _table(data, "columns", origin).items():
        _check_field(name, "columns", origin)
        names = (value,) if isinstance(value, str) else value
        names = _text_list(names, f"columns.{name}", origin, what="a column name or a list of them")
        if not names:
            raise TableError(f"{origin}: columns.{name}: an empty list (name at least one column)")
        columns[name] = tuple(names)

    values: dict[str, dict[str, str]] = {}
    for name, table in _table(data, "values", origin).items():
        _check_field(name, "values", origin)
        if not isinstance(table, dict):
            raise TableError(f"{origin}: values.{name} must be a table of source value = our value")
        for source_value, ours in table.items():
            if not isinstance(ours, str):
                raise TableError(f"{origin}: values.{name}.{source_value!r} must be a string, not {ours!r}")
        values[name] = dict(table)

    defaults: dict[str, str] = {}
    for name, value in _table(data, "defaults", origin).items():
        _check_field(name, "defaults", origin)
        if not isinstance(value, str):
            raise TableError(f"{origin}: defaults.{name} must be a string, not {value!r}")
        defaults[name] = value

    ignore = tuple(_text_list(data.get("ignore", []), "ignore", origin))
    ignored = {column_key(n) for n in ignore}
    owner: dict[str, str] = {}
    for name, names in columns.items():
        for column in names:
            key = column_key(column)
            if key in ignored:
                raise TableError(f"{origin}: column {column!r} is both in columns.{name} and in ignore")
            if key in owner and owner[key] != name:
                raise TableError(
                    f"{origin}: column {column!r} is mapped to two fields (columns.{owner[key]} and columns.{name})"
                )
            owner[key] = name
    return Mapping(
        source=source,
        encoding=encoding,
        sheet=sheet,
        date_formats=tuple(date_formats),
        day_first=day_first,
        columns=columns,
        values=values,
        defaults=defaults,
        ignore=ignore,
    )


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    listed = ", ".join(choices)
    return f" (did you mean {close[0]!r}? allowed: {listed})" if close else f" (allowed: {listed})"


def _check_field(name: str, where: str, origin: str) -> None:
    if name not in FIELDS:
        raise TableError(f"{origin}: {where}.{name}: unknown field{_suggest(name, tuple(FIELDS))}")


def _optional_text(data: dict[str, Any], key: str, origin: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise TableError(f"{origin}: {key} must be a non-empty string, not {value!r}")
    return value.strip()


def _table(data: dict[str, Any], key: str, origin: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise TableError(f"{origin}: {key} must be a table ([{key}] in TOML), not {type(value).__name__}")
    return value


def _text_list(value: Any, key: str, origin: str, *, what: str = "a list of strings") -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TableError(f"{origin}: {key} must be {what}, not {value!r}")
    return [v.strip() for v in value]


def _check_format(fmt: str, key: str, origin: str) -> None:
    if "%" not in fmt:
        raise TableError(f"{origin}: {key}: {fmt!r} is not a strptime format (no % directive)")
    try:
        dt.datetime.strptime("", fmt)  # noqa: DTZ007 - only the directives are checked
    except ValueError as exc:
        if "directive" in str(exc) or "stray" in str(exc):
            raise TableError(f"{origin}: {key}: {fmt!r}: {exc}") from None


# --- header -> fields ----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMap:
    """Which columns of a header hold which field.

    ``indices``: field -> column indices (in ``FIELDS`` order); ``unused``: header names that
    no field uses and that the mapping does not ignore; ``ignored``: the ones it ignores.
    """

    indices: dict[str, tuple[int, ...]]
    header: tuple[str, ...]
    unused: tuple[str, ...]
    ignored: tuple[str, ...] = ()
    mapping: Mapping | None = field(default=None, repr=False, compare=False)
    _plans: dict[int, tuple[Any, ...]] = field(default_factory=dict, repr=False, compare=False)

    def describe(self) -> list[tuple[str, str]]:
        """``(field, "column names")`` rows for a preview; several columns are shown as ``a + b``."""
        return [(name, " + ".join(self.header[i] for i in idx)) for name, idx in self.indices.items()]

    def _plan(self, mapping: Mapping | None) -> tuple[Any, ...]:
        if mapping is None:
            mapping = self.mapping
        key = id(mapping)
        plan = self._plans.get(key)
        if plan is None:
            plan = _make_plan(self, mapping)
            self._plans[key] = plan
        return plan[1]


def _make_plan(fields: FieldMap, mapping: Mapping | None) -> tuple[Any, tuple[Any, ...]]:
    values = mapping.values if mapping else {}
    defaults = mapping.defaults if mapping else {}
    steps = []
    for name in FIELDS:
        idx = fields.indices.get(name)
        if idx is None and name not in defaults:
            continue
        table = {k.strip(_STRIP).casefold(): v for k, v in values[name].items()} if name in values else None
        joiner = "\n" if name in TEXT_FIELDS else " "
        steps.append((name, idx or (), joiner, table, defaults.get(name, "")))
    # the mapping object is kept in the plan so that its id stays valid while cached
    return (mapping, tuple(steps))


def resolve_fields(
    header: Sequence[str], mapping: Mapping | None = None, *, path: str = "<table>"
) -> FieldMap:
    """Map ``header`` onto ``FIELDS``: the mapping's columns first, then the recognised names.

    ``TableError`` naming ``path`` when a mapped column is not in the header, or when no title
    or content column is found (the message lists the columns found).
    """
    names = tuple(str(h) for h in header)
    keys = [column_key(h) for h in names]
    positions: dict[str, list[int]] = {}
    for number, key in enumerate(keys):
        if key:
            positions.setdefault(key, []).append(number)
    used: set[int] = set()
    found: dict[str, tuple[int, ...]] = {}
    ignored_keys = {column_key(n) for n in mapping.ignore} if mapping else set()

    def take(key: str) -> int | None:
        for number in positions.get(key, ()):
            if number not in used:
                used.add(number)
                return number
        return None

    if mapping is not None:
        for name, wanted in mapping.columns.items():
            if name not in FIELDS:
                raise TableError(f"{path}: columns.{name}: unknown field{_suggest(name, tuple(FIELDS))}")
            picked = []
            for column in wanted:
                number = take(column_key(column))
                if number is None:
                    raise TableError(
                        f"{path}: mapped column {column!r} (columns.{name}) is not in the header; "
                        f"columns found: {_listing(names)}"
                    )
                picked.append(number)
            found[name] = tuple(picked)
    for name, candidates in FIELDS.items():
        if name in found:
            continue
        for candidate in candidates:
            key = column_key(candidate)
            if key in ignored_keys:
                continue
            number = take(key)
            if number is not None:
                found[name] = (number,)
                break
    if not any(name in found for name in TEXT_FIELDS):
        raise TableError(
            f"{path}: no text column (title or content) found; columns found: {_listing(names)}; "
            'map them in a mapping file [columns] title = "..."'
        )
    ignored = tuple(h for h, k in zip(names, keys, strict=True) if k and k in ignored_keys)
    unused = tuple(
        h
        for number, (h, k) in enumerate(zip(names, keys, strict=True))
        if k and number not in used and k not in ignored_keys
    )
    return FieldMap(
        indices={name: found[name] for name in FIELDS if name in found},
        header=names,
        unused=unused,
        ignored=ignored,
        mapping=mapping,
    )


def _listing(header: Sequence[str]) -> str:
    return ", ".join(repr(h) for h in header) if header else "none"


# --- rows -> records -----------------------------------------------------------------------


def record_of(values: Sequence[str], fields: FieldMap, mapping: Mapping | None = None) -> dict[str, str]:
    """Field -> cleaned text of one row (``values`` as ``read_table`` gives them).

    Every field with a column or a default is present. ``mapping`` defaults to the one given
    to ``resolve_fields``.
    """
    record: dict[str, str] = {}
    size = len(values)
    for name, idx, joiner, table, default in fields._plan(mapping):
        if len(idx) == 1:
            number = idx[0]
            text = values[number].strip(_STRIP) if number < size else ""
        elif idx:
            parts = [values[i].strip(_STRIP) for i in idx if i < size]
            text = joiner.join(p for p in parts if p)
        else:
            text = ""
        if table is not None and text:
            text = table.get(text.casefold(), text)
        record[name] = text or default
    return record
