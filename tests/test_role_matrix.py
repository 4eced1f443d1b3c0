"""The role matrix of docs/roles.md, one request per cell."""

import re
from datetime import time, timedelta
from itertools import count
from pathlib import Path
from types import SimpleNamespace

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from calendars.models import CalendarFeed
from schedules.models import Override
from tests.conftest import PASSWORD, bearer
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    HoldFactory,
    PatientFactory,
    TimeSlotFactory,
    UserFactory,
    WaitlistEntryFactory,
    tomorrow,
)

ROLES = [
    "anonymous",
    "patient",
    "doctor",
    "other doctor",
    "other patient",
    "admin",
    "desk",
    "other desk",
]
TABLE = Path(__file__).resolve().parent.parent / "docs" / "roles.md"
ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) (/\S+) \|(.+)\|$")


def read_matrix():
    cells = []
    for line in TABLE.read_text().splitlines():
        match = ROW.match(line)
        if match:
            method, path, statuses = match.groups()
            codes = [int(c) for c in statuses.split("|")]
            assert len(codes) == len(ROLES), line
            cells += [(method, path, role, code) for role, code in zip(ROLES, codes, strict=True)]
    return cells


MATRIX = read_matrix()
emails = count()


@pytest.fixture
def world(db):
    doctor, patient, other_doctor = DoctorFactory(), PatientFactory(), DoctorFactory()
    desk, other_desk = UserFactory(user_type="desk"), UserFactory(user_type="desk")
    desk.desk_doctors.set([doctor])
    other_desk.desk_doctors.set([other_doctor])
    world = SimpleNamespace(
        users={
            "patient": patient,
            "doctor": doctor,
            "other doctor": other_doctor,
            "other patient": PatientFactory(),
            "admin": UserFactory(user_type="admin", is_staff=True, is_superuser=True),
            "desk": desk,
            "other desk": other_desk,
        },
        patient=patient,
        feed_token=CalendarFeed.objects.create(user=patient).token,
        free_slot=TimeSlotFactory(doctor=doctor),
        booking=BookingFactory(slot__doctor=doctor, slot__start_time=time(14, 0), patient=patient),
        hold=HoldFactory(slot__doctor=doctor, slot__start_time=time(16, 0), patient=patient),
        # On a third doctor's list, so that joining *doctor*'s list is a first join.
        entry=WaitlistEntryFactory(patient=patient),
        override=Override.objects.create(doctor=doctor, date=tomorrow() + timedelta(days=5)),
    )
    world.booked_slot = world.booking.slot
    # Visits that have started (yesterday's slots): one to record, one completed to review.
    world.visit = BookingFactory(slot__doctor=doctor, past=True, patient=patient)
    world.completed = BookingFactory(
        slot__doctor=doctor,
        past=True,
        slot__start_time=time(12, 0),
        patient=patient,
        status="completed",
    )
    return world


def body_for(path, world):
    later = (tomorrow() + timedelta(days=5)).isoformat()
    credentials = {"email": world.patient.email, "password": PASSWORD}
    refresh = {"refresh": str(RefreshToken.for_user(world.patient))}
    return {
        "/api/signup/": {
            "email": f"matrix{next(emails)}@example.com",
            "password": "Clinic-pass-2026",
            "full_name": "New Person",
            "user_type": "user",
        },
        "/api/login/": credentials,
        "/api/token/": credentials,
        "/api/token/refresh/": refresh,
        "/api/token/blacklist/": refresh,
        "/api/profile/update/": {"phone": "+91 11111"},
        "/api/doctor/timeslots/": {"date": later, "start_time": "15:00", "end_time": "15:30"},
        "/api/doctor/user/bookings/{booking}/reschedule/": {"slot_id": world.free_slot.id},
        "/api/doctor/waitlist/": {
            "doctor": world.users["doctor"].id,
            "date_from": later,
            "date_to": later,
        },
        "/api/doctor/user/bookings/{completed}/review/": {"rating": 5},
        # A search (GET: the query string) and a walk-in (POST) on one path.
        "/api/desk/patients/": {"search": "example", "full_name": "Walk In", "phone": "+91 222"},
        "/api/desk/bookings/": {"slot_id": world.free_slot.id, "patient_id": world.patient.id},
        "/api/desk/bookings/{booking}/reschedule/": {"slot_id": world.free_slot.id},
        "/api/doctor/schedule/": {"slot_minutes": 30, "weeks_ahead": 1, "windows": []},
        "/api/doctor/schedule/overrides/": {"date": later, "windows": []},
        "/api/doctor/timeslots/bulk/": {
            "date": later,
            "start_time": "16:00",
            "end_time": "17:00",
            "duration": 30,
        },
    }.get(path)


@pytest.mark.parametrize(
    "method,path,role,expected",
    MATRIX,
    ids=[f"{m} {p} as {r}" for m, p, r, _ in MATRIX],
)
def test_role_matrix(world, method, path, role, expected):
    slot = world.booked_slot if path.endswith("/cancel/") else world.free_slot
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=bearer(world.users[role]))

    url = (
        path.replace("{slot}", str(slot.id))
        .replace("{hold}", str(world.hold.id))
        .replace("{booking}", str(world.booking.id))
        .replace("{entry}", str(world.entry.id))
        .replace("{visit}", str(world.visit.id))
        .replace("{completed}", str(world.completed.id))
        .replace("{token}", world.feed_token)
        .replace("{date}", world.override.date.isoformat())
    )
    response = getattr(client, method.lower())(url, body_for(path, world), format="json")

    assert response.status_code == expected, response.content[:300]


def test_the_matrix_covers_every_api_endpoint():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    documented = {
        (method.upper(), re.sub(r"\{(slot|hold|booking|entry)_id\}", r"{\1}", path))
        for path, operations in paths.items()
        for method in operations
    }
    # {visit} and {completed} are bookings too, in the states their endpoints need.
    in_table = {
        (method, re.sub(r"\{(visit|completed)\}", "{booking}", path))
        for method, path, _, _ in MATRIX
    }
    assert documented <= in_table
