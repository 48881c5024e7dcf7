"""Close replied cases whose evaluation window passed without a rating, as the system (cron: hourly).

    minyi cases_close_unrated             # close them; the citizen is told
    minyi cases_close_unrated --dry-run   # list them; change nothing
    minyi cases_close_unrated --now 2026-03-10T09:00

Idempotent: a closed case is not closed again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from minyi.cases import services
from minyi.cases.management.commands._clock import DryRun, parse_now
from minyi.cases.models import CaseEvent
from minyi.cases.workflow import CaseAction


class Command(BaseCommand):
    help = "Close replied cases whose evaluation window passed unrated (--dry-run lists them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be closed; change nothing"
        )
        parser.add_argument("--now", help="run as of this moment (ISO 8601; default: now)")

    def handle(self, *args, dry_run: bool = False, now: str | None = None, **options) -> None:
        moment = parse_now(now)
        if not dry_run:
            count = services.cases_close_unrated(now=moment)
            self.stdout.write(f"closed {count} unrated case(s)")
            return
        rows = []
        try:
            with transaction.atomic():
                last = CaseEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
                count = services.cases_close_unrated(now=moment)
                rows = list(
                    CaseEvent.objects.filter(id__gt=last, action=CaseAction.CLOSE)
                    .select_related("case")
                    .order_by("case_id")
                )
                raise DryRun
        except DryRun:
            pass
        for event in rows:
            self.stdout.write(f"{event.case.tracking_number}\t{event.case.title[:30]}")
        self.stdout.write(f"would close {count} unrated case(s) (dry run: nothing changed)")
