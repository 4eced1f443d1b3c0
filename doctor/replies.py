"""The reply of each action on a slot or a booking: one small output serializer
each, which gives both the OpenAPI schema and the body the view returns."""

from rest_framework import serializers

from doctor.serializers import WaitlistOfferSerializer


class Text(serializers.CharField):
    """The same text in every reply of an action (the contract's message)."""

    def __init__(self, text):
        super().__init__(source="*")
        self.text = text

    def to_representation(self, value):
        return self.text


class BookedSerializer(serializers.Serializer):
    message = Text("Slot booked successfully")
    slot_id = serializers.IntegerField()
    doctor_id = serializers.IntegerField(source="slot.doctor_id")
    user_id = serializers.IntegerField(source="patient_id")
    booking_id = serializers.IntegerField(source="id")
    booked_by = serializers.CharField()
    visit_type = serializers.CharField()
    fee = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)


def booked(booking):
    """BookedSerializer(booking).data as a plain dict of the columns: the reply of every
    booking, built without a serializer's per-request setup (the serializer stays
    the schema; tests/test_query_counts.py holds the two to the same keys)."""
    return {
        "message": "Slot booked successfully",
        "slot_id": booking.slot_id,
        "doctor_id": booking.slot.doctor_id,
        "user_id": booking.patient_id,
        "booking_id": booking.id,
        "booked_by": booking.booked_by,
        "visit_type": booking.visit_type,
        "fee": None if booking.fee is None else float(booking.fee),  # a JSON number
    }


class HeldSerializer(WaitlistOfferSerializer):
    """A slot kept for the caller while they pay: the keys of a waitlist offer, and
    the whole seconds left."""

    seconds_left = serializers.IntegerField()

    class Meta(WaitlistOfferSerializer.Meta):
        fields = [*WaitlistOfferSerializer.Meta.fields, "seconds_left", "visit_type"]


class CancelledSerializer(serializers.Serializer):
    message = Text("Booking cancelled")
    booking_id = serializers.IntegerField(source="id")
    slot_id = serializers.IntegerField()
    status = serializers.CharField()
    cancelled_at = serializers.DateTimeField()
    cancelled_by = serializers.CharField()
    booked_by = serializers.CharField()


class RescheduledSerializer(serializers.Serializer):
    message = Text("Booking rescheduled")
    booking_id = serializers.IntegerField(source="id")
    slot_id = serializers.IntegerField()
    rescheduled_from = serializers.IntegerField(source="rescheduled_from_id")
    booked_by = serializers.CharField()
    visit_type = serializers.CharField()
    fee = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)


class VisitRecordedSerializer(serializers.Serializer):
    message = Text("Visit recorded")
    booking_id = serializers.IntegerField(source="id")
    status = serializers.ChoiceField(choices=["completed", "no_show"])


class ReviewSavedSerializer(serializers.Serializer):
    message = Text("Review saved")
    rating = serializers.IntegerField()
    comment = serializers.CharField()
