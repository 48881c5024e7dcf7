"""Read-only admin views of what the public board shows.

Publications change only through minyi.disclosure.publication (the staff panel on the case page), which checks
the policy, refuses text that still holds an ID, phone or card number, and records every change as a case
event. So the admin never adds, edits or deletes a publication; it lists them (only for the cases the signed-in
user may see), links to the staff panel, and may ask refresh to bring selected copies in step with their cases
(refresh never publishes an existing publication, it can only hold it).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.cases import policies
from minyi.core.admin import ReadOnlyAdminMixin
from minyi.disclosure import publication
from minyi.disclosure.models import Publication, PublishedReply


class PublishedReplyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PublishedReply
    extra = 0
    fields = ("sent_at", "department", "text")
    readonly_fields = fields
    can_delete = False


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "tracking_number",
        "title",
        "state",
        "hold_reason",
        "kind",
        "department",
        "case_status",
        "published_at",
        "view_count",
        "support_count",
    )
    list_filter = ("state", "hold_reason", "kind", "case_status")
    search_fields = ("case__tracking_number",)
    date_hierarchy = "published_at"
    list_select_related = ("case", "department")
    fields = (
        "staff_panel",
        "state",
        "hold_reason",
        "note",
        "title",
        "content",
        "edited_by",
        "edited_at",
        "kind",
        "category",
        "region",
        "department",
        "case_status",
        "received_at",
        "replied_at",
        "published_at",
        "view_count",
        "support_count",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (PublishedReplyInline,)
    actions = ("refresh_selected",)
    list_per_page = 50
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(case__in=policies.visible_cases(request.user))

    @admin.display(description=gettext_lazy("受理编号"), ordering="case__tracking_number")
    def tracking_number(self, obj: Publication) -> str:
        return obj.case.tracking_number

    @admin.display(description=gettext_lazy("公开、撤回与修改"))
    def staff_panel(self, obj: Publication) -> str:
        url = reverse("disclosure_staff:publication", args=[obj.case_id])
        return format_html('<a href="{}">{}</a>', url, _("在工作台中办理"))

    @admin.action(description=gettext_lazy("按诉求刷新公开信息（不会公开）"))
    def refresh_selected(self, request, queryset) -> None:
        count = 0
        for case_id in queryset.values_list("case_id", flat=True)[:500]:
            publication.refresh(case_id=case_id)
            count += 1
        self.message_user(request, _("已刷新 %(n)s 条公开信息。") % {"n": count}, messages.SUCCESS)
