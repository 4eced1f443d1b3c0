from django.contrib import admin

from audit.models import AuditEntry
from doctor.admin import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read only: staff see every entry, and nobody adds, changes or deletes one."""

    list_display = ["id", "at", "action", "actor_id", "actor_role", "slot_id", "booking_id"]
    list_filter = ["action", "actor_role"]
    # Filter by id through the query string too: ?slot_id=..., ?booking_id=..., ?actor_id=...
    search_fields = ["=slot_id", "=booking_id", "=actor_id"]
    ordering = ["-id"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in ("slot_id", "booking_id", "actor_id") or super().lookup_allowed(
            lookup, value, request
        )
