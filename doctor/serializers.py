from datetime import datetime

from rest_framework import serializers

from accounts.models import UserProfile
from doctor.models import TimeSlot, starts_in_past

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
DATE_FORMATS = ["%Y-%m-%d"]


class DoctorMiniSerializer(serializers.ModelSerializer):
    fullName = serializers.CharField(source="full_name")

    class Meta:
        model = UserProfile
        fields = [
            "id",
            "fullName",
            "specialization",
            "years_of_experience",
            "consultation_fee",
            "clinic_address",
        ]


class DoctorCardSerializer(DoctorMiniSerializer):
    """The doctor mini plus the keys the existing React doctor cards read."""

    name = serializers.CharField(source="full_name")
    specialty = serializers.CharField(source="specialization")
    experience = serializers.IntegerField(source="years_of_experience")
    hospital = serializers.CharField(source="clinic_address")
    consultationFee = serializers.SerializerMethodField()

    class Meta(DoctorMiniSerializer.Meta):
        fields = DoctorMiniSerializer.Meta.fields + [
            "name",
            "specialty",
            "experience",
            "hospital",
            "consultationFee",
        ]

    def get_consultationFee(self, doctor) -> float:
        return doctor.consultation_fee or 0


class TimeSlotSerializer(serializers.ModelSerializer):
    doctor_details = DoctorMiniSerializer(source="doctor", read_only=True)
    date = serializers.DateField(input_formats=DATE_FORMATS)
    start_time = serializers.TimeField(input_formats=TIME_FORMATS)
    end_time = serializers.TimeField(input_formats=TIME_FORMATS)
    duration = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=24 * 60
    )

    class Meta:
        model = TimeSlot
        fields = [
            "id",
            "doctor",
            "doctor_details",
            "date",
            "start_time",
            "end_time",
            "duration",
            "is_available",
            "is_booked",
        ]
        # The doctor is always the caller; the flags change only through
        # toggle, book and cancel.
        read_only_fields = ["doctor", "is_available", "is_booked"]

    def validate(self, attrs):
        start, end = attrs["start_time"], attrs["end_time"]
        if end <= start:
            raise serializers.ValidationError({"end_time": ["Must be after start_time."]})
        seconds = (
            datetime.combine(attrs["date"], end) - datetime.combine(attrs["date"], start)
        ).seconds
        if seconds % 60:
            raise serializers.ValidationError(
                {"non_field_errors": ["The slot must last a whole number of minutes."]}
            )
        minutes = seconds // 60
        if attrs.get("duration") not in (None, minutes):
            raise serializers.ValidationError(
                {
                    "duration": [
                        f"Must equal the minutes between start_time and end_time ({minutes})."
                    ]
                }
            )
        attrs["duration"] = minutes
        if starts_in_past(attrs["date"], start):
            raise serializers.ValidationError({"non_field_errors": ["Slot cannot be in the past."]})
        return attrs
