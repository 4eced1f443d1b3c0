"""Clinic policy (contract Part 3): notice windows, booking horizon, the hoarding cap,
who cancelled. Each time rule runs on a fixed clock, in UTC and in Asia/Kolkata."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from doctor.models import Booking, Hold, TimeSlot
from tests.conftest import NOW, client_for, run_together
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    HoldFactory,
    PatientFactory,
    TimeSlotFactory,
)
from tests.steps import available_ids, book, cancel, hold, reschedule

pytestmark = pytest.mark.django_db

TOO_SOON = {"message": "Slot is too soon to book"}
TOO_FAR = {"message": "Slot is too far ahead to book"}
TOO_MANY = {"message": "Too many active bookings"}
LATE_CANCEL = {"message": "Too late to cancel"}
LATE_RESCHEDULE = {"message": "Too late to reschedule"}


def wall(minutes=0):
    """The clinic's wall clock `minutes` after NOW: (date, time)."""
    local = timezone.localtime(NOW + timedelta(minutes=minutes))
    return local.date(), local.time().replace(tzinfo=None)


def today():
    return timezone.localtime(NOW).date()


def slot_at(doctor, minutes, **fields):
    date, start = wall(minutes)
    return TimeSlotFactory(doctor=doctor, date=date, start_time=start, **fields)


def slot_on(doctor, days_ahead):
    return TimeSlotFactory(doctor=doctor, date=today() + timedelta(days=days_ahead))


def listed(slot):
    return slot.id in available_ids(client_for(PatientFactory()))


def booked_at(patient, doctor, minutes=600):
    """The patient's booking of a slot of `doctor` starting `minutes` after NOW."""
    return BookingFactory(
        patient=patient, slot=slot_at(doctor, minutes, is_booked=True, is_available=False)
    )


def cases(table, outcome):
    """The cases of `table` whose last value is `outcome`, that value left out."""
    return [
        pytest.param(*case.values[:-1], id=case.id) for case in table if case.values[-1] is outcome
    ]


def untouched(slot):
    slot.refresh_from_db()
    return (
        (slot.is_booked, slot.is_available),
        slot.bookings.count(),
        Hold.objects.filter(slot=slot).count(),
    ) == ((False, True), 0, 0)


# --- the minimum notice: listed, booked and held alike ------------------------------


NOTICE_CASES = [
    # (minutes from now to the start, with a 60-minute notice, bookable?)
    pytest.param(59, False, id="one minute inside the notice"),
    pytest.param(60, True, id="exactly at the notice: bookable"),
    pytest.param(61, True, id="one minute past the notice"),
]


@pytest.mark.parametrize("minutes,bookable", NOTICE_CASES)
def test_the_public_list_leaves_out_slots_inside_the_notice(clock, minutes, bookable):
    doctor = DoctorFactory(min_booking_notice_minutes=60)
    slot = slot_at(doctor, minutes)

    assert listed(slot) is bookable


@pytest.mark.parametrize("minutes", cases(NOTICE_CASES, True))
def test_booking_at_or_past_the_notice_is_accepted(clock, patient_client, minutes):
    slot = slot_at(DoctorFactory(min_booking_notice_minutes=60), minutes)

    response = book(patient_client, slot)

    assert response.status_code == 200
    assert Booking.objects.get().slot == slot


@pytest.mark.parametrize("minutes", cases(NOTICE_CASES, True))
def test_holding_at_or_past_the_notice_is_accepted(clock, patient_client, minutes):
    slot = slot_at(DoctorFactory(min_booking_notice_minutes=60), minutes)

    response = hold(patient_client, slot)

    assert response.status_code == 201


@pytest.mark.parametrize("action", [book, hold])
@pytest.mark.parametrize("minutes", cases(NOTICE_CASES, False))
def test_booking_or_holding_inside_the_notice_is_refused(clock, patient_client, action, minutes):
    slot = slot_at(DoctorFactory(min_booking_notice_minutes=60), minutes)

    response = action(patient_client, slot)

    assert (response.status_code, response.json()) == (400, TOO_SOON)
    assert untouched(slot)


@pytest.mark.parametrize("minutes", cases(NOTICE_CASES, True))
def test_moving_to_a_slot_at_or_past_the_notice_is_accepted(
    clock, patient, patient_client, minutes
):
    doctor = DoctorFactory(min_booking_notice_minutes=60)
    booking = booked_at(patient, doctor)
    target = slot_at(doctor, minutes)

    response = reschedule(patient_client, booking, target)

    assert response.status_code == 200


@pytest.mark.parametrize("minutes", cases(NOTICE_CASES, False))
def test_moving_into_the_notice_is_refused(clock, patient, patient_client, minutes):
    doctor = DoctorFactory(min_booking_notice_minutes=60)
    booking = booked_at(patient, doctor)
    target = slot_at(doctor, minutes)

    response = reschedule(patient_client, booking, target)

    assert (response.status_code, response.json()) == (400, TOO_SOON)
    assert untouched(target)
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_a_doctor_without_notice_lists_a_slot_starting_in_a_minute(clock, patient_client):
    slot = slot_at(DoctorFactory(), 1)

    assert listed(slot)
    assert book(patient_client, slot).status_code == 200


def test_each_doctor_has_their_own_notice(clock):
    strict, relaxed = DoctorFactory(min_booking_notice_minutes=120), DoctorFactory()
    soon_strict, soon_relaxed = slot_at(strict, 30), slot_at(relaxed, 30)

    assert (listed(soon_strict), listed(soon_relaxed)) == (False, True)


# --- the horizon: max_booking_days_ahead, counted from the clinic's today ------------


HORIZON_CASES = [
    # (max_booking_days_ahead, days after the clinic's today, bookable?)
    pytest.param(7, 7, True, id="the last day of the horizon"),
    pytest.param(7, 8, False, id="one day past the horizon"),
    pytest.param(0, 0, True, id="a zero horizon: today only"),
    pytest.param(0, 1, False, id="a zero horizon refuses tomorrow"),
    pytest.param(None, 700, True, id="no horizon"),
]


@pytest.mark.parametrize("ahead,days,bookable", HORIZON_CASES)
def test_the_public_list_leaves_out_slots_past_the_horizon(clock, ahead, days, bookable):
    slot = days_ahead(DoctorFactory(max_booking_days_ahead=ahead), days)

    assert listed(slot) is bookable


def days_ahead(doctor, days):
    """A slot of `doctor` `days` after the clinic's today (today's: an hour after NOW)."""
    return slot_at(doctor, 60) if days == 0 else slot_on(doctor, days)


@pytest.mark.parametrize("action", [book, hold])
@pytest.mark.parametrize("ahead,days", cases(HORIZON_CASES, True))
def test_booking_or_holding_within_the_horizon_is_accepted(
    clock, patient_client, action, ahead, days
):
    slot = days_ahead(DoctorFactory(max_booking_days_ahead=ahead), days)

    response = action(patient_client, slot)

    assert response.status_code in (200, 201)


@pytest.mark.parametrize("action", [book, hold])
@pytest.mark.parametrize("ahead,days", cases(HORIZON_CASES, False))
def test_booking_or_holding_past_the_horizon_is_refused(clock, patient_client, action, ahead, days):
    slot = days_ahead(DoctorFactory(max_booking_days_ahead=ahead), days)

    response = action(patient_client, slot)

    assert (response.status_code, response.json()) == (400, TOO_FAR)
    assert untouched(slot)


@pytest.mark.parametrize("ahead,days", cases(HORIZON_CASES, True))
def test_moving_within_the_horizon_is_accepted(clock, patient, patient_client, ahead, days):
    doctor = DoctorFactory(max_booking_days_ahead=ahead)
    booking = booked_at(patient, doctor, minutes=30)
    target = days_ahead(doctor, days)

    response = reschedule(patient_client, booking, target)

    assert response.status_code == 200


@pytest.mark.parametrize("ahead,days", cases(HORIZON_CASES, False))
def test_moving_past_the_horizon_is_refused(clock, patient, patient_client, ahead, days):
    doctor = DoctorFactory(max_booking_days_ahead=ahead)
    booking = booked_at(patient, doctor, minutes=30)
    target = days_ahead(doctor, days)

    response = reschedule(patient_client, booking, target)

    assert (response.status_code, response.json()) == (400, TOO_FAR)
    assert untouched(target)


def test_the_horizon_counts_from_the_clinics_today(settings, frozen, patient_client):
    # At NOW it is already June 11 in Kolkata: a week ahead is June 18 there, not June 17.
    settings.TIME_ZONE = "Asia/Kolkata"
    frozen(NOW)
    doctor = DoctorFactory(max_booking_days_ahead=7)
    last_day = TimeSlotFactory(doctor=doctor, date=NOW.date() + timedelta(days=8))

    assert listed(last_day)
    assert book(patient_client, last_day).status_code == 200


# --- the order of the refusals -------------------------------------------------------


def test_not_available_comes_before_too_soon(clock, patient_client):
    slot = slot_at(DoctorFactory(min_booking_notice_minutes=60), 30, is_available=False)

    response = book(patient_client, slot)

    assert response.json() == {"message": "Slot is not available"}


def test_in_the_past_comes_before_too_soon(clock, patient_client):
    slot = slot_at(DoctorFactory(min_booking_notice_minutes=60), -30)

    response = hold(patient_client, slot)

    assert response.json() == {"message": "Slot is in the past"}


def test_held_comes_before_too_soon(clock, patient_client):
    slot = slot_at(DoctorFactory(min_booking_notice_minutes=60), 30)
    HoldFactory(slot=slot)  # live for five minutes from NOW

    response = book(patient_client, slot)

    assert response.json() == {"message": "Slot is held"}


def test_another_doctor_comes_before_too_soon_when_moving(clock, patient, patient_client):
    booking = booked_at(patient, DoctorFactory())
    elsewhere = slot_at(DoctorFactory(min_booking_notice_minutes=60), 30)

    response = reschedule(patient_client, booking, elsewhere)

    assert response.json() == {"message": "Slot belongs to another doctor"}


def test_too_far_comes_before_too_many(clock, settings, patient, patient_client):
    settings.MAX_ACTIVE_BOOKINGS = 1
    booked_at(patient, DoctorFactory())
    slot = slot_on(DoctorFactory(max_booking_days_ahead=1), 2)

    response = book(patient_client, slot)

    assert response.json() == TOO_FAR


# --- the hoarding cap: MAX_ACTIVE_BOOKINGS active future bookings -------------------


@pytest.fixture
def cap(settings):
    settings.MAX_ACTIVE_BOOKINGS = 3
    return 3


def give_bookings(patient, count, minutes=600, **fields):
    doctor = DoctorFactory()
    return [
        BookingFactory(
            patient=patient,
            slot=slot_at(doctor, minutes + 60 * i, is_booked=True, is_available=False),
            **fields,
        )
        for i in range(count)
    ]


def test_a_patient_below_the_cap_books(clock, cap, patient, patient_client):
    give_bookings(patient, cap - 1)
    slot = slot_on(DoctorFactory(), 3)

    response = book(patient_client, slot)

    assert response.status_code == 200
    assert Booking.objects.filter(patient=patient, status="booked").count() == cap


@pytest.mark.parametrize("action", [book, hold])
def test_a_patient_at_the_cap_can_neither_book_nor_hold(
    clock, cap, patient, patient_client, action
):
    give_bookings(patient, cap)
    slot = slot_on(DoctorFactory(), 3)

    response = action(patient_client, slot)

    assert (response.status_code, response.json()) == (400, TOO_MANY)
    assert untouched(slot)


def test_a_held_slot_booked_at_the_cap_is_refused_and_stays_held(
    clock, cap, patient, patient_client
):
    slot = slot_on(DoctorFactory(), 3)
    assert hold(patient_client, slot).status_code == 201
    give_bookings(patient, cap)

    response = book(patient_client, slot)

    assert (response.status_code, response.json()) == (400, TOO_MANY)
    slot.refresh_from_db()
    assert (slot.is_booked, slot.is_available, slot.bookings.count()) == (False, True, 0)
    assert Hold.objects.get(slot=slot).status == Hold.Status.ACTIVE


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"minutes": -600}, id="visits that have started"),
        pytest.param({"status": "cancelled"}, id="cancelled bookings"),
        pytest.param({"status": "completed", "minutes": -600}, id="completed visits"),
    ],
)
def test_only_active_future_bookings_count(clock, cap, patient, patient_client, how):
    give_bookings(patient, cap, **how)

    response = book(patient_client, slot_on(DoctorFactory(), 3))

    assert response.status_code == 200


def test_a_patient_at_the_cap_may_still_move_a_booking(clock, cap, patient, patient_client):
    first, *_ = give_bookings(patient, cap)
    target = slot_on(first.slot.doctor, 3)

    response = reschedule(patient_client, first, target)

    assert response.status_code == 200


def test_the_cap_defaults_to_ten(settings):
    from config import settings as project_settings

    assert project_settings.MAX_ACTIVE_BOOKINGS == 10
    assert project_settings.CANCEL_NOTICE_MINUTES == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_bookings_at_one_below_the_cap_give_exactly_one(settings):
    """The cap is counted under the patient's row lock: parallel bookings queue there."""
    patient = PatientFactory()
    give_bookings(patient, settings.MAX_ACTIVE_BOOKINGS - 1, minutes=24 * 60)
    doctor = DoctorFactory()
    slots = [slot_on(doctor, 3 + i) for i in range(10)]

    responses = run_together([lambda s=s: book(client_for(patient), s) for s in slots])

    replies = sorted((r.status_code, r.json().get("message")) for r in responses)
    assert replies == [(200, "Slot booked successfully")] + [(400, TOO_MANY["message"])] * 9
    active = Booking.objects.filter(patient=patient, status="booked")
    assert active.count() == settings.MAX_ACTIVE_BOOKINGS
    assert (
        TimeSlot.objects.filter(
            pk__in=[s.pk for s in slots], is_booked=True, is_available=False
        ).count()
        == 1
    )


# --- cancelling and moving late: the patient's notice, never the doctor's -----------


LATE_CASES = [
    # (minutes before the start, with a 120-minute cancel notice, in time?)
    pytest.param(119, False, id="one minute inside the notice"),
    pytest.param(120, True, id="exactly at the notice: in time"),
    pytest.param(121, True, id="one minute before the notice"),
]


@pytest.mark.parametrize("minutes", cases(LATE_CASES, True))
def test_a_patient_cancelling_in_time_is_accepted(clock, patient, patient_client, minutes):
    booking = booked_at(patient, DoctorFactory(cancel_notice_minutes=120), minutes)

    response = cancel(patient_client, booking.slot)

    booking.refresh_from_db()
    assert response.status_code == 200
    assert (booking.status, booking.cancelled_by) == ("cancelled", "patient")


@pytest.mark.parametrize("minutes", cases(LATE_CASES, False))
def test_a_patient_cancelling_late_is_refused(clock, patient, patient_client, minutes):
    booking = booked_at(patient, DoctorFactory(cancel_notice_minutes=120), minutes)

    response = cancel(patient_client, booking.slot)

    booking.refresh_from_db()
    assert (response.status_code, response.json()) == (400, LATE_CANCEL)
    assert (booking.status, booking.cancelled_by, booking.cancelled_at) == ("booked", None, None)
    booking.slot.refresh_from_db()
    assert booking.slot.is_booked


@pytest.mark.parametrize("minutes", cases(LATE_CASES, True))
def test_a_patient_moving_in_time_is_accepted(clock, patient, patient_client, minutes):
    doctor = DoctorFactory(cancel_notice_minutes=120)
    booking = booked_at(patient, doctor, minutes)

    response = reschedule(patient_client, booking, slot_on(doctor, 3))

    assert response.status_code == 200


@pytest.mark.parametrize("minutes", cases(LATE_CASES, False))
def test_a_patient_moving_late_is_refused(clock, patient, patient_client, minutes):
    doctor = DoctorFactory(cancel_notice_minutes=120)
    booking = booked_at(patient, doctor, minutes)
    target = slot_on(doctor, 3)

    response = reschedule(patient_client, booking, target)

    booking.refresh_from_db()
    assert (response.status_code, response.json()) == (400, LATE_RESCHEDULE)
    assert booking.status == "booked"
    assert untouched(target)


def test_too_late_to_reschedule_comes_before_the_targets_refusals(clock, patient, patient_client):
    doctor = DoctorFactory(cancel_notice_minutes=120)
    booking = booked_at(patient, doctor, 30)

    response = reschedule(patient_client, booking, 999999)

    assert (response.status_code, response.json()) == (400, LATE_RESCHEDULE)


def test_the_doctor_may_always_cancel(clock, patient):
    doctor = DoctorFactory(cancel_notice_minutes=24 * 60)
    booking = booked_at(patient, doctor, 5)

    response = cancel(client_for(doctor), booking.slot)

    assert response.status_code == 200
    booking.refresh_from_db()
    assert (booking.status, booking.cancelled_by) == ("cancelled", "doctor")


def test_a_cancel_by_staff_records_staff(clock, client):
    doctor = DoctorFactory(cancel_notice_minutes=24 * 60)
    booking = BookingFactory(slot=slot_at(doctor, 5, is_booked=True, is_available=False))
    staff = get_user_model().objects.create_superuser("staff@example.com", "Staff-pass-123")
    client.force_login(staff)

    response = client.post(
        reverse("admin:doctor_booking_changelist"),
        {"action": "cancel_bookings", "_selected_action": [booking.pk]},
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert (booking.status, booking.cancelled_by) == ("cancelled", "staff")


@pytest.mark.parametrize(
    "who,cancelled_by",
    [("patient", "patient"), ("doctor", "doctor")],
)
def test_the_booking_lists_show_who_cancelled(patient, who, cancelled_by):
    booking = BookingFactory(patient=patient)
    doctor = booking.slot.doctor
    cancel(client_for(patient if who == "patient" else doctor), booking.slot)

    (mine,) = client_for(patient).get(reverse("user-bookings")).json()
    (theirs,) = client_for(doctor).get(reverse("doctor-bookings")).json()

    assert mine["cancelled_by"] == theirs["cancelled_by"] == cancelled_by


def test_an_uncancelled_booking_shows_cancelled_by_null(patient):
    BookingFactory(patient=patient)

    (mine,) = client_for(patient).get(reverse("user-bookings")).json()

    assert (mine["status"], mine["cancelled_by"]) == ("booked", None)


# --- the policy fields: signup, profile, cards ---------------------------------------


def test_a_new_doctor_takes_the_clinics_cancel_notice(settings, api_client):
    settings.CANCEL_NOTICE_MINUTES = 45
    body = {
        "email": "new.doctor@example.com",
        "password": "Clinic-pass-2026",
        "full_name": "Dr New",
        "user_type": "doctor",
    }

    response = api_client.post(reverse("signup"), body, format="json")

    assert response.status_code == 201
    user = response.json()["user"]
    assert (
        user["cancelNoticeMinutes"],
        user["minBookingNoticeMinutes"],
        user["maxBookingDaysAhead"],
    ) == (45, 0, None)


@pytest.mark.parametrize(
    "body",
    [
        {"cancelNoticeMinutes": 90, "minBookingNoticeMinutes": 30, "maxBookingDaysAhead": 14},
        {
            "cancel_notice_minutes": 90,
            "min_booking_notice_minutes": 30,
            "max_booking_days_ahead": 14,
        },
    ],
    ids=["camel-case", "snake-case"],
)
def test_a_doctor_sets_the_policy_and_the_cards_show_it(api_client, doctor, doctor_client, body):
    response = doctor_client.patch(reverse("profile-update"), body, format="json")

    assert response.status_code == 200
    (card,) = api_client.get(reverse("doctor-list")).json()
    shown = {"cancelNoticeMinutes": 90, "minBookingNoticeMinutes": 30, "maxBookingDaysAhead": 14}
    assert {key: response.json()[key] for key in shown} == shown
    assert {key: card[key] for key in shown} == shown


AT_LEAST_0 = ["Ensure this value is greater than or equal to 0."]
AT_MOST = "Ensure this value is less than or equal to {}."


@pytest.mark.parametrize(
    "body,errors",
    [
        ({"cancelNoticeMinutes": -1}, {"cancelNoticeMinutes": AT_LEAST_0}),
        ({"minBookingNoticeMinutes": 43201}, {"minBookingNoticeMinutes": [AT_MOST.format(43200)]}),
        ({"max_booking_days_ahead": 731}, {"maxBookingDaysAhead": [AT_MOST.format(730)]}),
        (
            {"maxBookingDaysAhead": "soon"},
            {"maxBookingDaysAhead": ["A valid integer is required."]},
        ),
    ],
)
def test_a_bad_policy_value_is_refused(doctor, doctor_client, body, errors):
    response = doctor_client.patch(reverse("profile-update"), body, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    doctor.refresh_from_db()
    assert (doctor.cancel_notice_minutes, doctor.max_booking_days_ahead) == (0, None)


def test_the_horizon_is_lifted_with_null(doctor, doctor_client):
    doctor.max_booking_days_ahead = 5
    doctor.save()

    response = doctor_client.patch(
        reverse("profile-update"), {"maxBookingDaysAhead": None}, format="json"
    )

    assert response.json()["maxBookingDaysAhead"] is None
    doctor.refresh_from_db()
    assert doctor.max_booking_days_ahead is None
