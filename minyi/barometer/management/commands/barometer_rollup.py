"""Refresh the barometer's daily rollups (cron: every 10 minutes; Celery beat does the same).

    minyi barometer_rollup            # rebuild the days whose cases changed (or whose open cases fell overdue)
    minyi barometer_rollup --rebuild  # rebuild every day from the cases (after a restore or a definition change)

Idempotent: rollups are derived data, recomputed from the cases; a run with nothing changed rebuilds nothing.
Two runs never interleave (the second waits for the first's lock).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from minyi.barometer import rollups


class Command(BaseCommand):
    help = "Refresh the barometer rollups for the days whose cases changed (--rebuild: rebuild everything)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="rebuild every day, not only the changed ones"
        )

    def handle(self, *args, rebuild: bool = False, **options) -> None:
        began = time.perf_counter()
        if rebuild:
            days = rollups.rollup_rebuild()
            what = f"rebuilt the barometer rollups of {days} day(s) (full)"
        else:
            days = rollups.rollup_refresh()
            what = f"rebuilt the barometer rollups of {days} changed day(s)"
        self.stdout.write(f"{what} in {time.perf_counter() - began:.1f} s")
