"""Booking a slot (Part 1, user side)."""

from datetime import time

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from doctor.models import Booking, TimeSlot
from tests.conftest import booked_reply, client_for
from tests.factories import BookingFactory, DoctorFactory, PatientFactory, TimeSlotFactory
from tests.steps import available_ids, book

pytestmark = pytest.mark.django_db


def test_a_patient_books_a_free_slot(patient, patient_client):
    slot = TimeSlotFactory()

    response = book(patient_client, slot)

    assert response.status_code == 200
    booking = Booking.objects.get()
    assert response.json() == booked_reply(slot, patient, booking)
    assert (booking.slot, booking.patient, booking.status) == (slot, patient, "booked")
    slot.refresh_from_db()
    assert (slot.is_booked, slot.is_available) == (True, False)


def test_a_booked_slot_leaves_the_public_list_and_shows_booked_to_its_doctor(patient_client):
    slot = TimeSlotFactory()
    book(patient_client, slot)

    assert client_for(slot.doctor).get(reverse("doctor-timeslots")).json()[0]["is_booked"] is True
    assert available_ids(patient_client) == []


def test_booking_refuses_anonymous_callers(api_client):
    slot = TimeSlotFactory()
    assert book(api_client, slot).status_code == 401
    assert not Booking.objects.exists()


def test_booking_refuses_a_doctor(doctor_client):
    slot = TimeSlotFactory()
    response = book(doctor_client, slot)
    assert response.status_code == 403
    assert "detail" in response.json()
    slot.refresh_from_db()
    assert slot.is_booked is False
    assert not Booking.objects.exists()


def test_booking_refuses_an_admin(admin_client_jwt):
    slot = TimeSlotFactory()
    assert book(admin_client_jwt, slot).status_code == 403
    assert not Booking.objects.exists()


def test_booking_an_unknown_slot_is_404(patient_client):
    response = book(patient_client, 424242)
    assert response.status_code == 404
    assert response.json() == {"message": "Slot not found"}


def test_booking_a_booked_slot_is_refused(patient_client):
    earlier = BookingFactory()

    response = book(patient_client, earlier.slot_id)

    assert response.status_code == 400
    assert response.json() == {"message": "Slot already booked"}
    assert list(Booking.objects.all()) == [earlier]


def test_booking_twice_by_the_same_patient_is_refused(patient, patient_client):
    slot = TimeSlotFactory()
    book(patient_client, slot)

    response = book(patient_client, slot)

    assert response.json() == {"message": "Slot already booked"}
    assert Booking.objects.count() == 1


def test_booking_a_slot_of_an_inactive_doctor_is_refused(patient_client):
    slot = TimeSlotFactory(doctor=DoctorFactory(is_active=False))
    response = book(patient_client, slot)
    assert response.json() == {"message": "Slot is not available"}
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "state,message",
    [
        ({"is_available": False}, "Slot is not available"),
        ({"past": True}, "Slot is in the past"),
    ],
    ids=["disabled", "past"],
)
def test_booking_a_disabled_or_past_slot_is_refused(patient_client, state, message):
    slot = TimeSlotFactory(**state)

    response = book(patient_client, slot)

    assert response.status_code == 400
    assert response.json() == {"message": message}
    slot.refresh_from_db()
    assert slot.is_booked is False
    assert not Booking.objects.exists()


def test_a_booked_slot_says_already_booked_before_anything_else(patient_client):
    # Booked, disabled and past at once: "already booked" comes first.
    slot = BookingFactory(past=True, slot__start_time=time(8, 0)).slot
    response = book(patient_client, slot)
    assert response.json() == {"message": "Slot already booked"}


def test_a_disabled_past_slot_says_not_available_before_past(patient_client):
    slot = TimeSlotFactory(is_available=False, past=True)
    response = book(patient_client, slot)
    assert response.json() == {"message": "Slot is not available"}


def test_booking_ignores_a_body(patient, patient_client):
    other = PatientFactory()
    slot = TimeSlotFactory()

    response = book(patient_client, slot, data={"user_id": other.id}, format="json")

    assert response.json()["user_id"] == patient.id
    assert Booking.objects.get().patient == patient


def test_booking_needs_post(patient_client):
    slot = TimeSlotFactory()
    assert patient_client.get(reverse("slot-book", args=[slot.id])).status_code == 405
    assert not Booking.objects.exists()


def test_the_database_refuses_a_second_active_booking_of_one_slot():
    booking = BookingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(slot=booking.slot, patient=PatientFactory())
    assert Booking.objects.count() == 1


def test_the_database_refuses_a_booked_slot_marked_available():
    slot = BookingFactory().slot
    with pytest.raises(IntegrityError), transaction.atomic():
        TimeSlot.objects.filter(pk=slot.pk).update(is_available=True)
    slot.refresh_from_db()
    assert slot.is_available is False
