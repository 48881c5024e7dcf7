"""Rebuild the routing history (how past cases of a category and region went to departments), the fallback of
the department suggestion when no routing rule applies. Cron: daily. Imports rebuild it too when they finish.

    minyi intake_routing_history             # rebuild it
    minyi intake_routing_history --dry-run   # count the cases it would learn from; change nothing
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from minyi.intake.triage import routing_history_refresh


class Command(BaseCommand):
    help = "Rebuild the routing history from the cases (idempotent; --dry-run counts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count; change nothing")

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        if dry_run:
            from minyi.cases.models import Case

            count = Case.objects.filter(department__isnull=False, category__isnull=False).count()
            self.stdout.write(f"would learn from {count} case(s) with a category and a department")
            return
        rows = routing_history_refresh()
        self.stdout.write(f"routing history: {rows} row(s)")
