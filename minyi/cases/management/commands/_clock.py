"""Shared option for the scheduled case commands: `--now`, to run as of another moment (checks, catch-up)."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import CommandError
from django.utils import timezone


def parse_now(value: str | None) -> datetime:
    """An ISO 8601 moment; without an offset it is read in the site's time zone. Exit code 2 when malformed."""
    if not value:
        return timezone.now()
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            f"--now: {value[:40]!r} is not an ISO 8601 date and time (e.g. 2026-03-02T09:00)", returncode=2
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class DryRun(Exception):
    """Raised inside a transaction to undo a dry run."""
