"""Races on PostgreSQL: threads released together, each on its own connection.

SQLite has no row locks (and serializes writers anyway), so these only mean
something on PostgreSQL; CI's PostgreSQL leg must run them, never skip them.
"""

import pytest
from django.urls import reverse

from doctor.models import Booking, TimeSlot
from tests.conftest import client_for, run_together
from tests.factories import DoctorFactory, PatientFactory, TimeSlotFactory, tomorrow
from tests.steps import book, cancel, delete, toggle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def replied(step, client, slot):
    """A call for run_together: the step's (status code, body)."""

    def call():
        response = step(client, slot)
        return response.status_code, response.json()

    return call


def test_twenty_patients_racing_for_one_slot_get_exactly_one_booking():
    slot = TimeSlotFactory()
    clients = [client_for(PatientFactory()) for _ in range(20)]

    results = run_together([replied(book, c, slot) for c in clients])

    wins = [body for code, body in results if code == 200]
    losses = [body for code, body in results if code != 200]
    assert len(wins) == 1
    assert losses == [{"message": "Slot already booked"}] * 19
    assert Booking.objects.filter(slot=slot, status="booked").count() == 1
    assert Booking.objects.get().id == wins[0]["booking_id"]
    slot.refresh_from_db()
    assert (slot.is_booked, slot.is_available) == (True, False)


@pytest.mark.parametrize("round_", range(5))
def test_a_toggle_racing_a_booking_never_reopens_or_unbooks_the_slot(round_):
    slot = TimeSlotFactory()
    doctor_client, patient_client = client_for(slot.doctor), client_for(PatientFactory())

    (book_code, book_body), (toggle_code, toggle_body) = run_together(
        [replied(book, patient_client, slot), replied(toggle, doctor_client, slot)]
    )

    slot.refresh_from_db()
    assert not (slot.is_booked and slot.is_available)
    if book_code == 200:  # booked first: the toggle must have been refused
        assert toggle_body == {"message": "Booked slot cannot be modified"}
        assert (slot.is_booked, slot.is_available) == (True, False)
        assert Booking.objects.filter(slot=slot, status="booked").count() == 1
    else:  # disabled first: the booking must have been refused
        assert toggle_code == 200
        assert book_body == {"message": "Slot is not available"}
        assert (slot.is_booked, slot.is_available) == (False, False)
        assert not Booking.objects.exists()


@pytest.mark.parametrize("round_", range(5))
def test_a_delete_racing_a_booking_never_deletes_a_booked_slot(round_):
    slot = TimeSlotFactory()
    doctor_client, patient_client = client_for(slot.doctor), client_for(PatientFactory())

    (book_code, book_body), (delete_code, delete_body) = run_together(
        [replied(book, patient_client, slot), replied(delete, doctor_client, slot)]
    )

    if book_code == 200:
        assert delete_body == {"message": "Booked slot cannot be deleted"}
        assert TimeSlot.objects.filter(pk=slot.pk, is_booked=True).exists()
        assert Booking.objects.filter(slot_id=slot.pk, status="booked").count() == 1
    else:
        assert delete_code == 200
        assert (book_code, book_body) == (404, {"message": "Slot not found"})
        assert not TimeSlot.objects.filter(pk=slot.pk).exists()
        assert not Booking.objects.exists()


def test_overlapping_creates_by_one_doctor_make_one_slot():
    doctor = DoctorFactory()
    clients = [client_for(doctor) for _ in range(8)]
    day = tomorrow().isoformat()

    def create(client, minute):
        def call():
            body = {"date": day, "start_time": f"10:{minute:02d}", "end_time": f"11:{minute:02d}"}
            return client.post(reverse("doctor-timeslots"), body, format="json").status_code

        return call

    codes = run_together([create(c, i * 5) for i, c in enumerate(clients)])

    assert sorted(codes) == [201] + [400] * 7
    assert TimeSlot.objects.filter(doctor=doctor).count() == 1


@pytest.mark.parametrize("round_", range(5))
def test_a_cancel_racing_a_new_booking_keeps_one_active_booking_at_most(round_):
    first = PatientFactory()
    slot = TimeSlotFactory()
    book(client_for(first), slot)
    canceller, newcomer = client_for(first), client_for(PatientFactory())

    (cancel_code, _), (book_code, book_body) = run_together(
        [replied(cancel, canceller, slot), replied(book, newcomer, slot)]
    )

    assert cancel_code == 200
    slot.refresh_from_db()
    active = Booking.objects.filter(slot=slot, status="booked")
    if book_code == 200:  # the cancel went first and freed the slot
        assert active.get().id == book_body["booking_id"]
        assert (slot.is_booked, slot.is_available) == (True, False)
    else:  # the booking saw the old booking still active
        assert book_body == {"message": "Slot already booked"}
        assert not active.exists()
        assert (slot.is_booked, slot.is_available) == (False, True)


def test_two_patients_racing_after_a_cancel_get_one_booking():
    slot = TimeSlotFactory()
    holder = client_for(PatientFactory())
    book(holder, slot)
    cancel(holder, slot)
    clients = [client_for(PatientFactory()) for _ in range(10)]

    results = run_together([replied(book, c, slot) for c in clients])

    assert sorted(code for code, _ in results) == [200] + [400] * 9
    assert Booking.objects.filter(slot=slot, status="booked").count() == 1
    assert Booking.objects.filter(slot=slot, status="cancelled").count() == 1
