"""The barometer's dashboard (晴雨表): what the daily rollups (minyi.barometer.rollups) say about a period, for one
user's scope, under a category, a region and a channel.

- `parse_filters(params)` reads ?period=2026-03 | 2026-Q1 | 2026, or ?from=…&to=… (both included, at most 366 days;
  default: the 30 days ending today), ?category= and ?region= (an id or a code; their sub-trees are included) and
  ?channel=. Anything malformed or unknown raises FilterError (400, a Chinese message), never a 500.
- `figures(filters, scope)` sums DailyRollup rows only (six grouped queries, plus three small tree lookups that are
  cached on their own; never the cases table), cached per rollup generation × scope × filters. The figures are
  language-neutral; `charts(...)` turns them into the charts' titles, columns, rows and workbench links in the
  user's language.
- Rates reuse the scoreboard's definitions (minyi.disclosure.scoreboard.RATES / rates()); a rate whose
  denominator is 0 is None ("—").
- A department head or handler sees only the rows of their departments (Scope.department_ids: their departments
  and sub-departments); figures of other departments are not in their figures at all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from minyi.accounts.models import Department, Region
from minyi.barometer import rollups
from minyi.barometer.models import DailyRollup
from minyi.barometer.policies import Scope
from minyi.core.choices import Channel, Kind
from minyi.core.exceptions import ValidationFailed
from minyi.disclosure import scoreboard as score
from minyi.routing.models import Category

#: Seconds a computed dashboard is kept. Every refresh that changes a rollup bumps the generation (part of the key),
#: so the TTL only bounds the staleness of per-process caches.
TTL = 600
#: Seconds the category, region and department trees are kept (names and paths change rarely).
TREE_TTL = 300
DEFAULT_DAYS = 30
TREND_MONTHS = 12
TOP_DEPARTMENTS = 10
MAX_PARAM_CHARS = 40
MAX_ID = 2**63 - 1
#: Up to this many days the volume is drawn per day, then per week, then per month.
DAILY_UP_TO = 62
WEEKLY_UP_TO = 190
#: The livelihood matters the essay names (housing, medical care, elderly care, schooling, land and demolition,
#: income): a category whose name holds one of these is highlighted, as is one marked is_livelihood.
LIVELIHOOD_WORDS = ("住房", "医疗", "养老", "教育", "入学", "征地", "拆迁", "收入", "工资", "社保")
RATE_KEYS = ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_rate")
CHARTS = ("volume", "categories", "regions", "channels", "kinds", "rates", "departments", "gaps")
COUNTERS = rollups.COUNTERS
#: The counters of the previous period that the gap view compares.
PREVIOUS = ("received", "rated", "satisfied", "replied", "replied_on_time")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")


class FilterError(ValidationFailed):
    code = "invalid_filter"


# ================================================================================================ trees


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    code: str
    path: str
    depth: int
    parent_id: int | None
    active: bool = True
    livelihood: bool = False
    level: str = ""

    @property
    def ancestry(self) -> list[int]:
        """The ids from the root down to this node."""
        return [int(part) for part in self.path.strip("/").split("/") if part]


@dataclass(frozen=True)
class Trees:
    categories: dict[int, Node]
    regions: dict[int, Node]
    departments: dict[int, Node]

    def subtree(self, kind: str, node_id: int) -> list[int]:
        nodes = getattr(self, kind)
        path = nodes[node_id].path
        return sorted(n.id for n in nodes.values() if n.path.startswith(path))

    def has_children(self, kind: str, node_id: int) -> bool:
        return any(n.parent_id == node_id for n in getattr(self, kind).values())

    def ordered(self, kind: str) -> list[Node]:
        return sorted(getattr(self, kind).values(), key=lambda n: n.ancestry)


def _is_livelihood(name: str, flag: bool) -> bool:
    return flag or any(word in name for word in LIVELIHOOD_WORDS)


def trees() -> Trees:
    """The category, region and department trees (three small queries, cached for TREE_TTL seconds)."""
    found = cache.get("minyi:barometer:trees")
    if found is not None:
        return found
    found = Trees(
        categories={
            row["id"]: Node(
                id=row["id"],
                name=row["name"],
                code=row["code"],
                path=row["path"],
                depth=row["depth"],
                parent_id=row["parent_id"],
                active=row["is_active"],
                livelihood=_is_livelihood(row["name"], row["is_livelihood"]),
            )
            for row in Category.objects.order_by().values(
                "id", "name", "code", "path", "depth", "parent_id", "is_active", "is_livelihood"
            )
        },
        regions={
            row["id"]: Node(**row)
            for row in Region.objects.order_by().values(
                "id", "name", "code", "path", "depth", "parent_id", "level"
            )
        },
        departments={
            row["id"]: Node(
                id=row["id"],
                name=row["name"],
                code=row["code"],
                path=row["path"],
                depth=row["depth"],
                parent_id=row["parent_id"],
                active=row["is_active"],
            )
            for row in Department.objects.order_by().values(
                "id", "name", "code", "path", "depth", "parent_id", "is_active"
            )
        },
    )
    cache.set("minyi:barometer:trees", found, TREE_TTL)
    return found


# ================================================================================================ filters


@dataclass(frozen=True)
class Filters:
    period: score.Period
    category: int | None = None
    region: int | None = None
    channel: str | None = None
    #: True when the period was not chosen (the default: the 30 days ending today)
    default_period: bool = False

    @property
    def key(self) -> str:
        return (
            f"{self.period.start:%Y%m%d}-{self.period.end:%Y%m%d}:{self.category or ''}:"
            f"{self.region or ''}:{self.channel or ''}"
        )

    def query(self) -> dict[str, str]:
        """The GET parameters that name these filters (for links and the API)."""
        out = {} if self.default_period else dict(self.period.query())
        for name in ("category", "region", "channel"):
            value = getattr(self, name)
            if value:
                out[name] = str(value)
        return out


def default_period(today: date | None = None) -> score.Period:
    today = today or score.today_local()
    return score.Period(today - timedelta(days=DEFAULT_DAYS - 1), today, "range")


def _param(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    value = str(value)
    if len(value) > MAX_PARAM_CHARS:
        raise FilterError(
            _("筛选条件过长：请从列表中选择。"), fields={name: _("过长")}
        )  # fmt: skip
    return value.strip()


def _node(nodes: dict[int, Node], value: str, name: str, message: str) -> int | None:
    if not value:
        return None
    found = None
    if value.isascii() and value.isdigit():
        number = int(value)
        found = nodes.get(number) if 0 < number <= MAX_ID else None
    elif _CODE.fullmatch(value):
        found = next((n for n in nodes.values() if n.code == value), None)
    if found is None:
        raise FilterError(message, fields={name: _("不存在")})
    return found.id


def parse_filters(params: Mapping[str, Any], *, today: date | None = None) -> Filters:
    """The dashboard's filters from GET parameters; FilterError (400) for anything malformed or unknown."""
    today = today or score.today_local()
    values = {
        name: _param(params, name) for name in ("period", "from", "to", "category", "region", "channel")
    }
    if values["period"] or values["from"] or values["to"]:
        try:
            period = score.parse_period(
                period=values["period"], date_from=values["from"], date_to=values["to"], today=today
            )
        except score.PeriodError as exc:
            raise FilterError(exc.message, fields=exc.fields) from None
        chosen = False
    else:
        period, chosen = default_period(today), True
    found = trees()
    category = _node(found.categories, values["category"], "category", _("分类筛选条件无效：没有这个分类。"))
    region = _node(found.regions, values["region"], "region", _("区域筛选条件无效：没有这个区域。"))
    channel = values["channel"] or None
    if channel is not None and channel not in Channel.values:
        raise FilterError(_("渠道筛选条件无效：请从列表中选择。"), fields={"channel": _("无效")})
    return Filters(period=period, category=category, region=region, channel=channel, default_period=chosen)


# ================================================================================================ periods


def year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def previous_period(period: score.Period) -> tuple[date, date]:
    """The span of the same length just before `period`."""
    return period.start - timedelta(days=period.days), period.start - timedelta(days=1)


def granularity(period: score.Period) -> str:
    if period.days <= DAILY_UP_TO:
        return "day"
    if period.days <= WEEKLY_UP_TO:
        return "week"
    return "month"


def buckets(period: score.Period) -> list[tuple[date, date]]:
    """The spans the volume is drawn in: days, weeks (from the period's first day) or calendar months (clipped)."""
    step = granularity(period)
    out: list[tuple[date, date]] = []
    start = period.start
    while start <= period.end:
        if step == "day":
            end = start
        elif step == "week":
            end = start + timedelta(days=6)
        else:
            end = score.month_period(start.year, start.month).end
        end = min(end, period.end)
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


def trend_months(period: score.Period, today: date | None = None) -> list[score.Period]:
    """The TREND_MONTHS months ending with the month of the period's end (or this month, if that is later)."""
    today = today or score.today_local()
    last = min(period.end, today)
    year, month = last.year, last.month
    months = []
    for _i in range(TREND_MONTHS):
        months.append(score.month_period(year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


# ================================================================================================ figures


def _counts(item: Mapping[str, Any], names=COUNTERS, prefix: str = "") -> dict[str, int]:
    return {name: int(item.get(prefix + name) or 0) for name in names}


def _rates(counts: Mapping[str, int]) -> dict[str, float | None]:
    every = score.rates(dict(counts))
    return {key: every[key] for key in RATE_KEYS}


def _between(start: date, end: date) -> Q:
    return Q(day__gte=start, day__lte=end)


def _base(filters: Filters, scope: Scope, found: Trees):
    qs = DailyRollup.objects.order_by()
    if filters.category:
        qs = qs.filter(category_id__in=found.subtree("categories", filters.category))
    if filters.region:
        qs = qs.filter(region_id__in=found.subtree("regions", filters.region))
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    return scope.filter(qs)


def _bucket_map(nodes: dict[int, Node], level: set[int], within: int | None) -> dict[int, str]:
    """node id -> bucket key: the id (as text) of the first node of `level` on its path, "self:<id>" for a node
    above the level (or the filter node itself)."""
    out: dict[int, str] = {}
    for node in nodes.values():
        if within is not None and within not in node.ancestry:
            continue
        key = f"self:{node.id}"
        for ancestor in node.ancestry:
            if ancestor in level and ancestor != within:
                key = str(ancestor)
                break
        out[node.id] = key
    return out


def _category_level(found: Trees, within: int | None) -> set[int]:
    if within is not None:
        return {n.id for n in found.categories.values() if n.parent_id == within}
    return {n.id for n in found.categories.values() if n.parent_id is None}


def _region_level(found: Trees, within: int | None) -> set[int]:
    if within is not None:
        return {n.id for n in found.regions.values() if n.parent_id == within}
    districts = {n.id for n in found.regions.values() if n.level == Region.Level.DISTRICT}
    if districts:
        return districts
    below_roots = {n.id for n in found.regions.values() if n.depth == 1}
    return below_roots or {n.id for n in found.regions.values() if n.parent_id is None}


def _group(
    rows: list[tuple[Any, dict[str, int]]], mapping: dict[int, str]
) -> dict[str | None, dict[str, int]]:
    out: dict[str | None, dict[str, int]] = {}
    for node_id, counts in rows:
        key = None if node_id is None else mapping.get(node_id, f"self:{node_id}")
        total = out.setdefault(key, dict.fromkeys(counts, 0))
        for name, value in counts.items():
            total[name] = total.get(name, 0) + value
    return out


def _compute(filters: Filters, scope: Scope, today: date) -> dict[str, Any]:
    found = trees()
    period = filters.period
    base = _base(filters, scope, found)
    earlier = (year_before(period.start), year_before(period.end))
    previous = previous_period(period)
    months = trend_months(period, today)
    current = _between(period.start, period.end)
    rate_counters = (
        "received",
        *(c for c in COUNTERS if c not in ("overdue", "high_risk", "supports", "received")),
    )

    # 1. by day: the period, the same days a year earlier, and the trend's months, in one scan.
    by_day = {
        rollups._as_date(item["day"]): _counts(item, rate_counters)
        for item in base.filter(current | _between(*earlier) | _between(months[0].start, months[-1].end))
        .values("day")
        .annotate(**{name: Sum(name) for name in rate_counters})
    }

    def received_between(start: date, end: date) -> int:
        return sum(c["received"] for d, c in by_day.items() if start <= d <= end)

    series = [
        {
            "start": start,
            "end": end,
            "received": received_between(start, end),
            "earlier_start": year_before(start),
            "earlier_end": year_before(end),
            "earlier": received_between(year_before(start), year_before(end)),
        }
        for start, end in buckets(period)
    ]
    trend = []
    for month in months:
        counts = dict.fromkeys(rate_counters, 0)
        for day, day_counts in by_day.items():
            if month.start <= day <= month.end:
                for name in rate_counters:
                    counts[name] += day_counts[name]
        trend.append({"month": month.key, "start": month.start, "end": month.end, "counts": counts})

    # 2. by category: the period (every counter) and the previous period (what the gap view compares).
    now_sums = {f"c_{name}": Sum(name, filter=current) for name in COUNTERS}
    previous_sums = {f"p_{name}": Sum(name, filter=_between(*previous)) for name in PREVIOUS}
    by_category = [
        (item["category_id"], {**_counts(item, COUNTERS, "c_"), **{f"prev_{k}": v for k, v in _counts(item, PREVIOUS, "p_").items()}})
        for item in base.filter(_between(previous[0], period.end))
        .values("category_id")
        .annotate(**now_sums, **previous_sums)
    ]  # fmt: skip
    totals = dict.fromkeys(COUNTERS, 0)
    before = dict.fromkeys(PREVIOUS, 0)
    for _id, counts in by_category:
        for name in COUNTERS:
            totals[name] += counts[name]
        for name in PREVIOUS:
            before[name] += counts[f"prev_{name}"]
    category_buckets = _group(
        by_category, _bucket_map(found.categories, _category_level(found, filters.category), filters.category)
    )

    in_period = base.filter(current)
    # 3. by region
    region_rows = [
        (item["region_id"], _counts(item, ("received", "overdue", "rated", "satisfied")))
        for item in in_period.values("region_id").annotate(
            received=Sum("received"), overdue=Sum("overdue"), rated=Sum("rated"), satisfied=Sum("satisfied")
        )
    ]
    region_buckets = _group(
        region_rows, _bucket_map(found.regions, _region_level(found, filters.region), filters.region)
    )
    # 4. by channel and kind
    channel_kind = [
        (item["channel"], item["kind"], int(item["received"] or 0))
        for item in in_period.values("channel", "kind").annotate(received=Sum("received"))
    ]
    channels: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for channel, kind, received in channel_kind:
        channels[channel] = channels.get(channel, 0) + received
        kinds[kind] = kinds.get(kind, 0) + received
    # 5. by department
    departments = [
        {"id": item["department_id"], **_counts(item, ("received", "overdue"))}
        for item in in_period.values("department_id").annotate(
            received=Sum("received"), overdue=Sum("overdue")
        )
        if item["department_id"] is not None
    ]
    departments = [row for row in departments if row["overdue"] > 0]
    for row in departments:
        row["share"] = row["overdue"] / row["received"] if row["received"] else None
        node = found.departments.get(row["id"])
        row["name"] = node.name if node else str(row["id"])
        row["code"] = node.code if node else ""
    departments.sort(key=lambda row: (-row["overdue"], -(row["share"] or 0), row["code"]))
    # 6. when the rollups were refreshed
    refreshed_at = rollups.refreshed_at()

    return {
        "period": {"start": period.start, "end": period.end, "key": period.key, "kind": period.kind},
        "previous": {"start": previous[0], "end": previous[1]},
        "earlier": {"start": earlier[0], "end": earlier[1]},
        "refreshed_at": refreshed_at,
        "granularity": granularity(period),
        "totals": totals,
        "rates": _rates(totals),
        "before": before,
        "before_rates": _rates(before),
        "earlier_received": received_between(*earlier),
        "series": series,
        "trend": [{**row, "rates": _rates(row["counts"])} for row in trend],
        "categories": _category_rows(category_buckets, found, filters),
        "regions": _region_rows(region_buckets, found),
        "channels": sorted(channels.items(), key=lambda kv: (-kv[1], kv[0])),
        "kinds": sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])),
        "departments": departments[:TOP_DEPARTMENTS],
    }


def _bucket_node(nodes: dict[int, Node], key: str | None) -> tuple[Node | None, bool]:
    """The node of a bucket key, and whether the bucket is that node alone ("self")."""
    if key is None:
        return None, False
    if key.startswith("self:"):
        return nodes.get(int(key[5:])), True
    return nodes.get(int(key)), False


def _category_rows(groups: dict[str | None, dict[str, int]], found: Trees, filters: Filters) -> list[dict]:
    rows = []
    for key, counts in groups.items():
        if counts["received"] == 0 and counts["prev_received"] == 0:
            continue
        node, alone = _bucket_node(found.categories, key)
        rows.append(
            {
                "id": node.id if node else None,
                "alone": alone,
                "name": node.name if node else None,
                "code": node.code if node else "",
                "active": node.active if node else False,
                "livelihood": bool(node and node.livelihood),
                "counts": {name: counts[name] for name in COUNTERS},
                "rates": _rates(counts),
                "previous": {name: counts[f"prev_{name}"] for name in PREVIOUS},
                "previous_rates": _rates({name: counts[f"prev_{name}"] for name in PREVIOUS}),
                "sort": node.ancestry if node else [MAX_ID],
            }
        )
    rows.sort(key=lambda row: (-row["counts"]["received"], row["sort"]))
    for row in rows:
        del row["sort"]
    return rows


def _region_rows(groups: dict[str | None, dict[str, int]], found: Trees) -> list[dict]:
    rows = []
    for key, counts in groups.items():
        if counts["received"] == 0:
            continue
        node, alone = _bucket_node(found.regions, key)
        rows.append(
            {
                "id": node.id if node else None,
                "alone": alone,
                "name": node.name if node else None,
                "code": node.code if node else "",
                "counts": counts,
                "satisfaction_rate": counts["satisfied"] / counts["rated"] if counts["rated"] else None,
            }
        )
    rows.sort(key=lambda row: (-row["counts"]["received"], row["id"] is None, row["code"]))
    return rows


def _cache_key(filters: Filters, scope: Scope, today: date) -> str:
    digest = hashlib.sha1(f"{scope.cache_key}|{filters.key}|{today:%Y%m%d}".encode()).hexdigest()
    return f"minyi:barometer:dash:{rollups.generation()}:{digest}"


def figures(filters: Filters, scope: Scope, *, today: date | None = None) -> dict[str, Any]:
    """The dashboard's figures (language-neutral), from the rollups only, cached for TTL seconds."""
    today = today or score.today_local()
    key = _cache_key(filters, scope, today)
    found = cache.get(key)
    if found is None:
        found = _compute(filters, scope, today)
        cache.set(key, found, TTL)
    return found


def warm() -> None:
    """Compute the dashboards people open most ahead of them, for the whole scope: the default (the last 30 days),
    this month, last month and this year."""
    today = score.today_local()
    last_month = (
        score.month_period(today.year, today.month - 1)
        if today.month > 1
        else score.month_period(today.year - 1, 12)
    )
    this_year = score.parse_period(period=str(today.year), today=today)
    everything = Scope(all=True)
    figures(Filters(period=default_period(today), default_period=True), everything, today=today)
    for period in (score.month_period(today.year, today.month), last_month, this_year):
        figures(Filters(period=period), everything, today=today)


# ================================================================================================ presentation


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _change(now: int, before: int) -> float | None:
    """The relative change, None when there was nothing before."""
    return (now - before) / before if before else None


def _points(now: float | None, before: float | None) -> float | None:
    """A change in percentage points, None unless both rates exist."""
    if now is None or before is None:
        return None
    return round((now - before) * 100, 1)


@dataclass
class Link:
    """Builds workbench links with the dashboard's filters (category and region with sub-trees, channel, the
    received dates) plus a slice's own. None where the workbench cannot list exactly those cases (an
    unattributed slice, or a slice that needs one node without its sub-tree while another needs its sub-tree)."""

    filters: Filters
    found: Trees
    base: str = field(default="")

    def __post_init__(self) -> None:
        self.base = reverse("cases:workbench")

    def __call__(
        self,
        *,
        start: date | None = None,
        end: date | None = None,
        category: tuple[int, bool] | None = None,
        region: tuple[int, bool] | None = None,
        department: int | None = None,
        channel: str | None = None,
        kind: str | None = None,
        unattributed: bool = False,
    ) -> str | None:
        if unattributed:
            return None
        wanted: list[tuple[str, str, int, bool]] = []  # (param, tree, id, with its sub-tree)
        if category is None and self.filters.category:
            category = (self.filters.category, True)
        if region is None and self.filters.region:
            region = (self.filters.region, True)
        if category:
            node = self.found.categories.get(category[0])
            if node is None or not node.active:
                return None  # the workbench lists only active categories
            wanted.append(("category", "categories", category[0], category[1]))
        if region:
            wanted.append(("region", "regions", region[0], region[1]))
        if department is not None:
            wanted.append(("department", "departments", department, False))
        params: dict[str, str] = {}
        tree = any(sub and self.found.has_children(kind_, node_id) for _p, kind_, node_id, sub in wanted)
        for param, kind_, node_id, sub in wanted:
            if tree and not sub and self.found.has_children(kind_, node_id):
                return None
            params[param] = str(node_id)
        channel = channel or self.filters.channel
        if channel:
            params["channel"] = channel
        if kind:
            params["kind"] = kind
        params["received_from"] = (start or self.filters.period.start).isoformat()
        params["received_to"] = (end or self.filters.period.end).isoformat()
        if tree:
            params["tree"] = "1"
        return f"{self.base}?{urlencode(params)}"


def _label_unattributed(kind: str) -> str:
    return {"category": _("未分类"), "region": _("未标明区域")}[kind]


def _node_label(row: dict[str, Any], kind: str) -> str:
    if row["name"] is None:
        return _label_unattributed(kind)
    if row["alone"]:
        return _("%(name)s（本级）") % {"name": row["name"]}
    return row["name"]


def _series_label(start: date, end: date, step: str) -> str:
    if step == "day":
        return f"{start:%m-%d}"
    if step == "week":
        return _("%(start)s 起") % {"start": f"{start:%m-%d}"}
    return f"{start:%Y-%m}"


def _column(key: str, label: str, kind: str = "int") -> dict[str, str]:
    return {"key": key, "label": label, "kind": kind}


def _chart(name: str, title: str, kind: str, columns: list[dict], rows: list[dict], *, cases_url: str | None,
           plot: dict[str, Any], note: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "name": name,
        "title": title,
        "type": kind,
        "columns": columns,
        "rows": rows,
        "cases_url": cases_url,
        "plot": plot,
        "note": note,
        "empty": not rows or not any(plot.get("has_data", [True])),
    }


def charts(
    figs: dict[str, Any], filters: Filters, *, found: Trees | None = None
) -> dict[str, dict[str, Any]]:
    """Every chart of the dashboard in the user's language: title, columns, rows (with a workbench link each where
    one can list exactly those cases), the link to all the cases behind it, and what ECharts draws."""
    found = found or trees()
    link = Link(filters, found)
    total = figs["totals"]["received"]
    everything = link()
    out: dict[str, dict[str, Any]] = {}

    step = figs["granularity"]
    rows = [
        {
            "label": _series_label(item["start"], item["end"], step),
            "start": item["start"].isoformat(),
            "end": item["end"].isoformat(),
            "received": item["received"],
            "earlier": item["earlier"],
            "change": _change(item["received"], item["earlier"]),
            "url": link(start=item["start"], end=item["end"]),
        }
        for item in figs["series"]
    ]
    out["volume"] = _chart(
        "volume",
        _("诉求量走势（与上年同期对比）"),
        "line",
        [
            _column("label", {"day": _("日期"), "week": _("周"), "month": _("月份")}[step], "text"),
            _column("start", _("起始日期"), "text"),
            _column("end", _("结束日期"), "text"),
            _column("received", _("本期诉求量")),
            _column("earlier", _("上年同期")),
            _column("change", _("同比变化"), "ratio"),
        ],
        rows,
        cases_url=everything,
        plot={
            "labels": [row["label"] for row in rows],
            "series": [
                {"name": _("本期"), "values": [row["received"] for row in rows]},
                {"name": _("上年同期"), "values": [row["earlier"] for row in rows]},
            ],
            "urls": [row["url"] for row in rows],
            "has_data": [total > 0 or figs["earlier_received"] > 0],
        },
        note=_("上年同期：%(start)s 至 %(end)s。")
        % {"start": figs["earlier"]["start"].isoformat(), "end": figs["earlier"]["end"].isoformat()},
    )

    rows = []
    for item in figs["categories"]:
        if not item["counts"]["received"]:
            continue
        rows.append(
            {
                "label": _node_label(item, "category"),
                "code": item["code"],
                "received": item["counts"]["received"],
                "share": _share(item["counts"]["received"], total),
                "livelihood": item["livelihood"],
                "url": link(
                    category=(item["id"], not item["alone"]) if item["id"] else None,
                    unattributed=item["id"] is None,
                ),
            }
        )
    out["categories"] = _chart(
        "categories",
        _("诉求分类构成"),
        "pie",
        [
            _column("label", _("分类"), "text"),
            _column("code", _("编码"), "text"),
            _column("received", _("诉求量")),
            _column("share", _("占比"), "percent"),
            _column("livelihood", _("重点民生"), "bool"),
        ],
        rows,
        cases_url=everything,
        plot=_plot(rows, "received"),
    )

    rows = [
        {
            "label": _node_label(item, "region"),
            "code": item["code"],
            "received": item["counts"]["received"],
            "share": _share(item["counts"]["received"], total),
            "overdue": item["counts"]["overdue"],
            "satisfaction_rate": item["satisfaction_rate"],
            "url": link(
                region=(item["id"], not item["alone"]) if item["id"] else None,
                unattributed=item["id"] is None,
            ),
        }
        for item in figs["regions"]
    ]
    out["regions"] = _chart(
        "regions",
        _("区域分布"),
        "bar",
        [
            _column("label", _("区域"), "text"),
            _column("code", _("编码"), "text"),
            _column("received", _("诉求量")),
            _column("share", _("占比"), "percent"),
            _column("overdue", _("超期")),
            _column("satisfaction_rate", _("满意率"), "percent"),
        ],
        rows,
        cases_url=everything,
        plot=_plot(rows, "received"),
    )

    for name, title, plot, choices, key, column in (
        ("channels", _("渠道占比"), "pie", Channel.choices, "channel", _("渠道")),
        ("kinds", _("诉求类型"), "bar", Kind.choices, "kind", _("类型")),
    ):
        labels = dict(choices)
        rows = [
            {
                "label": str(labels.get(code, code)),
                "code": code,
                "received": received,
                "share": _share(received, total),
                "url": link(**{key: code}),
            }
            for code, received in figs[name]
            if received
        ]
        out[name] = _chart(
            name,
            title,
            plot,
            [
                _column("label", column, "text"),
                _column("code", _("代码"), "text"),
                _column("received", _("诉求量")),
                _column("share", _("占比"), "percent"),
            ],
            rows,
            cases_url=everything,
            plot=_plot(rows, "received"),
        )

    names = _rate_names()
    rows = [
        {
            "label": month["month"],
            "received": month["counts"]["received"],
            **{key: month["rates"][key] for key in RATE_KEYS},
            "url": link(start=month["start"], end=month["end"]),
        }
        for month in figs["trend"]
    ]
    out["rates"] = _chart(
        "rates",
        _("响应率、解决率、满意率、按时办结率（近 12 个月）"),
        "line",
        [
            _column("label", _("月份"), "text"),
            _column("received", _("诉求量")),
            *(_column(key, names[key], "percent") for key in RATE_KEYS),
        ],
        rows,
        cases_url=link(start=figs["trend"][0]["start"], end=figs["trend"][-1]["end"]),
        plot={
            "labels": [row["label"] for row in rows],
            "series": [
                {"name": names[key], "values": [_percent(row[key]) for row in rows]} for key in RATE_KEYS
            ],
            "urls": [row["url"] for row in rows],
            "percent": True,
            "has_data": [any(row["received"] for row in rows)],
        },
        note=_("按月汇总；比率按当月提交的诉求计算，分母为 0 时不显示。"),
    )

    rows = [
        {
            "label": item["name"],
            "code": item["code"],
            "overdue": item["overdue"],
            "received": item["received"],
            "share": item["share"],
            "url": link(department=item["id"]),
            "open_overdue_url": _with(link(department=item["id"]), overdue="1"),
        }
        for item in figs["departments"]
    ]
    out["departments"] = _chart(
        "departments",
        _("超期件数最多的部门（前 10 名）"),
        "hbar",
        [
            _column("label", _("承办部门"), "text"),
            _column("code", _("编码"), "text"),
            _column("overdue", _("超期件数")),
            _column("received", _("诉求量")),
            _column("share", _("超期占比"), "percent"),
        ],
        rows,
        cases_url=everything,
        plot=_plot(rows, "overdue"),
        note=_("超期：答复晚于办理时限，或至汇总时仍在办理（含重办）且已过办理时限。"),
    )

    rows = []
    for item in figs["categories"]:
        counts, previous = item["counts"], item["previous"]
        rates, before = item["rates"], item["previous_rates"]
        satisfaction = _points(rates["satisfaction_rate"], before["satisfaction_rate"])
        on_time = _points(rates["on_time_rate"], before["on_time_rate"])
        rising = counts["received"] > previous["received"]
        rows.append(
            {
                "label": _node_label(item, "category"),
                "code": item["code"],
                "received": counts["received"],
                "previous": previous["received"],
                "volume_change": _change(counts["received"], previous["received"]),
                "satisfaction_rate": rates["satisfaction_rate"],
                "satisfaction_previous": before["satisfaction_rate"],
                "satisfaction_change": satisfaction,
                "on_time_rate": rates["on_time_rate"],
                "on_time_previous": before["on_time_rate"],
                "on_time_change": on_time,
                "gap": rising and ((satisfaction or 0) < 0 or (on_time or 0) < 0),
                "livelihood": item["livelihood"],
                "url": link(
                    category=(item["id"], not item["alone"]) if item["id"] else None,
                    unattributed=item["id"] is None,
                ),
            }
        )
    rows.sort(key=lambda row: (not row["gap"], not row["livelihood"], -(row["received"] - row["previous"])))
    out["gaps"] = _chart(
        "gaps",
        _("供需缺口：诉求量上升而满意率或按时办结率下降的分类"),
        "gap",
        [
            _column("label", _("分类"), "text"),
            _column("code", _("编码"), "text"),
            _column("received", _("本期诉求量")),
            _column("previous", _("上期诉求量")),
            _column("volume_change", _("诉求量变化"), "ratio"),
            _column("satisfaction_rate", _("满意率"), "percent"),
            _column("satisfaction_previous", _("上期满意率"), "percent"),
            _column("satisfaction_change", _("满意率变化（百分点）"), "pp"),
            _column("on_time_rate", _("按时办结率"), "percent"),
            _column("on_time_previous", _("上期按时办结率"), "percent"),
            _column("on_time_change", _("按时办结率变化（百分点）"), "pp"),
            _column("gap", _("缺口"), "bool"),
            _column("livelihood", _("重点民生"), "bool"),
        ],
        rows,
        cases_url=everything,
        plot={
            "labels": [row["label"] for row in rows],
            "series": [
                {
                    "name": _("诉求量变化（%）"),
                    "values": [_percent(row["volume_change"]) for row in rows],
                }
            ],
            "urls": [row["url"] for row in rows],
            "gap": [row["gap"] for row in rows],
            "livelihood": [row["livelihood"] for row in rows],
            "percent": True,
            "has_data": [bool(rows)],
        },
        note=_("与上一个等长统计期（%(start)s 至 %(end)s）相比。红色：诉求量上升而满意率或按时办结率下降；★：重点民生领域。")
        % {"start": figs["previous"]["start"].isoformat(), "end": figs["previous"]["end"].isoformat()},
    )  # fmt: skip
    return out


def _with(url: str | None, **params: str) -> str | None:
    return None if url is None else f"{url}&{urlencode(params)}"


def _plot(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {
        "labels": [row["label"] for row in rows],
        "series": [{"name": "", "values": [row[key] for row in rows]}],
        "urls": [row["url"] for row in rows],
        "livelihood": [bool(row.get("livelihood")) for row in rows],
        "has_data": [any(row[key] for row in rows)],
    }


def _rate_names() -> dict[str, str]:
    labels = {item["key"]: item["label"] for item in score.definitions()}
    return {key: labels[key] for key in RATE_KEYS}


def headline(figs: dict[str, Any]) -> list[dict[str, Any]]:
    """The cards above the charts: volume (and its change on a year earlier), overdue, high risk, supports, and
    the four rates (and their change on the previous period, in percentage points)."""
    totals, rates, before = figs["totals"], figs["rates"], figs["before_rates"]
    names = _rate_names()
    cards = [
        {
            "key": "received",
            "label": _("诉求量"),
            "value": totals["received"],
            "unit": _("件"),
            "change": _change(totals["received"], figs["earlier_received"]),
            "change_label": _("同比"),
        },
        {"key": "overdue", "label": _("超期"), "value": totals["overdue"], "unit": _("件")},
        {"key": "high_risk", "label": _("中高风险"), "value": totals["high_risk"], "unit": _("件")},
        {"key": "supports", "label": _("附议"), "value": totals["supports"], "unit": _("次")},
    ]
    for key in RATE_KEYS:
        cards.append(
            {
                "key": key,
                "label": names[key],
                "rate": rates[key],
                "points": _points(rates[key], before[key]),
                "change_label": _("较上期"),
            }
        )
    for card in cards:
        if "rate" in card:
            card["text"] = cell_text(card["rate"], "percent")
            change, card["change_text"] = (
                card["points"],
                (
                    "—"
                    if card["points"] is None
                    else _("%(n)s 个百分点") % {"n": cell_text(card["points"], "pp")}
                ),
            )
        else:
            card["text"] = str(card["value"])
            change = card.get("change")
            card["change_text"] = cell_text(change, "ratio")
        # a rate going up is good news; a change of volume is neither
        card["tone"] = "" if not change or "rate" not in card else ("good" if change > 0 else "bad")
    return cards


def as_table(chart: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """A chart's table as a header and rows of plain values (CSV): rates in percent, changes in percent or
    percentage points, flags as 是/否."""
    header = [_("%(label)s（%%）") % {"label": c["label"]} if c["kind"] in ("percent", "ratio") else c["label"]
              for c in chart["columns"]]  # fmt: skip
    rows = []
    for row in chart["rows"]:
        values = []
        for column in chart["columns"]:
            value = row.get(column["key"])
            if column["kind"] in ("percent", "ratio"):
                value = _percent(value)
            elif column["kind"] == "bool":
                value = _("是") if value else _("否")
            values.append(value)
        rows.append(values)
    return header, rows


def cell_text(value: Any, kind: str) -> str:
    """How a table cell reads on the page."""
    if kind == "bool":
        return _("是") if value else ""
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value * 100:.1f}%"
    if kind == "ratio":
        return f"{value * 100:+.1f}%"
    if kind == "pp":
        return f"{value:+.1f}"
    return str(value)
