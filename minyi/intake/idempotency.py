"""Idempotent public submissions: a repeat with the same Idempotency-Key within 24 hours replays the first
response and creates nothing.

Concurrency: the record row is inserted inside the same transaction as the case. On PostgreSQL a concurrent
insert of the same key waits on the unique index until the first transaction ends, then fails and reads the
committed response. On SQLite, IMMEDIATE transactions serialise writers, with the same effect.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minyi.core.exceptions import Conflict, ValidationFailed
from minyi.intake.models import IdempotencyRecord

MAX_KEY_LENGTH = 200


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def _replay(record: IdempotencyRecord, fp: str) -> tuple[int, dict]:
    if record.fingerprint != fp:
        raise Conflict(_("同一个 Idempotency-Key 已用于另一份不同的提交。"), code="idempotency_key_reused")
    return record.response_status, record.response_body


def run_idempotent(
    *, key: str, payload: Any, produce: Callable[[], tuple[int, dict, int | None]]
) -> tuple[int, dict, bool]:
    """Run `produce` once per key. Returns (status, body, replayed)."""
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            _("Idempotency-Key 无效（1–200 个可打印字符）。"), fields={"Idempotency-Key": _("无效")}
        )
    fp = fingerprint(payload)
    now = timezone.now()
    _purge_now_and_then(now)
    existing = IdempotencyRecord.objects.filter(key=key).first()
    if existing is not None and existing.expires_at <= now:
        # Only an expired record of this very key needs a write here: on SQLite every delete takes the
        # database's write lock, which a read-only check does not.
        IdempotencyRecord.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
        existing = None
    if existing is not None:
        status, body = _replay(existing, fp)
        return status, body, True
    for _attempt in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    key=key,
                    fingerprint=fp,
                    created_at=now,
                    expires_at=now + settings.MINYI_IDEMPOTENCY_TTL,
                    response_status=0,
                )
                status, body, case_id = produce()
                record.response_status, record.response_body, record.case_id = status, body, case_id
                record.save(update_fields=["response_status", "response_body", "case_id"])
                return status, body, False
        except IntegrityError:
            # Someone else holds (or just committed) this key. Read their response; wait briefly if needed.
            for _poll in range(50):
                existing = IdempotencyRecord.objects.filter(key=key).first()
                if existing is not None and existing.response_status:
                    status, body = _replay(existing, fp)
                    return status, body, True
                if existing is None:
                    break  # the other attempt rolled back; try again ourselves
                time.sleep(0.1)
    raise Conflict(_("相同的提交正在处理中，请稍后重试。"), code="idempotency_in_progress")


_last_purge = 0.0
PURGE_EVERY_SECONDS = 60


def _purge_now_and_then(now) -> None:
    """Query codes must not outlive their 24 hours even where nobody scheduled the purge command."""
    global _last_purge
    if time.monotonic() - _last_purge < PURGE_EVERY_SECONDS:
        return
    _last_purge = time.monotonic()
    IdempotencyRecord.objects.filter(expires_at__lte=now).delete()


def purge_expired() -> int:
    deleted, _rows = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
