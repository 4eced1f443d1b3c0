"""Cancelling a booking, and the booking lists: the patient's own and the doctor's (Part 2)."""

from datetime import time, timedelta

import pytest
from django.urls import reverse

from doctor.models import Booking, TimeSlot
from tests.conftest import client_for
from tests.factories import BookingFactory, PatientFactory, TimeSlotFactory, tomorrow
from tests.steps import available_ids, book, cancel

pytestmark = pytest.mark.django_db

MY_BOOKINGS_URL = reverse("user-bookings")
DOCTOR_BOOKINGS_URL = reverse("doctor-bookings")


def past_booking(**kwargs):
    """A booking whose slot has already started (made directly: the API refuses it)."""
    return BookingFactory(past=True, slot__start_time=time(9, 0), **kwargs)


# --- my bookings ------------------------------------------------------------


def test_my_bookings_lists_the_callers_bookings_newest_first(patient, patient_client):
    first = BookingFactory(patient=patient)
    second = BookingFactory(patient=patient)
    BookingFactory()  # someone else's

    response = patient_client.get(MY_BOOKINGS_URL)

    assert response.status_code == 200
    assert [b["id"] for b in response.json()] == [second.id, first.id]


def test_my_bookings_carry_status_times_and_the_full_slot(patient, patient_client):
    booking = BookingFactory(patient=patient)

    (item,) = patient_client.get(MY_BOOKINGS_URL).json()

    assert set(item) == {
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
    }
    assert item["status"] == "booked"
    assert item["cancelled_at"] is None
    assert item["cancelled_by"] is None
    assert item["slot"]["id"] == booking.slot_id
    assert item["slot"]["doctor_details"]["fullName"] == booking.slot.doctor.full_name
    assert item["slot"]["is_booked"] is True


def test_my_bookings_keep_cancelled_ones(patient, patient_client):
    slot = TimeSlotFactory()
    book(patient_client, slot)
    cancel(patient_client, slot)

    (item,) = patient_client.get(MY_BOOKINGS_URL).json()

    assert item["status"] == "cancelled"
    assert item["cancelled_at"] is not None
    assert item["cancelled_by"] == "patient"


@pytest.mark.parametrize("client_name", ["doctor_client", "admin_client_jwt"])
def test_my_bookings_refuse_other_roles(request, client_name):
    assert request.getfixturevalue(client_name).get(MY_BOOKINGS_URL).status_code == 403


def test_my_bookings_refuse_anonymous_callers(api_client):
    assert api_client.get(MY_BOOKINGS_URL).status_code == 401


def test_my_bookings_run_a_constant_number_of_queries(
    patient, patient_client, django_assert_num_queries
):
    BookingFactory(patient=patient)
    with django_assert_num_queries(2):
        assert len(patient_client.get(MY_BOOKINGS_URL).json()) == 1
    BookingFactory.create_batch(49, patient=patient)
    with django_assert_num_queries(2):
        assert len(patient_client.get(MY_BOOKINGS_URL).json()) == 50


# --- cancel -----------------------------------------------------------------


def test_the_patient_cancels_their_booking_and_the_slot_is_free_again(patient, patient_client):
    booking = BookingFactory(patient=patient)

    response = cancel(patient_client, booking.slot)

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Booking cancelled"
    assert (body["booking_id"], body["slot_id"], body["status"]) == (
        booking.id,
        booking.slot_id,
        "cancelled",
    )
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert booking.cancelled_at is not None
    slot = TimeSlot.objects.get(pk=booking.slot_id)
    assert (slot.is_booked, slot.is_available) == (False, True)


def test_the_slots_doctor_cancels_a_booking(doctor, doctor_client):
    booking = BookingFactory(slot__doctor=doctor)

    response = cancel(doctor_client, booking.slot)

    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert TimeSlot.objects.get(pk=booking.slot_id).is_booked is False


def test_a_cancelled_slot_is_listed_and_bookable_again(patient_client):
    booking = BookingFactory()
    cancel(client_for(booking.patient), booking.slot)

    listed = available_ids(patient_client)
    response = book(patient_client, booking.slot)

    assert booking.slot_id in listed
    assert response.status_code == 200
    assert Booking.objects.filter(slot_id=booking.slot_id, status="booked").count() == 1
    assert Booking.objects.filter(slot_id=booking.slot_id).count() == 2


def test_cancelling_a_free_slot_says_it_is_not_booked(doctor, doctor_client):
    slot = TimeSlotFactory(doctor=doctor)

    response = cancel(doctor_client, slot)

    assert response.status_code == 400
    assert response.json() == {"message": "Slot is not booked"}
    slot.refresh_from_db()
    assert (slot.is_booked, slot.is_available) == (False, True)


def test_cancelling_twice_says_not_booked_the_second_time(patient, patient_client):
    booking = BookingFactory(patient=patient)
    cancel(patient_client, booking.slot)

    response = cancel(patient_client, booking.slot)

    # The slot's booking is no longer the caller's: to them it is just a free slot.
    assert response.status_code == 404
    booking.refresh_from_db()
    assert booking.status == "cancelled"


def test_cancelling_a_past_booking_is_refused(patient):
    booking = past_booking(patient=patient)

    response = cancel(client_for(patient), booking.slot)

    assert response.status_code == 400
    assert response.json() == {"message": "Slot is in the past"}
    booking.refresh_from_db()
    assert booking.status == "booked"
    assert TimeSlot.objects.get(pk=booking.slot_id).is_booked is True


def test_another_patient_cannot_cancel_and_gets_404(patient_client):
    booking = BookingFactory()

    response = cancel(patient_client, booking.slot)

    assert response.status_code == 404
    assert response.json() == {"message": "Slot not found"}
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_another_doctor_cannot_cancel_and_gets_404(other_doctor):
    booking = BookingFactory()

    response = cancel(client_for(other_doctor), booking.slot)

    assert response.status_code == 404
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_an_admin_cannot_cancel_through_the_api(admin_client_jwt):
    booking = BookingFactory()
    assert cancel(admin_client_jwt, booking.slot).status_code == 404
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_a_patient_with_no_booking_on_a_free_slot_gets_404(patient_client):
    slot = TimeSlotFactory()
    response = cancel(patient_client, slot)
    assert response.json() == {"message": "Slot not found"}


def test_cancelling_a_missing_slot_is_404(patient_client):
    response = cancel(patient_client, 99999)
    assert (response.status_code, response.json()) == (404, {"message": "Slot not found"})


def test_cancelling_needs_a_token(api_client):
    booking = BookingFactory()
    assert cancel(api_client, booking.slot).status_code == 401
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_a_previous_patient_cannot_cancel_the_next_patients_booking(patient, patient_client):
    slot = TimeSlotFactory()
    book(patient_client, slot)
    cancel(patient_client, slot)
    newcomer = PatientFactory()
    book(client_for(newcomer), slot)

    response = cancel(patient_client, slot)

    assert response.status_code == 404
    assert Booking.objects.get(slot=slot, status="booked").patient == newcomer


# --- the doctor's bookings ----------------------------------------------------


def test_the_doctor_sees_bookings_on_their_slots_with_the_patient(doctor, doctor_client):
    patient = PatientFactory(phone="+91 12345")
    booking = BookingFactory(slot__doctor=doctor, patient=patient)
    BookingFactory()  # another doctor's

    (item,) = doctor_client.get(DOCTOR_BOOKINGS_URL).json()

    assert item["id"] == booking.id
    assert item["status"] == "booked"
    assert item["slot"]["id"] == booking.slot_id
    assert item["patient"] == {
        "id": patient.id,
        "fullName": patient.full_name,
        "email": patient.email,
        "phone": "+91 12345",
    }


def test_the_doctors_bookings_are_newest_first_and_include_cancelled(doctor, doctor_client):
    first = BookingFactory(slot__doctor=doctor, status="cancelled")
    second = BookingFactory(slot__doctor=doctor)

    ids = [b["id"] for b in doctor_client.get(DOCTOR_BOOKINGS_URL).json()]

    assert ids == [second.id, first.id]


@pytest.mark.parametrize("client_name", ["patient_client", "admin_client_jwt"])
def test_the_doctors_bookings_refuse_other_roles(request, client_name):
    BookingFactory()
    assert request.getfixturevalue(client_name).get(DOCTOR_BOOKINGS_URL).status_code == 403


def test_the_doctors_bookings_run_a_constant_number_of_queries(
    doctor, doctor_client, django_assert_num_queries
):
    BookingFactory(slot__doctor=doctor)
    with django_assert_num_queries(2):
        assert len(doctor_client.get(DOCTOR_BOOKINGS_URL).json()) == 1
    for n in range(49):
        BookingFactory(slot__doctor=doctor, slot__date=tomorrow() + timedelta(days=n + 1))
    with django_assert_num_queries(2):
        assert len(doctor_client.get(DOCTOR_BOOKINGS_URL).json()) == 50


def test_only_the_booking_endpoints_reveal_who_booked(doctor, doctor_client, api_client):
    patient = PatientFactory(email="hidden-patient@example.com", full_name="Hidden Person")
    BookingFactory(slot__doctor=doctor, patient=patient)
    TimeSlotFactory(doctor=doctor, start_time=time(12, 0))

    for client, url in [
        (doctor_client, reverse("doctor-timeslots")),
        (api_client, reverse("available-slots")),
        (api_client, reverse("doctor-list")),
    ]:
        body = client.get(url).content.decode()
        assert "hidden-patient" not in body
        assert "Hidden Person" not in body
    assert "hidden-patient" in doctor_client.get(DOCTOR_BOOKINGS_URL).content.decode()


def test_the_staff_cancel_of_a_stale_booking_leaves_the_newer_one_alone():
    from config.errors import Refused
    from doctor import services

    old = BookingFactory(status="cancelled")
    newer = Booking.objects.create(slot=old.slot, patient=PatientFactory())

    with pytest.raises(Refused, match="Slot is not booked"):
        services.booking_cancel(slot_id=old.slot_id, booking_id=old.id)

    newer.refresh_from_db()
    assert newer.status == "booked"
    assert TimeSlot.objects.get(pk=old.slot_id).is_booked is True
