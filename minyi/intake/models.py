from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TrackingSequence(models.Model):
    """Per-day counter behind tracking numbers (MY + yyyymmdd + 5 digits)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("编号序列")
        verbose_name_plural = _("编号序列")

    def __str__(self) -> str:
        return f"{self.day} {self.last}"


class IdempotencyRecord(models.Model):
    """The first response to a public submission, replayed to repeats with the same Idempotency-Key.

    It holds the query code in its response for 24 hours and no longer: expired rows are purged
    (`minyi intake_purge_idempotency`, and on every lookup of an expired key).
    """

    key = models.CharField(max_length=200, unique=True)
    fingerprint = models.CharField(max_length=64)
    case_id = models.BigIntegerField(null=True)
    response_status = models.PositiveSmallIntegerField(default=201)
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("幂等记录")
        verbose_name_plural = _("幂等记录")

    def __str__(self) -> str:
        return self.key
