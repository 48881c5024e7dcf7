"""Public reads for the portal. Aggregates only: nothing about any one person leaves here."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from minyi.cases.models import Case
from minyi.cases.workflow import CaseStatus

PORTAL_COUNTS_TTL = 60  # seconds; the portal is the busiest public page


def portal_counts(*, now: datetime | None = None) -> dict[str, int]:
    """Cases received and closed in the current calendar month (local time). Two indexed counts, cached."""
    local = timezone.localtime(now or timezone.now())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    key = f"minyi:portal-counts:{start:%Y%m}"
    counts = cache.get(key)
    if counts is None:
        counts = {
            "received": Case.objects.filter(created_at__gte=start).count(),
            "closed": Case.objects.filter(status=CaseStatus.CLOSED, closed_at__gte=start).count(),
        }
        cache.set(key, counts, PORTAL_COUNTS_TTL)
    return counts
