"""Score the quality of sent replies that have no score (cron: daily; Celery beat does the same).

    minyi barometer_quality --backfill              # replies sent without a score (history imports, missed signals)
    minyi barometer_quality --backfill --outdated   # also those scored by an older version of the rules
    minyi barometer_quality --backfill --limit 1000 # at most 1,000 replies this run

Idempotent: a reply with a current score is never scored again; batches by primary key, so a run can be stopped
and resumed.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minyi.barometer import quality


class Command(BaseCommand):
    help = (
        "Score the quality of sent replies without a score (--backfill; --outdated: rescore older versions)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--backfill", action="store_true", help="score the sent replies without a score")
        parser.add_argument(
            "--outdated",
            action="store_true",
            help="also rescore replies scored by an older version of the rules",
        )
        parser.add_argument("--limit", type=int, default=None, help="score at most this many replies")

    def handle(
        self, *args, backfill: bool = False, outdated: bool = False, limit: int | None = None, **options
    ):
        if not backfill:
            raise CommandError("nothing to do: pass --backfill")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        began = time.perf_counter()
        done = quality.backfill(outdated=outdated, limit=limit)
        self.stdout.write(
            f"scored the quality of {done} repl{'y' if done == 1 else 'ies'} in {time.perf_counter() - began:.1f} s"
        )
