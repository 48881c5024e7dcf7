"""Tracking numbers and query codes.

A tracking number is public and readable: MY + yyyymmdd + a 5-digit daily sequence (MY2026112900017).
A query code is secret: 12 characters from an alphabet without look-alikes (~59 bits), shown once on
the receipt and stored only as a salted SHA-256 hash (docs/decisions/0004).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from minyi.intake.models import TrackingSequence

QUERY_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
QUERY_CODE_LENGTH = 12


def new_query_code() -> str:
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _ in range(QUERY_CODE_LENGTH))


def normalise_query_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:64]


def hash_query_code(code: str, *, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}${normalise_query_code(code)}".encode()).hexdigest()
    return f"sha256${salt}${digest}"


def check_query_code(code: str, stored: str) -> bool:
    try:
        algorithm, salt, _digest = stored.split("$", 2)
    except ValueError:
        return False
    if algorithm != "sha256":
        return False
    return hmac.compare_digest(hash_query_code(code, salt=salt), stored)


def next_tracking_number(day: date) -> str:
    """The next number of `day`. Safe under concurrency: the counter row is updated atomically."""
    for _attempt in range(5):
        with transaction.atomic():
            updated = TrackingSequence.objects.filter(day=day).update(last=F("last") + 1)
            if updated:
                seq = TrackingSequence.objects.get(day=day).last
                return f"{settings.MINYI_TRACKING_PREFIX}{day:%Y%m%d}{seq:05d}"
            try:
                with transaction.atomic():
                    TrackingSequence.objects.create(day=day, last=1)
                return f"{settings.MINYI_TRACKING_PREFIX}{day:%Y%m%d}{1:05d}"
            except IntegrityError:
                continue  # another request created the day's row first; update it instead
    raise RuntimeError("could not allocate a tracking number")


def next_tracking_numbers(counts: dict[date, int]) -> dict[date, list[str]]:
    """Consecutive numbers for many days at once (bulk imports): `counts[day]` numbers of each day, in a
    constant number of queries however many days.

    Must run inside the caller's transaction: the days' counter rows stay locked by the update until it
    commits, so concurrent submissions wait rather than collide.
    """
    counts = {day: n for day, n in counts.items() if n > 0}
    if not counts:
        return {}
    TrackingSequence.objects.bulk_create(
        [TrackingSequence(day=day, last=0) for day in counts], ignore_conflicts=True, batch_size=500
    )
    table = TrackingSequence._meta.db_table
    days = sorted(counts)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS t SET last = t.last + v.n FROM unnest(%s::date[], %s::int[]) AS v(day, n) "
                "WHERE t.day = v.day RETURNING t.day, t.last",
                [days, [counts[d] for d in days]],
            )
            rows = cursor.fetchall()
        else:
            cursor.executemany(
                f"UPDATE {table} SET last = last + %s WHERE day = %s",
                [(counts[d], d.isoformat()) for d in days],
            )
            rows = []
            for start in range(0, len(days), 500):
                chunk = days[start : start + 500]
                cursor.execute(
                    f"SELECT day, last FROM {table} WHERE day IN ({', '.join(['%s'] * len(chunk))})",
                    [d.isoformat() for d in chunk],
                )
                rows += cursor.fetchall()
    out: dict[date, list[str]] = {}
    for day, last in rows:
        day = date.fromisoformat(day) if isinstance(day, str) else day
        # past 99,999 a day (a history without times, all dated on the day of import) the sequence grows to six
        # digits: one character longer, so it can never equal another day's number
        prefix = f"{settings.MINYI_TRACKING_PREFIX}{day:%Y%m%d}"
        out[day] = [f"{prefix}{seq:05d}" for seq in range(last - counts[day] + 1, last + 1)]
    return out
