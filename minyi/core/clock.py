"""One place to ask for the time, so services can take an injected `now` and tests can freeze it."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def local(dt: datetime) -> datetime:
    return timezone.localtime(dt)
