"""Hostile requests under /api/ get a clean JSON 4xx, never a 500 or an HTML page."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

NESTED = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_is_a_400_not_a_500(api_client):
    response = api_client.post(reverse("login"), NESTED, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nested too deeply."}


def test_deeply_nested_json_is_a_400_on_an_authenticated_endpoint(doctor_client):
    response = doctor_client.post(
        reverse("doctor-timeslots"), NESTED, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nested too deeply."}


def test_nesting_within_reason_still_parses(api_client):
    body = '{"email": "a@example.com", "password": "x", "extra": ' + "[" * 50 + "]" * 50 + "}"

    response = api_client.post(reverse("login"), body, content_type="application/json")

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


def test_a_body_over_the_upload_limit_is_a_json_400(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"email": "' + "a" * 2048 + '"}'

    response = Client().post(reverse("login"), body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Request body too large."}


def test_too_many_query_parameters_is_a_json_400(api_client):
    query = "&".join(f"p{n}=1" for n in range(1001))

    response = Client().get(f"{reverse('doctor-list')}?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Too many query or form parameters."}


def test_a_bad_host_is_a_json_400_under_api():
    response = Client().get(reverse("health"), HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Invalid Host header."}


def test_a_bad_host_outside_api_keeps_djangos_page():
    response = Client().get("/admin/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_an_unknown_method_is_a_json_405(api_client):
    response = api_client.delete(reverse("login"))

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "DELETE" not allowed.'}
