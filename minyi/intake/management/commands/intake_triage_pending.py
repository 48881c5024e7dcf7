"""Triage the cases that have no triage yet, and resume staff-page imports whose process died. Cron: every 5 min.

    minyi intake_triage_pending             # triage up to --limit cases, re-enqueue orphaned imports
    minyi intake_triage_pending --dry-run   # count them; change nothing

New cases are triaged on arrival by a background task; this sweep catches the ones whose task was lost (a worker
killed, a broker outage). Idempotent.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from minyi.intake.dedupe_storage import DatabaseStorage
from minyi.intake.importer import imports_resume
from minyi.intake.models import ImportJob
from minyi.intake.triage import triage_pending


class Command(BaseCommand):
    help = "Triage cases that have none yet and resume orphaned staff-page imports (--dry-run counts them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="most cases per run (default 500)")
        parser.add_argument("--dry-run", action="store_true", help="count; change nothing")

    def handle(self, *args, limit: int = 500, dry_run: bool = False, **options) -> None:
        from minyi.cases.models import Case

        if dry_run:
            waiting = Case.objects.filter(triage__isnull=True).count()
            jobs = ImportJob.objects.filter(status__in=["pending", "running"]).exclude(file="").count()
            self.stdout.write(f"{waiting} case(s) without triage; {jobs} unfinished staff-page import(s)")
            return
        count = triage_pending(limit=max(1, limit))
        resumed = imports_resume(background=False)  # this process ends when it returns: run them here
        indexed = DatabaseStorage().build_deferred()  # bucket rows an abandoned import left unwritten
        self.stdout.write(
            f"triaged {count} case(s); resumed {resumed} import job(s); indexed {indexed} case(s)"
        )
