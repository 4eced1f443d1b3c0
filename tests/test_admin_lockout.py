"""/admin/login/ locks an account out from an address after repeated failures (django-axes)."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = reverse("admin:login")
LOCKED = "Account locked: too many login attempts. Please try again later."


@pytest.fixture(autouse=True)
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


def admin_login(email, password="wrong-password", address="127.0.0.1"):
    return Client(REMOTE_ADDR=address, raise_request_exception=False).post(
        ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"}
    )


def fail(email, times, address="127.0.0.1"):
    return [admin_login(email, address=address).status_code for _ in range(times)]


def test_the_admin_login_works_with_the_right_password(admin_user):
    response = admin_login(admin_user.email, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_repeated_failures_lock_the_account_out_from_that_address(admin_user, limit):
    # The failure that reaches the limit already answers with the lockout.
    assert fail(admin_user.email, limit) == [200] * (limit - 1) + [429]

    response = admin_login(admin_user.email, PASSWORD)

    assert response.status_code == 429
    assert response.content.decode() == LOCKED
    assert "sessionid" not in response.cookies


def test_the_email_in_another_case_counts_as_the_same_account(admin_user, limit):
    fail(admin_user.email.upper(), limit)

    assert admin_login(admin_user.email, PASSWORD).status_code == 429


def test_the_same_account_from_another_address_is_not_locked(admin_user, limit):
    fail(admin_user.email, limit)

    assert admin_login(admin_user.email, PASSWORD, address="10.9.8.7").status_code == 302


def test_another_account_from_the_same_address_is_not_locked(admin_user, limit):
    fail("someone-else@example.com", limit)

    assert admin_login(admin_user.email, PASSWORD).status_code == 302


def test_staff_unlock_an_account_and_address_with_axes_reset_ip_username(admin_user, limit):
    fail(admin_user.email, limit)

    call_command("axes_reset_ip_username", "127.0.0.1", admin_user.email)

    assert admin_login(admin_user.email, PASSWORD).status_code == 302


def test_api_login_failures_do_not_count_towards_the_admin_lockout(admin_user, limit):
    api = APIClient()
    for _ in range(limit + 1):
        response = api.post(reverse("login"), {"email": admin_user.email, "password": "wrong"})
        assert response.status_code == 401
        assert response.json() == {"error": "Invalid credentials"}

    assert admin_login(admin_user.email, PASSWORD).status_code == 302


def test_an_admin_lockout_leaves_the_api_login_alone(admin_user, limit):
    fail(admin_user.email, limit)

    response = APIClient().post(reverse("login"), {"email": admin_user.email, "password": PASSWORD})

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh", "user"}


def test_an_unreachable_cache_lets_the_admin_log_in(settings, admin_user):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": settings.REDIS_OPTIONS,
        }
    }

    assert admin_login(admin_user.email).status_code == 200
    assert admin_login(admin_user.email, PASSWORD).status_code == 302


def test_authenticate_without_a_request_still_works(admin_user):
    # The test client's login() and scripts call authenticate() with no request:
    # axes has nothing to count there and must not refuse them.
    assert Client().login(username=admin_user.email, password=PASSWORD) is True
