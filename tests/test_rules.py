"""The rules (doctor/rules.py), asked directly, and each held against its query twin:
a slot is in the public list exactly when booking_refusal() has nothing to say."""

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest

from doctor import rules
from doctor.models import Hold, TimeSlot
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    HoldFactory,
    PatientFactory,
    TimeSlotFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def utc_clinic_at_now(settings, frozen):
    settings.TIME_ZONE = "UTC"
    frozen(NOW)


def at(minutes_from_now, **fields):
    """A slot starting `minutes_from_now` minutes from NOW (30 minutes long)."""
    start = NOW + timedelta(minutes=minutes_from_now)
    return TimeSlotFactory(date=start.date(), start_time=start.time(), **fields)


def hold(slot, seconds_left):
    return HoldFactory(slot=slot, expires_at=NOW + timedelta(seconds=seconds_left))


# Each state a slot can be in, with the refusal the rules give for it (None: bookable).
STATES = {
    "free tomorrow": (lambda: at(24 * 60), None),
    "disabled": (lambda: at(24 * 60, is_available=False), rules.NOT_AVAILABLE),
    "booked": (
        lambda: BookingFactory(slot=at(24 * 60, is_booked=True, is_available=False)).slot,
        rules.ALREADY_BOOKED,
    ),
    "held": (lambda: hold(at(24 * 60), 60).slot, rules.HELD),
    "held, the hold lapsed": (lambda: hold(at(24 * 60), 0).slot, None),
    "doctor deactivated": (
        lambda: at(24 * 60, doctor=DoctorFactory(is_active=False)),
        rules.NOT_AVAILABLE,
    ),
    "started a minute ago": (lambda: at(-1), rules.IN_THE_PAST),
    "starting now": (lambda: at(0), rules.IN_THE_PAST),
    "starting in a minute": (lambda: at(1), None),
    "exactly the notice ahead": (
        lambda: at(60, doctor=DoctorFactory(min_booking_notice_minutes=60)),
        None,
    ),
    "a minute inside the notice": (
        lambda: at(59, doctor=DoctorFactory(min_booking_notice_minutes=60)),
        rules.TOO_SOON,
    ),
    "on the last day of the horizon": (
        lambda: at(7 * 24 * 60, doctor=DoctorFactory(max_booking_days_ahead=7)),
        None,
    ),
    "a day past the horizon": (
        lambda: at(8 * 24 * 60, doctor=DoctorFactory(max_booking_days_ahead=7)),
        rules.TOO_FAR,
    ),
}


@pytest.mark.parametrize("state", STATES)
def test_the_refusal_says_what_the_state_is(state):
    make, refusal = STATES[state]
    slot = make()
    live = Hold.objects.live().filter(slot=slot).first()

    assert rules.booking_refusal(slot, live, None) == refusal


@pytest.mark.parametrize("state", STATES)
def test_a_slot_is_listed_exactly_when_its_refusal_is_none(state):
    slot = STATES[state][0]()
    live = Hold.objects.live().filter(slot=slot).first()

    listed = TimeSlot.objects.bookable().filter(pk=slot.pk).exists()

    assert listed == (rules.booking_refusal(slot, live, None) is None)


def test_the_holder_is_not_refused_their_own_hold():
    held = hold(at(24 * 60), 60)

    assert rules.booking_refusal(held.slot, held, held.patient) is None


def test_a_move_to_another_doctors_slot_is_refused():
    target, leaving = at(24 * 60), at(24 * 60 + 60)

    refusal = rules.booking_refusal(target, None, PatientFactory(), moving_from=leaving)

    assert refusal == rules.OTHER_DOCTOR


def test_a_slot_is_upcoming_exactly_when_it_has_not_started():
    slots = [at(-1), at(0), at(1)]

    upcoming = set(TimeSlot.objects.upcoming().values_list("pk", flat=True))

    assert upcoming == {s.pk for s in slots if not rules.slot_started(s)} == {slots[2].pk}


def test_a_hold_is_listed_live_exactly_when_it_is_live():
    holds = [hold(at(60), -1), hold(at(90), 0), hold(at(120), 1)]

    live = set(Hold.objects.live().values_list("pk", flat=True))
    lapsed = set(Hold.objects.lapsed().values_list("pk", flat=True))

    assert live == {h.pk for h in holds if rules.hold_is_live(h)} == {holds[2].pk}
    assert lapsed == {holds[0].pk, holds[1].pk}


def test_the_active_future_bookings_are_what_the_cap_counts():
    patient = PatientFactory()
    ahead = BookingFactory(patient=patient, slot=at(60, is_booked=True, is_available=False))
    BookingFactory(patient=patient, slot=at(-60, is_booked=True, is_available=False))
    BookingFactory(patient=patient, status="cancelled")

    assert list(patient.bookings.active_future()) == [ahead]


# --- the refusals at their boundaries ------------------------------------------------------


def test_the_cap_refuses_at_the_limit_not_below(settings):
    settings.MAX_ACTIVE_BOOKINGS = 3

    assert rules.booking_cap_refusal(2) is None
    assert rules.booking_cap_refusal(3) == rules.TOO_MANY_BOOKINGS


def test_the_open_slot_limit_allows_reaching_it_not_passing_it(settings):
    settings.MAX_OPEN_SLOTS_PER_DOCTOR = 10

    assert rules.open_slots_refusal(9, 1) is None
    assert rules.open_slots_refusal(10, 1) == rules.TOO_MANY_OPEN


def test_a_slot_must_end_after_it_starts():
    assert rules.order_refusal(time(10), time(10, 1)) is None
    assert rules.order_refusal(time(10), time(10)) == rules.END_NOT_AFTER_START


def slot(start, end, day=TODAY + timedelta(days=1), pk=None):
    return SimpleNamespace(pk=pk, date=day, start_time=start, end_time=end)


def test_touching_slots_do_not_overlap_but_one_shared_minute_does():
    first = slot(time(10), time(10, 30))

    assert not rules.overlaps(first, slot(time(10, 30), time(11)))
    assert rules.overlaps(first, slot(time(10, 29), time(11)))


def test_a_new_slot_may_start_730_days_ahead_not_731():
    last = slot(time(10), time(10, 30), day=TODAY + timedelta(days=rules.MAX_DAYS_AHEAD))
    past_it = slot(time(10), time(10, 30), day=last.date + timedelta(days=1))

    assert rules.new_slot_refusal(last, []) is None
    assert rules.new_slot_refusal(past_it, []) == rules.TOO_FAR_AHEAD


def test_a_new_slot_names_the_slot_it_overlaps():
    old = slot(time(10), time(10, 30), pk=7)

    refusal = rules.new_slot_refusal(slot(time(10, 15), time(10, 45)), [old])

    assert refusal == "Overlaps slot 7 (10:00-10:30)"


def test_a_slot_in_the_past_may_be_kept_when_it_is_not_moved():
    earlier = slot(time(11), time(11, 30), day=TODAY)

    assert rules.new_slot_refusal(earlier, []) == rules.IN_THE_PAST
    assert rules.new_slot_refusal(earlier, [], check_past=False) is None


def test_the_patient_may_cancel_exactly_at_the_notice_not_a_minute_later():
    doctor = DoctorFactory(cancel_notice_minutes=120)

    assert not rules.inside_cancel_notice(at(120, doctor=doctor))
    assert rules.inside_cancel_notice(at(119, doctor=doctor))


def test_a_booked_slot_cannot_change_and_a_held_one_neither():
    booked = at(60, is_booked=True, is_available=False)
    held = hold(at(90), 60).slot

    assert rules.slot_change_refusal(booked) == rules.BOOKED_NOT_MODIFIED
    assert rules.slot_change_refusal(booked, delete=True) == rules.BOOKED_NOT_DELETED
    assert rules.slot_change_refusal(held) == rules.HELD
    assert rules.slot_change_refusal(at(120)) is None


def test_a_time_the_clinics_clock_skips_is_refused(settings):
    settings.TIME_ZONE = "America/New_York"
    spring_forward = date(2027, 3, 14)

    refusal = rules.new_slot_refusal(slot(time(2, 30), time(3, 30), day=spring_forward), [])

    assert refusal == rules.skipped_time("starts")
