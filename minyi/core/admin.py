from django.contrib import admin

from minyi.core.models import Notification


class ReadOnlyAdminMixin:
    """For records that only services write (events, bookkeeping): the admin shows, never edits."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("subject", "channel", "recipient", "topic", "created_at", "sent_at")
    list_filter = ("channel", "topic")
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False
