from rest_framework import serializers

from accounts.models import UserProfile
from doctor.models import Booking, TimeSlot, slot_minutes, starts_in_past

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
DATE_FORMATS = ["%Y-%m-%d"]
MAX_BULK_DAYS = 366


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
        attrs["duration"] = slot_minutes(
            attrs["date"], attrs["start_time"], attrs["end_time"], attrs.get("duration")
        )
        if starts_in_past(attrs["date"], attrs["start_time"]):
            raise serializers.ValidationError({"non_field_errors": ["Slot cannot be in the past."]})
        return attrs


class BookingSerializer(serializers.ModelSerializer):
    """A booking as its patient sees it."""

    slot = TimeSlotSerializer(read_only=True)

    class Meta:
        model = Booking
        fields = ["id", "status", "created_at", "cancelled_at", "slot"]


class BookingPatientSerializer(serializers.ModelSerializer):
    fullName = serializers.CharField(source="full_name")

    class Meta:
        model = UserProfile
        fields = ["id", "fullName", "email", "phone"]


class DoctorBookingSerializer(BookingSerializer):
    """A booking as the slot's doctor sees it: with who booked it."""

    patient = BookingPatientSerializer(read_only=True)

    class Meta(BookingSerializer.Meta):
        fields = BookingSerializer.Meta.fields + ["patient"]


class BulkSlotSerializer(serializers.Serializer):
    """Back-to-back slots of `duration` minutes between two times, on one or more days."""

    date = serializers.DateField(input_formats=DATE_FORMATS)
    date_to = serializers.DateField(input_formats=DATE_FORMATS, required=False, allow_null=True)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        allow_null=True,
        allow_empty=False,
        max_length=7,
    )
    start_time = serializers.TimeField(input_formats=TIME_FORMATS)
    end_time = serializers.TimeField(input_formats=TIME_FORMATS)
    duration = serializers.IntegerField(min_value=1, max_value=24 * 60)

    def validate(self, attrs):
        if attrs["end_time"] <= attrs["start_time"]:
            raise serializers.ValidationError({"end_time": ["Must be after start_time."]})
        date_to = attrs.get("date_to") or attrs["date"]
        if date_to < attrs["date"]:
            raise serializers.ValidationError({"date_to": ["Must not be before date."]})
        if (date_to - attrs["date"]).days > MAX_BULK_DAYS:
            raise serializers.ValidationError(
                {"date_to": [f"At most {MAX_BULK_DAYS} days after date."]}
            )
        attrs["date_to"] = date_to
        attrs["weekdays"] = sorted(set(attrs.get("weekdays") or range(7)))
        return attrs
