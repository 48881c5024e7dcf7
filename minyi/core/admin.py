from django.contrib import admin

from minyi.core.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("subject", "channel", "recipient", "topic", "created_at", "sent_at")
    list_filter = ("channel", "topic")
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False
