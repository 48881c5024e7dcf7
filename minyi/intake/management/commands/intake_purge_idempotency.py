"""Delete expired idempotency records (they hold query codes for 24 hours and no longer). Cron: hourly.

minyi intake_purge_idempotency             # delete them
minyi intake_purge_idempotency --dry-run   # count them; change nothing
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from minyi.intake.idempotency import purge_expired
from minyi.intake.models import IdempotencyRecord


class Command(BaseCommand):
    help = "Delete expired idempotency records (--dry-run counts them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count expired records; delete nothing")

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        if dry_run:
            count = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).count()
            self.stdout.write(f"would delete {count} expired idempotency record(s)")
            return
        count = purge_expired()
        self.stdout.write(f"deleted {count} expired idempotency record(s)")
