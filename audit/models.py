"""The audit trail: who changed which slot, hold or booking, when, and how.

Entries are appended by the unit of work (doctor/unit.py) in the write's own
transaction and never updated or deleted: the database refuses both (a trigger,
audit/migrations/0002_append_only.py). Ids are plain integers, not foreign
keys, so no delete anywhere (a slot's, a user's) touches an entry.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

ACTIONS = (
    "slot.created",
    "slot.toggled",
    "slot.updated",
    "slot.deleted",
    "slot.scheduled",
    "slot.unscheduled",
    "hold.created",
    "hold.released",
    "hold.lapsed",
    "booking.created",
    "booking.cancelled",
    "booking.rescheduled",
    "booking.completed",
    "booking.no_show",
)


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=20, choices=[(a, a) for a in ACTIONS])
    # Null for the worker and for what no request did (a lapsed hold).
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_role = models.CharField(max_length=10, blank=True)
    slot_id = models.BigIntegerField(null=True, blank=True)
    booking_id = models.BigIntegerField(null=True, blank=True)
    # {field: [old, new]}: ids and values, never a name, email or phone.
    changes = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["booking_id", "id"], name="audit_booking_idx"),
            models.Index(fields=["slot_id", "id"], name="audit_slot_idx"),
        ]

    def __str__(self):
        return f"{self.action} #{self.pk}"

    @property
    def actor(self):
        if self.actor_id is None:
            return None
        return {"id": self.actor_id, "role": self.actor_role}
