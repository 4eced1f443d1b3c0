from django.contrib import admin

from notifications.models import Reminder


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """Read-only: which bookings got their reminder, and when."""

    list_display = ["booking", "sent_at"]
    list_select_related = ["booking"]
    readonly_fields = ["booking", "sent_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
