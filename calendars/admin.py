from django.contrib import admin

from calendars.models import CalendarFeed


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Staff see who has a feed and when it was last reset, never the secret."""

    list_display = ["user", "issued_at"]
    fields = ["user", "issued_at"]
    readonly_fields = ["user", "issued_at"]
    search_fields = ["user__email"]

    def has_add_permission(self, request):
        return False
