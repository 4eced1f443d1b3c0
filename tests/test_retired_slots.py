"""Slots with a history are retired, never deleted (contract Part 5, issue 18)."""

from datetime import time

import pytest
from django.urls import reverse

from doctor import services
from doctor.invariants import violations
from doctor.models import Booking, TimeSlot
from tests.conftest import client_for
from tests.factories import BookingFactory, PatientFactory, TimeSlotFactory, tomorrow

pytestmark = pytest.mark.django_db

NOT_FOUND = (404, {"message": "Slot not found"})
DELETED = (200, {"message": "Slot deleted successfully"})


def answer(response):
    return response.status_code, response.json()


def delete(client, slot):
    return answer(client.delete(reverse("slot-delete", args=[slot.pk])))


@pytest.fixture
def moved(doctor, patient, patient_client):
    """Booked at 9:00, then moved to 11:00: the 9:00 slot has a history."""
    old = TimeSlotFactory(doctor=doctor, start_time=time(9, 0))
    new = TimeSlotFactory(doctor=doctor, start_time=time(11, 0))
    booking_id = patient_client.post(reverse("slot-book", args=[old.pk])).json()["booking_id"]
    url = reverse("booking-reschedule", args=[booking_id])
    assert patient_client.post(url, {"slot_id": new.pk}, format="json").status_code == 200
    return old, new


def test_a_slot_rescheduled_away_from_is_retired_by_its_delete(doctor_client, moved):
    old, _ = moved

    assert delete(doctor_client, old) == DELETED

    old.refresh_from_db()
    assert old.retired_at is not None
    assert (old.is_booked, old.is_available) == (False, False)
    assert list(Booking.objects.order_by("pk").values_list("slot_id", "status")) == [
        (old.pk, "rescheduled"),
        (moved[1].pk, "booked"),
    ]
    assert violations() == []


def test_a_slot_with_a_cancelled_booking_is_retired_and_its_booking_stays_listed(
    doctor, doctor_client, patient, patient_client
):
    slot = TimeSlotFactory(doctor=doctor)
    patient_client.post(reverse("slot-book", args=[slot.pk]))
    patient_client.post(reverse("slot-cancel", args=[slot.pk]))

    assert delete(doctor_client, slot) == DELETED

    assert TimeSlot.objects.filter(pk=slot.pk, retired_at__isnull=False).exists()
    (mine,) = patient_client.get(reverse("user-bookings")).json()
    (theirs,) = doctor_client.get(reverse("doctor-bookings")).json()
    assert mine["status"] == theirs["status"] == "cancelled"
    assert mine["slot"]["id"] == theirs["slot"]["id"] == slot.pk


def test_a_slot_never_booked_is_really_deleted(doctor, doctor_client):
    slot = TimeSlotFactory(doctor=doctor)
    assert delete(doctor_client, slot) == DELETED
    assert not TimeSlot.objects.filter(pk=slot.pk).exists()


def test_a_retired_slot_leaves_every_list(doctor, doctor_client, moved, api_client):
    old, new = moved
    delete(doctor_client, old)

    own = doctor_client.get(reverse("doctor-timeslots")).json()
    assert [row["id"] for row in own] == [new.pk]
    public = api_client.get(reverse("available-slots"), {"doctor": doctor.pk}).json()
    assert old.pk not in [row["id"] for row in public]
    assert not TimeSlot.objects.bookable().filter(pk=old.pk).exists()


def test_every_slot_endpoint_answers_404_for_a_retired_slot(doctor_client, moved, patient):
    old, new = moved
    delete(doctor_client, old)
    other = client_for(PatientFactory())
    booking = Booking.objects.get(status="booked")
    own = client_for(patient)

    assert delete(doctor_client, old) == NOT_FOUND
    assert answer(doctor_client.patch(reverse("slot-toggle", args=[old.pk]))) == NOT_FOUND
    assert answer(other.post(reverse("slot-book", args=[old.pk]))) == NOT_FOUND
    assert answer(other.post(reverse("slot-hold", args=[old.pk]))) == NOT_FOUND
    assert answer(doctor_client.post(reverse("slot-cancel", args=[old.pk]))) == NOT_FOUND
    url = reverse("booking-reschedule", args=[booking.pk])
    assert answer(own.post(url, {"slot_id": old.pk}, format="json")) == NOT_FOUND
    old.refresh_from_db()
    assert (old.is_booked, old.is_available, old.holds.count()) == (False, False, 0)


def test_a_retired_slot_counts_for_nothing(doctor, doctor_client, moved, settings):
    old, new = moved
    delete(doctor_client, old)
    settings.MAX_OPEN_SLOTS_PER_DOCTOR = 1  # the one open slot: none (11:00 is booked)

    # The same time again: no overlap with the retired slot, and within the cap.
    body = {"date": tomorrow().isoformat(), "start_time": "09:00", "end_time": "09:30"}
    response = doctor_client.post(reverse("doctor-timeslots"), body, format="json")

    assert response.status_code == 201
    assert TimeSlot.objects.filter(doctor=doctor, start_time=time(9, 0)).count() == 2


def test_a_booked_or_held_slot_is_still_refused(doctor, doctor_client, patient_client):
    booked = BookingFactory(slot__doctor=doctor).slot
    held = TimeSlotFactory(doctor=doctor, start_time=time(12, 0))
    patient_client.post(reverse("slot-hold", args=[held.pk]))

    assert delete(doctor_client, booked) == (400, {"message": "Booked slot cannot be deleted"})
    assert delete(doctor_client, held) == (400, {"message": "Slot is held"})
    assert not TimeSlot.objects.filter(retired_at__isnull=False).exists()


def test_the_database_refuses_a_retired_slot_marked_booked_or_available(doctor, moved):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    old, _ = moved
    services.slot_delete(slot_id=old.pk, doctor=doctor)
    for flags in ({"is_available": True}, {"is_booked": True}):
        with pytest.raises(IntegrityError), transaction.atomic():
            TimeSlot.objects.filter(pk=old.pk).update(**flags)
    with pytest.raises(IntegrityError), transaction.atomic():
        TimeSlot.objects.filter(pk=moved[1].pk).update(retired_at=timezone.now())
