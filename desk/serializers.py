"""The front desk's input: a patient search, a walk-in, a booking, a day."""

from rest_framework import serializers

from accounts.models import LINE_VALIDATORS, UserProfile, refuse_bidi_controls
from doctor.serializers import MAX_ID, IsoDateField, VisitTypeSerializer

MIN_SEARCH = 3  # fewer characters would match half the patients


class PatientSearchSerializer(serializers.Serializer):
    search = serializers.CharField(
        min_length=MIN_SEARCH, max_length=100, validators=LINE_VALIDATORS
    )


class WalkInSerializer(serializers.Serializer):
    """A patient registered at the desk: no password; without an email, email is null."""

    full_name = serializers.CharField(max_length=150, validators=LINE_VALIDATORS)
    phone = serializers.CharField(max_length=20, validators=LINE_VALIDATORS)
    email = serializers.EmailField(
        required=False, allow_null=True, allow_blank=True, validators=[refuse_bidi_controls]
    )


class DeskBookingSerializer(VisitTypeSerializer):
    """A slot to book for a patient; `visit_type` as for the patient's own booking."""

    slot_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    patient_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class DayQuerySerializer(serializers.Serializer):
    date = IsoDateField(required=False)


class DeskPatientSerializer(serializers.ModelSerializer):
    """A patient as the desk finds or registers them."""

    fullName = serializers.CharField(source="full_name")
    email = serializers.EmailField(allow_null=True)

    class Meta:
        model = UserProfile
        fields = ["id", "fullName", "email", "phone"]
