"""The staff case list as export rows: stable column keys, stable codes, local times, no contact details.

The columns are an interface for spreadsheets and scripts that other people keep: their keys never change
with the UI language, and a new column is only ever added at the end. Choice fields carry their stable
codes (``complaint``, ``web``, ``in_progress``, ...; the same tokens as the API); the human names of the
category, region and department stand in their own columns. Datetimes are Asia/Shanghai wall-clock time.
A person's contact details (CaseContact: name, phone, e-mail, ID number, address) are never exported.

The rows come from ``selectors.case_list_for_user``, so an export holds exactly what the workbench shows
for the same filters, and only the cases the user may see.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from minyi.cases import selectors
from minyi.cases.models import Case
from minyi.cases.selectors import CaseFilters

__all__ = ["CHUNK_SIZE", "EXPORT_COLUMNS", "EXPORT_TZ", "case_export_queryset", "case_export_rows"]

EXPORT_TZ = ZoneInfo("Asia/Shanghai")
#: Rows fetched per database round trip: a constant number of queries per CHUNK_SIZE rows.
CHUNK_SIZE = 2000

#: (stable key, Chinese description for the documentation), in the order of the file's columns.
EXPORT_COLUMNS: list[tuple[str, str]] = [
    ("tracking_number", "受理编号"),
    ("external_number", "原系统编号（导入的历史件）"),
    ("created_at", "提交时间"),
    ("kind", "诉求类型代码：complaint/help/question/suggestion/praise/petition"),
    ("channel", "渠道代码：web/api/open311/phone/letter/visit/import"),
    ("priority", "紧急程度代码：ordinary/urgent"),
    ("status", "状态代码（见 docs/workflow.md）"),
    ("category_code", "分类编码"),
    ("category", "分类名称"),
    ("region_code", "区域编码"),
    ("region", "区域名称"),
    ("department_code", "承办部门编码"),
    ("department", "承办部门名称"),
    ("title", "标题"),
    ("content", "诉求内容（群众原文）"),
    ("accepted_at", "受理时间"),
    ("replied_at", "答复时间"),
    ("closed_at", "办结时间"),
    ("due_at", "当前时限"),
    ("overdue", "导出时是否超期"),
    ("escalation_count", "督办次数"),
    ("is_repeat", "是否重复件"),
    ("duplicate_of", "重复于（受理编号）"),
    ("merged_into", "并入（受理编号）"),
    ("triage_category_code", "智能研判建议分类编码"),
    ("triage_confidence", "智能研判分类置信度（0–1）"),
    ("triage_department_code", "智能研判建议部门编码"),
    ("risk_score", "风险分"),
    ("risk_level", "风险等级代码：none/low/medium/high"),
]

#: What each row reads, in the order of the columns (overdue comes from status and due_at). Relations are
#: followed by name, in the one query: the triage by its reverse name, since cases never imports intake.
_LOOKUPS = (
    "tracking_number",
    "external_number",
    "created_at",
    "kind",
    "channel",
    "priority",
    "status",
    "category__code",
    "category__name",
    "region__code",
    "region__name",
    "department__code",
    "department__name",
    "title",
    "content",
    "accepted_at",
    "replied_at",
    "closed_at",
    "due_at",
    "escalation_count",
    "is_repeat",
    "duplicate_of__tracking_number",
    "merged_into__tracking_number",
    "triage__category__code",
    "triage__category_confidence",
    "triage__department__code",
    "triage__risk_score",
    "triage__risk_level",
)


class _Deadline(NamedTuple):
    """What selectors.is_overdue reads of a case."""

    status: str
    due_at: datetime | None


def _local(value: datetime | None) -> datetime | None:
    """Asia/Shanghai time, to the second."""
    if value is None:
        return None
    if value.microsecond:
        value -= timedelta(microseconds=value.microsecond)
    return value.astimezone(EXPORT_TZ)


def case_export_queryset(*, user, filters: CaseFilters | None = None, now: datetime | None = None):
    """The export's rows as tuples (_LOOKUPS): the workbench's list for `filters`, joined in one query.

    Plain tuples rather than model instances: building nine model objects per row (the case and each
    relation) took three quarters of the time of a large export.
    """
    return selectors.case_list_for_user(user=user, filters=filters, now=now).values_list(*_LOOKUPS)


def _row(values: tuple[Any, ...], now: datetime) -> list[Any]:
    (
        tracking_number, external_number, created_at, kind, channel, priority, status,
        category_code, category, region_code, region, department_code, department,
        title, content, accepted_at, replied_at, closed_at, due_at, escalation_count, is_repeat,
        duplicate_of, merged_into,
        triage_category_code, triage_confidence, triage_department_code, risk_score, risk_level,
    ) = values  # fmt: skip
    overdue = selectors.is_overdue(cast(Case, _Deadline(status, due_at)), now)
    return [
        tracking_number,
        external_number,
        _local(created_at),
        kind,
        channel,
        priority,
        status,
        category_code,
        category,
        region_code,
        region,
        department_code,
        department,
        title,
        content,
        _local(accepted_at),
        _local(replied_at),
        _local(closed_at),
        _local(due_at),
        overdue,
        escalation_count,
        is_repeat,
        duplicate_of,
        merged_into,
        triage_category_code,
        triage_confidence,
        triage_department_code,
        risk_score,
        risk_level,
    ]


def case_export_rows(*, user, filters: CaseFilters | None, now: datetime) -> tuple[list[str], Iterator[list]]:
    """(header, rows) of the cases `user` may see under `filters`, newest first, read lazily.

    The rows are fetched CHUNK_SIZE at a time (one query; a server-side cursor on PostgreSQL) as the
    iterator is consumed, so memory stays flat; `now` decides `overdue`, as on the workbench.
    """
    header = [key for key, _label in EXPORT_COLUMNS]
    queryset = case_export_queryset(user=user, filters=filters, now=now)

    def rows() -> Iterator[list]:
        for values in queryset.iterator(chunk_size=CHUNK_SIZE):
            yield _row(values, now)

    return header, rows()
