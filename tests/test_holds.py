"""Holds (Part 3): a slot kept for one patient while they pay."""

from datetime import datetime, time, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from doctor.models import Booking, Hold, TimeSlot
from tests.conftest import client_for, run_together
from tests.factories import BookingFactory, HoldFactory, PatientFactory, TimeSlotFactory
from tests.steps import available_ids, book, cancel, delete, hold, release, toggle

pytestmark = pytest.mark.django_db

HELD = {"message": "Slot is held"}
HOLD_NOT_FOUND = {"message": "Hold not found"}
HELD_RECENTLY = {"message": "Slot was held recently"}


def lapse(hold_id):
    Hold.objects.filter(pk=hold_id).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def slot(db):
    return TimeSlotFactory()


@pytest.fixture
def rival_client(db):
    return client_for(PatientFactory())


# --- placing a hold --------------------------------------------------------------------


def test_a_patient_holds_a_free_slot(patient, patient_client, slot):
    response = hold(patient_client, slot)

    held, body = Hold.objects.get(), response.json()
    assert response.status_code == 201
    assert body == {
        "hold_id": held.id,
        "slot_id": slot.id,
        "expires_at": body["expires_at"],
        "seconds_left": 300,
        "visit_type": "clinic",
    }
    assert datetime.fromisoformat(body["expires_at"]) == held.expires_at
    assert (held.slot, held.patient, held.status) == (slot, patient, "active")


def test_expires_at_carries_its_utc_offset(patient_client, slot):
    expires_at = hold(patient_client, slot).json()["expires_at"]

    assert datetime.fromisoformat(expires_at).utcoffset() is not None


def test_a_hold_lasts_hold_seconds(patient_client, slot, settings):
    settings.HOLD_SECONDS = 90

    body = hold(patient_client, slot).json()

    held = Hold.objects.get()
    assert body["seconds_left"] == 90
    assert abs((held.expires_at - held.created_at).total_seconds() - 90) < 1


def test_holding_again_returns_the_same_hold_unchanged(patient_client, slot):
    first = hold(patient_client, slot).json()
    Hold.objects.update(expires_at=timezone.now() + timedelta(seconds=120))

    again = hold(patient_client, slot)

    assert again.status_code == 200
    assert again.json()["hold_id"] == first["hold_id"]
    assert again.json()["seconds_left"] == 120
    assert Hold.objects.get().expires_at < timezone.now() + timedelta(seconds=121)


def test_holding_another_slot_releases_the_previous_hold(patient_client, slot):
    other = TimeSlotFactory(doctor=slot.doctor, start_time=slot.end_time)
    first = hold(patient_client, slot).json()

    second = hold(patient_client, other)

    assert second.status_code == 201
    assert Hold.objects.get(pk=first["hold_id"]).status == "released"
    assert Hold.objects.live().get().slot == other
    assert slot.id in available_ids(patient_client)


# --- refusals, in the contract's order --------------------------------------------------


def test_holding_an_unknown_slot_is_404(patient_client):
    response = hold(patient_client, 424242)

    assert (response.status_code, response.json()) == (404, {"message": "Slot not found"})


@pytest.mark.parametrize(
    "state,message",
    [
        ({"is_booked": True, "is_available": False}, "Slot already booked"),
        ({"is_available": False}, "Slot is not available"),
        ({"past": True}, "Slot is in the past"),
    ],
    ids=["booked", "disabled", "past"],
)
def test_a_slot_that_cannot_be_booked_cannot_be_held(patient_client, state, message):
    slot = TimeSlotFactory(**state)

    response = hold(patient_client, slot)

    assert (response.status_code, response.json()) == (400, {"message": message})
    assert not Hold.objects.exists()


def test_someone_elses_live_hold_refuses_a_hold(patient_client, rival_client, slot):
    hold(rival_client, slot)

    response = hold(patient_client, slot)

    assert (response.status_code, response.json()) == (400, HELD)
    assert Hold.objects.count() == 1


def test_a_held_slot_answers_held_before_not_available_and_past(patient_client, rival_client):
    slot = TimeSlotFactory()
    hold(rival_client, slot)
    TimeSlot.objects.filter(pk=slot.pk).update(
        is_available=False, date=timezone.localdate() - timedelta(days=1)
    )

    assert hold(patient_client, slot).json() == HELD
    assert book(patient_client, slot).json() == HELD


def test_a_booked_slot_answers_already_booked_before_held(patient_client, rival_client, slot):
    hold(rival_client, slot)
    TimeSlot.objects.filter(pk=slot.pk).update(is_booked=True, is_available=False)

    assert hold(patient_client, slot).json() == {"message": "Slot already booked"}


def test_a_doctor_cannot_hold(doctor_client, slot):
    assert hold(doctor_client, slot).status_code == 403
    assert not Hold.objects.exists()


def test_an_anonymous_caller_cannot_hold(api_client, slot):
    assert hold(api_client, slot).status_code == 401


# --- while a hold lives -----------------------------------------------------------------


def test_a_held_slot_leaves_the_public_list(patient_client, slot):
    hold(patient_client, slot)

    assert slot.id not in available_ids(patient_client)


def test_nobody_else_can_book_a_held_slot(patient_client, rival_client, slot):
    hold(patient_client, slot)

    response = book(rival_client, slot)

    assert (response.status_code, response.json()) == (400, HELD)
    assert not Booking.objects.exists()


@pytest.mark.parametrize("action", [toggle, delete], ids=["slot-toggle", "slot-delete"])
def test_the_doctor_can_neither_toggle_nor_delete_a_held_slot(patient_client, slot, action):
    hold(patient_client, slot)

    response = action(client_for(slot.doctor), slot)

    assert (response.status_code, response.json()) == (400, HELD)
    after = TimeSlot.objects.get(pk=slot.pk)
    assert (after.is_available, after.is_booked) == (True, False)


def test_the_holder_books_and_the_hold_is_used(patient, patient_client, slot):
    held = hold(patient_client, slot).json()

    response = book(patient_client, slot)

    assert response.status_code == 200
    assert Booking.objects.get().patient == patient
    assert Hold.objects.get(pk=held["hold_id"]).status == "used"


def test_a_failed_booking_leaves_the_hold_live(patient_client, slot, monkeypatch):
    from doctor import bookings

    hold(patient_client, slot)

    def refuse(*args, **kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(bookings, "create", refuse)  # the booking's INSERT
    with pytest.raises(IntegrityError):
        book(patient_client, slot)

    assert Hold.objects.get().status == "active"


# --- expiry needs nothing to run ------------------------------------------------------


def test_a_lapsed_hold_frees_the_slot_for_the_public_list(patient_client, slot):
    lapse(hold(patient_client, slot).json()["hold_id"])

    assert slot.id in available_ids(patient_client)


def test_a_lapsed_hold_is_marked_expired_when_someone_else_holds(patient_client, rival_client):
    slot = TimeSlotFactory()
    first = hold(rival_client, slot).json()
    lapse(first["hold_id"])

    response = hold(patient_client, slot)

    assert response.status_code == 201
    assert Hold.objects.get(pk=first["hold_id"]).status == "expired"


def test_a_lapsed_hold_lets_someone_else_book(patient_client, rival_client, slot):
    lapse(hold(rival_client, slot).json()["hold_id"])

    assert book(patient_client, slot).status_code == 200


def test_a_lapsed_hold_of_the_holder_gives_a_new_hold_only_after_the_hour(patient_client, slot):
    first = hold(patient_client, slot).json()
    lapse(first["hold_id"])

    again = hold(patient_client, slot)
    assert (again.status_code, again.json()) == (400, HELD_RECENTLY)

    an_hour_ago(first["hold_id"])
    again = hold(patient_client, slot)

    assert again.status_code == 201
    assert again.json()["hold_id"] != first["hold_id"]
    assert again.json()["seconds_left"] == 300


# --- a hold is never extended, not even by releasing and holding again (issue 18) -------


def an_hour_ago(*hold_ids):
    """Move these holds' placing (and expiry) one hour and a second back."""
    back = timedelta(hours=1, seconds=1)
    Hold.objects.filter(pk__in=hold_ids).update(
        created_at=F("created_at") - back, expires_at=F("expires_at") - back
    )


def test_releasing_and_holding_again_keeps_the_first_expiry(patient_client, slot):
    first = hold(patient_client, slot).json()
    assert release(patient_client, first["hold_id"]).status_code == 200

    again = hold(patient_client, slot)

    assert again.status_code == 201
    assert again.json()["hold_id"] != first["hold_id"]
    assert again.json()["expires_at"] == first["expires_at"]
    assert again.json()["seconds_left"] <= first["seconds_left"]


def test_once_the_first_expiry_has_passed_holding_again_is_refused_but_booking_is_not(
    patient, patient_client, slot
):
    first = hold(patient_client, slot).json()
    release(patient_client, first["hold_id"])
    lapse(first["hold_id"])  # the first hold's end has passed

    refused = hold(patient_client, slot)

    assert (refused.status_code, refused.json()) == (400, HELD_RECENTLY)
    assert Hold.objects.count() == 1
    assert slot.id in available_ids(patient_client)
    assert book(patient_client, slot).status_code == 200
    assert Booking.objects.get().patient == patient


def test_alternating_two_slots_keeps_each_slots_first_expiry(patient_client, slot):
    other = TimeSlotFactory(doctor=slot.doctor, start_time=time(14, 0))
    first_a = hold(patient_client, slot).json()
    first_b = hold(patient_client, other).json()  # releases the hold on `slot`

    again_a = hold(patient_client, slot).json()  # releases the hold on `other`
    again_b = hold(patient_client, other).json()

    assert again_a["expires_at"] == first_a["expires_at"]
    assert again_b["expires_at"] == first_b["expires_at"]
    assert Hold.objects.filter(status="active").get().id == again_b["hold_id"]

    lapse(first_a["hold_id"])
    refused = hold(patient_client, slot)
    assert (refused.status_code, refused.json()) == (400, HELD_RECENTLY)
    # The refusal leaves the live hold on `other` alone.
    assert Hold.objects.filter(status="active").get().id == again_b["hold_id"]


def test_another_patient_holding_the_slot_is_not_bound_by_the_first(
    patient_client, rival_client, slot
):
    first = hold(patient_client, slot).json()
    release(patient_client, first["hold_id"])
    lapse(first["hold_id"])

    theirs = hold(rival_client, slot)

    assert theirs.status_code == 201
    assert theirs.json()["seconds_left"] == 300


def test_after_the_hour_a_hold_lasts_hold_seconds_again(patient_client, slot):
    first = hold(patient_client, slot).json()
    release(patient_client, first["hold_id"])
    an_hour_ago(first["hold_id"])

    again = hold(patient_client, slot)

    assert again.status_code == 201
    assert again.json()["seconds_left"] == 300


# --- release ---------------------------------------------------------------------------


def test_the_holder_releases_a_hold(patient_client, slot):
    held = hold(patient_client, slot).json()

    response = release(patient_client, held["hold_id"])

    assert (response.status_code, response.json()) == (200, {"message": "Hold released"})
    assert Hold.objects.get().status == "released"
    assert slot.id in available_ids(patient_client)


def test_releasing_an_unknown_hold_is_404(patient_client):
    response = release(patient_client, 424242)

    assert (response.status_code, response.json()) == (404, HOLD_NOT_FOUND)


def test_releasing_someone_elses_hold_is_404(patient_client, rival_client, slot):
    held = hold(rival_client, slot).json()

    response = release(patient_client, held["hold_id"])

    assert (response.status_code, response.json()) == (404, HOLD_NOT_FOUND)
    assert Hold.objects.get().status == "active"


def test_releasing_an_expired_hold_is_404(patient_client, slot):
    held = hold(patient_client, slot).json()
    lapse(held["hold_id"])

    response = release(patient_client, held["hold_id"])

    assert (response.status_code, response.json()) == (404, HOLD_NOT_FOUND)


@pytest.mark.parametrize(
    "end",
    [
        lambda client, slot, hold_id: book(client, slot),
        lambda client, slot, hold_id: release(client, hold_id),
    ],
    ids=["used", "released"],
)
def test_releasing_a_hold_that_ended_is_404(patient_client, slot, end):
    held = hold(patient_client, slot).json()
    end(patient_client, slot, held["hold_id"])

    response = release(patient_client, held["hold_id"])

    assert (response.status_code, response.json()) == (404, HOLD_NOT_FOUND)


def test_a_doctor_cannot_release_a_hold(doctor_client, patient_client, slot):
    held = hold(patient_client, slot).json()

    assert release(doctor_client, held["hold_id"]).status_code == 403
    assert Hold.objects.get().status == "active"


# --- the database's own guarantee ----------------------------------------------------


def test_the_database_refuses_two_active_holds_of_one_slot(slot):
    HoldFactory(slot=slot)

    with pytest.raises(IntegrityError), transaction.atomic():
        HoldFactory(slot=slot)


def test_the_database_refuses_two_active_holds_of_one_patient(patient, slot):
    HoldFactory(slot=slot, patient=patient)

    with pytest.raises(IntegrityError), transaction.atomic():
        HoldFactory(slot=TimeSlotFactory(), patient=patient)


def test_a_cancelled_booking_makes_the_slot_holdable_again(patient_client, slot):
    BookingFactory(slot=slot)
    booking = Booking.objects.get()
    cancel(client_for(booking.patient), slot)

    assert hold(patient_client, slot).status_code == 201


# --- races (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_patients_holding_one_slot_get_one_hold():
    slot = TimeSlotFactory()
    clients = [client_for(PatientFactory()) for _ in range(16)]

    responses = run_together([lambda c=c: hold(c, slot) for c in clients])

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [400] * 15
    assert all(r.json() == HELD for r in responses if r.status_code == 400)
    assert Hold.objects.filter(slot=slot, status="active").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_holds_and_bookings_racing_on_one_slot_leave_exactly_one_owner():
    slot = TimeSlotFactory()
    holders = [client_for(PatientFactory()) for _ in range(6)]
    bookers = [client_for(PatientFactory()) for _ in range(6)]
    calls = [lambda c=c: ("hold", hold(c, slot)) for c in holders]
    calls += [lambda c=c: ("book", book(c, slot)) for c in bookers]

    results = run_together(calls)

    wins = [(kind, r) for kind, r in results if r.status_code in (200, 201)]
    assert len(wins) == 1
    live = Hold.objects.live().filter(slot=slot).count()
    booked = Booking.objects.filter(slot=slot, status="booked").count()
    assert live + booked == 1
    assert (wins[0][0] == "hold") == (live == 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_patient_holding_many_slots_at_once_keeps_one_live_hold():
    patient = PatientFactory()
    slots = [TimeSlotFactory() for _ in range(8)]
    clients = [client_for(patient) for _ in slots]

    run_together([lambda c=c, s=s: hold(c, s) for c, s in zip(clients, slots, strict=True)])

    assert Hold.objects.filter(patient=patient, status="active").count() == 1


# --- what the doctor sees ------------------------------------------------------------


def own_rows(slot):
    return {
        row["id"]: row for row in client_for(slot.doctor).get(reverse("doctor-timeslots")).json()
    }


def test_the_doctors_list_shows_a_held_slot_as_held(patient_client, slot):
    free = TimeSlotFactory(doctor=slot.doctor, start_time=slot.end_time)
    hold(patient_client, slot)

    rows = own_rows(slot)

    assert (rows[slot.id]["is_held"], rows[free.id]["is_held"]) == (True, False)


def test_a_lapsed_hold_no_longer_shows_as_held(patient_client, slot):
    lapse(hold(patient_client, slot).json()["hold_id"])

    assert own_rows(slot)[slot.id]["is_held"] is False


def test_create_and_toggle_replies_carry_is_held(doctor_client):
    created = doctor_client.post(
        reverse("doctor-timeslots"),
        {
            "date": str(timezone.localdate() + timedelta(days=2)),
            "start_time": "10:00",
            "end_time": "10:30",
        },
    )
    toggled = toggle(doctor_client, created.json()["id"])

    assert (created.json()["is_held"], toggled.json()["is_held"]) == (False, False)


def test_the_doctors_list_reads_holds_in_the_same_query(
    patient_client, slot, django_assert_num_queries
):
    for n in range(5):
        held = TimeSlotFactory(doctor=slot.doctor, start_time=time(12 + n))
        hold(client_for(PatientFactory()), held)
    client = client_for(slot.doctor)

    with django_assert_num_queries(2):  # the caller, then the slots with their holds
        client.get(reverse("doctor-timeslots"))
