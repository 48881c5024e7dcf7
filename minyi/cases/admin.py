"""Read-only admin views of cases and their history.

Cases change only through minyi.cases.services (the staff workbench and the API); the admin never edits a
case, never shows contact details, and lists only the cases the signed-in user may see (policies).
"""

from __future__ import annotations

from django.contrib import admin

from minyi.cases import policies
from minyi.cases.models import Case, CaseEvent, Evaluation, PersonalDataAccess, Reply
from minyi.core.admin import ReadOnlyAdminMixin


class CaseEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseEvent
    extra = 0
    fields = ("created_at", "action", "actor", "actor_role", "from_status", "to_status", "note", "is_public")
    readonly_fields = fields
    ordering = ("created_at", "id")
    show_change_link = False


class ReplyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Reply
    extra = 0
    fields = ("created_at", "state", "author", "approved_by", "sent_at", "text")
    readonly_fields = fields


class EvaluationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Evaluation
    extra = 0
    fields = ("created_at", "rating", "resolved", "reason")
    readonly_fields = fields


#: Every field an admin may read on a case. Not the query code hash; contact details live in CaseContact,
#: which is not registered here (staff see them in the workbench, where each view is logged).
CASE_FIELDS = (
    "tracking_number",
    "title",
    "content",
    "kind",
    "channel",
    "priority",
    "status",
    "is_anonymous",
    "category",
    "region",
    "address",
    "department",
    "merged_into",
    "duplicate_of",
    "created_at",
    "accept_due_at",
    "handle_due_at",
    "review_due_at",
    "evaluation_due_at",
    "due_at",
    "accepted_at",
    "assigned_at",
    "replied_at",
    "closed_at",
    "status_changed_at",
    "escalation_count",
    "escalated_at",
    "extension_count",
    "pending_extension_days",
    "needs_supervision",
    "reopen_count",
)


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "tracking_number",
        "title",
        "kind",
        "channel",
        "status",
        "department",
        "category",
        "due_at",
        "escalation_count",
        "created_at",
    )
    list_filter = ("status", "kind", "channel", "priority", "needs_supervision", "category", "department")
    search_fields = ("tracking_number", "title")
    date_hierarchy = "created_at"
    list_select_related = ("department", "category")
    fields = CASE_FIELDS
    readonly_fields = CASE_FIELDS
    inlines = (ReplyInline, EvaluationInline, CaseEventInline)
    list_per_page = 50
    show_full_result_count = False

    def get_queryset(self, request):
        return policies.visible_cases(request.user).select_related(
            "department", "category", "region", "merged_into", "duplicate_of"
        )


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "case",
        "action",
        "actor",
        "actor_role",
        "from_status",
        "to_status",
        "is_public",
    )
    list_filter = ("action", "actor_role", "is_public")
    search_fields = ("case__tracking_number",)
    date_hierarchy = "created_at"
    list_select_related = ("case", "actor")
    fields = (
        "case",
        "created_at",
        "action",
        "actor",
        "actor_role",
        "from_status",
        "to_status",
        "note",
        "data",
    )
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(case__in=policies.visible_cases(request.user))


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who saw whose contact details, when, and why (append-only audit)."""

    list_display = ("created_at", "user", "case", "purpose")
    list_filter = ("purpose",)
    search_fields = ("user__username", "case__tracking_number")
    list_select_related = ("user", "case")
