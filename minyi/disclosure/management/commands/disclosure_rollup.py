"""Refresh the scoreboard's daily rollups (cron: every 10 minutes; Celery beat does the same).

    minyi disclosure_rollup          # rebuild the days whose cases changed since the last run
    minyi disclosure_rollup --full   # rebuild every day from the cases (after a restore or a definition change)

Idempotent: rollups are derived data, recomputed from the cases; a run with nothing changed rebuilds nothing.
Two runs never interleave (the second waits for the first's lock).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from minyi.disclosure import scoreboard


class Command(BaseCommand):
    help = "Refresh the scoreboard rollups for the days whose cases changed (--full: rebuild everything)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full", action="store_true", help="rebuild every day, not only the changed ones"
        )

    def handle(self, *args, full: bool = False, **options) -> None:
        if full:
            days = scoreboard.rollup_rebuild()
            self.stdout.write(f"rebuilt the rollups of {days} day(s) (full)")
        else:
            days = scoreboard.rollup_refresh()
            self.stdout.write(f"rebuilt the rollups of {days} changed day(s)")
