"""Faults outside the app: a database that is down, a Redis that hangs."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from django.urls import reverse

from config.views import server_error
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
OUTAGE = {"detail": "Service temporarily unavailable."}


# --- the database is down ---------------------------------------------------


def run_without_database(code):
    """Run `code` in a process whose DATABASE_URL points at a port nothing listens on."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x" * 60,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


REPLY = (
    "import json\n"
    "from django.test import Client\n"
    "c = Client(raise_request_exception=False)\n"
    "def reply(r):\n"
    "    return [r.status_code, r.get('Retry-After'), r['Content-Type'], r.content.decode()]\n"
)


def test_an_api_endpoint_answers_503_with_retry_after_when_the_database_is_down():
    status, retry_after, content_type, body = run_without_database(
        REPLY + f"print(json.dumps(reply(c.get({reverse('doctor-list')!r}))))"
    )

    assert (status, retry_after, content_type) == (503, "5", "application/json")
    assert json.loads(body) == OUTAGE


def test_an_authenticated_endpoint_answers_503_when_the_database_is_down():
    status, retry_after, _, body = run_without_database(
        REPLY + "from rest_framework_simplejwt.tokens import AccessToken\n"
        "token = AccessToken()\n"
        "token['user_id'] = '1'\n"
        f"r = c.get({reverse('profile')!r}, HTTP_AUTHORIZATION=f'Bearer {{token}}')\n"
        "print(json.dumps(reply(r)))"
    )

    assert (status, retry_after) == (503, "5")
    assert json.loads(body) == OUTAGE


def test_the_admin_answers_a_plain_503_when_the_database_is_down():
    status, retry_after, content_type, body = run_without_database(
        REPLY + "c.cookies['sessionid'] = 'a' * 32\nprint(json.dumps(reply(c.get('/admin/'))))"
    )

    assert (status, retry_after, content_type) == (503, "5", "text/plain")
    assert body == "Service temporarily unavailable."


def test_health_still_answers_503_with_the_cache_when_the_database_is_down():
    status, _, _, body = run_without_database(
        REPLY + f"print(json.dumps(reply(c.get({reverse('health')!r}))))"
    )

    assert status == 503
    assert json.loads(body) == {"status": "error", "database": "down", "cache": "ok"}


def test_the_500_handler_answers_503_for_a_database_outage_outside_drf():
    request = RequestFactory().get("/api/anything/")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(request)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert json.loads(response.content) == OUTAGE


def test_the_500_handler_still_answers_500_for_a_bug():
    request = RequestFactory().get("/api/anything/")
    try:
        raise RuntimeError("bug")
    except RuntimeError:
        response = server_error(request)

    assert response.status_code == 500
    assert json.loads(response.content) == {"detail": "Internal server error."}


# --- Redis accepts connections but never answers ----------------------------

STALL = 5  # seconds the fake Redis holds each connection silent before closing it


@pytest.fixture
def hung_redis(settings):
    """A TCP server on 127.0.0.1 that accepts and never answers, as the cache."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()
    held = []

    def serve():
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append((server.accept()[0], time.monotonic()))
            while held and time.monotonic() - held[0][1] > STALL:
                held.pop(0)[0].close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{server.getsockname()[1]}/0",
            "OPTIONS": settings.REDIS_OPTIONS,  # the timeouts production uses
        }
    }
    yield
    stop.set()
    thread.join()
    for conn, _ in held:
        conn.close()
    server.close()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_throttled_login_fails_open_quickly_when_redis_hangs(hung_redis, api_client, patient):
    response, elapsed = timed(
        lambda: api_client.post(reverse("login"), {"email": patient.email, "password": PASSWORD})
    )

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh", "user"}
    assert elapsed < 2, f"took {elapsed:.1f}s against a {STALL}s stall"


def test_health_reports_the_cache_down_quickly_and_stays_200(hung_redis, api_client):
    response, elapsed = timed(lambda: api_client.get(reverse("health")))

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "down"}
    assert elapsed < 2, f"took {elapsed:.1f}s against a {STALL}s stall"


def test_health_reports_an_unreachable_cache_down(settings, api_client):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": settings.REDIS_OPTIONS,
        }
    }

    response = api_client.get(reverse("health"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "down"}
