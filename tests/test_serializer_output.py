"""The read path's JSON, byte for byte against DRF's own rendering.

doctor/rendering.py derives a fast renderer from the serializers' declared
fields (see docs/performance.md). Every list and single slot the API returns
must render to exactly the bytes DRF's generic code gives for the same
declarations, so the declarations stay the one description of the shape.
"""

from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from accounts.models import UserProfile
from doctor.models import Booking, TimeSlot, with_card_figures
from doctor.rendering import ShapedOutput, ShapeListSerializer, shape_of
from doctor.serializers import (
    BookingSerializer,
    DoctorCardSerializer,
    DoctorMiniSerializer,
    OwnSlotSerializer,
    TimeSlotSerializer,
    slot_row_columns,
)
from tests.conftest import client_for
from tests.factories import BookingFactory, DoctorFactory, TimeSlotFactory, tomorrow
from tests.steps import toggle

pytestmark = pytest.mark.django_db

AVAILABLE_URL = reverse("available-slots")
OWN_URL = reverse("doctor-timeslots")
DOCTORS_URL = reverse("doctor-list")
MY_BOOKINGS_URL = reverse("user-bookings")
BULK_URL = reverse("slot-bulk")


# --- the reference: DRF's own generic rendering of the same live declarations ---


def drf(serializer_class, data, many=False):
    """JSON of `serializer_class(data).data` with the fast path switched off: DRF's
    field-by-field loop over the very declarations the fast path is derived from."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delattr(ShapedOutput, "to_representation")
        patch.delattr(ShapeListSerializer, "to_representation")
        return render(serializer_class(data, many=many).data)


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
    assert len(response.json()) == len(slots)
    assert response.content == drf(TimeSlotSerializer, available(), many=True)


def test_an_available_page_is_byte_identical(api_client, slots):
    response = api_client.get(AVAILABLE_URL, {"limit": 4, "offset": 3})

    assert response.status_code == 200
    expected = dict(response.data)
    expected["results"] = TimeSlotSerializer(available()[3:7], many=True).data
    assert response.content == render(expected)
    assert render(expected["results"]) == drf(TimeSlotSerializer, available()[3:7], many=True)


def test_a_filtered_available_list_is_byte_identical(api_client, doctors, slots):
    doctor = doctors[2]
    response = api_client.get(AVAILABLE_URL, {"doctor": doctor.id})

    mine = available(TimeSlot.objects.bookable().filter(doctor=doctor))
    assert len(response.json()) == 3
    assert response.content == drf(TimeSlotSerializer, mine, many=True)


def test_the_doctors_own_list_is_byte_identical(doctors, slots):
    doctor = UserProfile.objects.get(pk=doctors[0].pk)
    response = client_for(doctor).get(OWN_URL)

    assert response.status_code == 200
    own = TimeSlot.objects.filter(doctor=doctor).select_related("doctor").with_held()
    assert [s["is_booked"] for s in response.json()].count(True) == 1
    expected = drf(OwnSlotSerializer, own.order_by("date", "start_time", "id"), many=True)
    assert response.content == expected


def test_the_doctor_list_is_byte_identical(api_client, doctors):
    response = api_client.get(DOCTORS_URL)

    assert response.status_code == 200
    cards = with_card_figures(UserProfile.objects.filter(user_type="doctor", is_active=True))
    cards = cards.order_by("id")
    assert response.content == drf(DoctorCardSerializer, cards, many=True)


def test_a_patients_bookings_are_byte_identical(patient, patient_client, slots):
    for slot in slots[:3]:
        BookingFactory(patient=patient, slot=slot)

    response = patient_client.get(MY_BOOKINGS_URL)

    assert response.status_code == 200
    mine = Booking.objects.filter(patient=patient).select_related("slot__doctor")
    expected = drf(BookingSerializer, mine.order_by("-created_at", "-id"), many=True)
    assert response.content == expected


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
    assert response.content == drf(OwnSlotSerializer, created)


def test_a_toggled_slot_is_byte_identical(doctors, slots):
    doctor = UserProfile.objects.get(pk=doctors[2].pk)
    slot = slots[2]

    response = toggle(client_for(doctor), slot)

    assert response.status_code == 200
    reloaded = TimeSlot.objects.select_related("doctor").get(pk=slot.pk)
    assert reloaded.is_available is False
    assert response.content == drf(OwnSlotSerializer, reloaded)


def test_bulk_created_slots_are_byte_identical(doctors):
    doctor = UserProfile.objects.get(pk=doctors[1].pk)
    body = {
        "date": tomorrow().isoformat(),
        "start_time": "09:00:30",
        "end_time": "10:00:30",
        "duration": 20,
    }

    response = client_for(doctor).post(BULK_URL, body)

    assert response.status_code == 201, response.content
    made = available(TimeSlot.objects.filter(doctor=doctor))
    assert response.content == drf(TimeSlotSerializer, made, many=True)


# --- serializer level: in-memory values, not only what the database returns ---


def test_in_memory_values_render_like_drf():
    """Values assigned in Python (an int fee, a str fee) are quantized as DRF does."""
    for fee in (500, "499.5", Decimal("12.345"), 0, None):
        doctor = DoctorFactory(consultation_fee=fee, years_of_experience=None)
        slot = TimeSlotFactory(doctor=doctor, start_time=time(9, 5, 7))
        assert render(TimeSlotSerializer(slot).data) == drf(TimeSlotSerializer, slot)
        # A card's figures come from the list query's annotations: none reviewed yet.
        doctor.rating_total, doctor.review_count, doctor.patients = None, 0, 0
        assert render(DoctorCardSerializer(doctor).data) == drf(DoctorCardSerializer, doctor)
        assert render(DoctorMiniSerializer(doctor).data) == drf(DoctorMiniSerializer, doctor)


def test_a_booking_renders_like_drf():
    booking = BookingFactory()
    assert render(BookingSerializer(booking).data) == drf(BookingSerializer, booking)


# The contract's Part 1 keys, in its order.
PART1_SLOT_KEYS = [
    "id", "doctor", "doctor_details", "date", "start_time", "end_time", "duration",
    "is_available", "is_booked",
]  # fmt: skip
PART1_DOCTOR_KEYS = [
    "id", "fullName", "specialization", "years_of_experience", "consultation_fee",
    "clinic_address",
]  # fmt: skip


def test_the_shapes_keep_the_contracts_keys_in_order():
    """A shape may gain keys (after these), never lose or reorder one."""
    slot_keys = list(TimeSlotSerializer().fields)
    assert slot_keys[: len(PART1_SLOT_KEYS)] == PART1_SLOT_KEYS
    card_keys = list(DoctorCardSerializer().fields)
    card_extras = ["name", "specialty", "experience", "hospital", "consultationFee"]
    assert card_keys[:11] == PART1_DOCTOR_KEYS + card_extras
    assert list(DoctorMiniSerializer().fields) == PART1_DOCTOR_KEYS


def test_the_slot_lists_read_only_the_columns_the_json_shows():
    doctor = ["full_name", "specialization", "years_of_experience", "consultation_fee"]
    expected = [
        "id", "doctor_id", "date", "start_time", "end_time", "duration", "is_available",
        "is_booked", "source", "doctor__clinic_address",
        *(f"doctor__{column}" for column in doctor),
    ]  # fmt: skip
    assert sorted(slot_row_columns()) == sorted(expected)


class WithAnExtraKey(TimeSlotSerializer):
    """A key declared once shows in every path: instances, rows, nested."""

    startsAt = serializers.TimeField(source="start_time", read_only=True)

    class Meta(TimeSlotSerializer.Meta):
        fields = TimeSlotSerializer.Meta.fields + ["startsAt"]


def test_a_declared_key_is_rendered_from_instances_and_rows_alike():
    slot = TimeSlotFactory(start_time=time(9, 30))
    shape = shape_of(WithAnExtraKey)
    row = TimeSlot.objects.values(*shape.all_columns()).get()

    from_instance = WithAnExtraKey(slot).data
    from_row = WithAnExtraKey([row], many=True).data[0]

    assert from_instance["startsAt"] == from_row["startsAt"] == "09:30:00"
    assert render(from_row) == render(from_instance) == drf(WithAnExtraKey, slot)


def test_a_field_without_a_column_cannot_render_rows():
    shape = shape_of(DoctorCardSerializer)
    with pytest.raises(ImproperlyConfigured, match="consultationFee has no column"):
        shape.row({}, shape.new_cache())


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


# --- isAvailable / isBooked: in every reply that carries a slot ----------------


def _own_list(doctor, patient, free, booked):
    return client_for(doctor).get(OWN_URL), lambda body: body


def _available_list(doctor, patient, free, booked):
    return client_for(patient).get(AVAILABLE_URL), lambda body: body


def _create(doctor, patient, free, booked):
    body = {"date": tomorrow().isoformat(), "start_time": "15:00", "end_time": "15:30"}
    return client_for(doctor).post(OWN_URL, body), lambda body: [body]


def _toggle(doctor, patient, free, booked):
    return toggle(client_for(doctor), free), lambda b: [b]


def _bulk(doctor, patient, free, booked):
    body = {"date": tomorrow().isoformat(), "start_time": "16:00", "end_time": "17:00"}
    return client_for(doctor).post(BULK_URL, {**body, "duration": 30}), lambda body: body


def _patients_bookings(doctor, patient, free, booked):
    return client_for(patient).get(MY_BOOKINGS_URL), lambda body: [b["slot"] for b in body]


def _doctors_bookings(doctor, patient, free, booked):
    response = client_for(doctor).get(reverse("doctor-bookings"))
    return response, lambda body: [b["slot"] for b in body]


@pytest.mark.parametrize(
    "call, status, flags",
    [
        (_own_list, 200, [(True, False), (False, True)]),
        (_available_list, 200, [(True, False)]),
        (_create, 201, [(True, False)]),
        (_toggle, 200, [(False, False)]),
        (_bulk, 201, [(True, False), (True, False)]),
        (_patients_bookings, 200, [(False, True)]),
        (_doctors_bookings, 200, [(False, True)]),
    ],
)
def test_every_slot_reply_carries_the_camel_case_copies(doctor, patient, call, status, flags):
    free = TimeSlotFactory(doctor=doctor, start_time=time(9, 0))
    booked = BookingFactory(patient=patient, slot__doctor=doctor, slot__start_time=time(11, 0))

    response, slots_of = call(doctor, patient, free, booked.slot)

    assert response.status_code == status, response.content
    slots = slots_of(response.json())
    assert [(s["is_available"], s["is_booked"]) for s in slots] == flags
    assert [(s["isAvailable"], s["isBooked"]) for s in slots] == flags
