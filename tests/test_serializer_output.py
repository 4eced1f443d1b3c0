"""The read path's JSON, pinned byte for byte against the original serializers.

doctor/serializers.py builds slot and doctor dicts by hand for speed (see
docs/performance.md). The classes below are the original DRF definitions,
copied as they were before that change: every list and single slot the API
returns must render to exactly the bytes these produce.
"""

from datetime import time, timedelta
from decimal import Decimal

import pytest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from accounts.models import UserProfile
from doctor.models import Booking, TimeSlot
from doctor.serializers import (
    BookingSerializer,
    DoctorCardSerializer,
    DoctorMiniSerializer,
    TimeSlotSerializer,
)
from tests.conftest import client_for
from tests.factories import BookingFactory, DoctorFactory, TimeSlotFactory, tomorrow

pytestmark = pytest.mark.django_db

AVAILABLE_URL = "/api/doctor/user/timeslots/"
OWN_URL = "/api/doctor/timeslots/"
DOCTORS_URL = "/api/doctor/list/"
MY_BOOKINGS_URL = "/api/doctor/user/bookings/"


# --- the reference: the original definitions, unchanged ---------------------


class ReferenceClockTimeField(serializers.TimeField):
    def __init__(self, **kwargs):
        super().__init__(input_formats=["%H:%M", "%H:%M:%S"], **kwargs)


class ReferenceDoctorMiniSerializer(serializers.ModelSerializer):
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


class ReferenceDoctorCardSerializer(ReferenceDoctorMiniSerializer):
    name = serializers.CharField(source="full_name")
    specialty = serializers.CharField(source="specialization")
    experience = serializers.IntegerField(source="years_of_experience", allow_null=True)
    hospital = serializers.CharField(source="clinic_address")
    consultationFee = serializers.SerializerMethodField()

    class Meta(ReferenceDoctorMiniSerializer.Meta):
        fields = ReferenceDoctorMiniSerializer.Meta.fields + [
            "name",
            "specialty",
            "experience",
            "hospital",
            "consultationFee",
        ]

    def get_consultationFee(self, doctor) -> float:
        return doctor.consultation_fee or 0


class ReferenceTimeSlotSerializer(serializers.ModelSerializer):
    # Only the output matters here, so validate() is left out.
    doctor_details = ReferenceDoctorMiniSerializer(source="doctor", read_only=True)
    date = serializers.DateField(input_formats=["%Y-%m-%d"])
    start_time = ReferenceClockTimeField()
    end_time = ReferenceClockTimeField()
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
        read_only_fields = ["doctor", "is_available", "is_booked"]


class ReferenceBookingSerializer(serializers.ModelSerializer):
    slot = ReferenceTimeSlotSerializer(read_only=True)

    class Meta:
        model = Booking
        fields = ["id", "status", "created_at", "cancelled_at", "rescheduled_from", "slot"]


def render(data):
    return JSONRenderer().render(data)


# --- data covering every shape a value can take -----------------------------


@pytest.fixture
def doctors():
    return [
        DoctorFactory(full_name="Dr Lakshman", consultation_fee=500),
        DoctorFactory(full_name="Dr Fee Unset", consultation_fee=None, years_of_experience=None),
        DoctorFactory(full_name="Dr Half", consultation_fee="499.50", years_of_experience=0),
        DoctorFactory(
            full_name='Dr "Quotes" \u00d1and\u00fa \u533b\u751f',
            specialization="",
            clinic_address="",
            consultation_fee="0.00",
        ),
        DoctorFactory(full_name="Dr Cents", consultation_fee="1234567.89"),
    ]


@pytest.fixture
def slots(doctors):
    """Several slots per doctor, interleaved in list order, some with seconds."""
    day = tomorrow()
    made = []
    for n in range(3):
        for i, doctor in enumerate(doctors):
            made.append(
                TimeSlotFactory(
                    doctor=doctor,
                    date=day + timedelta(days=n),
                    start_time=time(8 + i, 15 * n, 30 if i % 2 else 0),
                    duration=15 + 5 * i,
                )
            )
    # Rows the available list leaves out but the doctor's own list shows.
    BookingFactory(slot__doctor=doctors[0], slot__date=day, slot__start_time=time(17, 0))
    TimeSlotFactory(doctor=doctors[0], date=day, start_time=time(18, 0), is_available=False)
    return made


def available(queryset=None):
    """The available-list rows as doctor/views.py selects them."""
    queryset = queryset or TimeSlot.objects.bookable()
    return queryset.select_related("doctor").order_by("date", "start_time", "id")


# --- the lists ---------------------------------------------------------------


def test_the_available_list_is_byte_identical(api_client, slots):
    response = api_client.get(AVAILABLE_URL)

    assert response.status_code == 200
    expected = ReferenceTimeSlotSerializer(available(), many=True).data
    assert len(expected) == len(slots)
    assert response.content == render(expected)


def test_an_available_page_is_byte_identical(api_client, slots):
    response = api_client.get(AVAILABLE_URL, {"limit": 4, "offset": 3})

    assert response.status_code == 200
    expected = dict(response.data)
    expected["results"] = ReferenceTimeSlotSerializer(available()[3:7], many=True).data
    assert response.content == render(expected)


def test_a_filtered_available_list_is_byte_identical(api_client, doctors, slots):
    doctor = doctors[2]
    response = api_client.get(AVAILABLE_URL, {"doctor": doctor.id})

    expected = ReferenceTimeSlotSerializer(
        available(TimeSlot.objects.bookable().filter(doctor=doctor)), many=True
    ).data
    assert len(expected) == 3
    assert response.content == render(expected)


def test_the_doctors_own_list_is_byte_identical(doctors, slots):
    doctor = UserProfile.objects.get(pk=doctors[0].pk)
    response = client_for(doctor).get(OWN_URL)

    assert response.status_code == 200
    own = TimeSlot.objects.filter(doctor=doctor).select_related("doctor")
    expected = ReferenceTimeSlotSerializer(own.order_by("date", "start_time", "id"), many=True).data
    assert [s["is_booked"] for s in expected].count(True) == 1
    assert response.content == render(expected)


def test_the_doctor_list_is_byte_identical(api_client, doctors):
    response = api_client.get(DOCTORS_URL)

    assert response.status_code == 200
    cards = UserProfile.objects.filter(user_type="doctor", is_active=True).order_by("id")
    assert response.content == render(ReferenceDoctorCardSerializer(cards, many=True).data)


def test_a_patients_bookings_are_byte_identical(patient, patient_client, slots):
    for slot in slots[:3]:
        BookingFactory(patient=patient, slot=slot)

    response = patient_client.get(MY_BOOKINGS_URL)

    assert response.status_code == 200
    mine = Booking.objects.filter(patient=patient).select_related("slot__doctor")
    expected = ReferenceBookingSerializer(mine.order_by("-created_at", "-id"), many=True).data
    assert response.content == render(expected)


# --- single slots --------------------------------------------------------------


@pytest.mark.parametrize(
    "fee, times",
    [
        (None, ("10:00", "10:30")),
        (Decimal("499.50"), ("10:00:30", "10:45:30")),
        (Decimal("500.00"), ("23:00:00", "23:59:00")),
    ],
)
def test_a_created_slot_is_byte_identical(fee, times):
    doctor = DoctorFactory(consultation_fee=fee, specialization="")
    doctor = UserProfile.objects.get(pk=doctor.pk)
    body = {"date": tomorrow().isoformat(), "start_time": times[0], "end_time": times[1]}

    response = client_for(doctor).post(OWN_URL, body)

    assert response.status_code == 201, response.content
    created = TimeSlot.objects.select_related("doctor").get()
    assert response.content == render(ReferenceTimeSlotSerializer(created).data)


def test_a_toggled_slot_is_byte_identical(doctors, slots):
    doctor = UserProfile.objects.get(pk=doctors[2].pk)
    slot = slots[2]

    response = client_for(doctor).patch(f"/api/doctor/timeslots/{slot.id}/toggle/")

    assert response.status_code == 200
    reloaded = TimeSlot.objects.select_related("doctor").get(pk=slot.pk)
    assert reloaded.is_available is False
    assert response.content == render(ReferenceTimeSlotSerializer(reloaded).data)


def test_bulk_created_slots_are_byte_identical(doctors):
    doctor = UserProfile.objects.get(pk=doctors[1].pk)
    body = {
        "date": tomorrow().isoformat(),
        "start_time": "09:00:30",
        "end_time": "10:00:30",
        "duration": 20,
    }

    response = client_for(doctor).post("/api/doctor/timeslots/bulk/", body)

    assert response.status_code == 201, response.content
    made = available(TimeSlot.objects.filter(doctor=doctor))
    assert response.content == render(ReferenceTimeSlotSerializer(made, many=True).data)


# --- serializer level: in-memory values, not only what the database returns ---


def test_in_memory_values_render_like_drf():
    """Values assigned in Python (an int fee, a str fee) are quantized as DRF does."""
    for fee in (500, "499.5", Decimal("12.345"), 0, None):
        doctor = DoctorFactory(consultation_fee=fee, years_of_experience=None)
        slot = TimeSlotFactory(doctor=doctor, start_time=time(9, 5, 7))
        assert TimeSlotSerializer(slot).data == ReferenceTimeSlotSerializer(slot).data
        assert render(TimeSlotSerializer(slot).data) == render(
            ReferenceTimeSlotSerializer(slot).data
        )
        assert DoctorCardSerializer(doctor).data == ReferenceDoctorCardSerializer(doctor).data
        assert render(DoctorCardSerializer(doctor).data) == render(
            ReferenceDoctorCardSerializer(doctor).data
        )
        assert DoctorMiniSerializer(doctor).data == ReferenceDoctorMiniSerializer(doctor).data


def test_a_booking_renders_like_drf():
    booking = BookingFactory()
    assert render(BookingSerializer(booking).data) == render(
        ReferenceBookingSerializer(booking).data
    )


def test_the_declared_fields_are_still_the_contracts():
    """The field declarations stay: input validation and the OpenAPI schema use them."""
    assert list(TimeSlotSerializer().fields) == ReferenceTimeSlotSerializer.Meta.fields
    assert list(DoctorMiniSerializer().fields) == ReferenceDoctorMiniSerializer.Meta.fields
    assert list(DoctorCardSerializer().fields) == ReferenceDoctorCardSerializer.Meta.fields


# --- query counts do not grow with the list -------------------------------------


@pytest.mark.parametrize("url", [AVAILABLE_URL, DOCTORS_URL])
def test_public_lists_run_a_constant_number_of_queries(api_client, url, django_assert_num_queries):
    day = tomorrow()
    for i in range(12):
        TimeSlotFactory(date=day, start_time=time(8, i * 4))
    with django_assert_num_queries(1):
        assert len(api_client.get(url).json()) == 12
    with django_assert_num_queries(2):  # count + page
        api_client.get(url, {"limit": 5})


def test_the_doctors_own_list_runs_a_constant_number_of_queries(doctor, django_assert_num_queries):
    client = client_for(doctor)
    day = tomorrow()
    for i in range(12):
        TimeSlotFactory(doctor=doctor, date=day, start_time=time(8, i * 4))
    # The token's user, then the slots; the doctor is attached, not joined.
    with django_assert_num_queries(2):
        assert len(client.get(OWN_URL).json()) == 12
