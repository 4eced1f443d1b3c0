"""Health, the OpenAPI schema and docs, and JSON errors under /api/."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


# --- health -----------------------------------------------------------------


def test_health_says_ok_when_the_database_answers(api_client):
    response = api_client.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_health_ignores_any_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    assert api_client.get("/api/health/").status_code == 200


def test_health_answers_503_when_the_database_fails(api_client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("config.views.connection.cursor", broken_cursor)

    response = api_client.get("/api/health/")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "down", "cache": "ok"}


def test_health_answers_503_when_the_database_server_is_unreachable():
    # A real process whose DATABASE_URL points at a port nothing listens on.
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/api/health/');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x" * 60,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == (
        '503 {"status": "error", "database": "down", "cache": "ok"}'
    ), result.stderr


# --- OpenAPI ----------------------------------------------------------------

DOCUMENTED_PATHS = [
    "/api/signup/",
    "/api/login/",
    "/api/profile/",
    "/api/profile/update/",
    "/api/token/",
    "/api/token/refresh/",
    "/api/token/blacklist/",
    "/api/health/",
    "/api/doctor/timeslots/",
    "/api/doctor/timeslots/{slot_id}/toggle/",
    "/api/doctor/timeslots/{slot_id}/delete/",
    "/api/doctor/timeslots/{slot_id}/book/",
    "/api/doctor/timeslots/{slot_id}/cancel/",
    "/api/doctor/timeslots/{slot_id}/hold/",
    "/api/doctor/holds/{hold_id}/",
    "/api/doctor/timeslots/bulk/",
    "/api/doctor/list/",
    "/api/doctor/user/timeslots/",
    "/api/doctor/user/bookings/",
    "/api/doctor/user/bookings/{booking_id}/reschedule/",
    "/api/doctor/user/bookings/{booking_id}/review/",
    "/api/doctor/bookings/{booking_id}/complete/",
    "/api/doctor/bookings/{booking_id}/no-show/",
    "/api/doctor/bookings/",
    "/api/doctor/waitlist/",
    "/api/doctor/waitlist/{entry_id}/",
    "/api/profile/calendar/",
    "/api/profile/calendar/reset/",
    "/api/calendar/{token}.ics",
    "/api/doctor/bookings/{booking_id}/history/",
    "/api/doctor/user/bookings/{booking_id}/history/",
    "/api/desk/patients/",
    "/api/desk/slots/",
    "/api/desk/bookings/",
    "/api/desk/bookings/{booking_id}/reschedule/",
    "/api/doctor/schedule/",
    "/api/doctor/schedule/overrides/",
    "/api/doctor/schedule/overrides/{date}/",
]


def openapi(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_openapi_3_and_documents_every_endpoint(api_client):
    schema = openapi(api_client)
    assert schema["openapi"].startswith("3.")
    assert sorted(schema["paths"]) == sorted(DOCUMENTED_PATHS)


def test_the_schema_documents_error_replies(api_client):
    paths = openapi(api_client)["paths"]
    book = paths["/api/doctor/timeslots/{slot_id}/book/"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "429"} <= set(book)
    login = paths["/api/login/"]["post"]["responses"]
    assert {"200", "400", "401", "403", "429"} <= set(login)


def test_the_schema_documents_request_bodies(api_client):
    paths = openapi(api_client)["paths"]
    create = paths["/api/doctor/timeslots/"]["post"]["requestBody"]["content"]
    assert "application/json" in create
    assert "requestBody" in paths["/api/signup/"]["post"]


def test_public_endpoints_need_no_token_in_the_schema(api_client):
    paths = openapi(api_client)["paths"]
    for path in ("/api/doctor/list/", "/api/doctor/user/timeslots/", "/api/health/"):
        assert paths[path]["get"].get("security") in (None, [], [{}])
    assert paths["/api/doctor/timeslots/"]["get"]["security"] == [{"jwtAuth": []}]


def test_the_schema_validates_without_warnings():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            os.devnull,
            "--settings",
            "tests.settings",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_swagger_ui_is_served_from_the_project_not_a_cdn(api_client):
    response = api_client.get("/api/docs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "unpkg" not in html.lower()


def test_the_site_root_redirects_to_the_swagger_ui():
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("docs")
    assert Client().get(response["Location"]).status_code == 200


def test_the_admins_view_site_link_leads_to_the_swagger_ui(admin_user):
    client = Client()
    client.force_login(admin_user)

    site_url = client.get(reverse("admin:index")).context["site_url"]

    assert client.get(site_url, follow=True).redirect_chain == [(reverse("docs"), 302)]


def test_the_swagger_ui_assets_are_served(api_client):
    response = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert response.status_code == 200


# --- JSON errors ------------------------------------------------------------


def test_an_unknown_api_url_answers_json_404(api_client):
    response = api_client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_unknown_non_api_url_keeps_djangos_page():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_unexpected_error_answers_json_500_without_details(patient, monkeypatch):
    from tests.conftest import bearer

    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("doctor.services.slot_book", explode)
    client = Client(raise_request_exception=False)

    response = client.post("/api/doctor/timeslots/1/book/", HTTP_AUTHORIZATION=bearer(patient))

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert b"secret internals" not in response.content
