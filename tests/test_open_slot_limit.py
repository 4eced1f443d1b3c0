"""MAX_OPEN_SLOTS_PER_DOCTOR: a doctor's open (unbooked, upcoming) slots at most."""

from datetime import time

import pytest
from django.urls import reverse

from doctor.models import TimeSlot
from tests.conftest import client_for, run_together
from tests.factories import BookingFactory, DoctorFactory, TimeSlotFactory, tomorrow

TOO_MANY = {"message": "Too many open slots"}


@pytest.fixture
def limit_three(settings):
    settings.MAX_OPEN_SLOTS_PER_DOCTOR = 3


@pytest.fixture
def two_open(doctor):
    """Two open slots; a booked, a past and another doctor's slot do not count."""
    TimeSlotFactory(doctor=doctor, start_time=time(8, 0))
    TimeSlotFactory(doctor=doctor, start_time=time(8, 30), is_available=False)
    BookingFactory(slot__doctor=doctor, slot__start_time=time(9, 0))
    TimeSlotFactory(doctor=doctor, past=True)
    TimeSlotFactory(start_time=time(8, 0))
    return TimeSlot.objects.filter(doctor=doctor).count()


def one_slot(start):
    return {"date": tomorrow().isoformat(), "start_time": start, "end_time": f"{start[:2]}:30"}


def bulk(end_time):
    return {"date": tomorrow().isoformat(), "start_time": "12:00", "end_time": end_time}


@pytest.mark.django_db
def test_the_last_open_place_is_taken_and_the_next_slot_refused(
    limit_three, doctor, doctor_client, two_open
):
    url = reverse("doctor-timeslots")
    assert doctor_client.post(url, one_slot("10:00"), format="json").status_code == 201

    response = doctor_client.post(url, one_slot("11:00"), format="json")

    assert response.status_code == 400
    assert response.json() == TOO_MANY
    assert TimeSlot.objects.filter(doctor=doctor).count() == two_open + 1


@pytest.mark.django_db
def test_a_bulk_run_that_fits_under_the_limit_is_made(limit_three, doctor, doctor_client, two_open):
    body = {**bulk("12:30"), "duration": 30}  # one slot
    response = doctor_client.post(reverse("slot-bulk"), body, format="json")

    assert response.status_code == 201
    assert TimeSlot.objects.filter(doctor=doctor).count() == two_open + 1


@pytest.mark.django_db
def test_a_bulk_run_over_the_limit_makes_none_of_its_slots(
    limit_three, doctor, doctor_client, two_open
):
    body = {**bulk("13:00"), "duration": 30}  # two slots, one too many
    response = doctor_client.post(reverse("slot-bulk"), body, format="json")

    assert response.status_code == 400
    assert response.json() == TOO_MANY
    assert TimeSlot.objects.filter(doctor=doctor).count() == two_open


@pytest.mark.django_db
def test_the_admin_keeps_the_limit_with_the_same_text(limit_three, doctor, two_open, admin_user):
    from django.test import Client

    TimeSlotFactory(doctor=doctor, start_time=time(7, 0))  # the third open slot
    staff = Client()
    staff.force_login(admin_user)
    form = {**one_slot("10:00"), "doctor": doctor.pk, "duration": "30", "is_available": "on"}

    response = staff.post(reverse("admin:doctor_timeslot_add"), form)

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == ["Too many open slots"]
    assert TimeSlot.objects.filter(doctor=doctor).count() == two_open + 1


@pytest.mark.django_db
def test_the_default_limit_is_2000():
    from config import settings as project_settings

    assert project_settings.MAX_OPEN_SLOTS_PER_DOCTOR == 2000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_creates_racing_for_the_last_place_make_one_slot(settings):
    settings.MAX_OPEN_SLOTS_PER_DOCTOR = 1
    doctor = DoctorFactory()
    clients = [client_for(doctor), client_for(doctor)]
    url = reverse("doctor-timeslots")

    def create(client, start):
        return lambda: client.post(url, one_slot(start), format="json").status_code

    results = run_together([create(clients[0], "10:00"), create(clients[1], "11:00")])

    assert sorted(results) == [201, 400]
    assert TimeSlot.objects.filter(doctor=doctor).count() == 1
