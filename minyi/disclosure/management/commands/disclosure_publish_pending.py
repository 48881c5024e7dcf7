"""`minyi disclosure_publish_pending`: give every replied case without a publication its masked copy and its
default decision (cases replied before publication existed, or whose refresh after commit was lost). Safe to
run at any time; a sweep runs it hourly (config/celery.py, deploy/systemd)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from minyi.disclosure.publication import refresh_pending


class Command(BaseCommand):
    help = "Create the publications of replied cases that have none yet (default decision, masked copy)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="at most this many cases")

    def handle(self, *args, limit: int | None, **options):
        count = refresh_pending(limit=limit)
        self.stdout.write(f"{count} publication(s) refreshed")
