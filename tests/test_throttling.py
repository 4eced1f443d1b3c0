"""Throttles on login, signup and booking: local memory, and Redis shared by processes."""

import os
import subprocess
import sys
import uuid
from datetime import time
from pathlib import Path

import pytest
from django.core.cache import caches
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from doctor.models import Booking, WaitlistEntry
from idempotency.models import IdempotencyKey
from tests.conftest import client_for, run_together
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    PatientFactory,
    TimeSlotFactory,
    tomorrow,
)
from tests.steps import book

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def rates(monkeypatch):
    """Low limits for the test; the real ones come from THROTTLE_RATE_* env vars."""
    for scope in ("login", "signup", "booking"):
        monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, scope, "3/min")


@pytest.fixture
def redis_cache(settings):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        if os.environ.get("REQUIRE_POSTGRES"):  # CI: Redis is part of the deal there
            raise
        pytest.skip(f"needs Redis at {REDIS_URL}")
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield prefix
    caches["default"].clear()


def login(client, email="nobody@example.com"):
    return client.post("/api/login/", {"email": email, "password": "wrong-password"})


def test_login_answers_429_over_the_limit(rates, api_client, patient):
    codes = [login(api_client, patient.email).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert "Retry-After" in login(api_client, patient.email)


def test_the_standard_token_endpoint_shares_the_login_limit(rates, api_client, patient):
    for _ in range(3):
        login(api_client, patient.email)
    response = api_client.post("/api/token/", {"email": patient.email, "password": "wrong"})
    assert response.status_code == 429


def test_a_throttled_login_is_refused_even_with_the_right_password(rates, api_client, patient):
    for _ in range(3):
        login(api_client, patient.email)
    response = api_client.post(
        "/api/login/", {"email": patient.email, "password": "S3cure-pass-123"}
    )
    assert response.status_code == 429


def test_login_limits_are_per_client_address(rates, api_client):
    for _ in range(3):
        login(api_client)
    other = api_client.post(
        "/api/login/",
        {"email": "x@example.com", "password": "y"},
        REMOTE_ADDR="10.9.8.7",
    )
    assert other.status_code == 401


def test_a_forged_forwarded_for_header_does_not_dodge_the_limit(rates, api_client):
    codes = [
        api_client.post(
            "/api/login/",
            {"email": "x@example.com", "password": "y"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(4)
    ]
    assert codes[-1] == 429


def test_signup_answers_429_over_the_limit(rates, api_client, django_user_model):
    def signup(n):
        return api_client.post(
            "/api/signup/",
            {
                "email": f"new{n}@example.com",
                "password": "Clinic-pass-2026",
                "full_name": "New Person",
                "user_type": "user",
            },
        ).status_code

    assert [signup(n) for n in range(4)] == [201, 201, 201, 429]
    assert django_user_model.objects.filter(email__startswith="new").count() == 3


def test_booking_answers_429_over_the_limit_per_user(rates):
    patient = PatientFactory()
    client = client_for(patient)
    slots = [TimeSlotFactory(date=tomorrow(), start_time=time(9 + n)) for n in range(5)]

    codes = [book(client, s).status_code for s in slots[:4]]

    assert codes == [200, 200, 200, 429]
    assert Booking.objects.filter(patient=patient).count() == 3
    another = book(client_for(PatientFactory()), slots[4])
    assert another.status_code == 200


def test_the_redis_cache_holds_the_counters(rates, redis_cache, api_client):
    import redis

    codes = [login(api_client).status_code for _ in range(4)]

    assert codes == [401, 401, 401, 429]
    keys = redis.Redis.from_url(REDIS_URL).keys(f"{redis_cache}:*throttle_login*")
    assert len(keys) == 1


def test_a_limit_in_redis_holds_across_processes(rates, redis_cache, api_client):
    # Another process on the same Redis spends this client's login budget...
    code = (
        "import django; django.setup();"
        "from django.core.cache import caches;"
        f"caches['default'].key_prefix = {redis_cache!r};"
        "from django.test import Client;"
        "c = Client();"
        "print([c.post('/api/login/', {}, content_type='application/json').status_code"
        " for _ in range(3)])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "REDIS_URL": REDIS_URL,
        "THROTTLE_RATE_LOGIN": "3/min",
        "ALLOWED_HOSTS": "testserver",
    }
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert other.stdout.strip() == "[400, 400, 400]", other.stderr

    # ...so this process refuses the next attempt.
    assert login(api_client).status_code == 429


def test_an_unreachable_redis_lets_requests_through_instead_of_failing(
    rates, settings, api_client, patient
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    response = api_client.post(
        "/api/login/", {"email": patient.email, "password": "S3cure-pass-123"}
    )
    assert response.status_code == 200
    assert "access" in response.json()


def login_burst(size, email="nobody@example.com"):
    def attempt():
        return login(APIClient(), email).status_code

    return sorted(run_together([attempt] * size))


@pytest.fixture
def ten_a_minute(monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "10/min")


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_parallel_logins_on_redis_admits_no_more_than_the_rate(
    ten_a_minute, redis_cache
):
    assert login_burst(60) == [401] * 10 + [429] * 50


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_parallel_logins_in_local_memory_admits_no_more_than_the_rate(ten_a_minute):
    assert login_burst(60) == [401] * 10 + [429] * 50


def test_a_refusal_says_when_the_window_ends(rates, api_client):
    for _ in range(3):
        login(api_client)

    response = login(api_client)

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


# --- every endpoint that accepts an Idempotency-Key is throttled per user -------------
# (book, hold and reschedule spend `booking`, slot creation `slots`; cancel and the
# waitlist join have their own scopes), so no caller can store keys without bound.


@pytest.fixture
def key_rates(monkeypatch):
    for scope in ("cancel", "waitlist"):
        monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, scope, "3/min")


def cancel(client, slot, key):
    return client.post(reverse("slot-cancel", args=[slot.id]), HTTP_IDEMPOTENCY_KEY=key)


def test_cancel_answers_429_over_the_limit_per_user_and_keeps_no_key(key_rates):
    patient = PatientFactory()
    client = client_for(patient)
    bookings = [BookingFactory(patient=patient, slot__start_time=time(9 + n)) for n in range(5)]

    codes = [cancel(client, b.slot, f"k-{n}").status_code for n, b in enumerate(bookings[:4])]

    assert codes == [200, 200, 200, 429]
    assert IdempotencyKey.objects.filter(user=patient).count() == 3
    assert "Retry-After" in cancel(client, bookings[4].slot, "k-4")
    other = PatientFactory()
    theirs = BookingFactory(patient=other)
    assert cancel(client_for(other), theirs.slot, "k-0").status_code == 200


def test_a_doctors_cancels_are_throttled_too(key_rates):
    doctor = DoctorFactory()
    client = client_for(doctor)
    bookings = [BookingFactory(slot__doctor=doctor, slot__start_time=time(9 + n)) for n in range(4)]

    codes = [cancel(client, b.slot, f"k-{n}").status_code for n, b in enumerate(bookings)]

    assert codes == [200, 200, 200, 429]


def test_waitlist_join_answers_429_over_the_limit_and_reading_the_list_is_free(key_rates):
    patient = PatientFactory()
    client = client_for(patient)
    day = tomorrow().isoformat()

    def join(n):
        body = {"doctor": DoctorFactory().id, "date_from": day, "date_to": day}
        return client.post(
            reverse("waitlist"), body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{n}"
        ).status_code

    assert [join(n) for n in range(4)] == [201, 201, 201, 429]
    assert WaitlistEntry.objects.filter(patient=patient).count() == 3
    assert IdempotencyKey.objects.filter(user=patient).count() == 3
    assert client.get(reverse("waitlist")).status_code == 200
