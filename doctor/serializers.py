from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import UserProfile
from doctor.models import Booking, TimeSlot, slot_minutes, starts_in_past

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
DATE_FORMATS = ["%Y-%m-%d"]


# OpenAPI's "format: time" means an RFC 3339 time with a UTC offset; slot times
# are the clinic's wall clock, with none.
@extend_schema_field(
    {
        "type": "string",
        "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        "example": "10:30:00",
    }
)
class ClockTimeField(serializers.TimeField):
    """HH:MM or HH:MM:SS in, HH:MM:SS out."""

    def __init__(self, **kwargs):
        super().__init__(input_formats=TIME_FORMATS, **kwargs)


MAX_BULK_DAYS = 366

# The read path of the slot and doctor serializers builds its dicts by hand:
# DRF's generic loop (get_attribute, to_representation, a nested serializer per
# row) cost 20-40 us a slot, about half of the whole available list's time (see
# docs/performance.md). The field declarations stay, for input validation and
# the OpenAPI schema; tests/test_serializer_output.py pins the output byte for
# byte against the original declarations. Values come straight from the model,
# whose column types make DRF's int()/str()/bool() conversions no-ops.
# A subclass that declares more fields must build them too (as DoctorCardSerializer does).
_FEE_FIELD = UserProfile._meta.get_field("consultation_fee")
# The fee goes through DRF's own DecimalField, which quantizes it to the
# column's places (an int or str set in Python renders as from the database).
_FEE = serializers.DecimalField(
    max_digits=_FEE_FIELD.max_digits, decimal_places=_FEE_FIELD.decimal_places
)


def _iso(value):
    """As DRF's DateField/TimeField with the default ISO 8601 output: a str stays as it is."""
    return value if value is None or isinstance(value, str) else value.isoformat()


def _doctor_mini(doctor):
    fee = doctor.consultation_fee
    return {
        "id": doctor.id,
        "fullName": doctor.full_name,
        "specialization": doctor.specialization,
        "years_of_experience": doctor.years_of_experience,
        "consultation_fee": None if fee is None else _FEE.to_representation(fee),
        "clinic_address": doctor.clinic_address,
    }


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

    def to_representation(self, doctor):
        return _doctor_mini(doctor)


class DoctorCardSerializer(DoctorMiniSerializer):
    """The doctor mini plus the keys the existing React doctor cards read."""

    name = serializers.CharField(source="full_name")
    specialty = serializers.CharField(source="specialization")
    experience = serializers.IntegerField(source="years_of_experience", allow_null=True)
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

    def to_representation(self, doctor):
        card = _doctor_mini(doctor)
        card["name"] = card["fullName"]
        card["specialty"] = card["specialization"]
        card["experience"] = card["years_of_experience"]
        card["hospital"] = card["clinic_address"]
        card["consultationFee"] = self.get_consultationFee(doctor)
        return card


# The list endpoints read slots with .values(SLOT_ROW_FIELDS): a dict per row,
# with the doctor's columns beside the slot's, costs a fraction of two model
# instances per row (docs/performance.md).
SLOT_ROW_FIELDS = (
    "id",
    "doctor_id",
    "date",
    "start_time",
    "end_time",
    "duration",
    "is_available",
    "is_booked",
    "doctor__full_name",
    "doctor__specialization",
    "doctor__years_of_experience",
    "doctor__consultation_fee",
    "doctor__clinic_address",
)


def _row_doctor_mini(row):
    fee = row["doctor__consultation_fee"]
    return {
        "id": row["doctor_id"],
        "fullName": row["doctor__full_name"],
        "specialization": row["doctor__specialization"],
        "years_of_experience": row["doctor__years_of_experience"],
        "consultation_fee": None if fee is None else _FEE.to_representation(fee),
        "clinic_address": row["doctor__clinic_address"],
    }


def _row_slot(row, doctors):
    details = doctors.get(row["doctor_id"])
    if details is None:
        details = doctors[row["doctor_id"]] = _row_doctor_mini(row)
    return {
        "id": row["id"],
        "doctor": row["doctor_id"],
        "doctor_details": dict(details),
        "date": row["date"].isoformat(),
        "start_time": row["start_time"].isoformat(),
        "end_time": row["end_time"].isoformat(),
        "duration": row["duration"],
        "is_available": row["is_available"],
        "is_booked": row["is_booked"],
    }


class TimeSlotListSerializer(serializers.ListSerializer):
    """Slots in a list share few doctors: each doctor's dict is built once per list.

    Takes model instances, or the dicts of .values(*SLOT_ROW_FIELDS).
    """

    def to_representation(self, data):
        rows = data.all() if isinstance(data, models.manager.BaseManager) else data
        doctors = {}
        build = self.child.slot_dict
        return [
            _row_slot(slot, doctors) if isinstance(slot, dict) else build(slot, doctors)
            for slot in rows
        ]


class TimeSlotSerializer(serializers.ModelSerializer):
    doctor_details = DoctorMiniSerializer(source="doctor", read_only=True)
    date = serializers.DateField(input_formats=DATE_FORMATS)
    start_time = ClockTimeField()
    end_time = ClockTimeField()
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
        list_serializer_class = TimeSlotListSerializer

    def to_representation(self, slot):
        return self.slot_dict(slot, {})

    def slot_dict(self, slot, doctors):
        """The slot's JSON; `doctors` caches doctor dicts by id across one list."""
        details = doctors.get(slot.doctor_id)
        if details is None:
            details = doctors[slot.doctor_id] = _doctor_mini(slot.doctor)
        return {
            "id": slot.id,
            "doctor": slot.doctor_id,
            # A copy, so that rows never share one mutable dict.
            "doctor_details": dict(details),
            "date": _iso(slot.date),
            "start_time": _iso(slot.start_time),
            "end_time": _iso(slot.end_time),
            "duration": slot.duration,
            "is_available": slot.is_available,
            "is_booked": slot.is_booked,
        }

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
        fields = ["id", "status", "created_at", "cancelled_at", "rescheduled_from", "slot"]


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
    start_time = ClockTimeField()
    end_time = ClockTimeField()
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


class RescheduleSerializer(serializers.Serializer):
    """Where to move a booking: a slot of the same doctor."""

    slot_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
