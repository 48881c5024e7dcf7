"""Admin: the barometer's thresholds (one row), and read-only lists of topics, alerts and reports.

Thresholds are the only thing edited here. Topics and alerts change through the barometer pages (each step an
event); the admin only lists them.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from minyi.barometer.models import Alert, BarometerSettings, Report, Topic
from minyi.core.admin import ReadOnlyAdminMixin


@admin.register(BarometerSettings)
class BarometerSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "topic_window_days",
        "surge_min_count",
        "surge_ratio",
        "surge_p_value",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("topic_window_days", "topic_min_size", "topic_threshold")}),
        (
            _("预警"),
            {
                "fields": (
                    "surge_baseline_days",
                    "surge_window_days",
                    "surge_min_count",
                    "surge_ratio",
                    "surge_p_value",
                    ("red_ratio", "red_count", "red_risk"),
                    ("orange_ratio", "orange_count", "orange_risk"),
                )
            },
        ),
    )

    def has_add_permission(self, request) -> bool:
        return not BarometerSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Topic)
class TopicAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("label", "rank", "size", "heat", "trend", "is_active", "department", "last_seen_at")
    list_filter = ("is_active", "trend")
    search_fields = ("label", "title")
    exclude = ("followers", "signature")


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("label", "level", "source", "state", "count", "baseline", "start", "end", "department")
    list_filter = ("level", "state", "source")
    search_fields = ("label",)


@admin.register(Report)
class ReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "kind", "period_start", "period_end", "generated_at", "generated_by")
    list_filter = ("kind",)
