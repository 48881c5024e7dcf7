"""Routing decisions the case workflow asks for: which deadlines apply, and when a deadline falls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from minyi.core import deadlines as deadline_math
from minyi.core.choices import Kind, Priority
from minyi.routing.calendar import calendar_is_workday
from minyi.routing.models import SlaPolicy

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
