"""The scoreboard (考核): daily rollups of the cases received, the rates computed from them, and the rankings.

The contract (docs/scoreboard.md, and the definitions printed on the page):

- The cohort of a period is the cases received in it (local date of Case.created_at, settings.TIME_ZONE), without
  the cases merged into another (they count in their main case), attributed to the case's current department
  (None: not yet dispatched) and region.
- ScoreRollup holds, per local day × department × region, the counters every rate needs. `rollup_refresh`
  rebuilds the days that hold a case updated since the watermark; `rollup_rebuild` rebuilds everything. Both
  compute in the database (aggregate queries grouped by day, department and region; never a Python loop over
  cases) and replace each day's rows in one transaction while holding the RollupWatermark row lock.
- The board and the trends only sum ScoreRollup rows (never the cases table), cached for BOARD_TTL seconds.
- A rate whose denominator is 0 is None ("—"), never 0 % or 100 %.
"""

from __future__ import annotations

import calendar
import functools
import operator
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, DurationField, F, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from minyi.accounts.models import Department, Region
from minyi.cases.models import Case, Evaluation
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import NotFound, ValidationFailed
from minyi.disclosure.models import RollupWatermark, ScoreRollup

WATERMARK = "scoreboard"
#: A refresh looks this far behind the watermark, so that a transaction that stamped `updated_at` before the
#: last refresh but committed after it is still seen. Rebuilding a day twice is harmless.
REFRESH_OVERLAP = timedelta(minutes=5)
#: Days rebuilt per pair of aggregate queries.
BATCH_DAYS = 31
#: Seconds a computed board or trend is kept. Figures change only when rollups do, and every refresh that
#: rebuilds a day bumps GENERATION_KEY (part of every cache key), so a long TTL never serves stale figures
#: where the cache is shared (Redis); with per-process memory caches staleness is bounded by the TTL, which is
#: the refresh cadence.
BOARD_TTL = 600
GENERATION_KEY = "minyi:scoreboard:generation"
MAX_PERIOD_DAYS = 366
EARLIEST_DAY = date(2000, 1, 1)
TREND_MONTHS = 12
MAX_PARAM_CHARS = 40
#: Largest id a database column can hold: anything above is unknown, without asking the database.
MAX_ID = 2**63 - 1

COUNTERS = (
    "received",
    "assigned",
    "responded_on_time",
    "replied",
    "replied_on_time",
    "reply_seconds",
    "rated",
    "satisfied",
    "resolution_answered",
    "resolved",
    "reopened",
    "repeats",
)

#: (key, numerator, denominator) of every rate; `avg_reply_days` is reply_seconds / replied / 86400.
RATES = (
    ("response_rate", "responded_on_time", "assigned"),
    ("resolution_rate", "resolved", "resolution_answered"),
    ("satisfaction_rate", "satisfied", "rated"),
    ("on_time_rate", "replied_on_time", "replied"),
    ("avg_reply_days", "reply_seconds", "replied"),
    ("reopen_rate", "reopened", "replied"),
    ("repeat_rate", "repeats", "received"),
)
RATE_KEYS = tuple(key for key, _num, _den in RATES)
#: The ranking compares these in order (higher is better); equal tuples share a rank.
RANKING = ("satisfaction_rate", "response_rate", "resolution_rate")

SATISFIED_RATINGS = (Evaluation.Rating.SATISFIED, Evaluation.Rating.BASICALLY)


# ================================================================================================ rollups


def _zone():
    return timezone.get_default_timezone()


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_zone())


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days, [(first, last), ...]."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _received_in(runs: list[tuple[date, date]], field: str = "created_at") -> Q:
    """Cases received (local date) on the days of `runs`: one indexed range per run."""
    return functools.reduce(
        operator.or_,
        (
            Q(
                **{
                    f"{field}__gte": _local_midnight(first),
                    f"{field}__lt": _local_midnight(last + timedelta(days=1)),
                }
            )
            for first, last in runs
        ),
    )


def _case_counters(runs: list[tuple[date, date]]) -> QuerySet:
    """One aggregate query: every counter that needs only the case row, by (day, department, region)."""
    response_window = timedelta(hours=settings.MINYI_RESPONSE_HOURS)
    replied = Q(replied_at__isnull=False)
    return (
        Case.objects.filter(_received_in(runs))
        .exclude(status=CaseStatus.MERGED)
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=_zone()))
        .values("day", "department_id", "region_id")
        .annotate(
            received=Count("id"),
            assigned=Count("id", filter=Q(assigned_at__isnull=False)),
            responded_on_time=Count(
                "id",
                filter=Q(
                    assigned_at__isnull=False,
                    responded_at__isnull=False,
                    responded_at__lte=F("assigned_at") + response_window,
                ),
            ),
            replied=Count("id", filter=replied),
            replied_on_time=Count(
                "id", filter=replied & (Q(handle_due_at__isnull=True) | Q(replied_at__lte=F("handle_due_at")))
            ),
            reply_time=Sum(F("replied_at") - F("created_at"), filter=replied, output_field=DurationField()),
            reopened=Count("id", filter=replied & Q(reopen_count__gt=0)),
            repeats=Count("id", filter=Q(is_repeat=True)),
        )
    )


def _evaluation_counters(runs: list[tuple[date, date]]) -> QuerySet:
    """One aggregate query over the latest evaluation (by created_at, then id) of each case of the cohort."""
    latest = (
        Evaluation.objects.filter(case_id=OuterRef("case_id")).order_by("-created_at", "-id").values("id")[:1]
    )
    return (
        Evaluation.objects.filter(_received_in(runs, "case__created_at"))
        .exclude(case__status=CaseStatus.MERGED)
        .filter(id=Subquery(latest))
        .order_by()
        .annotate(day=TruncDate("case__created_at", tzinfo=_zone()))
        .values("day", "case__department_id", "case__region_id")
        .annotate(
            rated=Count("id"),
            satisfied=Count("id", filter=Q(rating__in=SATISFIED_RATINGS)),
            resolution_answered=Count("id", filter=Q(resolved__isnull=False)),
            resolved=Count("id", filter=Q(resolved=True)),
        )
    )


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _count_days(runs: list[tuple[date, date]]) -> list[ScoreRollup]:
    """The rollup rows of the days in `runs`, computed by two aggregate queries."""
    rows: dict[tuple[date, int | None, int | None], ScoreRollup] = {}
    for item in _case_counters(runs):
        key = (_as_date(item["day"]), item["department_id"], item["region_id"])
        reply_time = item["reply_time"]
        rows[key] = ScoreRollup(
            day=key[0],
            department_id=key[1],
            region_id=key[2],
            received=item["received"],
            assigned=item["assigned"],
            responded_on_time=item["responded_on_time"],
            replied=item["replied"],
            replied_on_time=item["replied_on_time"],
            reply_seconds=int(reply_time.total_seconds()) if reply_time else 0,
            reopened=item["reopened"],
            repeats=item["repeats"],
        )
    for item in _evaluation_counters(runs):
        key = (_as_date(item["day"]), item["case__department_id"], item["case__region_id"])
        row = rows.get(key)
        if row is None:  # cannot happen (an evaluated case is a received case); never lose a count
            row = rows[key] = ScoreRollup(day=key[0], department_id=key[1], region_id=key[2])
        row.rated = item["rated"]
        row.satisfied = item["satisfied"]
        row.resolution_answered = item["resolution_answered"]
        row.resolved = item["resolved"]
    return list(rows.values())


def _batches(days: list[date]) -> list[list[tuple[date, date]]]:
    """Days in batches of at most BATCH_DAYS days, each batch as runs of consecutive days."""
    ordered = sorted(set(days))
    return [_ranges(ordered[i : i + BATCH_DAYS]) for i in range(0, len(ordered), BATCH_DAYS)]


def _rebuild(days: list[date]) -> None:
    """Replace the rollup rows of `days`. Caller holds the watermark lock inside a transaction."""
    for runs in _batches(days):
        rows = _count_days(runs)
        stale = functools.reduce(operator.or_, (Q(day__gte=first, day__lte=last) for first, last in runs))
        ScoreRollup.objects.filter(stale).delete()
        ScoreRollup.objects.bulk_create(rows, batch_size=1000)


def _locked_watermark() -> RollupWatermark:
    RollupWatermark.objects.get_or_create(name=WATERMARK)
    return RollupWatermark.objects.select_for_update().get(name=WATERMARK)


def _local_date(moment: datetime) -> date:
    return timezone.localtime(moment, _zone()).date()


def _rebuild_all(mark: RollupWatermark, now: datetime) -> int:
    newest = Case.objects.aggregate(newest=Max("updated_at"))["newest"]
    bounds = Case.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    ScoreRollup.objects.all().delete()
    written = 0
    if bounds["first"] is not None:
        first, last = _local_date(bounds["first"]), _local_date(bounds["last"])
        start = first
        while start <= last:
            end = min(start + timedelta(days=BATCH_DAYS - 1), last)
            rows = _count_days([(start, end)])
            ScoreRollup.objects.bulk_create(rows, batch_size=1000)
            written += len({row.day for row in rows})
            start = end + timedelta(days=1)
    if connection.vendor == "postgresql":  # fresh statistics for the board's range scans after a bulk reload
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ScoreRollup._meta.db_table}")
    mark.cases_updated_to = newest
    mark.refreshed_at = now
    mark.save(update_fields=["cases_updated_to", "refreshed_at"])
    transaction.on_commit(_new_generation)
    return written


def _generation() -> int:
    return cache.get_or_set(GENERATION_KEY, 1, timeout=None) or 1


def _new_generation() -> None:
    """Rollups changed: every cached board and trend is now stale (their keys hold the generation). Then the
    boards people open most (this month, last month, this quarter, this year) are computed ahead of them."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, timeout=None)
    today = today_local()
    last_month = (
        month_period(today.year, today.month - 1) if today.month > 1 else month_period(today.year - 1, 12)
    )
    for period in (
        month_period(today.year, today.month),
        last_month,
        parse_period(period=f"{today.year}-Q{(today.month - 1) // 3 + 1}", today=today),
        parse_period(period=str(today.year), today=today),
    ):
        board_get(period)


@transaction.atomic
def rollup_rebuild(*, now: datetime | None = None) -> int:
    """Rebuild every rollup row from the cases. Returns the number of days that hold cases. Idempotent."""
    return _rebuild_all(_locked_watermark(), now or timezone.now())


@transaction.atomic
def rollup_refresh(*, now: datetime | None = None) -> int:
    """Rebuild the rollup rows of every local day that holds a case updated since the watermark (everything
    on the first run). Returns the number of days rebuilt. Idempotent; concurrent refreshes wait for the lock."""
    now = now or timezone.now()
    mark = _locked_watermark()
    if mark.cases_updated_to is None:
        return _rebuild_all(mark, now)
    changed = Case.objects.filter(updated_at__gt=mark.cases_updated_to - REFRESH_OVERLAP).order_by()
    newest = changed.aggregate(newest=Max("updated_at"))["newest"]
    days: list[date] = []
    if newest is not None:
        days = [
            _as_date(day)
            for day in changed.annotate(day=TruncDate("created_at", tzinfo=_zone()))
            .values_list("day", flat=True)
            .distinct()
        ]
        _rebuild(days)
        mark.cases_updated_to = max(newest, mark.cases_updated_to)
        transaction.on_commit(_new_generation)
    mark.refreshed_at = now
    mark.save(update_fields=["cases_updated_to", "refreshed_at"])
    return len(days)


# ================================================================================================ periods


class PeriodError(ValidationFailed):
    code = "invalid_period"


@dataclass(frozen=True)
class Period:
    """A span of local days, both ends included."""

    start: date
    end: date
    kind: str  # "month", "quarter", "year" or "range"

    @property
    def key(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{self.start.year}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self) -> dict[str, str]:
        """The GET parameters that name this period."""
        if self.kind == "range":
            return {"from": self.start.isoformat(), "to": self.end.isoformat()}
        return {"period": self.key}

    def label(self) -> str:
        if self.kind == "month":
            return _("%(year)s年%(month)s月") % {"year": self.start.year, "month": self.start.month}
        if self.kind == "quarter":
            return _("%(year)s年第%(quarter)s季度") % {
                "year": self.start.year,
                "quarter": (self.start.month - 1) // 3 + 1,
            }
        if self.kind == "year":
            return _("%(year)s年") % {"year": self.start.year}
        return _("%(start)s 至 %(end)s") % {"start": self.start.isoformat(), "end": self.end.isoformat()}


_YEAR = re.compile(r"([0-9]{4})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_QUARTER = re.compile(r"([0-9]{4})-[Qq]([1-4])")
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def month_period(year: int, month: int) -> Period:
    return Period(date(year, month, 1), _month_end(year, month), "month")


def today_local() -> date:
    return timezone.localdate(timezone.now(), _zone())


def _malformed(field: str) -> PeriodError:
    return PeriodError(
        _(
            "统计期格式不正确：请使用 2026-03（月）、2026-Q1（季度）、2026（年），"
            "或起止日期 from=YYYY-MM-DD 与 to=YYYY-MM-DD。"
        ),
        fields={field: _("格式不正确")},
    )


def _parse_named(value: str) -> Period:
    try:
        if match := _MONTH.fullmatch(value):
            return month_period(int(match[1]), int(match[2]))
        if match := _QUARTER.fullmatch(value):
            year, first = int(match[1]), (int(match[2]) - 1) * 3 + 1
            return Period(date(year, first, 1), _month_end(year, first + 2), "quarter")
        if match := _YEAR.fullmatch(value):
            year = int(match[1])
            return Period(date(year, 1, 1), date(year, 12, 31), "year")
    except ValueError:
        pass
    raise _malformed("period")


def _parse_day(value: str, field: str) -> date:
    match = _DAY.fullmatch(value)
    if match is None:
        raise _malformed(field)
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise _malformed(field) from None


def parse_period(
    *,
    period: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    today: date | None = None,
) -> Period:
    """The period named by the request: ?period=2026-03 | 2026-Q1 | 2026, or ?from=…&to=… (local dates, both
    included); the current month when none is given. Raises PeriodError (400, a message in the user's language)
    when malformed, reversed, longer than MAX_PERIOD_DAYS, before EARLIEST_DAY or starting in the future."""
    today = today or today_local()
    values = {"period": period, "from": date_from, "to": date_to}
    for field, value in values.items():
        if value is not None and len(value) > MAX_PARAM_CHARS:
            raise _malformed(field)
    period, date_from, date_to = ((v or "").strip() for v in values.values())
    if period and (date_from or date_to):
        raise PeriodError(
            _("请只选择一种统计期：按月、季度或年（period），或者起止日期（from 与 to）。"),
            fields={"period": _("与起止日期冲突")},
        )
    if period:
        chosen = _parse_named(period)
    elif date_from or date_to:
        if not (date_from and date_to):
            missing = "to" if date_from else "from"
            raise PeriodError(_("请同时填写起始日期和结束日期。"), fields={missing: _("必填")})
        start, end = _parse_day(date_from, "from"), _parse_day(date_to, "to")
        if start > end:
            raise PeriodError(_("起始日期不能晚于结束日期。"), fields={"from": _("晚于结束日期")})
        chosen = Period(start, end, "range")
        if chosen.days > MAX_PERIOD_DAYS:
            raise PeriodError(
                _("统计期最长为 %(n)s 天。") % {"n": MAX_PERIOD_DAYS}, fields={"to": _("超出范围")}
            )
    else:
        chosen = month_period(today.year, today.month)
    field = "from" if chosen.kind == "range" else "period"
    if chosen.start < EARLIEST_DAY:
        raise PeriodError(
            _("统计期不能早于 %(day)s。") % {"day": EARLIEST_DAY.isoformat()}, fields={field: _("超出范围")}
        )
    if chosen.start > today:
        raise PeriodError(_("统计期不能从未来的日期开始。"), fields={field: _("超出范围")})
    return chosen


def period_options(*, today: date | None = None) -> list[tuple[str, str]]:
    """Suggestions for the period picker: the last 12 months, the last 4 quarters and the last 3 years."""
    today = today or today_local()
    options: list[Period] = []
    year, month = today.year, today.month
    for _i in range(12):
        options.append(month_period(year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    quarter_start = (today.month - 1) // 3 * 3 + 1
    year, month = today.year, quarter_start
    for _i in range(4):
        options.append(Period(date(year, month, 1), _month_end(year, month + 2), "quarter"))
        year, month = (year, month - 3) if month > 3 else (year - 1, 10)
    options += [Period(date(y, 1, 1), date(y, 12, 31), "year") for y in range(today.year, today.year - 3, -1)]
    return [(p.key, p.label()) for p in options if p.start >= EARLIEST_DAY]


# ================================================================================================ figures


def rates(counts: dict[str, int]) -> dict[str, float | None]:
    """Every rate of one row of counters; None where the denominator is 0."""
    out: dict[str, float | None] = {}
    for key, numerator, denominator in RATES:
        below = counts.get(denominator) or 0
        if not below:
            out[key] = None
        elif key == "avg_reply_days":
            out[key] = (counts.get(numerator) or 0) / below / 86400
        else:
            out[key] = (counts.get(numerator) or 0) / below
    return out


def _sums() -> dict[str, Sum]:
    return {name: Sum(name) for name in COUNTERS}


def _counts(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(item.get(name) or 0) for name in COUNTERS}


def _row(counts: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {**extra, "counts": counts, "rates": rates(counts)}


def _rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order by the RANKING rates (higher first, None after any figure); equal figures share a rank and are
    listed by received (more first), then code."""

    def merit(row: dict[str, Any]) -> tuple:
        return tuple((row["rates"][key] is None, -(row["rates"][key] or 0)) for key in RANKING)

    rows.sort(key=lambda row: (merit(row), -row["counts"]["received"], row["code"]))
    previous = None
    for position, row in enumerate(rows, start=1):
        current = merit(row)
        if current != previous:
            rank, previous = position, current
        row["rank"] = rank
    return rows


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for name in COUNTERS:
        total[name] = total.get(name, 0) + counts[name]


def _board_compute(period: Period) -> dict[str, Any]:
    # One grouped scan of the period's rollup rows by (department, region); both rankings and the overall row
    # are sums of those few groups, and the names come from two small primary-key lookups.
    pairs = [
        (item["department_id"], item["region_id"], _counts(item))
        for item in ScoreRollup.objects.filter(day__gte=period.start, day__lte=period.end)
        .order_by()
        .values("department_id", "region_id")
        .annotate(**_sums())
    ]
    total: dict[str, int] = dict.fromkeys(COUNTERS, 0)
    by_department: dict[int | None, dict[str, int]] = {}
    by_region: dict[int | None, dict[str, int]] = {}
    for department_id, region_id, counts in pairs:
        _add(total, counts)
        _add(by_department.setdefault(department_id, dict.fromkeys(COUNTERS, 0)), counts)
        _add(by_region.setdefault(region_id, dict.fromkeys(COUNTERS, 0)), counts)
    departments = [
        _row(by_department[item["id"]], active=item.pop("is_active"), **item)
        for item in Department.objects.filter(pk__in=[k for k in by_department if k is not None])
        .order_by()
        .values("id", "code", "name", "is_active")
        if by_department[item["id"]]["received"] > 0
    ]
    regions = [
        _row(by_region[item["id"]], **item)
        for item in Region.objects.filter(pk__in=[k for k in by_region if k is not None])
        .order_by()
        .values("id", "code", "name")
        if by_region[item["id"]]["received"] > 0
    ]
    refreshed_at = (
        RollupWatermark.objects.filter(name=WATERMARK).values_list("refreshed_at", flat=True).first()
    )
    return {
        "period": {"from": period.start, "to": period.end, "key": period.key, "kind": period.kind},
        "refreshed_at": refreshed_at,
        "overall": _row(total),
        "unattributed": {
            "department": by_department.get(None, {}).get("received", 0),
            "region": by_region.get(None, {}).get("received", 0),
        },
        "departments": _rank(departments),
        "regions": _rank(regions),
    }


def board_get(period: Period) -> dict[str, Any]:
    """The scoreboard of `period`: overall, departments and regions ranked. Sums rollups (four queries, none on
    the cases table), cached for BOARD_TTL seconds. Language-neutral: labels come from `definitions()`."""
    key = f"minyi:scoreboard:board:{_generation()}:{period.start:%Y%m%d}:{period.end:%Y%m%d}"
    board = cache.get(key)
    if board is None:
        board = _board_compute(period)
        cache.set(key, board, BOARD_TTL)
    return board


def trend_months(*, today: date | None = None) -> list[Period]:
    """The TREND_MONTHS months that end with the current one, oldest first."""
    today = today or today_local()
    year, month = today.year, today.month
    months = []
    for _i in range(TREND_MONTHS):
        months.append(month_period(year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def trend_subject(kind: str, subject_id: int) -> Department | Region:
    """The active department, or the region, whose trend is asked for; NotFound (404) otherwise."""
    found = None
    if 0 < subject_id <= MAX_ID:
        if kind == "department":
            found = Department.objects.filter(pk=subject_id, is_active=True).first()
        elif kind == "region":
            found = Region.objects.filter(pk=subject_id).first()
    if found is None:
        raise NotFound(_("未找到该部门或区域。"))
    return found


def trend_get(kind: str, subject_id: int, *, today: date | None = None) -> dict[str, Any]:
    """The monthly figures of one department or region over the last TREND_MONTHS months (rollups only: two
    queries, cached). Raises NotFound for an unknown id, or an inactive department."""
    months = trend_months(today=today)
    key = f"minyi:scoreboard:trend:{_generation()}:{kind}:{subject_id}:{months[0].start:%Y%m}:{months[-1].start:%Y%m}"
    trend = cache.get(key)
    if trend is not None:
        return trend
    subject = trend_subject(kind, subject_id)
    rollups = ScoreRollup.objects.filter(
        day__gte=months[0].start, day__lte=months[-1].end, **{f"{kind}_id": subject.pk}
    ).order_by()
    found = {
        _as_date(item["month"]).replace(day=1): _counts(item)
        for item in rollups.annotate(month=TruncMonth("day")).values("month").annotate(**_sums())
    }
    trend = {
        "subject": {"kind": kind, "id": subject.pk, "code": subject.code, "name": subject.name},
        "months": [
            _row(
                found.get(month.start, dict.fromkeys(COUNTERS, 0)),
                month=month.key,
                start=month.start,
                end=month.end,
            )
            for month in months
        ],
    }
    cache.set(key, trend, BOARD_TTL)
    return trend


# ================================================================================================ definitions


def definitions() -> list[dict[str, str | None]]:
    """What every figure means, in the user's language: the page prints them and the API returns them."""
    hours = settings.MINYI_RESPONSE_HOURS
    return [
        {
            "key": "cohort",
            "label": _("统计口径"),
            "definition": _(
                "统计期内提交的诉求（按提交时间的当地日期，时区 %(tz)s），不含并入其他诉求的并案件"
                "（并案件计入主件）。每件诉求计入其当前承办部门（尚未交办的不计入任何部门，只计入合计）"
                "和所属区域。部门按诉求直接承办的部门统计，不汇总下级部门。"
            )
            % {"tz": settings.TIME_ZONE},
            "numerator": None,
            "denominator": None,
        },
        {
            "key": "received",
            "label": _("诉求量"),
            "definition": _("统计期内提交的诉求件数。"),
            "numerator": None,
            "denominator": None,
        },
        {
            "key": "response_rate",
            "label": _("响应率"),
            "definition": _(
                "交办后 %(hours)s 小时内承办单位开始办理或作出答复的件数 ÷ 已交办件数"
                "（交办时间以最近一次交办为准）。"
            )
            % {"hours": hours},
            "numerator": "responded_on_time",
            "denominator": "assigned",
        },
        {
            "key": "resolution_rate",
            "label": _("解决率"),
            "definition": _(
                "群众最近一次评价表示问题已解决的件数 ÷ 最近一次评价回答了“问题是否解决”的件数。"
            ),
            "numerator": "resolved",
            "denominator": "resolution_answered",
        },
        {
            "key": "satisfaction_rate",
            "label": _("满意率"),
            "definition": _("群众最近一次评价为“满意”或“基本满意”的件数 ÷ 有评价的件数。"),
            "numerator": "satisfied",
            "denominator": "rated",
        },
        {
            "key": "on_time_rate",
            "label": _("按时办结率"),
            "definition": _("在办理时限内答复的件数（未设办理时限的视为按时）÷ 已答复件数。"),
            "numerator": "replied_on_time",
            "denominator": "replied",
        },
        {
            "key": "avg_reply_days",
            "label": _("平均答复用时"),
            "definition": _("已答复诉求从提交到答复（重办的以最近一次答复为准）所用时间的平均值，以天计。"),
            "numerator": "reply_seconds",
            "denominator": "replied",
        },
        {
            "key": "reopen_rate",
            "label": _("重办率"),
            "definition": _("已答复诉求中被重办过的件数 ÷ 已答复件数。"),
            "numerator": "reopened",
            "denominator": "replied",
        },
        {
            "key": "repeat_rate",
            "label": _("重复诉求率"),
            "definition": _("认定为重复诉求（同一联系人就同一事项再次反映）的件数 ÷ 诉求量。"),
            "numerator": "repeats",
            "denominator": "received",
        },
        {
            "key": "no_denominator",
            "label": _("无法计算"),
            "definition": _("分母为 0 时显示“—”，不按 0% 或 100% 计。"),
            "numerator": None,
            "denominator": None,
        },
        {
            "key": "ranking",
            "label": _("排名规则"),
            "definition": _(
                "只列统计期内有诉求的部门和区域。先比满意率，高者在前；相同的依次比较响应率、解决率；"
                "“—”排在有数值者之后。三项都相同的名次并列，按诉求量从多到少列出。"
            ),
            "numerator": None,
            "denominator": None,
        },
        {
            "key": "source",
            "label": _("数据来源"),
            "definition": _("每 10 分钟根据诉求的办理情况重新汇总一次，页面显示最近一次汇总的结果。"),
            "numerator": None,
            "denominator": None,
        },
    ]
