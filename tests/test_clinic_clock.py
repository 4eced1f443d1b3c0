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


@pytest.mark.parametrize("zone", ["UTC", NEW_YORK, "Asia/Kolkata", "Australia/Lord_Howe"])
@pytest.mark.parametrize("minutes, status", [(-1, 400), (1, 201)])
def test_the_past_is_judged_on_the_clinics_clock_in_any_zone(
    settings, frozen, doctor_client, zone, minutes, status
):
    settings.TIME_ZONE = zone
    now = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
    frozen(now)
    start = timezone.localtime(now, timezone.get_default_timezone()) + timedelta(minutes=minutes)
    end = start + timedelta(minutes=30)
    slot = body(start.date().isoformat(), f"{start:%H:%M}", f"{end:%H:%M}")

    response = doctor_client.post(reverse("doctor-timeslots"), slot, format="json")

    assert response.status_code == status
    if status == 400:
        assert response.json() == {"non_field_errors": ["Slot is in the past"]}
    assert TimeSlot.objects.count() == (status == 201)


@pytest.mark.parametrize(
    "zone, start, end, expected",
    [
        ("UTC", "02:30", "03:30", None),
        (NEW_YORK, "02:30", "03:30", "Slot starts at a time the clinic's clock skips"),
        (NEW_YORK, "01:30", "02:30", "Slot ends at a time the clinic's clock skips"),
        (NEW_YORK, "01:30", "03:30", None),  # spans the gap: both ends exist
    ],
)
def test_a_time_the_clock_skips_is_refused(
    settings, frozen, doctor_client, zone, start, end, expected
):
    settings.TIME_ZONE = zone
    frozen(datetime(2027, 3, 1, tzinfo=UTC))

    response = doctor_client.post(
        reverse("doctor-timeslots"), body(SPRING, start, end), format="json"
    )

    if expected is None:
        assert response.status_code == 201
        assert TimeSlot.objects.count() == 1
    else:
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


@pytest.mark.parametrize(
    "now, status, reply",
    [
        # 05:15 UTC is 01:15 EDT: the first 01:30 is still to come.
        (datetime(2027, 11, 7, 5, 15, tzinfo=UTC), 200, None),
        # 05:45 UTC is 01:45 EDT: the first 01:30 has passed (the second, EST, has not).
        (datetime(2027, 11, 7, 5, 45, tzinfo=UTC), 400, {"message": "Slot is in the past"}),
    ],
)
def test_a_time_that_happens_twice_means_its_first_occurrence(
    settings, frozen, patient_client, now, status, reply
):
    settings.TIME_ZONE = NEW_YORK
    frozen(datetime(2027, 11, 1, tzinfo=UTC))
    slot = TimeSlotFactory(date=date(2027, 11, 7), start_time=time(1, 30))
    frozen(now)

    response = book(patient_client, slot)

    assert response.status_code == status
    if reply is not None:
        assert response.json() == reply
    slot.refresh_from_db()
    assert slot.is_booked is (status == 200)


@pytest.mark.parametrize("zone", ["Asia/Kolkata", NEW_YORK])
def test_the_first_day_of_the_calendar_is_past_not_an_overflow(settings, doctor_client, zone):
    settings.TIME_ZONE = zone
    slot = body("0001-01-01", "00:00", "00:30")

    response = doctor_client.post(reverse("doctor-timeslots"), slot, format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Slot is in the past"]}
    assert not TimeSlot.objects.exists()
