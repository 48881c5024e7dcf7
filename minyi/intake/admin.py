"""Read-only admin views of intake bookkeeping."""

from __future__ import annotations

from django.contrib import admin

from minyi.core.admin import ReadOnlyAdminMixin
from minyi.intake.models import IdempotencyRecord, TrackingSequence


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The stored response holds the citizen's query code: it is never shown.
    list_display = ("key", "case_id", "response_status", "created_at", "expires_at")
    fields = ("key", "fingerprint", "case_id", "response_status", "created_at", "expires_at")
    readonly_fields = fields
    search_fields = ("key",)
    date_hierarchy = "created_at"


@admin.register(TrackingSequence)
class TrackingSequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("day", "last")
    fields = ("day", "last")
    readonly_fields = fields
    ordering = ("-day",)
