"""The audit trail: one entry per change, in the write's transaction, with its actor
and its changed fields (ids and values only), and never rewritten or deleted."""

import json
from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from doctor import services
from doctor.models import Booking, Hold, TimeSlot
from doctor.unit import slot_change
from events.models import Event
from tests.conftest import client_for
from tests.factories import (
    BookingFactory,
    HoldFactory,
    PatientFactory,
    TimeSlotFactory,
    WaitlistEntryFactory,
    tomorrow,
)
from tests.steps import book, cancel, delete, hold, release, reschedule, toggle

pytestmark = pytest.mark.django_db


def trail(**filters):
    """The entries, oldest first, as (action, actor id or None)."""
    return [(e.action, e.actor_id) for e in AuditEntry.objects.filter(**filters)]


@pytest.fixture
def slot(doctor):
    return TimeSlotFactory(doctor=doctor)


def test_a_booking_writes_one_booking_created_by_its_patient(patient, patient_client, slot):
    assert book(patient_client, slot).status_code == 200
    booking = Booking.objects.get()
    (entry,) = AuditEntry.objects.all()
    assert (entry.action, entry.actor, entry.slot_id, entry.booking_id) == (
        "booking.created",
        {"id": patient.pk, "role": "user"},
        slot.pk,
        booking.pk,
    )
    assert entry.changes == {
        "status": [None, "booked"],
        "patient_id": [None, patient.pk],
        "booked_by": [None, "patient"],
        "visit_type": [None, "clinic"],
        "fee": [None, float(slot.doctor.consultation_fee)],
        "slot.is_booked": [False, True],
        "slot.is_available": [True, False],
    }


def test_a_booking_from_a_hold_names_the_hold_it_used(patient, patient_client, slot):
    hold(patient_client, slot)
    held = Hold.objects.get()
    book(patient_client, slot)
    assert trail() == [("hold.created", patient.pk), ("booking.created", patient.pk)]
    entry = AuditEntry.objects.get(action="booking.created")
    assert entry.changes["hold_id"] == [held.pk, held.pk]
    assert entry.changes["hold.status"] == ["active", "used"]


def test_a_refused_booking_writes_no_entry_and_no_event(patient_client, slot):
    slot.is_available = False
    slot.save()
    assert book(patient_client, slot).status_code == 400
    assert not AuditEntry.objects.exists()
    assert not Event.objects.exists()


def test_every_outbox_event_of_a_booking_comes_with_its_entry(patient_client, slot):
    book(patient_client, slot)
    cancel(patient_client, slot)
    assert [e.type for e in Event.objects.order_by("created_at")] == [
        "booking.created",
        "booking.cancelled",
    ]
    assert [a for a, _ in trail()] == ["booking.created", "booking.cancelled"]


def test_a_cancel_names_who_cancelled(patient, doctor, patient_client, doctor_client, slot):
    book(patient_client, slot)
    cancel(doctor_client, slot)
    entry = AuditEntry.objects.get(action="booking.cancelled")
    assert entry.actor == {"id": doctor.pk, "role": "doctor"}
    assert entry.changes == {
        "status": ["booked", "cancelled"],
        "cancelled_by": [None, "doctor"],
        "slot.is_booked": [True, False],
        "slot.is_available": [False, True],
    }


def test_a_reschedule_writes_rescheduled_for_the_old_and_created_for_the_new(
    patient, patient_client, slot, doctor
):
    target = TimeSlotFactory(doctor=doctor, start_time=slot.end_time)
    book(patient_client, slot)
    old = Booking.objects.get()
    assert reschedule(patient_client, old, target).status_code == 200
    new = Booking.objects.get(status="booked")
    assert trail(booking_id=old.pk) == [
        ("booking.created", patient.pk),
        ("booking.rescheduled", patient.pk),
    ]
    assert trail(booking_id=new.pk) == [("booking.created", patient.pk)]
    created = AuditEntry.objects.get(booking_id=new.pk)
    assert created.changes["rescheduled_from"] == [None, old.pk]
    assert created.slot_id == target.pk


@pytest.mark.parametrize(
    ("path", "action"),
    [("booking-complete", "booking.completed"), ("booking-no-show", "booking.no_show")],
)
def test_a_visit_outcome_is_recorded_by_its_doctor(doctor, doctor_client, path, action):
    booking = BookingFactory(past=True, slot__doctor=doctor)
    assert doctor_client.post(reverse(path, args=[booking.pk])).status_code == 200
    (entry,) = AuditEntry.objects.all()
    assert (entry.action, entry.actor_id, entry.booking_id) == (action, doctor.pk, booking.pk)
    assert entry.changes == {"status": ["booked", action.split(".")[1]]}


def test_a_new_slot_and_a_bulk_run_write_slot_created_each(doctor, doctor_client):
    day = tomorrow().isoformat()
    one = {"date": day, "start_time": "09:00", "end_time": "09:30"}
    assert doctor_client.post(reverse("doctor-timeslots"), one, format="json").status_code == 201
    run = {"date": day, "start_time": "10:00", "end_time": "11:00", "duration": 30}
    assert doctor_client.post(reverse("slot-bulk"), run, format="json").status_code == 201
    slots = list(TimeSlot.objects.order_by("id").values_list("id", flat=True))
    entries = AuditEntry.objects.all()
    assert [(e.action, e.actor_id, e.slot_id) for e in entries] == [
        ("slot.created", doctor.pk, pk) for pk in slots
    ]
    assert entries[0].changes["start_time"] == [None, "09:00:00"]
    assert entries[0].changes["doctor_id"] == [None, doctor.pk]


def test_a_toggle_writes_slot_toggled(doctor, doctor_client, slot):
    toggle(doctor_client, slot)
    (entry,) = AuditEntry.objects.all()
    assert (entry.action, entry.actor_id, entry.slot_id) == ("slot.toggled", doctor.pk, slot.pk)
    assert entry.changes == {"is_available": [True, False]}


def test_a_deleted_slot_keeps_its_entry(doctor, doctor_client, slot):
    assert delete(doctor_client, slot).status_code == 200
    assert not TimeSlot.objects.exists()
    (entry,) = AuditEntry.objects.all()
    assert (entry.action, entry.actor_id, entry.slot_id) == ("slot.deleted", doctor.pk, slot.pk)
    assert entry.changes["date"] == [slot.date.isoformat(), None]


def test_a_retired_slot_writes_slot_deleted(doctor, doctor_client):
    booking = BookingFactory(
        slot__doctor=doctor, status=Booking.Status.CANCELLED, slot__is_booked=False
    )
    assert delete(doctor_client, booking.slot).status_code == 200
    (entry,) = AuditEntry.objects.all()
    assert (entry.action, entry.slot_id) == ("slot.deleted", booking.slot_id)
    assert entry.changes["retired_at"][0] is None
    assert entry.changes["is_available"] == [False, False]


def test_a_staff_edit_writes_slot_updated_by_the_staff_user(admin_user, doctor, slot):
    staff = Client()
    staff.force_login(admin_user)
    url = reverse("admin:doctor_timeslot_change", args=[slot.pk])
    form = {
        "doctor": doctor.pk,
        "date": slot.date.isoformat(),
        "start_time": "12:00",
        "end_time": "12:30",
        "duration": "30",
        "is_available": "on",
    }
    assert staff.post(url, form).status_code == 302
    (entry,) = AuditEntry.objects.all()
    assert (entry.action, entry.actor) == ("slot.updated", {"id": admin_user.pk, "role": "admin"})
    assert entry.changes == {
        "start_time": ["10:00:00", "12:00:00"],
        "end_time": ["10:30:00", "12:30:00"],
    }


def test_a_released_hold_is_released_by_its_patient(patient, patient_client, slot):
    hold(patient_client, slot)
    release(patient_client, Hold.objects.get())
    assert trail() == [("hold.created", patient.pk), ("hold.released", patient.pk)]
    assert AuditEntry.objects.last().changes["status"] == ["active", "released"]


def test_a_lapsed_hold_has_no_actor_even_when_a_request_ends_it(patient_client, slot):
    lapsed = HoldFactory(slot=slot, lapsed=True)
    assert book(patient_client, slot).status_code == 200
    assert [a for a, _ in trail()] == ["hold.lapsed", "booking.created"]
    entry = AuditEntry.objects.get(action="hold.lapsed")
    assert (entry.actor, entry.changes) == (
        None,
        {"hold_id": [lapsed.pk, lapsed.pk], "status": ["active", "expired"]},
    )


def test_the_sweep_ends_a_lapsed_hold_with_no_actor(slot):
    HoldFactory(slot=slot, lapsed=True)
    services.lapsed_holds_pass_on()
    assert trail() == [("hold.lapsed", None)]


def test_a_waitlist_offer_is_a_hold_created_with_no_actor(patient, patient_client, doctor, slot):
    waiting = WaitlistEntryFactory(doctor=doctor)
    book(patient_client, slot)
    cancel(patient_client, slot)
    assert trail() == [
        ("booking.created", patient.pk),
        ("booking.cancelled", patient.pk),
        ("hold.created", None),
    ]
    offer = Hold.objects.get(kind="offer")
    assert AuditEntry.objects.last().changes["patient_id"] == [None, waiting.patient_id]
    assert AuditEntry.objects.last().changes["hold_id"] == [None, offer.pk]


def test_entries_hold_no_name_email_or_phone(doctor, slot):
    patient = PatientFactory(full_name="Zelda Quux", phone="+919876543210")
    client = client_for(patient)
    target = TimeSlotFactory(doctor=doctor, start_time=slot.end_time)
    hold(client, slot)
    book(client, slot)
    reschedule(client, Booking.objects.get(), target)
    cancel(client, target)
    stored = json.dumps(list(AuditEntry.objects.values()), default=str)
    for personal in (
        patient.full_name,
        patient.email,
        patient.phone,
        doctor.full_name,
        doctor.email,
    ):
        assert personal not in stored
    assert AuditEntry.objects.count() == 5


def test_the_worker_has_no_actor(slot):
    with slot_change() as change:
        change.audit("slot.toggled", slot=slot)
    assert AuditEntry.objects.get().actor is None


def test_the_database_refuses_to_rewrite_an_entry(slot):
    with slot_change() as change:
        change.audit("slot.toggled", slot=slot, changes={"is_available": [True, False]})
    entry = AuditEntry.objects.get()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="slot.created")
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.save()
    entry.refresh_from_db()
    assert entry.action == "slot.toggled"


def test_the_database_refuses_to_delete_an_entry(slot):
    with slot_change() as change:
        change.audit("slot.toggled", slot=slot)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.all().delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.get().delete()
    assert AuditEntry.objects.count() == 1


def test_deleting_a_user_or_a_slot_leaves_the_entries(doctor, doctor_client, slot):
    delete(doctor_client, slot)
    doctor.delete()
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_flush_between_tests_still_empties_the_table(slot):
    """Transactional tests end with a flush (a TRUNCATE on PostgreSQL, row deletes on
    SQLite, where audit.backends.sqlite3 lifts the trigger for it): it must work."""
    from django.core.management import call_command

    with slot_change() as change:
        change.audit("slot.toggled", slot=slot)
    call_command("flush", verbosity=0, interactive=False)
    assert not AuditEntry.objects.exists()
    with slot_change() as change:
        change.audit("slot.toggled", slot=TimeSlotFactory())
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.all().delete()


def test_at_is_the_moment_of_the_change(frozen, slot):
    moment = frozen(timezone.now().replace(microsecond=0) + timedelta(hours=1))
    with slot_change() as change:
        change.audit("slot.toggled", slot=slot)
    assert AuditEntry.objects.get().at == moment


# --- a booking's history --------------------------------------------------------------------


def history(client, booking, side="doctor"):
    name = "doctor-booking-history" if side == "doctor" else "user-booking-history"
    return client.get(reverse(name, args=[getattr(booking, "pk", booking)]))


@pytest.fixture
def moved(patient, patient_client, doctor, slot):
    """The patient's booking of `slot`, cancelled after a move: (old, new)."""
    target = TimeSlotFactory(doctor=doctor, start_time=slot.end_time)
    book(patient_client, slot)
    old = Booking.objects.get()
    reschedule(patient_client, old, target)
    return old, Booking.objects.get(status="booked")


def test_the_doctor_reads_a_bookings_history(doctor_client, moved, patient, slot):
    old, _ = moved
    response = history(doctor_client, old)
    assert response.status_code == 200
    first, second = response.json()
    assert first["action"] == "booking.created"
    assert second["action"] == "booking.rescheduled"
    assert first["actor"] == {"id": patient.pk, "role": "user"}
    assert set(first) == {"id", "at", "action", "actor", "slot_id", "booking_id", "changes"}
    assert (first["slot_id"], first["booking_id"]) == (slot.pk, old.pk)
    assert first["changes"]["status"] == [None, "booked"]
    assert first["at"].endswith(("Z", "+00:00")) or "+" in first["at"]


def test_the_patient_reads_their_bookings_history(patient_client, moved):
    _, new = moved
    reply = history(patient_client, new, "user").json()
    assert [row["action"] for row in reply] == ["booking.created"]
    assert reply[0]["changes"]["rescheduled_from"] == [None, moved[0].pk]


def test_a_desk_serving_the_doctor_reads_the_history(doctor, moved):
    desk = PatientFactory(user_type="desk")
    desk.desk_doctors.set([doctor])
    assert history(client_for(desk), moved[0]).status_code == 200


@pytest.mark.parametrize("who", ["other doctor", "other patient", "other desk"])
def test_anyone_else_of_the_role_gets_booking_not_found(moved, who):
    user = {
        "other doctor": lambda: PatientFactory(user_type="doctor"),
        "other patient": PatientFactory,
        "other desk": lambda: PatientFactory(user_type="desk"),
    }[who]()
    side = "user" if who == "other patient" else "doctor"
    response = history(client_for(user), moved[0], side)
    assert (response.status_code, response.json()) == (404, {"message": "Booking not found"})


def test_an_unknown_booking_has_no_history(doctor_client, patient_client):
    assert history(doctor_client, 424242).status_code == 404
    assert history(patient_client, 424242, "user").status_code == 404


def test_the_wrong_role_is_refused_a_history(patient_client, doctor_client, moved):
    assert history(patient_client, moved[0]).status_code == 403
    assert history(doctor_client, moved[0], "user").status_code == 403


def test_staff_read_entries_in_the_admin_read_only(admin_user, patient_client, slot):
    book(patient_client, slot)
    entry = AuditEntry.objects.get()
    staff = Client()
    staff.force_login(admin_user)
    changelist = reverse("admin:audit_auditentry_changelist")
    for query in (
        {"slot_id": slot.pk},
        {"booking_id": entry.booking_id},
        {"actor_id": entry.actor_id},
        {"action": "booking.created"},
    ):
        response = staff.get(changelist, query)
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [entry]
    assert list(staff.get(changelist, {"action": "slot.created"}).context["cl"].result_list) == []
    change = reverse("admin:audit_auditentry_change", args=[entry.pk])
    assert staff.get(change).status_code == 200
    staff.post(change, {"action": "slot.created"})
    assert AuditEntry.objects.get().action == "booking.created"
    delete_url = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    assert staff.post(delete_url, {"post": "yes"}).status_code == 403
    assert staff.get(reverse("admin:audit_auditentry_add")).status_code == 403
