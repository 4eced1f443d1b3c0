"""Reschedule (Part 3): move a booking in one step, or leave everything as it was."""

from datetime import time

import pytest
from django.urls import reverse

from doctor.models import Booking, Hold, TimeSlot
from events.models import Event
from tests.conftest import client_for, run_together
from tests.factories import BookingFactory, DoctorFactory, PatientFactory, TimeSlotFactory
from tests.steps import available_ids, hold, reschedule

pytestmark = pytest.mark.django_db


def state(*slots):
    """Everything a refused reschedule must leave untouched."""
    bookings = list(Booking.objects.order_by("pk").values_list("pk", "slot_id", "status"))
    flags = [TimeSlot.objects.values_list("is_booked", "is_available").get(pk=s.pk) for s in slots]
    holds = list(Hold.objects.order_by("pk").values_list("pk", "status"))
    return bookings, flags, holds


@pytest.fixture
def booking(patient):
    return BookingFactory(patient=patient, slot__start_time=time(9, 0))


@pytest.fixture
def target(booking):
    return TimeSlotFactory(doctor=booking.slot.doctor, start_time=time(11, 0))


def test_a_patient_moves_a_booking_to_another_slot_of_the_doctor(patient_client, booking, target):
    response = reschedule(patient_client, booking, target)

    new = Booking.objects.get(status="booked")
    assert response.status_code == 200
    assert response.json() == {
        "message": "Booking rescheduled",
        "booking_id": new.id,
        "slot_id": target.id,
        "rescheduled_from": booking.id,
        "booked_by": "patient",
        "visit_type": "clinic",
        "fee": None,
    }
    assert (new.slot, new.patient, new.rescheduled_from) == (target, booking.patient, booking)
    booking.refresh_from_db()
    assert booking.status == "rescheduled"


def test_the_old_slot_is_bookable_again_and_the_new_one_booked(patient_client, booking, target):
    reschedule(patient_client, booking, target)

    old, new = TimeSlot.objects.get(pk=booking.slot_id), TimeSlot.objects.get(pk=target.id)
    assert (old.is_booked, old.is_available) == (False, True)
    assert (new.is_booked, new.is_available) == (True, False)
    available = available_ids(patient_client)
    assert booking.slot_id in available and target.id not in available


def test_the_booking_list_shows_both_with_rescheduled_from(patient_client, booking, target):
    reschedule(patient_client, booking, target)

    rows = patient_client.get(reverse("user-bookings")).json()

    assert [(r["status"], r["rescheduled_from"]) for r in rows] == [
        ("booked", booking.id),
        ("rescheduled", None),
    ]


def test_a_move_emits_booking_rescheduled_with_the_new_booking_and_no_created(
    patient_client, booking, target
):
    Event.objects.all().delete()

    reschedule(patient_client, booking, target)

    new = Booking.objects.get(status="booked")
    rows = patient_client.get(reverse("user-bookings")).json()
    assert list(Event.objects.values_list("type", flat=True)) == ["booking.rescheduled"]
    assert Event.objects.get().data == next(r for r in rows if r["id"] == new.id)


def test_a_refused_move_emits_nothing(patient_client, booking):
    Event.objects.all().delete()

    reschedule(patient_client, booking, 424242)

    assert not Event.objects.exists()


def test_the_patients_own_hold_on_the_target_is_used(patient_client, booking, target):
    hold(patient_client, target)

    response = reschedule(patient_client, booking, target)

    assert response.status_code == 200
    assert Hold.objects.get().status == "used"


# --- refusals, in the contract's order; each leaves everything as it was ----------------


def other_patients_booking():
    return BookingFactory(slot__start_time=time(9, 0))


@pytest.mark.parametrize(
    "make_booking,status_code,message",
    [
        (lambda patient: None, 404, "Booking not found"),
        (lambda patient: other_patients_booking(), 404, "Booking not found"),
        (
            lambda patient: BookingFactory(
                patient=patient, status="cancelled", slot__is_booked=False, slot__is_available=True
            ),
            400,
            "Booking is not active",
        ),
        (
            lambda patient: BookingFactory(patient=patient, past=True),
            400,
            "Too late to reschedule",
        ),
    ],
    ids=["unknown", "someone-elses", "not-active", "started"],
)
def test_a_booking_that_cannot_move_is_refused(
    patient, patient_client, make_booking, status_code, message
):
    made = make_booking(patient)
    target = TimeSlotFactory(doctor=made.slot.doctor if made else DoctorFactory())
    slots = [target] + ([made.slot] if made else [])
    before = state(*slots)

    response = reschedule(patient_client, made or 424242, target)

    assert (response.status_code, response.json()) == (status_code, {"message": message})
    assert state(*slots) == before


@pytest.mark.parametrize(
    "target_state,message",
    [
        ({"is_booked": True, "is_available": False}, "Slot already booked"),
        ({"is_available": False}, "Slot is not available"),
        ({"past": True}, "Slot is in the past"),
    ],
    ids=["booked", "disabled", "past"],
)
def test_a_target_that_cannot_be_booked_is_refused(patient_client, booking, target_state, message):
    target = TimeSlotFactory(doctor=booking.slot.doctor, start_time=time(11, 0), **target_state)
    before = state(booking.slot, target)

    response = reschedule(patient_client, booking, target)

    assert (response.status_code, response.json()) == (400, {"message": message})
    assert state(booking.slot, target) == before


def test_an_unknown_target_is_404(patient_client, booking):
    before = state(booking.slot)

    response = reschedule(patient_client, booking, 424242)

    assert (response.status_code, response.json()) == (404, {"message": "Slot not found"})
    assert state(booking.slot) == before


def test_someone_elses_live_hold_on_the_target_refuses(patient_client, booking, target):
    hold(client_for(PatientFactory()), target)
    before = state(booking.slot, target)

    response = reschedule(patient_client, booking, target)

    assert (response.status_code, response.json()) == (400, {"message": "Slot is held"})
    assert state(booking.slot, target) == before


def test_a_slot_of_another_doctor_is_refused(patient_client, booking):
    elsewhere = TimeSlotFactory(start_time=time(11, 0))
    before = state(booking.slot, elsewhere)

    response = reschedule(patient_client, booking, elsewhere)

    assert (response.status_code, response.json()) == (
        400,
        {"message": "Slot belongs to another doctor"},
    )
    assert state(booking.slot, elsewhere) == before


def test_moving_onto_its_own_slot_is_already_booked(patient_client, booking):
    response = reschedule(patient_client, booking, booking.slot_id)

    assert (response.status_code, response.json()) == (400, {"message": "Slot already booked"})
    assert Booking.objects.get().status == "booked"


def test_the_booking_is_checked_before_the_target(patient_client, patient):
    cancelled = BookingFactory(
        patient=patient, status="cancelled", slot__is_booked=False, slot__is_available=True
    )

    response = reschedule(patient_client, cancelled, 424242)

    assert response.json() == {"message": "Booking is not active"}


@pytest.mark.parametrize("body", [{}, {"slot_id": "x"}, {"slot_id": 0}, {"slot_id": None}])
def test_a_malformed_body_is_a_field_error(patient_client, booking, body):
    url = reverse("booking-reschedule", args=[booking.id])

    response = patient_client.post(url, body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["slot_id"]
    assert Booking.objects.get().status == "booked"


def test_a_doctor_cannot_reschedule(booking, target):
    response = reschedule(client_for(booking.slot.doctor), booking, target)

    assert response.status_code == 403
    assert Booking.objects.get().status == "booked"


# --- races (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_patients_rescheduling_into_one_slot_one_wins_the_rest_keep_theirs():
    doctor = DoctorFactory()
    target = TimeSlotFactory(doctor=doctor, start_time=time(17, 0))
    bookings = [BookingFactory(slot__doctor=doctor, slot__start_time=time(8 + n)) for n in range(8)]
    calls = [lambda b=b: reschedule(client_for(b.patient), b, target) for b in bookings]

    responses = run_together(calls)

    assert sorted(r.status_code for r in responses) == [200] + [400] * 7
    assert Booking.objects.filter(slot=target, status="booked").count() == 1
    losers = [b for b, r in zip(bookings, responses, strict=True) if r.status_code == 400]
    assert all(Booking.objects.get(pk=b.pk).status == "booked" for b in losers)
    assert TimeSlot.objects.filter(is_booked=True).count() == 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reschedules_crossing_each_other_do_not_deadlock():
    doctor = DoctorFactory()
    first = BookingFactory(slot__doctor=doctor, slot__start_time=time(8, 0))
    second = BookingFactory(slot__doctor=doctor, slot__start_time=time(9, 0))

    for _ in range(5):
        # Each asks for the other's slot: both lock the same two rows, in id order.
        responses = run_together(
            [
                lambda: reschedule(client_for(first.patient), first, second.slot_id),
                lambda: reschedule(client_for(second.patient), second, first.slot_id),
            ]
        )
        assert [(r.status_code, r.json()) for r in responses] == [
            (400, {"message": "Slot already booked"})
        ] * 2
    assert Booking.objects.filter(status="booked").count() == 2


# --- the old slot goes away between the read and the lock (issue 18) ---------------------


def _meanwhile(monkeypatch, step):
    """Run `step` once, just before booking_reschedule locks its slots."""
    from doctor import bookings

    real = bookings.locked_slots

    def locked_slots(slot_ids):
        monkeypatch.setattr(bookings, "locked_slots", real)
        step()
        return real(slot_ids)

    monkeypatch.setattr(bookings, "locked_slots", locked_slots)


def test_a_booking_deleted_with_its_slot_before_the_lock_is_not_found(
    monkeypatch, patient_client, booking, target
):
    def cancel_and_delete():  # as a delete did before slots were retired
        Booking.objects.filter(pk=booking.pk).update(status="cancelled")
        TimeSlot.objects.filter(pk=booking.slot_id).delete()

    _meanwhile(monkeypatch, cancel_and_delete)
    response = reschedule(patient_client, booking.id, target.id)

    assert (response.status_code, response.json()) == (404, {"message": "Booking not found"})
    target.refresh_from_db()
    assert (target.is_booked, target.is_available) == (False, True)


def test_a_booking_cancelled_and_its_slot_retired_before_the_lock_is_not_active(
    monkeypatch, patient_client, booking, target
):
    from doctor import services

    doctor = booking.slot.doctor

    def cancel_and_retire():
        services.booking_cancel(slot_id=booking.slot_id, user=doctor)
        services.slot_delete(slot_id=booking.slot_id, doctor=doctor)

    _meanwhile(monkeypatch, cancel_and_retire)
    response = reschedule(patient_client, booking.id, target.id)

    # (The step ran inside the reschedule's transaction, so its refusal rolled it back too.)
    assert (response.status_code, response.json()) == (400, {"message": "Booking is not active"})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_a_reschedule_racing_the_old_slots_cancel_and_delete_never_fails(round_):
    from doctor.invariants import violations

    patient = PatientFactory()
    booking = BookingFactory(patient=patient, slot__start_time=time(9, 0))
    doctor = booking.slot.doctor
    target = TimeSlotFactory(doctor=doctor, start_time=time(11, 0))

    def cancel_and_delete():
        doctor_client = client_for(doctor)
        cancel = doctor_client.post(reverse("slot-cancel", args=[booking.slot_id]))
        gone = doctor_client.delete(reverse("slot-delete", args=[booking.slot_id]))
        return cancel.status_code, gone.status_code

    moved, (cancelled, deleted) = run_together(
        [lambda: reschedule(client_for(patient), booking.id, target.id), cancel_and_delete]
    )

    assert deleted == 200  # freed either way: by the move or by the cancel
    if moved.status_code == 200:
        assert (cancelled, moved.json()["rescheduled_from"]) == (400, booking.id)
    else:
        assert cancelled == 200
        assert moved.json() == {"message": "Booking is not active"}
    old = TimeSlot.objects.get(pk=booking.slot_id)  # retired, never deleted: it has a history
    assert old.retired_at is not None
    assert violations() == []
