"""`manage.py check_bookings` and doctor.invariants: clean data passes, each broken
invariant is reported in its own words, and the check costs a constant number of queries.

The database refuses most broken states itself, so some tests first take the
guard away (inside the test's transaction, which rolls it back).
"""

from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from doctor.invariants import Violation, violations
from doctor.models import Booking, TimeSlot
from tests.factories import (
    BookingFactory,
    HoldFactory,
    PatientFactory,
    TimeSlotFactory,
    WaitlistEntryFactory,
)

pytestmark = pytest.mark.django_db

OK_LINE = (
    "OK {slots} slots, {active} active bookings: no slot with two active bookings; "
    "is_booked true exactly when an active booking exists; no booked slot marked available; "
    "no booking on a missing slot; no booked slot with a live hold; "
    "no slot and no patient with two live holds; "
    "an offered waitlist entry's hold is its active offer\n"
)


def run_check():
    """The command's (stdout, stderr, error message or None)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("check_bookings", stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), str(exc)
    return out.getvalue(), err.getvalue(), None


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@contextmanager
def check_constraints_off():
    """Let a booked slot be marked available: the table's check constraint forbids it."""
    if connection.vendor == "sqlite":
        raw("PRAGMA ignore_check_constraints = 1")
        try:
            yield
        finally:
            raw("PRAGMA ignore_check_constraints = 0")
    else:
        # ALTER TABLE waits for no deferred foreign-key checks: run them first.
        raw("SET CONSTRAINTS ALL IMMEDIATE")
        raw("ALTER TABLE doctor_timeslot DROP CONSTRAINT slot_booked_is_unavailable")
        raw("SET CONSTRAINTS ALL DEFERRED")
        yield


@pytest.fixture
def clean_data():
    """A free slot, a booked one, a disabled one and one whose booking was cancelled."""
    TimeSlotFactory()
    booked = BookingFactory().slot
    TimeSlotFactory(is_available=False)
    BookingFactory(status=Booking.Status.CANCELLED, slot__is_booked=False, slot__is_available=True)
    return booked


def test_clean_data_has_no_violations(clean_data):
    assert violations() == []


def test_command_says_ok_and_counts_on_clean_data(clean_data):
    assert run_check() == (OK_LINE.format(slots=4, active=1), "", None)


def test_command_says_ok_on_an_empty_database():
    assert run_check() == (OK_LINE.format(slots=0, active=0), "", None)


def test_two_active_bookings_of_one_slot_are_reported(clean_data):
    raw("DROP INDEX booking_one_active_per_slot")  # the partial unique index that forbids it
    BookingFactory(slot=clean_data)
    assert violations() == [
        Violation("double-booked", f"slot {clean_data.id} has 2 active bookings")
    ]


def test_slot_flagged_booked_without_an_active_booking_is_reported(clean_data):
    slot = TimeSlotFactory()
    TimeSlot.objects.filter(pk=slot.pk).update(is_booked=True, is_available=False)
    assert violations() == [
        Violation("is_booked-mismatch", f"slot {slot.id} is_booked=True but has no active booking")
    ]


def test_slot_flagged_free_with_an_active_booking_is_reported(clean_data):
    TimeSlot.objects.filter(pk=clean_data.pk).update(is_booked=False)
    assert violations() == [
        Violation(
            "is_booked-mismatch", f"slot {clean_data.id} is_booked=False but has an active booking"
        )
    ]


def test_booked_slot_marked_available_is_reported(clean_data):
    with check_constraints_off():
        TimeSlot.objects.filter(pk=clean_data.pk).update(is_available=True)
        assert violations() == [
            Violation(
                "booked-but-available", f"slot {clean_data.id} is booked and marked available"
            )
        ]


def test_booking_on_a_missing_slot_is_reported(clean_data):
    booking = clean_data.bookings.get()
    # A raw DELETE skips the ORM's cascade; the deferred foreign key would only
    # object at commit, which this test never reaches.
    raw("DELETE FROM doctor_timeslot WHERE id = %s", [clean_data.id])
    try:
        assert violations() == [
            Violation(
                "missing-slot",
                f"booking {booking.id} is on slot {clean_data.id}, which does not exist",
            )
        ]
    finally:
        raw("DELETE FROM doctor_booking WHERE id = %s", [booking.id])


def test_command_prints_each_violation_and_fails(clean_data):
    free = TimeSlotFactory()
    TimeSlot.objects.filter(pk=free.pk).update(is_booked=True, is_available=False)
    TimeSlot.objects.filter(pk=clean_data.pk).update(is_booked=False)
    out, err, error = run_check()
    assert (out, error) == ("", "2 booking invariant violation(s)")
    assert err.splitlines() == [
        f"VIOLATION is_booked-mismatch: slot {clean_data.id} is_booked=False "
        "but has an active booking",
        f"VIOLATION is_booked-mismatch: slot {free.id} is_booked=True but has no active booking",
    ]


def test_check_costs_eight_queries_however_many_rows_are_wrong(
    clean_data, django_assert_num_queries
):
    for slot in TimeSlotFactory.create_batch(5):
        TimeSlot.objects.filter(pk=slot.pk).update(is_booked=True, is_available=False)
    with django_assert_num_queries(8):
        assert len(violations()) == 5


def test_a_booked_slot_with_a_live_hold_is_reported(clean_data):
    booking = BookingFactory()
    hold = HoldFactory(slot=booking.slot)

    assert violations() == [
        Violation("held-and-booked", f"slot {hold.slot_id} is booked and has a live hold")
    ]


def test_a_lapsed_hold_on_a_booked_slot_is_no_violation(clean_data):
    booking = BookingFactory()
    HoldFactory(slot=booking.slot, lapsed=True)

    assert violations() == []


def test_a_patients_own_hold_beside_a_waitlist_offer_is_no_violation(clean_data):
    patient = PatientFactory()
    HoldFactory(patient=patient)
    HoldFactory(patient=patient, offer=True)

    assert violations() == []


def test_an_offered_entry_whose_offer_was_released_is_reported(clean_data):
    slot = TimeSlotFactory()
    offer = HoldFactory(slot=slot, offer=True, status="released")
    entry = WaitlistEntryFactory(
        patient=offer.patient,
        doctor=slot.doctor,
        date_from=slot.date,
        status="offered",
        offer=offer,
    )

    assert violations() == [
        Violation("offer-astray", f"waitlist entry {entry.id} is offered without its live offer")
    ]
