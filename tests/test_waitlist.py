"""The waitlist (Part 4): FIFO per doctor and date range; a slot that becomes
bookable is offered, in the same transaction, as a hold to the oldest waiting
patient who could hold it, and passes on when that offer is declined, left or lapses."""

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from doctor import services
from doctor.models import Booking, Hold, TimeSlot, WaitlistEntry
from doctor.offers import offer_freed_slot
from doctor.tasks import pass_on_lapsed_holds
from events.models import Event
from tests import steps
from tests.conftest import client_for, run_together
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    HoldFactory,
    PatientFactory,
    TimeSlotFactory,
    WaitlistEntryFactory,
    tomorrow,
)
from tests.steps import book, cancel, delete, hold, release, reschedule, toggle

pytestmark = pytest.mark.django_db

HELD = {"message": "Slot is held"}
ALREADY_WAITING = {"message": "Already on the waitlist"}
ENTRY_NOT_FOUND = {"message": "Waitlist entry not found"}
LEFT = {"message": "Left the waitlist"}


# --- helpers ---------------------------------------------------------------------------


def join(client, doctor, date_from=None, date_to=None):
    day = tomorrow().isoformat()
    body = {"doctor": doctor.id, "date_from": date_from or day, "date_to": date_to or day}
    return client.post(reverse("waitlist"), body, format="json")


def leave(client, entry):
    return client.delete(reverse("waitlist-leave", args=[entry.id]))


def waiting(doctor, *, minutes_ago=0, patient=None, date_from=None, date_to=None):
    """A waiting entry that joined `minutes_ago` (FIFO is by created_at, id)."""
    return WaitlistEntryFactory(
        patient=patient or PatientFactory(),
        doctor=doctor,
        date_from=date_from or tomorrow(),
        date_to=date_to or tomorrow(),
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def available_ids():
    return steps.available_ids(client_for(PatientFactory()))


def reloaded(entry):
    entry.refresh_from_db()
    return entry


def offered_to(entry, slot):
    """The entry holds a live offer of exactly this slot."""
    entry = reloaded(entry)
    offer = entry.offer
    return (
        entry.status == "offered"
        and offer.slot_id == slot.id
        and offer.kind == "offer"
        and offer.patient_id == entry.patient_id
        and offer.is_live
    )


def entry_row(entry):
    """The entry as the waitlist list shows it, from the stored row."""
    entry = reloaded(entry)
    offer = entry.offer if entry.status == "offered" else None
    return {
        "id": entry.id,
        "doctor": entry.doctor_id,
        "date_from": entry.date_from.isoformat(),
        "date_to": entry.date_to.isoformat(),
        "status": entry.status,
        "created_at": timezone.localtime(entry.created_at).isoformat().replace("+00:00", "Z"),
        "offer": offer
        and {
            "hold_id": offer.id,
            "slot_id": offer.slot_id,
            "expires_at": timezone.localtime(offer.expires_at).isoformat().replace("+00:00", "Z"),
        },
    }


@pytest.fixture
def slot(doctor):
    return TimeSlotFactory(doctor=doctor)


@pytest.fixture
def booked(doctor):
    """A slot of `doctor` booked by some patient."""
    return BookingFactory(slot__doctor=doctor)


# --- join, list, leave ---------------------------------------------------------------------


def test_a_patient_joins_a_doctors_waitlist(patient, patient_client, doctor):
    response = join(patient_client, doctor, "2030-01-10", "2030-01-20")

    entry = WaitlistEntry.objects.get()
    assert response.status_code == 201
    assert response.json() == {
        "id": entry.id,
        "doctor": doctor.id,
        "date_from": "2030-01-10",
        "date_to": "2030-01-20",
        "status": "waiting",
        "created_at": response.json()["created_at"],
        "offer": None,
    }
    assert datetime.fromisoformat(response.json()["created_at"]) == entry.created_at
    assert (entry.patient, entry.doctor, entry.status) == (patient, doctor, "waiting")


def test_joining_the_same_doctors_waitlist_again_is_refused(patient_client, doctor):
    join(patient_client, doctor)

    response = join(patient_client, doctor, "2030-01-10", "2030-01-20")

    assert (response.status_code, response.json()) == (400, ALREADY_WAITING)
    assert WaitlistEntry.objects.count() == 1


def test_an_offered_entry_counts_as_on_the_waitlist(patient, patient_client, doctor, booked):
    waiting(doctor, patient=patient)
    cancel(client_for(doctor), booked.slot)

    response = join(patient_client, doctor)

    assert (response.status_code, response.json()) == (400, ALREADY_WAITING)


def test_a_patient_may_wait_for_two_doctors(patient_client, doctor, other_doctor):
    join(patient_client, doctor)

    assert join(patient_client, other_doctor).status_code == 201


def test_a_patient_who_left_may_join_again(patient, patient_client, doctor):
    entry = waiting(doctor, patient=patient)
    leave(patient_client, entry)

    assert join(patient_client, doctor).status_code == 201


@pytest.mark.parametrize("who", ["unknown", "patient", "inactive doctor"])
def test_joining_anyone_but_an_active_doctor_is_refused(patient_client, who):
    doctor_id = {
        "unknown": lambda: 424242,
        "patient": lambda: PatientFactory().id,
        "inactive doctor": lambda: DoctorFactory(is_active=False).id,
    }[who]()
    body = {"doctor": doctor_id, "date_from": "2030-01-10", "date_to": "2030-01-10"}

    response = patient_client.post(reverse("waitlist"), body, format="json")

    assert response.status_code == 400
    assert response.json() == {"doctor": [f'Invalid pk "{doctor_id}" - object does not exist.']}
    assert not WaitlistEntry.objects.exists()


def test_a_range_ending_before_it_starts_is_refused(patient_client, doctor):
    response = join(patient_client, doctor, "2030-01-20", "2030-01-10")

    assert (response.status_code, response.json()) == (
        400,
        {"date_to": ["Must not be before date_from."]},
    )
    assert not WaitlistEntry.objects.exists()


def test_a_range_ending_before_today_is_refused_as_a_field_error(patient, patient_client, doctor):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = join(patient_client, doctor, yesterday, yesterday)

    assert (response.status_code, response.json()) == (
        400,
        {"date_to": ["Must not be before today."]},
    )
    assert not WaitlistEntry.objects.exists()
    # A range ending today is still fine.
    today = timezone.localdate().isoformat()
    assert join(patient_client, doctor, yesterday, today).status_code == 201


def test_a_passed_range_is_expired_and_does_not_block_a_new_join(patient, patient_client, doctor):
    two_days_ago = timezone.localdate() - timedelta(days=2)
    old = waiting(doctor, patient=patient, date_from=two_days_ago, date_to=two_days_ago)

    (listed,) = patient_client.get(reverse("waitlist")).json()
    assert (listed["id"], listed["status"]) == (old.id, "expired")
    assert (leave(patient_client, old).status_code, leave(patient_client, old).json()) == (
        404,
        ENTRY_NOT_FOUND,
    )

    response = join(patient_client, doctor)

    assert response.status_code == 201
    assert response.json()["status"] == "waiting"
    assert reloaded(old).status == "expired"  # written down by the join
    assert WaitlistEntry.objects.filter(patient=patient, status="waiting").count() == 1


def test_the_periodic_task_writes_down_passed_ranges(doctor):
    yesterday = timezone.localdate() - timedelta(days=1)
    passed = waiting(doctor, date_from=yesterday, date_to=yesterday)
    current = waiting(doctor, date_from=yesterday)  # ends tomorrow: still waiting

    pass_on_lapsed_holds()

    assert (reloaded(passed).status, reloaded(current).status) == ("expired", "waiting")


@pytest.mark.parametrize("value", ["2030-1-10", "10/01/2030", "2030-01-10T00:00"])
def test_dates_are_iso_only(patient_client, doctor, value):
    response = join(patient_client, doctor, value, "2030-01-20")

    assert response.status_code == 400
    assert response.json() == {
        "date_from": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]
    }
    assert not WaitlistEntry.objects.exists()


def test_joining_needs_the_doctor_and_both_dates(patient_client):
    response = patient_client.post(reverse("waitlist"), {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "doctor": ["This field is required."],
        "date_from": ["This field is required."],
        "date_to": ["This field is required."],
    }


def test_a_doctor_cannot_join_a_waitlist(doctor_client, other_doctor):
    response = join(doctor_client, other_doctor)

    assert response.status_code == 403
    assert not WaitlistEntry.objects.exists()


def test_joining_with_an_idempotency_key_replays_the_first_reply(patient_client, doctor):
    body = {"doctor": doctor.id, "date_from": "2030-01-10", "date_to": "2030-01-20"}

    once, again = (
        patient_client.post(reverse("waitlist"), body, format="json", HTTP_IDEMPOTENCY_KEY="j-1")
        for _ in range(2)
    )

    assert (once.status_code, again.status_code) == (201, 201)
    assert again.content == once.content
    assert again["Idempotent-Replayed"] == "true"
    assert WaitlistEntry.objects.count() == 1


def test_joining_does_not_offer_a_slot_that_is_already_public(patient_client, doctor, slot):
    join(patient_client, doctor)

    assert WaitlistEntry.objects.get().status == "waiting"
    assert not Hold.objects.exists()
    assert slot.id in available_ids()


def test_the_list_shows_the_callers_entries_newest_first(patient, patient_client, doctor):
    older = waiting(doctor, patient=patient, minutes_ago=5)
    older.status = "left"
    older.save()
    newer = waiting(DoctorFactory(), patient=patient)
    waiting(doctor)  # someone else's

    response = patient_client.get(reverse("waitlist"))

    assert response.status_code == 200
    assert response.json() == [entry_row(newer), entry_row(older)]


def test_the_list_shows_a_live_offer(patient, patient_client, doctor, booked):
    entry = waiting(doctor, patient=patient)
    cancel(client_for(doctor), booked.slot)

    (row,) = patient_client.get(reverse("waitlist")).json()

    offer = reloaded(entry).offer
    assert row == entry_row(entry)
    assert (row["status"], row["offer"]["hold_id"], row["offer"]["slot_id"]) == (
        "offered",
        offer.id,
        booked.slot_id,
    )
    assert datetime.fromisoformat(row["offer"]["expires_at"]) == offer.expires_at


def test_a_lapsed_offer_reads_expired_before_the_task_has_run(
    frozen, patient, patient_client, doctor, booked
):
    waiting(doctor, patient=patient)
    cancel(client_for(doctor), booked.slot)

    frozen.move(seconds=901)
    (row,) = patient_client.get(reverse("waitlist")).json()

    assert (row["status"], row["offer"]) == ("expired", None)


def test_a_patient_leaves_the_waitlist(patient, patient_client, doctor):
    entry = waiting(doctor, patient=patient)

    response = leave(patient_client, entry)

    assert (response.status_code, response.json()) == (200, LEFT)
    assert reloaded(entry).status == "left"


def test_leaving_someone_elses_entry_is_404(patient_client, doctor):
    entry = waiting(doctor)

    response = leave(patient_client, entry)

    assert (response.status_code, response.json()) == (404, ENTRY_NOT_FOUND)
    assert reloaded(entry).status == "waiting"


@pytest.mark.parametrize("entry_id", ["424242", "abc", "9" * 30])
def test_leaving_an_unknown_entry_is_404(patient_client, entry_id):
    response = patient_client.delete(f"/api/doctor/waitlist/{entry_id}/")

    assert (response.status_code, response.json()) == (404, ENTRY_NOT_FOUND)


def test_leaving_twice_is_404(patient, patient_client, doctor):
    entry = waiting(doctor, patient=patient)
    leave(patient_client, entry)

    response = leave(patient_client, entry)

    assert (response.status_code, response.json()) == (404, ENTRY_NOT_FOUND)
    assert reloaded(entry).status == "left"


# --- every path that makes a slot bookable offers it --------------------------------------


def test_a_cancelled_booking_is_offered_to_the_oldest_waiting_patient(doctor, booked):
    newer, oldest = waiting(doctor, minutes_ago=1), waiting(doctor, minutes_ago=9)

    response = cancel(client_for(booked.patient), booked.slot)

    assert response.status_code == 200
    assert offered_to(oldest, booked.slot)
    assert reloaded(newer).status == "waiting"
    assert booked.slot_id not in available_ids()


def test_equal_join_times_go_by_id(doctor, booked):
    first, second = waiting(doctor), waiting(doctor)
    WaitlistEntry.objects.update(created_at=timezone.now())

    cancel(client_for(doctor), booked.slot)

    assert offered_to(first, booked.slot)
    assert reloaded(second).status == "waiting"


def test_a_doctors_cancel_offers_the_slot(doctor, booked):
    entry = waiting(doctor)

    cancel(client_for(doctor), booked.slot)

    assert offered_to(entry, booked.slot)


def test_the_offer_lasts_offer_seconds(doctor, booked, settings):
    settings.OFFER_SECONDS = 120
    entry = waiting(doctor)

    cancel(client_for(doctor), booked.slot)

    offer = reloaded(entry).offer
    assert abs((offer.expires_at - offer.created_at).total_seconds() - 120) < 1


def test_an_offer_emits_waitlist_offered_with_the_entry_as_listed(doctor, booked):
    entry = waiting(doctor)

    cancel(client_for(doctor), booked.slot)

    event = Event.objects.get(type="waitlist.offered")
    assert event.data == entry_row(entry)


def test_a_rescheduled_booking_offers_the_slot_it_left(doctor, booked):
    entry = waiting(doctor)
    target = TimeSlotFactory(doctor=doctor, start_time=time(15, 0))

    response = reschedule(client_for(booked.patient), booked, target)

    assert response.status_code == 200
    assert offered_to(entry, booked.slot)


def test_a_released_hold_offers_the_slot(doctor, slot):
    entry, holder = waiting(doctor), client_for(PatientFactory())
    hold_id = hold(holder, slot).json()["hold_id"]

    response = release(holder, hold_id)

    assert response.status_code == 200
    assert offered_to(entry, slot)


def test_holding_another_slot_offers_the_slot_let_go(doctor, slot):
    entry, holder = waiting(doctor), client_for(PatientFactory())
    other = TimeSlotFactory(doctor=doctor, start_time=time(15, 0))
    hold(holder, slot)

    assert hold(holder, other).status_code == 201

    assert offered_to(entry, slot)


def test_a_slot_toggled_back_to_available_is_offered(doctor, doctor_client, slot):
    TimeSlot.objects.filter(pk=slot.pk).update(is_available=False)
    entry = waiting(doctor)

    response = toggle(doctor_client, slot)

    assert response.status_code == 200
    assert (response.json()["is_available"], response.json()["is_held"]) == (True, True)
    assert offered_to(entry, slot)


def test_a_slot_toggled_off_is_not_offered(doctor, doctor_client, slot):
    entry = waiting(doctor)

    toggle(doctor_client, slot)

    assert reloaded(entry).status == "waiting"
    assert not Hold.objects.exists()


def test_a_new_slot_is_offered(doctor, doctor_client):
    entry = waiting(doctor)
    body = {"date": tomorrow().isoformat(), "start_time": "10:00", "end_time": "10:30"}

    response = doctor_client.post(reverse("doctor-timeslots"), body, format="json")

    assert response.status_code == 201
    assert response.json()["is_held"] is True
    assert offered_to(entry, TimeSlot.objects.get())


def test_bulk_created_slots_go_one_each_to_the_waiting_patients_in_order(doctor, doctor_client):
    first, second = waiting(doctor, minutes_ago=2), waiting(doctor, minutes_ago=1)
    third = waiting(
        doctor, date_from=tomorrow() + timedelta(days=3), date_to=tomorrow() + timedelta(days=5)
    )
    body = {
        "date": tomorrow().isoformat(),
        "start_time": "09:00",
        "end_time": "10:30",
        "duration": 30,
    }

    response = doctor_client.post(reverse("slot-bulk"), body, format="json")

    early, middle, late = TimeSlot.objects.order_by("start_time")
    assert response.status_code == 201
    assert offered_to(first, early) and offered_to(second, middle)
    assert reloaded(third).status == "waiting"
    assert available_ids() == [late.id]


def test_a_slot_outside_every_range_is_not_offered(doctor, booked):
    entry = waiting(
        doctor, date_from=tomorrow() + timedelta(days=1), date_to=tomorrow() + timedelta(days=9)
    )

    cancel(client_for(doctor), booked.slot)

    assert reloaded(entry).status == "waiting"
    assert booked.slot_id in available_ids()


def test_a_slot_is_offered_only_to_its_doctors_waitlist(doctor, booked):
    entry = waiting(DoctorFactory())

    cancel(client_for(doctor), booked.slot)

    assert reloaded(entry).status == "waiting"
    assert booked.slot_id in available_ids()


def test_the_patient_who_cancels_is_not_offered_the_slot_back(doctor, booked):
    theirs = waiting(doctor, patient=booked.patient, minutes_ago=9)
    next_one = waiting(doctor)

    cancel(client_for(booked.patient), booked.slot)

    assert reloaded(theirs).status == "waiting"
    assert offered_to(next_one, booked.slot)


def test_an_inactive_patient_is_skipped(doctor, booked):
    gone = waiting(doctor, patient=PatientFactory(is_active=False), minutes_ago=9)
    entry = waiting(doctor)

    cancel(client_for(doctor), booked.slot)

    assert reloaded(gone).status == "waiting"
    assert offered_to(entry, booked.slot)


def test_a_patient_who_could_not_hold_the_slot_is_skipped(doctor, booked, settings):
    # Eligibility is _refuse_unbookable's: a clinic rule refusing the patient skips them.
    settings.MAX_ACTIVE_BOOKINGS = 1
    refused = waiting(doctor, minutes_ago=9)
    BookingFactory(patient=refused.patient, slot__start_time=time(15, 0))  # at the cap
    entry = waiting(doctor)

    cancel(client_for(doctor), booked.slot)

    assert reloaded(refused).status == "waiting"
    assert offered_to(entry, booked.slot)


def test_a_slot_of_a_deactivated_doctor_is_not_offered(doctor, slot):
    TimeSlot.objects.filter(pk=slot.pk).update(is_available=False)
    entry = waiting(doctor)
    doctor.is_active = False
    doctor.save(update_fields=["is_active"])

    services.slot_toggle(slot_id=slot.id, doctor=doctor)

    assert reloaded(entry).status == "waiting"


def test_a_free_unheld_slot_marked_unfit_is_judged_gone_not_offered(doctor, slot):
    # The offer judges the locked row (no bookable() query): a schedule-made slot
    # that no longer fits, free and unheld, is gone (rules.gone_unfit), as the list has it.
    TimeSlot.objects.filter(pk=slot.pk).update(source="schedule", unscheduled_at=timezone.now())
    slot.refresh_from_db()
    entry = waiting(doctor)

    assert offer_freed_slot(slot, change=None) is None
    assert reloaded(entry).status == "waiting"
    assert not TimeSlot.objects.bookable().filter(pk=slot.pk).exists()


def test_a_past_slot_made_available_is_not_offered(doctor):
    slot = TimeSlotFactory(doctor=doctor, past=True)
    TimeSlot.objects.filter(pk=slot.pk).update(is_available=False)
    entry = waiting(doctor, date_from=slot.date, date_to=slot.date)

    toggle(client_for(doctor), slot)

    assert reloaded(entry).status == "waiting"
    assert not Hold.objects.exists()


# --- the offer -----------------------------------------------------------------------------


def test_an_offered_slot_is_held_for_everyone_else(doctor, booked):
    waiting(doctor)
    cancel(client_for(doctor), booked.slot)
    rival = client_for(PatientFactory())

    assert (book(rival, booked.slot).status_code, book(rival, booked.slot).json()) == (400, HELD)
    assert (hold(rival, booked.slot).status_code, hold(rival, booked.slot).json()) == (400, HELD)
    assert Booking.objects.filter(slot=booked.slot, status="booked").count() == 0


# A booked slot's hold is read with what the write reads under the slot's lock and
# handed to the unit of work (Change.freed): it decides the offer as a read of its own would.


def test_a_cancelled_slot_someone_still_holds_is_not_offered(doctor, booked):
    HoldFactory(slot=booked.slot)
    entry = waiting(doctor)

    assert cancel(client_for(doctor), booked.slot).status_code == 200

    assert reloaded(entry).status == "waiting"


def test_a_cancelled_slot_whose_hold_lapsed_ends_it_and_is_offered(doctor, booked):
    lapsed = HoldFactory(slot=booked.slot, lapsed=True)
    entry = waiting(doctor)

    assert cancel(client_for(doctor), booked.slot).status_code == 200

    lapsed.refresh_from_db()
    assert lapsed.status == "expired"
    assert offered_to(entry, booked.slot)


def test_a_slot_moved_from_that_someone_still_holds_is_not_offered(doctor, booked):
    HoldFactory(slot=booked.slot)
    target = TimeSlotFactory(doctor=doctor, start_time=time(15, 0))
    entry = waiting(doctor)

    assert reschedule(client_for(booked.patient), booked, target).status_code == 200

    assert reloaded(entry).status == "waiting"


def test_a_slot_moved_from_whose_hold_lapsed_ends_it_and_is_offered(doctor, booked):
    lapsed = HoldFactory(slot=booked.slot, lapsed=True)
    target = TimeSlotFactory(doctor=doctor, start_time=time(15, 0))
    entry = waiting(doctor)

    assert reschedule(client_for(booked.patient), booked, target).status_code == 200

    lapsed.refresh_from_db()
    assert lapsed.status == "expired"
    assert offered_to(entry, booked.slot)


def test_the_offered_patient_books_the_slot(patient, patient_client, doctor, booked):
    entry = waiting(doctor, patient=patient)
    cancel(client_for(doctor), booked.slot)
    offer = reloaded(entry).offer

    response = book(patient_client, booked.slot)

    assert response.status_code == 200
    assert reloaded(entry).status == "booked"
    offer.refresh_from_db()
    assert offer.status == "used"
    assert Booking.objects.get(slot=booked.slot, status="booked").patient == patient
    assert patient_client.get(reverse("waitlist")).json()[0]["offer"] is None


def test_the_offered_patient_may_move_a_booking_onto_the_offered_slot(
    patient, patient_client, doctor, booked
):
    entry = waiting(doctor, patient=patient)
    mine = BookingFactory(slot__doctor=doctor, slot__start_time=time(15, 0), patient=patient)
    cancel(client_for(doctor), booked.slot)

    response = reschedule(patient_client, mine, booked.slot)

    assert response.status_code == 200
    assert reloaded(entry).status == "booked"


def test_holding_the_offered_slot_returns_the_offer(patient, patient_client, doctor, booked):
    entry = waiting(doctor, patient=patient)
    cancel(client_for(doctor), booked.slot)

    response = hold(patient_client, booked.slot)

    assert response.status_code == 200
    assert response.json()["hold_id"] == reloaded(entry).offer_id


def test_an_offer_does_not_release_the_patients_own_hold(patient, patient_client, doctor, booked):
    mine = TimeSlotFactory(doctor=doctor, start_time=time(15, 0))
    own = hold(patient_client, mine).json()["hold_id"]
    waiting(doctor, patient=patient)

    cancel(client_for(doctor), booked.slot)

    assert Hold.objects.get(pk=own).is_live
    assert set(Hold.objects.live().filter(patient=patient).values_list("kind", flat=True)) == {
        "hold",
        "offer",
    }


def test_holding_another_slot_keeps_the_offer(patient, patient_client, doctor, booked):
    entry = waiting(doctor, patient=patient)
    cancel(client_for(doctor), booked.slot)

    assert hold(patient_client, TimeSlotFactory(start_time=time(15, 0))).status_code == 201

    assert offered_to(entry, booked.slot)


# --- passing on, FIFO ---------------------------------------------------------------------------


def test_a_declined_offer_passes_to_the_next_patient(doctor, booked):
    first, second = waiting(doctor, minutes_ago=2), waiting(doctor, minutes_ago=1)
    cancel(client_for(doctor), booked.slot)

    response = release(client_for(first.patient), reloaded(first).offer_id)

    assert (response.status_code, response.json()) == (200, {"message": "Hold released"})
    assert reloaded(first).status == "declined"
    assert offered_to(second, booked.slot)


def test_a_lapsed_offer_passes_on_when_the_task_runs(frozen, doctor, booked):
    first, second = waiting(doctor, minutes_ago=2), waiting(doctor, minutes_ago=1)
    cancel(client_for(doctor), booked.slot)
    lapsed = reloaded(first).offer

    frozen.move(seconds=901)
    assert services.lapsed_holds_pass_on() == 1
    assert offered_to(second, booked.slot)

    assert reloaded(first).status == "expired"
    lapsed.refresh_from_db()
    assert lapsed.status == "expired"


def test_a_live_offer_is_left_alone_by_the_task(frozen, doctor, booked):
    entry = waiting(doctor)
    cancel(client_for(doctor), booked.slot)

    frozen.move(seconds=899)
    assert services.lapsed_holds_pass_on() == 0

    assert offered_to(entry, booked.slot)


def test_offers_pass_on_in_join_order_until_the_list_is_done(frozen, doctor, booked):
    entries = [waiting(doctor, minutes_ago=10 - n) for n in range(3)]
    cancel(client_for(doctor), booked.slot)

    seen = []
    for _ in range(3):
        seen.append(WaitlistEntry.objects.get(status="offered").pk)
        frozen.move(seconds=901)
        pass_on_lapsed_holds()

    assert seen == [e.pk for e in entries]
    assert [reloaded(e).status for e in entries] == ["expired"] * 3
    assert booked.slot_id in available_ids()


def test_a_lapsed_plain_hold_is_offered_when_the_task_runs(frozen, doctor, slot):
    entry = waiting(doctor)
    hold(client_for(PatientFactory()), slot)

    frozen.move(seconds=301)
    assert pass_on_lapsed_holds() == 1
    assert offered_to(entry, slot)


def test_the_task_is_harmless_twice(frozen, doctor, booked):
    first, second = waiting(doctor, minutes_ago=2), waiting(doctor, minutes_ago=1)
    cancel(client_for(doctor), booked.slot)

    frozen.move(seconds=901)
    assert pass_on_lapsed_holds() == 1
    offer = reloaded(second).offer
    assert pass_on_lapsed_holds() == 0
    assert reloaded(second).offer == offer

    assert Hold.objects.filter(kind="offer").count() == 2
    assert reloaded(first).status == "expired"


def test_the_task_runs_every_thirty_seconds(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["waitlist-pass-on"]

    assert (entry["task"], entry["schedule"]) == ("doctor.tasks.pass_on_lapsed_holds", 30.0)


def test_leaving_with_a_live_offer_releases_it_and_passes_it_on(doctor, booked):
    first, second = waiting(doctor, minutes_ago=2), waiting(doctor, minutes_ago=1)
    cancel(client_for(doctor), booked.slot)
    offer = reloaded(first).offer

    response = leave(client_for(first.patient), first)

    assert (response.status_code, response.json()) == (200, LEFT)
    assert reloaded(first).status == "left"
    offer.refresh_from_db()
    assert offer.status == "released"
    assert offered_to(second, booked.slot)


def test_leaving_with_a_lapsed_offer_passes_it_on_at_once(frozen, doctor, booked):
    first, second = waiting(doctor, minutes_ago=2), waiting(doctor, minutes_ago=1)
    cancel(client_for(doctor), booked.slot)

    frozen.move(seconds=901)
    response = leave(client_for(first.patient), first)
    assert offered_to(second, booked.slot)

    assert (response.status_code, reloaded(first).status) == (200, "left")


def test_a_lapsed_offer_ends_its_entry_when_someone_books_the_slot(frozen, doctor, booked):
    entry = waiting(doctor)
    cancel(client_for(doctor), booked.slot)

    frozen.move(seconds=901)
    assert book(client_for(PatientFactory()), booked.slot).status_code == 200

    assert reloaded(entry).status == "expired"


def test_deleting_a_slot_with_a_lapsed_offer_ends_the_entry(frozen, doctor, doctor_client, booked):
    entry = waiting(doctor)
    cancel(doctor_client, booked.slot)

    frozen.move(seconds=901)
    response = delete(doctor_client, booked.slot)

    assert response.status_code == 200
    # The slot had a booking: it is retired, and the lapsed offer stays as history.
    assert reloaded(entry).status == "expired"
    assert (reloaded(entry).offer.status, reloaded(entry).offer.slot.retired_at is None) == (
        "expired",
        False,
    )


# --- races (PostgreSQL) ------------------------------------------------------------------


def a_lapsed_offer(*minutes_ago):
    """A booked slot, entries that joined `minutes_ago` each, then the slot cancelled
    (so offered to the first entry) and the offer lapsed: (slot, entries)."""
    slot = BookingFactory().slot
    entries = [waiting(slot.doctor, minutes_ago=minutes) for minutes in minutes_ago]
    cancel(client_for(slot.doctor), slot)
    Hold.objects.filter(slot=slot).update(expires_at=timezone.now() - timedelta(seconds=1))
    return slot, entries


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_a_cancel_and_a_booking_racing_leave_the_slot_offered_or_booked(round_):
    booking = BookingFactory()
    slot, entry = booking.slot, waiting(booking.slot.doctor)
    owner, rival = client_for(booking.patient), client_for(PatientFactory())

    cancelled, booked_reply = run_together([lambda: cancel(owner, slot), lambda: book(rival, slot)])

    assert cancelled.status_code == 200
    assert booked_reply.json() in (HELD, {"message": "Slot already booked"})
    live = Hold.objects.live().filter(slot=slot).count()
    active = Booking.objects.filter(slot=slot, status="booked").count()
    assert (live, active) == (1, 0)
    assert offered_to(entry, slot)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_a_lapsed_offer_passing_on_and_a_booking_racing_end_offered_xor_booked(round_):
    slot, (first, second) = a_lapsed_offer(2, 1)
    rival = client_for(PatientFactory())

    _, reply = run_together([services.lapsed_holds_pass_on, lambda: book(rival, slot)])

    live = Hold.objects.live().filter(slot=slot).count()
    active = Booking.objects.filter(slot=slot, status="booked").count()
    assert live + active == 1
    assert (reply.status_code == 200) == (active == 1)
    assert reloaded(first).status == "expired"
    assert reloaded(second).status == ("waiting" if active else "offered")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_joins_by_one_patient_make_one_entry():
    patient, doctor = PatientFactory(), DoctorFactory()
    clients = [client_for(patient) for _ in range(4)]

    replies = run_together([lambda c=c: join(c, doctor) for c in clients])

    assert sorted(r.status_code for r in replies) == [201, 400, 400, 400]
    assert all(r.json() == ALREADY_WAITING for r in replies if r.status_code == 400)
    assert WaitlistEntry.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_slots_freed_at_once_make_one_offer_per_entry():
    doctor = DoctorFactory()
    bookings = [BookingFactory(slot__doctor=doctor, slot__start_time=time(h)) for h in (10, 11)]
    first, second = waiting(doctor, minutes_ago=2), waiting(doctor, minutes_ago=1)

    run_together([lambda b=b: cancel(client_for(b.patient), b.slot) for b in bookings])

    assert Hold.objects.live().filter(kind="offer").count() == 2
    slots = {reloaded(first).offer.slot_id, reloaded(second).offer.slot_id}
    assert slots == {b.slot_id for b in bookings}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_passing_on_at_once_make_one_offer():
    slot, (first, second, third) = a_lapsed_offer(2, 1, 0)

    results = run_together([services.lapsed_holds_pass_on, services.lapsed_holds_pass_on])

    assert sorted(results) == [0, 1]
    assert offered_to(second, slot)
    assert (reloaded(first).status, reloaded(third).status) == ("expired", "waiting")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_leaving_and_declining_one_offer_at_once_end_it_once_and_pass_it_on(round_):
    booking = BookingFactory()
    slot = booking.slot
    first, second = waiting(slot.doctor, minutes_ago=2), waiting(slot.doctor, minutes_ago=1)
    cancel(client_for(slot.doctor), slot)
    offer_id, client = reloaded(first).offer_id, client_for(first.patient)

    left, released = run_together(
        [
            lambda: leave(client, first),
            lambda: release(client, offer_id),
        ]
    )

    assert sorted([left.status_code, released.status_code]) == [200, 404]
    assert reloaded(first).status == ("left" if left.status_code == 200 else "declined")
    assert offered_to(second, slot)
