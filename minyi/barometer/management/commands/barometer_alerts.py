"""`minyi barometer_alerts`: detect surges and high-risk appeals and raise or update the early warnings
(minyi.barometer.warnings.run_detection).

Hourly, after the topic job (config/celery.py, deploy/systemd). Idempotent: a run on unchanged data changes
nothing, an alert still open is updated rather than raised twice, and a closed one is not raised again by the same
burst. `--dry-run` runs the detection in a transaction that is rolled back (nothing is stored, nobody is told).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from minyi.barometer.warnings import run_detection


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = (
        "Detect surges per topic, place, street and category, and high-risk appeals; raise or update alerts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", default=None, help="the moment to judge at, ISO 8601 (default: now)")
        parser.add_argument(
            "--dry-run", action="store_true", help="detect and report, then roll everything back"
        )

    def handle(self, *args, now: str | None, dry_run: bool, **options):
        moment = None
        if now:
            moment = parse_datetime(now.strip())
            if moment is None:
                raise CommandError(f"--now: not an ISO 8601 date and time: {now[:40]!r}", returncode=2)
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        if dry_run:
            stats: dict = {}
            try:
                with transaction.atomic():
                    stats.update(run_detection(now=moment))
                    raise _Rollback
            except _Rollback:
                pass
        else:
            stats = run_detection(now=moment)
        t = stats["timings"]
        self.stdout.write(
            ("dry run (rolled back): " if dry_run else "")
            + f"{stats['series']} series, {stats['surges']} surge(s), {stats['findings']} finding(s): "
            f"{stats['raised']} raised, {stats['updated']} updated, {stats['escalated']} escalated, "
            f"{stats['unchanged']} unchanged, {stats['suppressed']} suppressed (closed), {stats['failed']} failed; "
            f"{stats['notified']} notification(s); {t.get('total_ms', 0) / 1000:.1f} s "
            f"(series {t.get('series_ms', 0):.0f} ms, detect {t.get('detect_ms', 0):.0f} ms, "
            f"cases {t.get('cases_ms', 0):.0f} ms, alerts {t.get('alerts_ms', 0):.0f} ms)"
        )
