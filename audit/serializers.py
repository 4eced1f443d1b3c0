from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import ACTIONS, AuditEntry


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {"id": {"type": "integer"}, "role": {"type": "string"}},
        "required": ["id", "role"],
    }
)
class ActorField(serializers.Field):
    """{"id", "role"} of who acted, or null (the worker, a lapsed hold)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, entry):
        return entry.actor


class AuditEntrySerializer(serializers.ModelSerializer):
    """An entry of a booking's history: `changes` as {field: [old, new]}."""

    action = serializers.ChoiceField(choices=ACTIONS)
    actor = ActorField()
    changes = serializers.DictField(child=serializers.ListField(allow_null=True))

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "action", "actor", "slot_id", "booking_id", "changes"]
