import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import PASSWORD, DoctorFactory, PatientFactory, UserFactory

__all__ = [
    "CANNOT_BE_SET",
    "PERSONAL_UNSET",
    "NOW",
    "PASSWORD",
    "TAKEN",
    "UNSET_DOCTOR_ROW",
    "Clock",
    "bearer",
    "booked_reply",
    "client_for",
    "on_postgres",
    "run_together",
    "snapshot",
]

# Replies and rows the account tests share.
TAKEN = {"message": "Email already registered"}
CANNOT_BE_SET = ["This field cannot be set."]
# What a doctor who left the doctor fields out has, as stored.
UNSET_DOCTOR_ROW = {
    "specialization": "",
    "years_of_experience": None,
    "consultation_fee": None,
    "clinic_address": "",
    "video_consult_fee": None,
    "home_consult_fee": None,
    "home_consultation": False,
    "languages": "",
    "description": "",
}


# The personal keys (contract Part 5) of every profile reply, as a new account has them.
PERSONAL_UNSET = {
    "lastName": "",
    "address": "",
    "deliveryAddress": "",
    "apartment": "",
    "district": "",
    "city": "",
    "state": "",
    "pincode": "",
    "gender": "",
    "dateOfBirth": None,
    "emergencyContact": "",
    "profilePhoto": None,
    "deskDoctors": [],  # a desk user's doctors; every other profile has none
}


def booked_reply(slot, patient, booking):
    """The contract's reply to `patient` booking `slot`, which made `booking`."""
    return {
        "message": "Slot booked successfully",
        "slot_id": slot.id,
        "doctor_id": slot.doctor_id,
        "user_id": patient.id,
        "booking_id": booking.id,
        "booked_by": booking.booked_by,
        "visit_type": booking.visit_type,
        "fee": None if booking.fee is None else float(booking.fee),
    }


def on_postgres():
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    if os.environ.get("REQUIRE_POSTGRES") and not on_postgres():
        raise pytest.UsageError("REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL")
    if on_postgres():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL); SQLite has no row locks")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    # In the PostgreSQL leg of CI nothing may be skipped: a skipped race test
    # there would be a guarantee we claim without proof.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("REQUIRE_POSTGRES") and reporter and reporter.stats.get("skipped"):
        reporter.write_line("REQUIRE_POSTGRES: tests were skipped on PostgreSQL", red=True)
        session.exitstatus = 1


def bearer(user):
    return f"Bearer {RefreshToken.for_user(user).access_token}"


def run_together(calls):
    """Run each call in its own thread, all released at once; return their results in order.

    Each thread closes its own database connection, so on PostgreSQL every call
    is a separate session, as separate server processes would be.
    """
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=10)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def snapshot(user):
    """The user's stored row (but last_login): equal before and after a refused request."""
    user.refresh_from_db()
    row = {
        field.attname: getattr(user, field.attname)
        for field in type(user)._meta.concrete_fields
        if field.attname != "last_login"
    }
    row["groups"] = list(user.groups.all())
    row["user_permissions"] = list(user.user_permissions.all())
    return row


def client_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client


class Clock:
    """A stand-in for timezone.now(): it answers `now`, which moves only when told."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def move(self, **delta):
        """Move the clock on by timedelta(**delta); return the new now."""
        self.now += timedelta(**delta)
        return self.now


class Frozen:
    """What the `frozen` fixture gives: `frozen(moment)` stands timezone.now() still
    at `moment`; `frozen.move(seconds=...)` moves it on (from the real now, the
    first time, if nothing froze it yet). The clock runs again after the test."""

    def __init__(self, monkeypatch):
        self._monkeypatch = monkeypatch
        self._real_now = timezone.now
        self.clock = None

    def __call__(self, moment):
        if self.clock is None:
            self.clock = Clock(moment)
            self._monkeypatch.setattr(timezone, "now", self.clock)
        self.clock.now = moment
        return moment

    def move(self, **delta):
        start = self.clock.now if self.clock else self._real_now()
        return self(start + timedelta(**delta))


@pytest.fixture
def frozen(monkeypatch):
    """The suite's one way to stop or move time: see Frozen."""
    return Frozen(monkeypatch)


# 20:00 UTC is 01:30 the next day in Kolkata: "today" differs between the two zones.
NOW = datetime(2030, 6, 10, 20, 0, tzinfo=UTC)


@pytest.fixture(params=["UTC", "Asia/Kolkata"])
def clock(request, settings, frozen):
    """The clinic in each zone, with time standing still at NOW; the zone's name."""
    settings.TIME_ZONE = request.param
    frozen(NOW)
    return request.param


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def doctor(db):
    return DoctorFactory()


@pytest.fixture
def other_doctor(db):
    return DoctorFactory()


@pytest.fixture
def patient(db):
    return PatientFactory()


@pytest.fixture
def admin_user(db):
    return UserFactory(user_type="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def doctor_client(doctor):
    return client_for(doctor)


@pytest.fixture
def patient_client(patient):
    return client_for(patient)


@pytest.fixture
def admin_client_jwt(admin_user):
    return client_for(admin_user)
