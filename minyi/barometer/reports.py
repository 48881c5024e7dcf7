"""Weekly and monthly reports (民意周报, 民意月报): the figures of a period as a PDF and an XLSX, archived as
``Report`` rows (docs/reports.md).

- ``report_period(kind, value)`` names the period: an ISO week Monday–Sunday ("2026-W48") or a calendar month
  ("2026-11"); without a value, the last complete week or month. Bad input raises ``ValidationFailed`` with a
  Chinese message.
- ``build_report_data(kind, start, end)`` gathers plain data (dates, numbers, strings): the headline figures of
  the period and of the previous period of the same kind, the daily volume, category, channel and kind mix
  (all summed from ``DailyRollup``, never counted from the cases table), the active hot topics, the warnings
  raised or open in the period with their handling, the department rankings (``DailyRollup`` by department),
  reply quality by department, and up to ten notable cases (a few small indexed queries, LIMIT 10 each).
- ``render_report_html`` / ``render_report_pdf`` / ``render_report_xlsx`` turn that data into files, always in
  Simplified Chinese (the report is an official document, whatever the language of the person who asked).
- ``generate_report(kind, start)`` renders both files, stores them under ``reports/`` in the default storage
  and swaps them into the period's ``Report`` row (unique per kind and period start): a regeneration writes
  the new files first, points the row at them in one transaction, then deletes the old files after commit;
  a failure leaves the previous report as it was.

Personal data never reaches a report: a case is named by its tracking number and its title masked (the public
copy's masked title when there is one, else ``minyi.text.mask_pii``, and ``mask_pii`` once more in both cases);
every other free text (topic labels, keywords, warning labels, closing notes) is passed through ``mask_pii``.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models import Case as CaseWhen
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from minyi.accounts.models import Department
from minyi.barometer.models import Alert, DailyRollup, ReplyQuality, Report, Topic
from minyi.cases.models import Case, CaseEvent, Evaluation
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core import clock
from minyi.core.choices import Channel, Kind
from minyi.core.exceptions import ValidationFailed
from minyi.disclosure import scoreboard
from minyi.disclosure.models import Support
from minyi.routing.models import Category
from minyi.text.pii import mask_pii

logger = logging.getLogger(__name__)

WEEKLY = Report.Kind.WEEKLY
MONTHLY = Report.Kind.MONTHLY
KINDS = (WEEKLY, MONTHLY)
#: The language every report is written in.
REPORT_LANGUAGE = "zh-hans"
MAX_PERIOD_CHARS = 20
EARLIEST_DAY = date(2000, 1, 1)
TOP_TOPICS = 10
TOP_CATEGORIES = 10
MAX_ALERTS = 100
MAX_CASES = 10
MAX_NOTE_CHARS = 200
#: A reply scoring below this is counted as weak in the quality table.
LOW_QUALITY_SCORE = 60
PDF_TEMPLATE = "barometer/report_pdf.html"

#: Counters summed from DailyRollup.
COUNTERS = (
    "received",
    "assigned",
    "responded_on_time",
    "replied",
    "replied_on_time",
    "rated",
    "satisfied",
    "resolution_answered",
    "resolved",
    "overdue",
    "high_risk",
    "supports",
)
#: (key, numerator, denominator): a rate whose denominator is 0 is None ("—"), never 0 % or 100 %.
RATES = (
    ("response_rate", "responded_on_time", "assigned"),
    ("on_time_rate", "replied_on_time", "replied"),
    ("resolution_rate", "resolved", "resolution_answered"),
    ("satisfaction_rate", "satisfied", "rated"),
)
#: The departments are ranked as on the public scoreboard (higher first, no figure last).
RANKING = tuple(key for key in scoreboard.RANKING if key in {k for k, _n, _d in RATES}) or (
    "satisfaction_rate",
)
LEVEL_ORDER = (Alert.Level.RED, Alert.Level.ORANGE, Alert.Level.YELLOW)

_WEEK = re.compile(r"([0-9]{4})-?[Ww]([0-9]{1,2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")


# ================================================================================================ periods


def _today() -> date:
    return timezone.localdate(clock.now())


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _kind_error() -> ValidationFailed:
    return ValidationFailed(
        _("报告类型只能是 weekly（周报）或 monthly（月报）。"), fields={"kind": _("取值不正确")}
    )


def _period_error(kind: str) -> ValidationFailed:
    if kind == WEEKLY:
        message = _("周报的统计期格式不正确：请使用 ISO 周，如 2026-W48。")
    else:
        message = _("月报的统计期格式不正确：请使用年月，如 2026-11。")
    return ValidationFailed(message, fields={"period": _("格式不正确")})


def check_kind(kind: Any) -> str:
    """`kind` if it is "weekly" or "monthly"; ValidationFailed otherwise."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise _kind_error()
    return kind


def period_end(kind: str, start: date) -> date:
    return start + timedelta(days=6) if kind == WEEKLY else _month_end(start)


def last_complete(kind: str, today: date) -> tuple[date, date]:
    """The last week (Monday–Sunday) or month that ended before `today`."""
    if kind == WEEKLY:
        start = today - timedelta(days=today.weekday() + 7)
    else:
        start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return start, period_end(kind, start)


def previous_period(kind: str, start: date) -> tuple[date, date]:
    """The period of the same kind just before the one starting on `start`."""
    if kind == WEEKLY:
        before = start - timedelta(days=7)
    else:
        before = (start - timedelta(days=1)).replace(day=1)
    return before, period_end(kind, before)


def report_period(kind: str, value: str | None = None, *, today: date | None = None) -> tuple[date, date]:
    """(start, end) of the period named by `value`: "2026-W48" (ISO week, Monday to Sunday) for a weekly
    report, "2026-11" for a monthly one; the last complete week or month when `value` is empty.

    Raises ValidationFailed (a Chinese message) for an unknown kind, a malformed or impossible value (week 53
    of a year that has 52, month 13), a period before 2000 or one that has not started yet."""
    kind = check_kind(kind)
    today = today or _today()
    if value is None or (isinstance(value, str) and not value.strip()):
        return last_complete(kind, today)
    if not isinstance(value, str) or len(value) > MAX_PERIOD_CHARS:
        raise _period_error(kind)
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        if kind == WEEKLY:
            match = _WEEK.fullmatch(text)
            if match is None:
                raise _period_error(kind)
            start = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        else:
            match = _MONTH.fullmatch(text)
            if match is None:
                raise _period_error(kind)
            start = date(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise _period_error(kind) from None
    if start < EARLIEST_DAY:
        raise ValidationFailed(
            _("统计期不能早于 %(day)s。") % {"day": EARLIEST_DAY.isoformat()},
            fields={"period": _("超出范围")},
        )
    if start > today:
        raise ValidationFailed(_("统计期尚未开始，不能生成报告。"), fields={"period": _("超出范围")})
    return start, period_end(kind, start)


def period_key(kind: str, start: date) -> str:
    """ "2026-W48" or "2026-11": the name of the period in commands, URLs and file names."""
    if kind == WEEKLY:
        year, week, _day = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start:%Y-%m}"


def report_title(kind: str, start: date) -> str:
    """民意周报（2026年第48周） or 民意月报（2026年11月）."""
    if kind == WEEKLY:
        year, week, _day = start.isocalendar()
        return _("民意周报（%(year)s年第%(week)s周）") % {"year": year, "week": week}
    return _("民意月报（%(year)s年%(month)s月）") % {"year": start.year, "month": start.month}


def _day_text(day: date) -> str:
    return _("%(year)s年%(month)s月%(day)s日") % {"year": day.year, "month": day.month, "day": day.day}


def period_label(start: date, end: date) -> str:
    return _("%(start)s至%(end)s") % {"start": _day_text(start), "end": _day_text(end)}


def _aligned_start(kind: str, start: date) -> date:
    if kind == WEEKLY and start.weekday() != 0:
        raise ValidationFailed(_("周报的统计期须从星期一开始。"), fields={"period": _("格式不正确")})
    if kind == MONTHLY and start.day != 1:
        raise ValidationFailed(_("月报的统计期须从每月1日开始。"), fields={"period": _("格式不正确")})
    return start


# ================================================================================================ figures


def _zone():
    return timezone.get_default_timezone()


def _moment(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_zone())


def _between(field: str, start: date, end: date) -> Q:
    """`field` (a datetime) on a local day from `start` to `end`, both included: one indexable range."""
    return Q(**{f"{field}__gte": _moment(start), f"{field}__lt": _moment(end + timedelta(days=1))})


def rates(counts: dict[str, int]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, numerator, denominator in RATES:
        below = counts.get(denominator) or 0
        out[key] = (counts.get(numerator) or 0) / below if below else None
    return out


def _sums() -> dict[str, Sum]:
    return {name: Sum(name) for name in COUNTERS}


def _counts(item: dict[str, Any] | None) -> dict[str, int]:
    item = item or {}
    return {name: int(item.get(name) or 0) for name in COUNTERS}


def _rollups(start: date, end: date):
    return DailyRollup.objects.filter(day__gte=start, day__lte=end).order_by()


def _number(value: int) -> str:
    return f"{value:,}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _count_change(now: int, before: int) -> str:
    if now == before:
        return _("持平")
    diff = now - before
    sign = "+" if diff > 0 else "-"
    if before:
        return f"{sign}{abs(diff):,}（{sign}{abs(diff) / before * 100:.1f}%）"
    return f"{sign}{abs(diff):,}"


def _rate_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    diff = round((now - before) * 100, 1)
    if diff == 0:
        return _("持平")
    return _("%(sign)s%(points)s 个百分点") % {"sign": "+" if diff > 0 else "-", "points": f"{abs(diff):.1f}"}


def _headline(counts: dict[str, int], previous: dict[str, int]) -> list[dict[str, Any]]:
    now_rates, before_rates = rates(counts), rates(previous)
    rows: list[dict[str, Any]] = []
    for key, label in (("received", _("收到诉求（件）")), ("replied", _("已答复（件）"))):
        rows.append(
            {
                "key": key,
                "label": label,
                "value": counts[key],
                "previous": previous[key],
                "text": _number(counts[key]),
                "previous_text": _number(previous[key]),
                "change": counts[key] - previous[key],
                "change_text": _count_change(counts[key], previous[key]),
            }
        )
    for key, label in (
        ("response_rate", _("按时响应率")),
        ("on_time_rate", _("按时答复率")),
        ("resolution_rate", _("解决率")),
        ("satisfaction_rate", _("满意率")),
    ):
        rows.append(
            {
                "key": key,
                "label": label,
                "value": now_rates[key],
                "previous": before_rates[key],
                "text": _percent(now_rates[key]),
                "previous_text": _percent(before_rates[key]),
                "change": None
                if now_rates[key] is None or before_rates[key] is None
                else round((now_rates[key] - before_rates[key]) * 100, 1),
                "change_text": _rate_change(now_rates[key], before_rates[key]),
            }
        )
    for key, label in (("overdue", _("超期（件）")), ("high_risk", _("中高风险诉求（件）"))):
        rows.append(
            {
                "key": key,
                "label": label,
                "value": counts[key],
                "previous": previous[key],
                "text": _number(counts[key]),
                "previous_text": _number(previous[key]),
                "change": counts[key] - previous[key],
                "change_text": _count_change(counts[key], previous[key]),
            }
        )
    return rows


def _daily(start: date, end: date) -> list[dict[str, Any]]:
    found = {
        item["day"]: int(item["received"] or 0)
        for item in _rollups(start, end).values("day").annotate(received=Sum("received"))
    }
    days = []
    day = start
    while day <= end:
        days.append({"day": day, "label": f"{day.month}/{day.day}", "received": found.get(day, 0)})
        day += timedelta(days=1)
    return days


def _shares(rows: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    for row in rows:
        row["share"] = row["received"] / total if total else None
        row["share_text"] = _percent(row["share"])
    return rows


def _categories(start: date, end: date, total: int) -> list[dict[str, Any]]:
    counted = [
        (item["category_id"], int(item["received"] or 0))
        for item in _rollups(start, end).values("category_id").annotate(received=Sum("received"))
        if item["received"]
    ]
    names = dict(
        Category.objects.filter(pk__in=[pk for pk, _n in counted if pk is not None]).values_list("id", "name")
    )
    rows = [
        {"name": names.get(pk, _("未分类")) if pk is not None else _("未分类"), "received": n}
        for pk, n in counted
    ]
    rows.sort(key=lambda row: (-row["received"], row["name"]))
    if len(rows) > TOP_CATEGORIES:
        rest = sum(row["received"] for row in rows[TOP_CATEGORIES - 1 :])
        rows = [*rows[: TOP_CATEGORIES - 1], {"name": _("其他"), "received": rest}]
    return _shares(rows, total)


def _by_code(start: date, end: date, field: str, labels: dict[str, str], total: int) -> list[dict[str, Any]]:
    rows = [
        {"code": item[field], "name": labels.get(item[field], item[field] or _("未知")), "received": n}
        for item in _rollups(start, end).values(field).annotate(received=Sum("received"))
        if (n := int(item["received"] or 0))
    ]
    rows.sort(key=lambda row: (-row["received"], row["code"] or ""))
    return _shares(rows, total)


def _departments(start: date, end: date) -> list[dict[str, Any]]:
    counted = {
        item["department_id"]: _counts(item)
        for item in _rollups(start, end)
        .filter(department__isnull=False)
        .values("department_id")
        .annotate(**_sums())
    }
    rows = []
    for pk, name, code in Department.objects.filter(pk__in=list(counted)).values_list("id", "name", "code"):
        counts = counted[pk]
        if not counts["received"]:
            continue
        figures = rates(counts)
        rows.append(
            {
                "id": pk,
                "name": name,
                "code": code,
                "received": counts["received"],
                "replied": counts["replied"],
                "overdue": counts["overdue"],
                **figures,
                "on_time_text": _percent(figures["on_time_rate"]),
                "satisfaction_text": _percent(figures["satisfaction_rate"]),
                "response_text": _percent(figures["response_rate"]),
            }
        )

    def merit(row: dict[str, Any]) -> tuple:
        return tuple((row[key] is None, -(row[key] or 0)) for key in RANKING)

    rows.sort(key=lambda row: (merit(row), -row["received"], row["code"]))
    previous = None
    rank = 0
    for position, row in enumerate(rows, start=1):
        current = merit(row)
        if current != previous:
            rank, previous = position, current
        row["rank"] = rank
    return rows


def _mask(text: str, limit: int | None = None) -> str:
    text = mask_pii(text or "")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _when(moment: datetime | None) -> str:
    return "" if moment is None else timezone.localtime(moment, _zone()).strftime("%Y-%m-%d %H:%M")


def _topics(end: date) -> list[dict[str, Any]]:
    topics = (
        Topic.objects.filter(is_active=True, first_seen_at__lt=_moment(end + timedelta(days=1)))
        .select_related("department")
        .order_by(F("rank").asc(nulls_last=True), "-heat", "pk")[:TOP_TOPICS]
    )
    rows = []
    for position, topic in enumerate(topics, start=1):
        keywords = [_mask(str(word)) for word in (topic.keywords or []) if str(word).strip()][:5]
        rows.append(
            {
                "rank": position,
                "label": _mask(topic.label, 120),
                "keywords": keywords,
                "keywords_text": "、".join(keywords),
                "size": topic.size,
                "people": topic.people,
                "heat": round(topic.heat, 1),
                "heat_text": f"{topic.heat:.1f}",
                "trend": topic.trend,
                "trend_label": str(topic.get_trend_display()),
                "department": topic.department.name if topic.department else "",
            }
        )
    return rows


def _alerts(start: date, end: date) -> tuple[list[dict[str, Any]], dict[str, int]]:
    in_period = Q(created_at__lt=_moment(end + timedelta(days=1))) & (
        ~Q(state=Alert.State.CLOSED) | Q(closed_at__isnull=True) | Q(closed_at__gte=_moment(start))
    )
    severity = CaseWhen(
        *(When(level=level, then=Value(i)) for i, level in enumerate(LEVEL_ORDER)),
        default=Value(len(LEVEL_ORDER)),
        output_field=IntegerField(),
    )
    queryset = Alert.objects.filter(in_period).order_by()
    raised = Alert.objects.filter(_between("created_at", start, end)).order_by()
    summary = {
        "total": queryset.count(),
        "raised": raised.count(),
        "closed": Alert.objects.filter(_between("closed_at", start, end)).count(),
        **dict(raised.values("level").annotate(n=Count("id")).values_list("level", "n")),
    }
    for level in LEVEL_ORDER:
        summary.setdefault(level, 0)
    rows = []
    alerts = (
        queryset.annotate(severity=severity)
        .select_related("department")
        .order_by("severity", "-created_at", "-pk")
    )
    for alert in alerts[:MAX_ALERTS]:
        rows.append(
            {
                "level": alert.level,
                "level_label": str(alert.get_level_display()),
                "source_label": str(alert.get_source_display()),
                "label": _mask(alert.label, 200),
                "count": alert.count,
                "department": alert.department.name if alert.department else "",
                "state": alert.state,
                "state_label": str(alert.get_state_display()),
                "created_text": _when(alert.created_at),
                "acknowledged_text": _when(alert.acknowledged_at),
                "closed_text": _when(alert.closed_at),
                "close_note": _mask(alert.close_note, MAX_NOTE_CHARS),
            }
        )
    return rows, summary


def _notable(start: date, end: date) -> list[dict[str, Any]]:
    """Up to MAX_CASES cases that stood out in the period: received in it with a high triage risk, most supported
    in it (the "+1"s on the public copy), reopened in it, rated dissatisfied in it; the four lists are taken in
    turn. Each list is one short query (LIMIT) on a date range."""
    received = _between("created_at", start, end)
    live = ~Q(status=CaseStatus.MERGED)
    picks: dict[str, list[int]] = {
        "risk": list(
            Case.objects.filter(received, live, triage__risk_level="high")
            .order_by("-triage__risk_score", "-created_at")
            .values_list("pk", flat=True)[:MAX_CASES]
        ),
        "supports": list(  # the publication's key is its case's
            Support.objects.filter(_between("created_at", start, end))
            .order_by()
            .values("publication_id")
            .annotate(n=Count("id"))
            .order_by("-n", "-publication_id")
            .values_list("publication_id", flat=True)[:MAX_CASES]
        ),
        "reopened": list(
            CaseEvent.objects.filter(_between("created_at", start, end), action=CaseAction.REOPEN)
            .order_by("-created_at")
            .values_list("case_id", flat=True)[: MAX_CASES * 2]
        ),
        "dissatisfied": list(
            Evaluation.objects.filter(
                _between("created_at", start, end), rating=Evaluation.Rating.DISSATISFIED
            )
            .order_by("-created_at")
            .values_list("case_id", flat=True)[: MAX_CASES * 2]
        ),
    }
    reason_labels = {
        "risk": _("高风险"),
        "supports": _("附议多"),
        "reopened": _("重办"),
        "dissatisfied": _("不满意"),
    }
    reasons: dict[int, list[str]] = {}
    for key, ids in picks.items():
        for pk in ids:
            if key not in reasons.setdefault(pk, []):
                reasons[pk].append(key)
    # Take the lists in turn (one of each kind, then the next of each), so that every kind is represented.
    chosen: list[int] = []
    queues = [list(dict.fromkeys(ids)) for ids in picks.values()]
    while len(chosen) < MAX_CASES and any(queues):
        for queue in queues:
            while queue and queue[0] in chosen:
                queue.pop(0)
            if queue and len(chosen) < MAX_CASES:
                chosen.append(queue.pop(0))
    cases = {
        case.pk: case
        for case in Case.objects.filter(pk__in=chosen).select_related(
            "category", "department", "publication", "triage"
        )
    }
    rows = []
    for pk in chosen:
        case = cases.get(pk)
        if case is None:
            continue
        # a missing one-to-one row raises RelatedObjectDoesNotExist, an AttributeError: getattr's default
        publication = getattr(case, "publication", None)
        triage = getattr(case, "triage", None)
        title = publication.title if publication is not None and publication.title else case.title
        rows.append(
            {
                "tracking_number": case.tracking_number,
                "title": _mask(title, 80),
                "kind": str(Kind(case.kind).label) if case.kind in Kind.values else case.kind,
                "category": case.category.name if case.category else "",
                "department": case.department.name if case.department else "",
                "status": str(CaseStatus(case.status).label)
                if case.status in CaseStatus.values
                else case.status,
                "received_text": _day_text(timezone.localdate(case.created_at, _zone())),
                "risk_score": triage.risk_score if triage is not None else 0,
                "supports": publication.support_count if publication is not None else 0,
                "reasons": [reason_labels[key] for key in reasons.get(pk, [])],
                "reasons_text": "、".join(reason_labels[key] for key in reasons.get(pk, [])),
            }
        )
    return rows


def _quality(start: date, end: date) -> list[dict[str, Any]]:
    rows = list(
        ReplyQuality.objects.filter(_between("reply__sent_at", start, end))
        .order_by()
        .values("department_id")
        .annotate(
            replies=Count("reply_id"),
            average=Avg("score"),
            low=Count("reply_id", filter=Q(score__lt=LOW_QUALITY_SCORE)),
        )
    )
    names = dict(
        Department.objects.filter(
            pk__in=[r["department_id"] for r in rows if r["department_id"]]
        ).values_list("id", "name")
    )
    out = [
        {
            "department": names.get(row["department_id"], "") or _("未确定部门"),
            "replies": row["replies"],
            "average": round(float(row["average"] or 0), 1),
            "average_text": f"{float(row['average'] or 0):.1f}",
            "low": row["low"],
        }
        for row in rows
        if row["replies"]
    ]
    out.sort(key=lambda row: (-row["average"], -row["replies"], row["department"]))
    return out


def build_report_data(kind: str, start: date, end: date, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything a report shows, as plain data (dates, numbers, strings, lists and dicts); see the module
    docstring. The texts shown (``*_text``, labels) are already formatted, in Chinese."""
    kind = check_kind(kind)
    now = now or clock.now()
    with translation.override(REPORT_LANGUAGE):
        previous_start, previous_end = previous_period(kind, start)
        counts = _counts(_rollups(start, end).aggregate(**_sums()))
        previous = _counts(_rollups(previous_start, previous_end).aggregate(**_sums()))
        total = counts["received"]
        alerts, alert_summary = _alerts(start, end)
        figures = {**counts, **rates(counts)}
        return {
            "kind": kind,
            "kind_label": str(Report.Kind(kind).label),
            "key": period_key(kind, start),
            "title": report_title(kind, start),
            "period": {"start": start, "end": end, "label": period_label(start, end)},
            "previous": {
                "start": previous_start,
                "end": previous_end,
                "label": period_label(previous_start, previous_end),
                "key": period_key(kind, previous_start),
            },
            "generated_at": now,
            "generated_text": _when(now),
            "empty": total == 0,
            "figures": figures,
            "previous_figures": {**previous, **rates(previous)},
            "headline": _headline(counts, previous),
            "daily": _daily(start, end),
            "categories": _categories(start, end, total),
            "channels": _by_code(start, end, "channel", {c.value: str(c.label) for c in Channel}, total),
            "kinds": _by_code(start, end, "kind", {k.value: str(k.label) for k in Kind}, total),
            "topics": _topics(end),
            "alerts": alerts,
            "alert_summary": alert_summary,
            "departments": _departments(start, end),
            "cases": _notable(start, end),
            "quality": _quality(start, end),
        }


# ================================================================================================ files


def _charts(data: dict[str, Any]) -> dict[str, str]:
    """The report's SVG charts (empty when minyi.reports.charts is unavailable: the report still renders)."""
    try:
        from minyi.reports import charts
    except ImportError:  # pragma: no cover - the charts module ships with the app
        return {}
    daily = data.get("daily") or []
    out = {
        "daily": charts.line_chart(
            _("每日诉求量"),
            [day["label"] for day in daily],
            [(_("收到诉求"), [day["received"] for day in daily])],
            width=680,
            height=220,
        ),
        "categories": charts.bar_chart(
            _("诉求分类"),
            [row["name"] for row in data.get("categories") or []],
            [row["received"] for row in data.get("categories") or []],
            horizontal=True,
            width=680,
            height=max(120, 40 + 22 * len(data.get("categories") or [])),
        ),
        "channels": charts.pie_chart(
            _("渠道构成"),
            [(row["name"], row["received"]) for row in data.get("channels") or []],
            width=680,
            height=200,
        ),
    }
    return {name: mark_safe(charts.inline(svg)) for name, svg in out.items()}


def _font_css() -> str:
    try:
        from minyi.reports.pdf import font_face_css
    except ImportError:  # pragma: no cover
        return ""
    return font_face_css()


def render_report_html(data: dict[str, Any]) -> str:
    """The report as one HTML page for WeasyPrint (print CSS and the @font-face rules inline; never served)."""
    with translation.override(REPORT_LANGUAGE):
        charts = {} if data.get("empty") else _charts(data)
        return render_to_string(
            PDF_TEMPLATE,
            {"data": data, "charts": charts, "font_css": mark_safe(_font_css())},
        )


def render_report_pdf(data: dict[str, Any]) -> bytes:
    """The report as a PDF in Noto Sans SC (minyi.reports.pdf.render_pdf)."""
    from minyi.reports.pdf import render_pdf

    return render_pdf(render_report_html(data))


def _percent_number(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _xlsx_sheets(data: dict[str, Any]) -> list:
    from minyi.reports.xlsx import Sheet

    overview: list[list[Any]] = [
        [_("报告"), data["title"], "", ""],
        [_("统计期"), data["period"]["label"], "", ""],
        [_("上期"), data["previous"]["label"], "", ""],
        [_("生成时间"), data["generated_text"], "", ""],
        [],
    ]
    if data["empty"]:
        overview.append([_("本期暂无诉求。"), "", "", ""])
        overview.append([])
    overview.append([_("指标"), _("本期"), _("上期"), _("变化（件或百分点）")])
    for row in data["headline"]:
        is_rate = row["key"].endswith("_rate")
        overview.append(
            [
                row["label"] + ("（%）" if is_rate else ""),
                _percent_number(row["value"]) if is_rate else row["value"],
                _percent_number(row["previous"]) if is_rate else row["previous"],
                row["change"],
            ]
        )
    overview += [[], [_("日期"), _("收到诉求（件）"), "", ""]]
    overview += [[day["day"].isoformat(), day["received"], "", ""] for day in data["daily"]]
    for title, rows in (
        (_("诉求分类"), data["categories"]),
        (_("渠道"), data["channels"]),
        (_("诉求类型"), data["kinds"]),
    ):
        overview += [[], [title, _("件数"), _("占比（%）"), ""]]
        overview += [[row["name"], row["received"], _percent_number(row["share"]), ""] for row in rows]
    sheets = [
        Sheet(_("概况"), [], overview, widths=(24, 28, 16, 22)),
        Sheet(
            _("热点"),
            [_("排名"), _("热点"), _("关键词"), _("诉求数"), _("人数"), _("热度"), _("走势"), _("责任部门")],
            [
                [
                    t["rank"],
                    t["label"],
                    t["keywords_text"],
                    t["size"],
                    t["people"],
                    t["heat"],
                    t["trend_label"],
                    t["department"],
                ]
                for t in data["topics"]
            ],
            widths=(6, 30, 36, 8, 8, 8, 8, 20),
        ),
        Sheet(
            _("预警"),
            [
                _("级别"),
                _("来源"),
                _("预警"),
                _("件数"),
                _("责任部门"),
                _("发现时间"),
                _("状态"),
                _("签收时间"),
                _("关闭时间"),
                _("处置说明"),
            ],
            [
                [
                    a["level_label"],
                    a["source_label"],
                    a["label"],
                    a["count"],
                    a["department"],
                    a["created_text"],
                    a["state_label"],
                    a["acknowledged_text"],
                    a["closed_text"],
                    a["close_note"],
                ]
                for a in data["alerts"]
            ],
            widths=(6, 8, 36, 8, 20, 17, 8, 17, 17, 40),
        ),
        Sheet(
            _("部门排名"),
            [
                _("名次"),
                _("部门"),
                _("收到诉求"),
                _("已答复"),
                _("按时答复率（%）"),
                _("满意率（%）"),
                _("按时响应率（%）"),
                _("超期"),
            ],
            [
                [
                    d["rank"],
                    d["name"],
                    d["received"],
                    d["replied"],
                    _percent_number(d["on_time_rate"]),
                    _percent_number(d["satisfaction_rate"]),
                    _percent_number(d["response_rate"]),
                    d["overdue"],
                ]
                for d in data["departments"]
            ],
            widths=(6, 28, 10, 10, 14, 12, 14, 8),
        ),
        Sheet(
            _("典型诉求"),
            [
                _("受理编号"),
                _("标题"),
                _("类型"),
                _("分类"),
                _("承办部门"),
                _("状态"),
                _("提交日期"),
                _("入选原因"),
            ],
            [
                [
                    c["tracking_number"],
                    c["title"],
                    c["kind"],
                    c["category"],
                    c["department"],
                    c["status"],
                    c["received_text"],
                    c["reasons_text"],
                ]
                for c in data["cases"]
            ],
            widths=(18, 40, 8, 16, 20, 10, 16, 20),
        ),
    ]
    if data["quality"]:
        sheets.append(
            Sheet(
                _("答复质量"),
                [_("部门"), _("答复数"), _("平均分"), _("低于%(n)s分") % {"n": LOW_QUALITY_SCORE}],
                [[q["department"], q["replies"], q["average"], q["low"]] for q in data["quality"]],
                widths=(28, 10, 10, 12),
            )
        )
    return sheets


def render_report_xlsx(data: dict[str, Any]) -> bytes:
    """The report's figures as a workbook: 概况, 热点, 预警, 部门排名, 典型诉求 (and 答复质量 when scored);
    text cells that would start a formula are neutralised (minyi.reports.xlsx)."""
    from minyi.reports.xlsx import write_xlsx

    with translation.override(REPORT_LANGUAGE), tempfile.TemporaryDirectory(prefix="minyi-report-") as tmp:
        path = Path(tmp) / "report.xlsx"
        write_xlsx(path, _xlsx_sheets(data))
        return path.read_bytes()


# ================================================================================================ archive


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def report_summary(data: dict[str, Any]) -> dict[str, Any]:
    """What the archive lists without opening the files: the headline figures and a few counts."""
    return {
        "title": data["title"],
        "key": data["key"],
        "empty": data["empty"],
        "figures": {key: _json(value) for key, value in data["figures"].items()},
        "headline": [
            {k: row[k] for k in ("key", "label", "text", "change_text")} for row in data["headline"]
        ],
        "topics": len(data["topics"]),
        "alerts": data["alert_summary"],
        "departments": len(data["departments"]),
        "cases": len(data["cases"]),
    }


def download_name(report: Report, fmt: str) -> str:
    """民意周报（2026年第48周）.pdf"""
    with translation.override(REPORT_LANGUAGE):
        return f"{report_title(report.kind, report.period_start)}.{fmt}"


def ascii_name(report: Report, fmt: str) -> str:
    """minyi-weekly-2026-W48.pdf: the fallback name for clients without RFC 5987."""
    return f"minyi-{report.kind}-{period_key(report.kind, report.period_start)}.{fmt}"


@dataclass(frozen=True)
class _Files:
    pdf: str
    xlsx: str
    sha256: str


def _store(kind: str, start: date, pdf: bytes, xlsx: bytes) -> _Files:
    stem = f"reports/minyi-{kind}-{period_key(kind, start)}-{secrets.token_hex(6)}"
    pdf_name = default_storage.save(f"{stem}.pdf", ContentFile(pdf))
    try:
        xlsx_name = default_storage.save(f"{stem}.xlsx", ContentFile(xlsx))
    except BaseException:
        _delete([pdf_name])
        raise
    return _Files(pdf_name, xlsx_name, hashlib.sha256(pdf).hexdigest())


def _delete(names: list[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:  # a file already gone, or a storage hiccup: the row no longer points at it anyway
            logger.warning("report file %s could not be deleted", name)


def generate_report(
    kind: str, start: date | None = None, *, user: Any = None, now: datetime | None = None
) -> Report:
    """Build, render and archive the report of the period starting on `start` (default: the last complete one).

    Regenerating a period replaces its files: the new files are written first, the row is switched to them
    in one transaction (locked, so concurrent runs queue up), and the old files are deleted after commit.
    Raises ValidationFailed for a bad kind or a start that does not begin a week (Monday) or a month."""
    kind = check_kind(kind)
    now = now or clock.now()
    if start is None:
        start, end = last_complete(kind, timezone.localdate(now, _zone()))
    else:
        start = _aligned_start(kind, start)
        end = period_end(kind, start)
    data = build_report_data(kind, start, end, now=now)
    pdf = render_report_pdf(data)
    xlsx = render_report_xlsx(data)
    files = _store(kind, start, pdf, xlsx)
    generated_by = user if getattr(user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            report = Report.objects.select_for_update().filter(kind=kind, period_start=start).first()
            if report is None:
                try:
                    with transaction.atomic():
                        report = Report.objects.create(
                            kind=kind, period_start=start, period_end=end, generated_at=now
                        )
                except IntegrityError:  # created meanwhile by a concurrent run: take its row, locked
                    report = Report.objects.select_for_update().get(kind=kind, period_start=start)
            old = [name for name in (report.pdf.name, report.xlsx.name) if name]
            report.period_end = end
            report.generated_at = now
            report.generated_by = generated_by
            report.pdf.name = files.pdf
            report.xlsx.name = files.xlsx
            report.pdf_sha256 = files.sha256
            report.summary = report_summary(data)
            report.save()
            stale = [name for name in old if name not in (files.pdf, files.xlsx)]
            transaction.on_commit(lambda: _delete(stale))
    except BaseException:
        _delete([files.pdf, files.xlsx])
        raise
    logger.info("report %s %s generated (%s bytes PDF)", kind, period_key(kind, start), len(pdf))
    return report


def scheduled_report(*, kind: str) -> int:
    """The scheduled run (Celery beat: weekly on Monday 07:00, monthly on the 1st 07:00): the last complete
    period's report; returns its id."""
    return generate_report(kind).pk
