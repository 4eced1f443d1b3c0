import json
import re
from decimal import ROUND_HALF_UP, Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.encoders import JSONEncoder

from accounts.models import UserProfile, UserType
from accounts.serializers import FeeOrZeroField, VisitTypesField
from doctor import rules
from doctor.clock import clinic_now
from doctor.models import Booking, Hold, Review, TimeSlot, WaitlistEntry
from doctor.rendering import ShapedOutput, ShapeListSerializer, shape_of

# The largest id a bigint key holds: any id past it is refused before it reaches SQL.
MAX_ID = 2**63 - 1
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
DATE_FORMATS = ["%Y-%m-%d"]
# strptime's %m and %d also take one digit ("2032-5-5"); the contract says YYYY-MM-DD.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class IsoDateField(serializers.DateField):
    """YYYY-MM-DD, exactly."""

    def __init__(self, **kwargs):
        super().__init__(input_formats=DATE_FORMATS, **kwargs)

    def to_internal_value(self, value):
        if isinstance(value, str) and not ISO_DATE.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


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


# The declarations below are the one description of each JSON shape: input
# validation, the OpenAPI schema and the output all come from them. The output
# is rendered by doctor.rendering.Shape, derived from these fields, for speed.
class DoctorMiniSerializer(ShapedOutput, serializers.ModelSerializer):
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
        list_serializer_class = ShapeListSerializer


@extend_schema_field({"type": "number", "nullable": True, "example": 4.5})
class RatingField(serializers.Field):
    """The average of a doctor's reviews to one decimal (half up), null with none:
    from the `rating_total` and `review_count` the list's query annotates."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, doctor):
        if not doctor.review_count:
            return None
        average = Decimal(doctor.rating_total) / doctor.review_count
        return float(average.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


class DoctorCardSerializer(DoctorMiniSerializer):
    """The doctor mini plus the keys the existing React doctor cards read."""

    name = serializers.CharField(source="full_name")
    specialty = serializers.CharField(source="specialization")
    experience = serializers.IntegerField(source="years_of_experience", allow_null=True)
    hospital = serializers.CharField(source="clinic_address")
    consultationFee = FeeOrZeroField("consultation_fee", required=True)
    # The rest of what the React cards read (contract, Part 3).
    videoConsultFee = FeeOrZeroField("video_consult_fee", required=True)
    homeConsultFee = FeeOrZeroField("home_consult_fee", required=True)
    homeConsultation = serializers.BooleanField(source="home_consultation")
    languages = serializers.CharField()
    description = serializers.CharField()
    # Clinic policy (contract Part 3), as on the doctor's profile.
    cancelNoticeMinutes = serializers.IntegerField(source="cancel_notice_minutes")
    minBookingNoticeMinutes = serializers.IntegerField(source="min_booking_notice_minutes")
    maxBookingDaysAhead = serializers.IntegerField(source="max_booking_days_ahead", allow_null=True)
    # From doctor.models.with_card_figures, annotated by the list's one query.
    rating = RatingField()
    reviewCount = serializers.IntegerField(source="review_count")
    patients = serializers.IntegerField()
    visitTypes = VisitTypesField()

    class Meta(DoctorMiniSerializer.Meta):
        fields = DoctorMiniSerializer.Meta.fields + [
            "name",
            "specialty",
            "experience",
            "hospital",
            "consultationFee",
            "videoConsultFee",
            "homeConsultFee",
            "homeConsultation",
            "languages",
            "description",
            "cancelNoticeMinutes",
            "minBookingNoticeMinutes",
            "maxBookingDaysAhead",
            "rating",
            "reviewCount",
            "patients",
            "visitTypes",
        ]


class TimeSlotSerializer(ShapedOutput, serializers.ModelSerializer):
    doctor_details = DoctorMiniSerializer(source="doctor", read_only=True)
    date = IsoDateField()
    start_time = ClockTimeField()
    end_time = ClockTimeField()
    duration = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=24 * 60
    )
    # Copies under the names the React client reads (contract, Part 3).
    isAvailable = serializers.BooleanField(source="is_available", read_only=True)
    isBooked = serializers.BooleanField(source="is_booked", read_only=True)
    # `manual` or `schedule` (Part 5); a CharField, so list rows render as they are.
    source = serializers.CharField(read_only=True)

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
            "isAvailable",
            "isBooked",
            "source",
        ]
        # The doctor is always the caller; the flags change only through
        # toggle, book and cancel; a slot made through the API is manual.
        read_only_fields = ["doctor", "is_available", "is_booked", "source"]
        list_serializer_class = ShapeListSerializer


class OwnSlotSerializer(TimeSlotSerializer):
    """A slot as its doctor sees it: also whether a patient holds it right now."""

    is_held = serializers.BooleanField(read_only=True)

    class Meta(TimeSlotSerializer.Meta):
        fields = TimeSlotSerializer.Meta.fields + ["is_held"]


def slot_row_columns(serializer_class=TimeSlotSerializer):
    """The .values() columns a slot list reads: exactly what the serializer shows
    (a dict per row costs a fraction of two model instances, docs/performance.md)."""
    return shape_of(serializer_class).all_columns()


class BookingSerializer(ShapedOutput, serializers.ModelSerializer):
    """A booking as its patient sees it."""

    slot = TimeSlotSerializer(read_only=True)
    fee = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True, allow_null=True)

    class Meta:
        model = Booking
        fields = [
            "id",
            "status",
            "created_at",
            "cancelled_at",
            "cancelled_by",
            "rescheduled_from",
            "slot",
            "booked_by",
            "visit_type",
            "fee",
        ]


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

    date = IsoDateField()
    date_to = IsoDateField(required=False, allow_null=True)
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


class ReviewSerializer(serializers.ModelSerializer):
    """A patient's review of a completed visit: 1 to 5, and an optional comment."""

    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    class Meta:
        model = Review
        fields = ["rating", "comment"]


class VisitTypeSerializer(serializers.Serializer):
    """The optional body of book and hold: the kind of visit (default: clinic, or
    for a booking, the type of the caller's hold on the slot)."""

    visit_type = serializers.ChoiceField(choices=rules.VISIT_TYPES, required=False)


class RescheduleSerializer(VisitTypeSerializer):
    """Where to move a booking: a slot of the same doctor; naming a `visit_type`
    changes the booking's type (and fee, to that type's current one)."""

    slot_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class WaitlistOfferSerializer(serializers.ModelSerializer):
    """The slot kept for a waiting patient, while the offer lasts."""

    hold_id = serializers.IntegerField(source="id")

    class Meta:
        model = Hold
        fields = ["hold_id", "slot_id", "expires_at"]


class WaitlistEntrySerializer(serializers.ModelSerializer):
    """A patient's waitlist entry: in (doctor, date range) and out (as the list shows it)."""

    doctor = serializers.PrimaryKeyRelatedField(
        queryset=UserProfile.objects.filter(user_type=UserType.DOCTOR, is_active=True)
    )
    date_from = IsoDateField()
    date_to = IsoDateField()
    status = serializers.ChoiceField(
        source="current_status", choices=WaitlistEntry.Status.choices, read_only=True
    )
    offer = WaitlistOfferSerializer(source="live_offer", read_only=True, allow_null=True)

    class Meta:
        model = WaitlistEntry
        fields = ["id", "doctor", "date_from", "date_to", "status", "created_at", "offer"]
        read_only_fields = ["created_at"]

    def validate(self, attrs):
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        # A range ending before the clinic's today could never be offered a slot.
        if attrs["date_to"] < clinic_now().date():
            raise serializers.ValidationError({"date_to": [rules.RANGE_PASSED]})
        return attrs


def payload(serializer_class, instance):
    """An event's data: the object as its list shows it, in plain JSON types (the API
    renderer's encoder, so money is a number there and here alike)."""
    data = _payload_serializer(serializer_class).to_representation(instance)
    return json.loads(json.dumps(data, cls=JSONEncoder))


_PAYLOAD_SERIALIZERS = {}


def _payload_serializer(serializer_class):
    """One serializer per class and process: a ModelSerializer builds its fields
    from the model on first use, which cost a booking more CPU than the rest of
    its event; the fields are the same for every instance (no request context)."""
    if serializer_class not in _PAYLOAD_SERIALIZERS:
        _PAYLOAD_SERIALIZERS[serializer_class] = serializer_class()
    return _PAYLOAD_SERIALIZERS[serializer_class]


def booking_data(booking):
    """A booking as the patient's booking list shows it."""
    return payload(BookingSerializer, booking)


def waitlist_data(entry):
    """A waitlist entry as the patient's waitlist list shows it."""
    return payload(WaitlistEntrySerializer, entry)
