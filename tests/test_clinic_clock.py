"""Slot times are the clinic's wall clock (settings.TIME_ZONE), in any zone,
daylight saving included: a skipped time is refused, a doubled one means its
first occurrence."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from doctor.models import TimeSlot
from tests.factories import TimeSlotFactory
from tests.steps import book

pytestmark = pytest.mark.django_db

NEW_YORK = "America/New_York"
# 2027-03-14: New York's clocks jump from 02:00 to 03:00; 2027-11-07: back from 02:00 to 01:00.
SPRING, AUTUMN = "2027-03-14", "2027-11-07"


def body(day, start, end):
    return {"date": day, "start_time": start, "end_time": end}


ANY_ZONE = ["UTC", NEW_YORK, "Asia/Kolkata", "Australia/Lord_Howe"]


def minutes_from_now_in(zone, settings, frozen, minutes):
    """A slot body starting `minutes` from now on the clock of a clinic in `zone`."""
    settings.TIME_ZONE = zone
    now = frozen(datetime(2027, 7, 1, 12, 0, tzinfo=UTC))
    start = timezone.localtime(now, timezone.get_default_timezone()) + timedelta(minutes=minutes)
    end = start + timedelta(minutes=30)
    return body(start.date().isoformat(), f"{start:%H:%M}", f"{end:%H:%M}")


@pytest.mark.parametrize("zone", ANY_ZONE)
def test_a_slot_a_minute_ahead_on_the_clinics_clock_is_made_in_any_zone(
    settings, frozen, doctor_client, zone
):
    slot = minutes_from_now_in(zone, settings, frozen, 1)

    response = doctor_client.post(reverse("doctor-timeslots"), slot, format="json")

    assert response.status_code == 201
    assert TimeSlot.objects.count() == 1


@pytest.mark.parametrize("zone", ANY_ZONE)
def test_a_slot_a_minute_ago_on_the_clinics_clock_is_past_in_any_zone(
    settings, frozen, doctor_client, zone
):
    slot = minutes_from_now_in(zone, settings, frozen, -1)

    response = doctor_client.post(reverse("doctor-timeslots"), slot, format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Slot is in the past"]}
    assert TimeSlot.objects.count() == 0


def create_on_the_spring_day(zone, settings, frozen, doctor_client, start, end):
    settings.TIME_ZONE = zone
    frozen(datetime(2027, 3, 1, tzinfo=UTC))
    return doctor_client.post(reverse("doctor-timeslots"), body(SPRING, start, end), format="json")


@pytest.mark.parametrize(
    "zone, start, end",
    [
        ("UTC", "02:30", "03:30"),
        (NEW_YORK, "01:30", "03:30"),  # spans the gap: both ends exist
    ],
)
def test_times_the_clock_shows_are_accepted(settings, frozen, doctor_client, zone, start, end):
    response = create_on_the_spring_day(zone, settings, frozen, doctor_client, start, end)

    assert response.status_code == 201
    assert TimeSlot.objects.count() == 1


@pytest.mark.parametrize(
    "zone, start, end, expected",
    [
        (NEW_YORK, "02:30", "03:30", "Slot starts at a time the clinic's clock skips"),
        (NEW_YORK, "01:30", "02:30", "Slot ends at a time the clinic's clock skips"),
    ],
)
def test_a_time_the_clock_skips_is_refused(
    settings, frozen, doctor_client, zone, start, end, expected
):
    response = create_on_the_spring_day(zone, settings, frozen, doctor_client, start, end)

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [f"{expected} ({zone})"]}
    assert not TimeSlot.objects.exists()


def test_a_bulk_run_over_the_skipped_hour_is_refused_naming_it(settings, frozen, doctor_client):
    settings.TIME_ZONE = NEW_YORK
    frozen(datetime(2027, 3, 1, tzinfo=UTC))
    run = {**body(SPRING, "01:00", "04:00"), "duration": 60}

    response = doctor_client.post(reverse("slot-bulk"), run, format="json")

    skipped = "at a time the clinic's clock skips (America/New_York)"
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [
            f"{SPRING} 01:00-02:00: Slot ends {skipped}",
            f"{SPRING} 02:00-03:00: Slot starts {skipped}",
        ]
    }
    assert not TimeSlot.objects.exists()


def at_the_doubled_half_past_one(settings, frozen):
    """A slot at 01:30 on the autumn day, when New York's clocks show 01:30 twice."""
    settings.TIME_ZONE = NEW_YORK
    frozen(datetime(2027, 11, 1, tzinfo=UTC))
    return TimeSlotFactory(date=date(2027, 11, 7), start_time=time(1, 30))


def test_a_time_that_happens_twice_is_bookable_before_its_first_occurrence(
    settings, frozen, patient_client
):
    slot = at_the_doubled_half_past_one(settings, frozen)
    # 05:15 UTC is 01:15 EDT: the first 01:30 is still to come.
    frozen(datetime(2027, 11, 7, 5, 15, tzinfo=UTC))

    response = book(patient_client, slot)

    assert response.status_code == 200
    slot.refresh_from_db()
    assert slot.is_booked is True


def test_a_time_that_happens_twice_is_past_once_its_first_occurrence_has_passed(
    settings, frozen, patient_client
):
    slot = at_the_doubled_half_past_one(settings, frozen)
    # 05:45 UTC is 01:45 EDT: the first 01:30 has passed (the second, EST, has not).
    frozen(datetime(2027, 11, 7, 5, 45, tzinfo=UTC))

    response = book(patient_client, slot)

    assert response.status_code == 400
    assert response.json() == {"message": "Slot is in the past"}
    slot.refresh_from_db()
    assert slot.is_booked is False


@pytest.mark.parametrize("zone", ["Asia/Kolkata", NEW_YORK])
def test_the_first_day_of_the_calendar_is_past_not_an_overflow(settings, doctor_client, zone):
    settings.TIME_ZONE = zone
    slot = body("0001-01-01", "00:00", "00:30")

    response = doctor_client.post(reverse("doctor-timeslots"), slot, format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Slot is in the past"]}
    assert not TimeSlot.objects.exists()
