"""The barometer's daily rollups: DailyRollup rows, per local day × category × region × channel × kind × department.

The contract (the dashboards in minyi.barometer.dashboard only sum these rows, they never scan the cases table):

- The cohort of a day is the cases received on it (local date of Case.created_at, settings.TIME_ZONE), without the
  cases merged into another (they count in their main case), attributed to the case's current category, region,
  channel, kind and department (None: not yet dispatched), as the scoreboard (minyi.disclosure.scoreboard) does.
- Counters: ``received``; ``assigned`` (has an assignment); ``responded_on_time`` (started or replied within
  MINYI_RESPONSE_HOURS of the latest assignment); ``replied``; ``replied_on_time`` (no handling deadline, or replied
  by it); ``rated``, ``satisfied``, ``resolution_answered``, ``resolved`` (the case's latest evaluation, by
  created_at then id); ``overdue`` (replied after its handling deadline, or still being handled, a reopened case
  too, with its handling deadline passed at the moment of the refresh); ``high_risk`` (intake.Triage risk level
  high or medium); ``supports`` (the "+1"s of the case's publication, disclosure.Support).
- `rollup_refresh` rebuilds the days that hold a case updated, a support added or a triage event written
  (CaseEvent "triage"/"triage_review": a triage may change the risk level without touching the case) since the
  watermark (BarometerWatermark "rollup": the clock when the previous run read, less REFRESH_OVERLAP), and the
  days of the cases being handled whose deadline passed since the previous refresh (their ``overdue`` changed
  with the clock alone). `rollup_rebuild` rebuilds everything. Both hold the watermark row lock throughout.
- Each batch of days is one ``INSERT … SELECT`` computed in the database (one grouped query over the cases, with
  the latest evaluation and the support count as correlated subqueries): never a Python loop over cases, and no
  rows through Python either, since a day here has about as many rollup rows as cases.
- A rebuild or a refresh that changed a day bumps GENERATION_KEY on commit (part of every cached dashboard's key)
  and computes the dashboards people open most (minyi.barometer.dashboard.warm) ahead of the first reader.
"""

from __future__ import annotations

import functools
import logging
import operator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case as Conditional
from django.db.models import (
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from minyi.barometer.models import BarometerWatermark, DailyRollup
from minyi.cases.models import Case, CaseEvent, Evaluation
from minyi.cases.workflow import CaseStatus
from minyi.disclosure.models import Support
from minyi.intake.models import Triage

logger = logging.getLogger("minyi.barometer")

WATERMARK = "rollup"
#: A refresh looks this far behind the watermark, so that a transaction that stamped its time before the last
#: refresh but committed after it is still seen. Rebuilding a day twice is harmless.
REFRESH_OVERLAP = timedelta(minutes=5)
#: Days rebuilt per statement.
BATCH_DAYS = 31
GENERATION_KEY = "minyi:barometer:generation"

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
DIMENSIONS = ("category_id", "region_id", "channel", "kind", "department_id")
RISK_LEVELS = (Triage.RiskLevel.HIGH, Triage.RiskLevel.MEDIUM)
SATISFIED_RATINGS = (Evaluation.Rating.SATISFIED, Evaluation.Rating.BASICALLY)
TRIAGE_ACTIONS = ("triage", "triage_review")
#: The states in which a department is handling the case (a reopened case too): past its deadline, it is overdue.
HANDLING_STATES = sorted(
    {CaseStatus.ACCEPTED, CaseStatus.ASSIGNED, CaseStatus.RETURNED, CaseStatus.IN_PROGRESS}
)


# ================================================================================================ days


def _zone():
    return timezone.get_default_timezone()


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_zone())


def _local_date(moment: datetime) -> date:
    return timezone.localtime(moment, _zone()).date()


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days, [(first, last), ...]."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _batches(days: list[date]) -> list[list[tuple[date, date]]]:
    """Days in batches of at most BATCH_DAYS days, each batch as runs of consecutive days."""
    ordered = sorted(set(days))
    return [_ranges(ordered[i : i + BATCH_DAYS]) for i in range(0, len(ordered), BATCH_DAYS)]


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


def _days_of(queryset, field: str = "created_at") -> set[date]:
    """The distinct local days of `field` in `queryset` (one query)."""
    return {
        _as_date(day)
        for day in queryset.order_by()
        .annotate(rollup_day=TruncDate(field, tzinfo=_zone()))
        .values_list("rollup_day", flat=True)
        .distinct()
    }


# ================================================================================================ counting


def _flag(condition: Q) -> Conditional:
    return Conditional(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _per_case(runs: list[tuple[date, date]], now: datetime):
    """One row per case of the cohort: its day, dimensions, 0/1 flags of the case-only counters, its latest
    evaluation (rating, resolved) and its support count. Aggregated by `_insert_sql`; never fetched."""
    response_window = timedelta(hours=settings.MINYI_RESPONSE_HOURS)
    replied = Q(replied_at__isnull=False)
    latest = Evaluation.objects.filter(case_id=OuterRef("pk")).order_by("-created_at", "-id")
    supports = (
        Support.objects.filter(publication_id=OuterRef("pk"))
        .order_by()
        .values("publication_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        Case.objects.filter(_received_in(runs))
        .exclude(status=CaseStatus.MERGED)
        .order_by()
        .annotate(
            r_day=TruncDate("created_at", tzinfo=_zone()),
            r_category=F("category_id"),
            r_region=F("region_id"),
            r_channel=F("channel"),
            r_kind=F("kind"),
            r_department=F("department_id"),
            r_assigned=_flag(Q(assigned_at__isnull=False)),
            r_responded_on_time=_flag(
                Q(
                    assigned_at__isnull=False,
                    responded_at__isnull=False,
                    responded_at__lte=F("assigned_at") + response_window,
                )
            ),
            r_replied=_flag(replied),
            r_replied_on_time=_flag(
                replied & (Q(handle_due_at__isnull=True) | Q(replied_at__lte=F("handle_due_at")))
            ),
            r_overdue=_flag(
                Q(status__in=HANDLING_STATES, due_at__lt=now)
                | Q(replied_at__isnull=False, handle_due_at__isnull=False, replied_at__gt=F("handle_due_at"))
            ),
            r_risk=F("triage__risk_level"),
            r_rating=Subquery(latest.values("rating")[:1]),
            r_resolved=Subquery(latest.values("resolved")[:1]),
            r_supports=Subquery(supports[:1]),
        )
        .values(
            "r_day",
            "r_category",
            "r_region",
            "r_channel",
            "r_kind",
            "r_department",
            "r_assigned",
            "r_responded_on_time",
            "r_replied",
            "r_replied_on_time",
            "r_overdue",
            "r_risk",
            "r_rating",
            "r_resolved",
            "r_supports",
        )
    )


def _insert_sql(runs: list[tuple[date, date]], now: datetime) -> tuple[str, list[Any]]:
    """INSERT INTO barometer_dailyrollup … SELECT the counters of the days of `runs`, grouped in the database."""
    inner, inner_params = _per_case(runs, now).query.sql_with_params()
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    # PostgreSQL would pull the inner query up and evaluate each correlated subquery once per reference to its
    # column (twice for the rating and the resolution): OFFSET 0 keeps the inner query whole.
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    columns = ["day", "category_id", "region_id", "channel", "kind", "department_id", *COUNTERS]
    keys = "q.r_day, q.r_category, q.r_region, q.r_channel, q.r_kind, q.r_department"
    sql = (
        f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(c) for c in columns)}) "
        f"SELECT {keys}, COUNT(*), SUM(q.r_assigned), SUM(q.r_responded_on_time), SUM(q.r_replied), "
        "SUM(q.r_replied_on_time), COUNT(q.r_rating), "
        "SUM(CASE WHEN q.r_rating IN (%s, %s) THEN 1 ELSE 0 END), COUNT(q.r_resolved), "
        "SUM(CASE WHEN q.r_resolved = %s THEN 1 ELSE 0 END), SUM(q.r_overdue), "
        "SUM(CASE WHEN q.r_risk IN (%s, %s) THEN 1 ELSE 0 END), COALESCE(SUM(q.r_supports), 0) "
        f"FROM ({inner}{fence}) q GROUP BY {keys} ORDER BY q.r_day"
    )
    # The outer placeholders all come before the inner query's, in the order of the text.
    return sql, [*SATISFIED_RATINGS, True, *RISK_LEVELS, *inner_params]


def _write(runs: list[tuple[date, date]], now: datetime) -> None:
    sql, params = _insert_sql(runs, now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # JIT-compiling this statement costs more than running it (seconds per batch): off, for this transaction.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)


def _rebuild(days: list[date], now: datetime) -> None:
    """Replace the rollup rows of `days`. Caller holds the watermark lock inside a transaction."""
    for runs in _batches(days):
        stale = functools.reduce(operator.or_, (Q(day__gte=first, day__lte=last) for first, last in runs))
        DailyRollup.objects.filter(stale).delete()
        _write(runs, now)


# ================================================================================================ jobs


def _locked_watermark() -> BarometerWatermark:
    BarometerWatermark.objects.get_or_create(name=WATERMARK)
    return BarometerWatermark.objects.select_for_update().get(name=WATERMARK)


def _rebuild_all(mark: BarometerWatermark, now: datetime) -> int:
    seen_to = timezone.now()  # what is committed now is read below (the lock is held)
    bounds = Case.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    DailyRollup.objects.all().delete()
    if bounds["first"] is not None:
        start, last = _local_date(bounds["first"]), _local_date(bounds["last"])
        while start <= last:
            end = min(start + timedelta(days=BATCH_DAYS - 1), last)
            _write([(start, end)], now)
            start = end + timedelta(days=1)
    if (
        connection.vendor == "postgresql"
    ):  # fresh statistics for the dashboards' range scans after a bulk reload
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(DailyRollup._meta.db_table)}")
    written = DailyRollup.objects.order_by().values("day").distinct().count()
    mark.cases_updated_to = seen_to if bounds["first"] is not None else None
    mark.refreshed_at = now
    mark.save(update_fields=["cases_updated_to", "refreshed_at"])
    transaction.on_commit(new_generation)
    return written


def _generation() -> int:
    return cache.get_or_set(GENERATION_KEY, 1, timeout=None) or 1


def generation() -> int:
    """The current generation of the rollups (part of every cached dashboard's key)."""
    return _generation()


def new_generation() -> None:
    """Rollups changed: every cached dashboard is now stale (their keys hold the generation). Then the dashboards
    people open most (dashboard.warm) are computed ahead of the first reader."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, timeout=None)
    try:
        from minyi.barometer import dashboard

        dashboard.warm()
    except Exception:  # warming is a courtesy: a failure must not fail the job that committed the rollups
        logger.exception("barometer: warming the dashboards failed")


@transaction.atomic
def rollup_rebuild(*, now: datetime | None = None) -> int:
    """Rebuild every rollup row from the cases. Returns the number of days that hold cases. Idempotent."""
    return _rebuild_all(_locked_watermark(), now or timezone.now())


def _changed_days(mark: BarometerWatermark, now: datetime) -> set[date]:
    """The local days to rebuild since the watermark (and the previous refresh's moment)."""
    since = mark.cases_updated_to - REFRESH_OVERLAP
    days = _days_of(Case.objects.filter(updated_at__gt=since))
    days |= _days_of(Support.objects.filter(created_at__gt=since), "publication__case__created_at")
    days |= _days_of(
        CaseEvent.objects.filter(action__in=TRIAGE_ACTIONS, created_at__gt=since), "case__created_at"
    )
    # Cases being handled whose deadline passed since the previous refresh: their `overdue` changed with the clock
    # alone (the (status, due_at) index answers this; while handling, due_at is the handling deadline).
    last = (mark.refreshed_at or mark.cases_updated_to) - REFRESH_OVERLAP
    days |= _days_of(Case.objects.filter(status__in=HANDLING_STATES, due_at__gt=last, due_at__lte=now))
    return days


@transaction.atomic
def rollup_refresh(*, now: datetime | None = None) -> int:
    """Rebuild the rollup rows of every local day that holds a case changed since the watermark, a new support or
    triage event, or a case in handling whose deadline passed since the previous refresh (everything on the first
    run). Returns the number of days rebuilt. Idempotent; concurrent refreshes wait for the lock."""
    now = now or timezone.now()
    mark = _locked_watermark()
    if mark.cases_updated_to is None:
        return _rebuild_all(mark, now)
    seen_to = timezone.now()  # the lock is held: whatever is committed by now is read below
    days = _changed_days(mark, now)
    if days:
        _rebuild(sorted(days), now)
        transaction.on_commit(new_generation)
    mark.cases_updated_to = max(seen_to, mark.cases_updated_to)
    mark.refreshed_at = now
    mark.save(update_fields=["cases_updated_to", "refreshed_at"])
    return len(days)


def refreshed_at() -> datetime | None:
    """When the rollups were last refreshed (None: never)."""
    return BarometerWatermark.objects.filter(name=WATERMARK).values_list("refreshed_at", flat=True).first()
