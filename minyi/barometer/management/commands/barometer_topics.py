"""`minyi barometer_topics`: mine the hot topics of the window and store them (minyi.barometer.hot.run_topics).

Hourly (config/celery.py, deploy/systemd). Safe to run at any time: topics keep their ids from run to run, and a
failed run leaves the last good run's topics as they were (the failure is recorded as a TopicRun).
"""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from minyi.barometer.hot import run_topics


class Command(BaseCommand):
    help = "Cluster the appeals of the window into hot topics, rank them by heat and keep their history."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", default=None, help="the window's end, ISO 8601 (default: now; for replaying history)"
        )
        parser.add_argument(
            "--window-days",
            type=int,
            default=None,
            help="the window in days (default: the barometer settings)",
        )

    def handle(self, *args, now: str | None, window_days: int | None, **options):
        moment: datetime | None = None
        if now:
            moment = parse_datetime(now)
            if moment is None:
                raise CommandError(f"--now: not an ISO 8601 date and time: {now[:40]!r}")
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        if window_days is not None and not 1 <= window_days <= 3660:
            raise CommandError("--window-days must be between 1 and 3660")
        try:
            run = run_topics(now=moment, window_days=window_days)
        except Exception as exc:
            raise CommandError(f"hot topics run failed: {type(exc).__name__}: {exc}"[:300]) from exc
        stats = run.stats
        window = f"{timezone.localtime(run.window_start):%Y-%m-%d %H:%M} – {timezone.localtime(run.window_end):%Y-%m-%d %H:%M}"
        self.stdout.write(
            f"hot topics run {run.pk} ({run.status}): window {window}; {run.cases} cases read "
            f"({stats.current} in the window), {run.topics} topics: {stats.matched} kept, {stats.revived} back, "
            f"{stats.created} new, {stats.gone} gone; {stats.members} members; {stats.notified} notice(s); "
            f"{stats.pruned} old snapshot(s) thinned; "
            f"read {stats.read_s:.1f} s, mine {stats.mine_s:.1f} s, write {stats.write_s:.1f} s, "
            f"{run.elapsed_ms / 1000:.1f} s in all"
        )
