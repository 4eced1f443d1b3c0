"""Staff manage weekly schedules and date overrides in the admin, under the API's rules."""

from datetime import UTC, date, datetime, time

import pytest
from django.test import Client
from django.urls import reverse

from doctor.models import TimeSlot
from schedules.models import Override, Schedule

pytestmark = pytest.mark.django_db

MONDAY = date(2030, 6, 10)
ADD_SCHEDULE = reverse("admin:schedules_schedule_add")
ADD_OVERRIDE = reverse("admin:schedules_override_add")


@pytest.fixture(autouse=True)
def clinic(settings, frozen):
    settings.TIME_ZONE = "UTC"
    frozen(datetime(2030, 6, 10, 6, 0, tzinfo=UTC))


@pytest.fixture
def staff(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def inline(prefix, rows):
    form = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for n, row in enumerate(rows):
        form |= {f"{prefix}-{n}-{key}": value for key, value in row.items()}
    return form


def schedule_form(doctor, *windows, weeks="1"):
    rows = [{"weekday": d, "start_time": s, "end_time": e} for d, s, e in windows]
    body = {"doctor": doctor.pk, "slot_minutes": "30", "weeks_ahead": weeks}
    return body | inline("windows", rows)


def test_staff_add_a_schedule_and_its_slots_are_made(staff, doctor):
    response = staff.post(ADD_SCHEDULE, schedule_form(doctor, ("0", "09:00", "10:00")))

    assert response.status_code == 302
    assert Schedule.objects.get().windows.count() == 1
    assert list(TimeSlot.objects.values_list("date", "start_time", "source")) == [
        (MONDAY, time(9, 0), "schedule"),
        (MONDAY, time(9, 30), "schedule"),
    ]


def test_overlapping_windows_are_refused_in_the_admin(staff, doctor):
    form = schedule_form(doctor, ("0", "09:00", "10:00"), ("0", "09:30", "11:00"))

    response = staff.post(ADD_SCHEDULE, form)

    assert response.status_code == 200  # the form again, with the error
    assert not Schedule.objects.exists()
    assert not TimeSlot.objects.exists()


def test_over_the_cap_the_admin_saves_nothing(staff, doctor, settings):
    settings.MAX_OPEN_SLOTS_PER_DOCTOR = 1

    staff.post(ADD_SCHEDULE, schedule_form(doctor, ("0", "09:00", "10:00")))

    assert not Schedule.objects.exists()
    assert not TimeSlot.objects.exists()


def test_staff_close_a_day_with_an_override(staff, doctor):
    staff.post(ADD_SCHEDULE, schedule_form(doctor, ("0", "09:00", "10:00")))
    body = {"doctor": doctor.pk, "date": MONDAY.isoformat()} | inline("windows", [])

    response = staff.post(ADD_OVERRIDE, body)

    assert response.status_code == 302
    assert Override.objects.get().date == MONDAY
    assert not TimeSlot.objects.exists()


def test_deleting_an_override_in_the_admin_gives_the_day_back(staff, doctor):
    staff.post(ADD_SCHEDULE, schedule_form(doctor, ("0", "09:00", "10:00")))
    staff.post(
        ADD_OVERRIDE, {"doctor": doctor.pk, "date": MONDAY.isoformat()} | inline("windows", [])
    )
    override = Override.objects.get()

    url = reverse("admin:schedules_override_delete", args=[override.pk])
    staff.post(url, {"post": "yes"})

    assert not Override.objects.exists()
    assert TimeSlot.objects.count() == 2


def test_the_slot_and_booking_lists_show_source_and_visit_type(staff, doctor):
    staff.post(ADD_SCHEDULE, schedule_form(doctor, ("0", "09:00", "10:00")))

    page = staff.get(reverse("admin:doctor_timeslot_changelist"))
    bookings = staff.get(reverse("admin:doctor_booking_changelist"))

    assert b"Made by the schedule" in page.content
    assert b"visit type" in bookings.content.lower()
