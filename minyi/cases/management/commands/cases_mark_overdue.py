"""Escalate overdue cases, once per deadline, as the system (cron: every 15 minutes).

    minyi cases_mark_overdue             # escalate; supervisors and the department are notified
    minyi cases_mark_overdue --dry-run   # list what would be escalated; change nothing, send nothing
    minyi cases_mark_overdue --now 2026-03-10T09:00

Idempotent: a case is escalated once for each deadline it misses, so reruns escalate nothing new.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from minyi.cases import services
from minyi.cases.management.commands._clock import DryRun, parse_now
from minyi.cases.models import CaseEvent
from minyi.cases.workflow import CaseAction


class Command(BaseCommand):
    help = "Escalate overdue cases once per deadline and notify supervisors (--dry-run lists them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be escalated; change nothing"
        )
        parser.add_argument("--now", help="run as of this moment (ISO 8601; default: now)")

    def handle(self, *args, dry_run: bool = False, now: str | None = None, **options) -> None:
        moment = parse_now(now)
        if not dry_run:
            count = services.cases_mark_overdue(now=moment)
            self.stdout.write(f"escalated {count} overdue case(s)")
            return
        # The real service runs and is rolled back, so the dry run shows exactly what a real run would do;
        # notifications are sent after commit only, so none leave.
        rows = []
        try:
            with transaction.atomic():
                last = CaseEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
                count = services.cases_mark_overdue(now=moment)
                rows = list(
                    CaseEvent.objects.filter(id__gt=last, action=CaseAction.ESCALATE)
                    .select_related("case", "case__department")
                    .order_by("case__due_at", "case_id")
                )
                raise DryRun
        except DryRun:
            pass
        for event in rows:
            case = event.case
            due = timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M") if case.due_at else "-"
            department = case.department.name if case.department else "-"
            self.stdout.write(
                f"{case.tracking_number}\t{case.status}\t{due}\t{department}\t{case.title[:30]}"
            )
        self.stdout.write(f"would escalate {count} overdue case(s) (dry run: nothing changed)")
