"""Admin for routing configuration: categories (a tree), SLA policies, the working-day calendar."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from minyi.accounts.admin import tree_label
from minyi.routing.models import CalendarDay, Category, SlaPolicy


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("tree_name", "code", "is_livelihood", "is_active", "sort_order")
    list_filter = ("is_active", "is_livelihood")
    list_editable = ("is_livelihood", "is_active", "sort_order")
    search_fields = ("name", "code", "keywords")
    autocomplete_fields = ("parent",)
    ordering = ("path",)

    @admin.display(description=_("名称"), ordering="path")
    def tree_name(self, obj: Category) -> str:
        return tree_label(obj)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "priority",
        "unit",
        "accept_within",
        "handle_within",
        "extension_max_days",
        "extension_max_count",
        "review_request_days",
        "review_decide_days",
        "evaluation_days",
    )
    list_filter = ("kind", "priority", "unit")
    ordering = ("kind", "priority")


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Holidays and make-up working days for years the chinese-calendar package does not know yet."""

    list_display = ("date", "weekday", "is_workday", "name")
    list_filter = ("is_workday",)
    search_fields = ("name",)
    date_hierarchy = "date"
    ordering = ("date",)

    @admin.display(description=_("星期"))
    def weekday(self, obj: CalendarDay) -> str:
        return "一二三四五六日"[obj.date.weekday()]
