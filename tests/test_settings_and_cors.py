"""CORS for the React origins, and the settings rules of the Configuration table."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REACT_ORIGIN = "http://localhost:3000"
OTHER_REACT_ORIGIN = "http://127.0.0.1:3000"
EVIL_ORIGIN = "http://evil.example"


def preflight(client, url, origin, method, headers=None):
    extra = {"HTTP_ORIGIN": origin, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": method}
    if headers:
        extra["HTTP_ACCESS_CONTROL_REQUEST_HEADERS"] = headers
    return client.options(url, **extra)


def listed(header_value):
    return {item.strip().lower() for item in (header_value or "").split(",") if item.strip()}


# --- CORS preflights the React page sends -------------------------------------------------

REACT_PREFLIGHTS = [
    pytest.param("/api/signup/", "POST", "content-type", id="signup-post"),
    pytest.param("/api/login/", "POST", "content-type", id="login-post"),
    pytest.param("/api/doctor/list/", "GET", "authorization", id="doctor-list-get"),
    pytest.param("/api/profile/", "GET", "authorization", id="profile-get"),
    pytest.param(
        "/api/doctor/timeslots/", "POST", "authorization, content-type", id="add-slot-post"
    ),
    pytest.param(
        "/api/doctor/timeslots/1/book/", "POST", "authorization, content-type", id="book-post"
    ),
    pytest.param(
        "/api/profile/update/", "PATCH", "authorization, content-type", id="profile-patch"
    ),
    pytest.param("/api/doctor/timeslots/1/toggle/", "PATCH", "authorization", id="toggle-patch"),
    pytest.param("/api/doctor/timeslots/1/delete/", "DELETE", "authorization", id="delete"),
]


def test_a_browser_may_send_an_idempotency_key(api_client):
    response = preflight(
        api_client,
        "/api/doctor/timeslots/1/book/",
        REACT_ORIGIN,
        "POST",
        "authorization, content-type, idempotency-key",
    )

    assert "idempotency-key" in listed(response["Access-Control-Allow-Headers"])


def test_a_browser_may_read_the_retry_and_replay_headers(patient_client):
    response = patient_client.get("/api/doctor/user/bookings/", HTTP_ORIGIN=REACT_ORIGIN)

    exposed = listed(response["Access-Control-Expose-Headers"])
    assert {"retry-after", "idempotent-replayed", "etag", "link", "x-truncated"} <= exposed


@pytest.mark.parametrize(("url", "method", "headers"), REACT_PREFLIGHTS)
def test_a_preflight_from_the_react_origin_is_allowed(api_client, url, method, headers):
    response = preflight(api_client, url, REACT_ORIGIN, method, headers)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == REACT_ORIGIN
    assert method.lower() in listed(response["Access-Control-Allow-Methods"])
    assert listed(headers) <= listed(response["Access-Control-Allow-Headers"])


@pytest.mark.parametrize(("url", "method", "headers"), REACT_PREFLIGHTS)
def test_a_preflight_from_the_other_default_origin_is_allowed(api_client, url, method, headers):
    response = preflight(api_client, url, OTHER_REACT_ORIGIN, method, headers)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == OTHER_REACT_ORIGIN


@pytest.mark.parametrize(("url", "method", "headers"), REACT_PREFLIGHTS)
def test_a_preflight_from_another_origin_gets_no_cors_allowance(api_client, url, method, headers):
    response = preflight(api_client, url, EVIL_ORIGIN, method, headers)

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Credentials" not in response


def test_an_origin_that_only_resembles_an_allowed_one_gets_no_cors_allowance(api_client):
    for origin in ("http://localhost:3000.evil.example", "https://localhost:3000", "null"):
        response = preflight(api_client, "/api/login/", origin, "POST", "content-type")

        assert "Access-Control-Allow-Origin" not in response, origin


@pytest.mark.django_db
def test_an_actual_request_from_the_react_origin_carries_the_allow_origin_header(api_client):
    response = api_client.get("/api/doctor/list/", HTTP_ORIGIN=REACT_ORIGIN)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == REACT_ORIGIN


@pytest.mark.django_db
def test_an_error_reply_to_the_react_origin_carries_the_allow_origin_header(api_client):
    # The page must be able to read a 401 to know its token is bad.
    response = api_client.get("/api/profile/", HTTP_ORIGIN=REACT_ORIGIN)

    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == REACT_ORIGIN


@pytest.mark.django_db
def test_an_actual_request_from_another_origin_gets_no_allow_origin_header(api_client):
    response = api_client.get("/api/doctor/list/", HTTP_ORIGIN=EVIL_ORIGIN)

    assert "Access-Control-Allow-Origin" not in response


def test_cors_is_never_allow_all():
    assert getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False) is False
    assert getattr(settings, "CORS_ORIGIN_ALLOW_ALL", False) is False
    assert not getattr(settings, "CORS_ALLOWED_ORIGIN_REGEXES", [])


# --- renderers ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_browser_asking_for_html_gets_json_not_the_browsable_api(api_client, doctor):
    response = api_client.get(
        "/api/doctor/list/",
        HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert [card["id"] for card in response.json()] == [doctor.id]
    assert b"<html" not in response.content.lower()


@pytest.mark.django_db
def test_a_request_accepting_only_html_gets_no_html(api_client):
    response = api_client.get("/api/doctor/list/", HTTP_ACCEPT="text/html")

    assert response.status_code == 406
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_an_unknown_url_answers_json_not_an_html_page(api_client):
    response = api_client.get("/api/no-such-endpoint/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert b"<html" not in response.content.lower()


# --- settings read from the environment, in a fresh interpreter ---------------------------


# Left out of the inherited environment, so that each test sets exactly what it means.
SETTINGS_UNDER_TEST = {
    "SECRET_KEY",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "CORS_ALLOWED_ORIGINS",
    "THROTTLE_RATE_LOGIN",
}


def run_settings(env_overrides, code="django.setup()"):
    """Import config.settings in a clean interpreter with only the given overrides."""
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS_UNDER_TEST}
    env.update(env_overrides)
    script = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; " + code
    return subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_secret_key_and_with_debug_off_the_settings_refuse_to_load():
    result = run_settings({"DEBUG": "0"})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_with_an_empty_secret_key_and_debug_off_the_settings_refuse_to_load():
    result = run_settings({"DEBUG": "0", "SECRET_KEY": ""})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_debug_defaults_to_off_so_a_missing_secret_key_refuses_to_load():
    result = run_settings({})

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_without_secret_key_but_with_debug_on_the_settings_load():
    result = run_settings(
        {"DEBUG": "1"},
        "django.setup(); from django.conf import settings; "
        "print(bool(settings.DEBUG), bool(settings.SECRET_KEY))",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_with_a_secret_key_and_debug_off_the_settings_load_with_that_key():
    result = run_settings(
        {"DEBUG": "0", "SECRET_KEY": "a-real-production-secret"},
        "django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.SECRET_KEY)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "a-real-production-secret"]


def test_with_debug_off_only_the_json_renderer_is_configured():
    result = run_settings(
        {"DEBUG": "0", "SECRET_KEY": "x"},
        "django.setup(); import json; from django.conf import settings; "
        "print(json.dumps(settings.REST_FRAMEWORK['DEFAULT_RENDERER_CLASSES']))",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["rest_framework.renderers.JSONRenderer"]


def test_the_cors_origins_default_to_the_react_dev_server():
    result = run_settings(
        {"DEBUG": "0", "SECRET_KEY": "x"},
        "django.setup(); import json; from django.conf import settings; "
        "print(json.dumps(settings.CORS_ALLOWED_ORIGINS))",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [REACT_ORIGIN, OTHER_REACT_ORIGIN]


def test_the_cors_origins_come_from_the_environment():
    result = run_settings(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x",
            "CORS_ALLOWED_ORIGINS": "https://app.quickmed.example,https://admin.quickmed.example",
        },
        "django.setup(); import json; from django.conf import settings; "
        "print(json.dumps(settings.CORS_ALLOWED_ORIGINS))",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "https://app.quickmed.example",
        "https://admin.quickmed.example",
    ]


PRINT_LOGIN_RATE = (
    "django.setup(); from django.conf import settings; "
    "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['login'])"
)


def test_the_login_rate_defaults_to_ten_a_minute_with_debug_off():
    result = run_settings({"DEBUG": "0", "SECRET_KEY": "x"}, PRINT_LOGIN_RATE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10/min"]


def test_the_login_rate_defaults_to_a_hundred_a_minute_with_debug_on():
    result = run_settings({"DEBUG": "1"}, PRINT_LOGIN_RATE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["100/min"]


def test_an_explicit_login_rate_wins_with_debug_on():
    result = run_settings({"DEBUG": "1", "THROTTLE_RATE_LOGIN": "5/min"}, PRINT_LOGIN_RATE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["5/min"]


def test_an_explicit_login_rate_wins_with_debug_off():
    result = run_settings(
        {"DEBUG": "0", "SECRET_KEY": "x", "THROTTLE_RATE_LOGIN": "3/hour"}, PRINT_LOGIN_RATE
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3/hour"]
