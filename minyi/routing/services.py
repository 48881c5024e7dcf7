"""Routing decisions the case workflow asks for: which deadlines apply, when a deadline falls, which
department a case should go to, and the gazetteer that the place finder reads."""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import models
from django.db.models import Q
from django.utils import timezone

from minyi.accounts.models import Region
from minyi.core import deadlines as deadline_math
from minyi.core.choices import Kind, Priority
from minyi.routing.calendar import calendar_is_workday
from minyi.routing.models import Category, Place, RoutingHistory, RoutingRule, SlaPolicy
from minyi.text.locate import Gazetteer, Location
from minyi.text.locate import Place as GazetteerPlace

Unit = SlaPolicy.Unit


@dataclass(frozen=True)
class Sla:
    unit: str
    accept_within: int
    handle_within: int
    extension_max_days: int = 30
    extension_max_count: int = 1
    review_request_days: int = 30
    review_decide_days: int = 30
    evaluation_days: int = 7


#: The defaults of ARCHITECTURE.md §3 (信访工作条例 for petitions; 12345 practice for hotline kinds).
#: Loaded into SlaPolicy rows by a data migration; used as the fallback when a row is missing.
PETITION_SLA = Sla(unit=Unit.CALENDAR_DAYS, accept_within=15, handle_within=60)
HOTLINE_ORDINARY_SLA = Sla(unit=Unit.WORKING_DAYS, accept_within=1, handle_within=5)
HOTLINE_URGENT_SLA = Sla(unit=Unit.HOURS, accept_within=2, handle_within=24)


def default_sla(kind: str, priority: str) -> Sla:
    if kind == Kind.PETITION:
        return PETITION_SLA
    return HOTLINE_URGENT_SLA if priority == Priority.URGENT else HOTLINE_ORDINARY_SLA


def sla_for(*, kind: str, priority: str) -> Sla:
    row = SlaPolicy.objects.filter(kind=kind, priority=priority).first()
    if row is None:
        return default_sla(kind, priority)
    return Sla(
        unit=row.unit,
        accept_within=row.accept_within,
        handle_within=row.handle_within,
        extension_max_days=row.extension_max_days,
        extension_max_count=row.extension_max_count,
        review_request_days=row.review_request_days,
        review_decide_days=row.review_decide_days,
        evaluation_days=row.evaluation_days,
    )


def due_after(*, start: datetime, amount: int, unit: str) -> datetime:
    """When a deadline of `amount` `unit`s that starts at `start` falls, on the organisation's calendar."""
    local_start = timezone.localtime(start)
    return deadline_math.due_after(local_start, amount, unit, calendar_is_workday(local_start.date()))


# --- department suggestion: rules, then history -------------------------------------------------------


@dataclass(frozen=True)
class DepartmentSuggestion:
    """Which department a case of (category, region) should go to, and why.

    `source` is "rule" (an admin's RoutingRule; `rule_id` names it), "history" (where past cases of the
    same category and area went; `share` is that department's share of them) or "none" (no suggestion).
    """

    department_id: int | None
    source: str
    rule_id: int | None = None
    share: float | None = None


def _path_ids(model: type[models.Model], pk: int | None) -> list[int] | None:
    """The ids from the root down to `pk` (itself last), from the node's materialised path; None if absent."""
    if pk is None:
        return None
    path = model.objects.filter(pk=pk).values_list("path", flat=True).first()
    if path is None:
        return None
    return [int(part) for part in path.strip("/").split("/") if part]


def _rule_from_paths(categories: list[int] | None, regions: list[int] | None) -> RoutingRule | None:
    if not categories:
        return None
    region_filter = Q(region__isnull=True)
    if regions:
        region_filter |= Q(region_id__in=regions)
    rules = list(
        RoutingRule.objects.filter(
            region_filter, is_active=True, department__is_active=True, category_id__in=categories
        )
    )
    if not rules:
        return None
    category_depth = {pk: depth for depth, pk in enumerate(categories)}
    region_depth = {pk: depth for depth, pk in enumerate(regions or ())}

    def specificity(rule: RoutingRule) -> tuple[int, int]:
        # a region-specific rule (depth >= 0) beats one for anywhere (-1) for the same category
        depth = -1 if rule.region_id is None else region_depth[rule.region_id]
        return category_depth[rule.category_id], depth

    return max(rules, key=specificity)


def rule_department(*, category_id: int | None, region_id: int | None) -> RoutingRule | None:
    """The most specific active rule for a case of this category and region, or None.

    A rule applies when its category is the case's category or one of its ancestors, and its region is the
    case's region, one of its ancestors, or empty (anywhere). The deepest category wins, then the deepest
    region, and a rule for a region beats one for anywhere. Rules whose department is inactive are skipped.
    Three queries at most (the two paths and the rules).
    """
    categories = _path_ids(Category, category_id)
    if not categories:
        return None
    return _rule_from_paths(categories, _path_ids(Region, region_id))


def _history_from_path(category_id: int | None, regions: list[int] | None) -> tuple[int, float] | None:
    if category_id is None:
        return None
    region_filter = Q(region__isnull=True)
    if regions:
        region_filter |= Q(region_id__in=regions)
    rows = RoutingHistory.objects.filter(region_filter, category_id=category_id, cases__gt=0).values_list(
        "region_id", "department_id", "cases", "department__is_active"
    )
    by_region: dict[int | None, list[tuple[int, int, bool]]] = {}
    for region, department, cases, active in rows:
        by_region.setdefault(region, []).append((department, cases, active))
    # the case's own region first, then its ancestors nearest first, then the count over all regions
    for level in [*reversed(regions or ()), None]:
        counts = by_region.get(level)
        if not counts:
            continue
        candidates = [(cases, -department) for department, cases, active in counts if active]
        if not candidates:
            continue
        cases, negative_department = max(candidates)  # most cases; on a tie the lowest id, for stability
        # the share counts every past case of the level, those of departments closed since included
        total = sum(cases for _department, cases, _active in counts)
        return -negative_department, cases / total
    return None


def history_department(*, category_id: int | None, region_id: int | None) -> tuple[int, float] | None:
    """Where past cases of this category went: (department id, its share of those cases), or None.

    Looks at RoutingHistory for (category, region) first, then (category, each ancestor of the region,
    nearest first), then (category, all regions); the first level with an active department answers, with
    the department that had most cases there. The share is of all the level's cases. Two queries at most.
    """
    if category_id is None:
        return None
    return _history_from_path(category_id, _path_ids(Region, region_id))


def suggest_department(*, category_id: int | None, region_id: int | None) -> DepartmentSuggestion:
    """The department a case should go to: by rule, else by history, else none. Four queries at most."""
    categories = _path_ids(Category, category_id)
    if not categories:
        return DepartmentSuggestion(department_id=None, source="none")
    regions = _path_ids(Region, region_id)
    rule = _rule_from_paths(categories, regions)
    if rule is not None:
        return DepartmentSuggestion(department_id=rule.department_id, source="rule", rule_id=rule.pk)
    found = _history_from_path(category_id, regions)
    if found is not None:
        department_id, share = found
        return DepartmentSuggestion(department_id=department_id, source="history", share=share)
    return DepartmentSuggestion(department_id=None, source="none")


# --- the gazetteer for the text engine's place finder ------------------------------------------------------

GAZETTEER_STAMP_KEY = "minyi:gazetteer:stamp"
#: Rebuild at least this often (seconds), whatever the stamp says: a safety net for a lost cache entry.
GAZETTEER_MAX_AGE = 600.0

#: Region levels and place kinds as the place finder knows them (minyi.text.locate.KINDS). A province is the
#: top administrative tier ("city" there); schools, hospitals and markets are landmarks to it.
_REGION_KIND = {Region.Level.PROVINCE: "city"}
_PLACE_KIND = {
    Place.Kind.SCHOOL: "landmark",
    Place.Kind.HOSPITAL: "landmark",
    Place.Kind.MARKET: "landmark",
}
_ALIAS_SPLIT = re.compile(r"[\s、,，;；]+")

_gazetteer_lock = threading.Lock()
_gazetteer_state: tuple[object, float, Gazetteer] | None = None  # (stamp, built at, gazetteer)
_monotonic = time.monotonic  # tests move this clock


def split_aliases(value: str) -> tuple[str, ...]:
    """The aliases in an `aliases` field: split on spaces, 、 , ， ; ；, without blanks or repeats."""
    return tuple(dict.fromkeys(part for part in _ALIAS_SPLIT.split(value or "") if part))


def gazetteer_changed() -> None:
    """Tell every process that the gazetteer's data changed (bumps the stamp in the shared cache)."""
    cache.set(GAZETTEER_STAMP_KEY, uuid.uuid4().hex, None)


def _build_gazetteer() -> Gazetteer:
    entries = [
        GazetteerPlace(
            id=f"r:{pk}",
            name=name,
            kind=_REGION_KIND.get(level, level),
            parent=f"r:{parent_id}" if parent_id else None,
            aliases=split_aliases(aliases),
        )
        for pk, name, level, parent_id, aliases in Region.objects.order_by("path").values_list(
            "pk", "name", "level", "parent_id", "aliases"
        )
    ]
    entries += [
        GazetteerPlace(
            id=f"p:{pk}",
            name=name,
            kind=_PLACE_KIND.get(kind, kind),
            parent=f"r:{region_id}",
            aliases=split_aliases(aliases),
        )
        for pk, name, kind, region_id, aliases in Place.objects.filter(is_active=True)
        .order_by("pk")
        .values_list("pk", "name", "kind", "region_id", "aliases")
    ]
    return Gazetteer(entries)


def gazetteer() -> Gazetteer:
    """The place finder over every region and every active place (ids "r:<pk>" and "p:<pk>").

    Cached per process and rebuilt when the stamp in the shared cache changes (Region and Place saves and
    deletes bump it: minyi.routing.apps) or when the copy is older than GAZETTEER_MAX_AGE. Thread-safe:
    one thread rebuilds while the others wait for it.
    """
    global _gazetteer_state
    stamp = cache.get(GAZETTEER_STAMP_KEY)
    state = _gazetteer_state
    if state is not None and state[0] == stamp and _monotonic() - state[1] < GAZETTEER_MAX_AGE:
        return state[2]
    with _gazetteer_lock:
        state = _gazetteer_state
        if state is not None and state[0] == stamp and _monotonic() - state[1] < GAZETTEER_MAX_AGE:
            return state[2]  # another thread rebuilt it meanwhile
        # the stamp was read before the rows: a change made while building bumps it again and is seen next time
        built = _build_gazetteer()
        _gazetteer_state = (stamp, _monotonic(), built)
        return built


def _prefixed_pk(value: object, prefix: str) -> int | None:
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix) :].isdigit():
        return int(value[len(prefix) :])
    return None


def place_ids(location: Location | None) -> tuple[int | None, int | None]:
    """(region pk, place pk) of a gazetteer() Location; None where it names no region or no place."""
    if location is None:
        return None, None
    place_pk = _prefixed_pk(location.place_id, "p:")
    region_pk = _prefixed_pk(location.region_id, "r:")
    if region_pk is None:
        region_pk = _prefixed_pk(location.place_id, "r:")
    return region_pk, place_pk
