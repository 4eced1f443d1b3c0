"""Logout by blacklisting the refresh token; refresh tokens rotate."""

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def login(api_client, user):
    response = api_client.post(
        "/api/login/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def test_logout_blacklists_the_refresh_token(api_client, patient):
    tokens = login(api_client, patient)

    response = api_client.post("/api/token/blacklist/", {"refresh": tokens["refresh"]})

    assert response.status_code == 200
    assert BlacklistedToken.objects.filter(token__user=patient).count() == 1
    refused = api_client.post("/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert refused.status_code == 401


def test_logout_twice_is_refused(api_client, patient):
    tokens = login(api_client, patient)
    api_client.post("/api/token/blacklist/", {"refresh": tokens["refresh"]})
    response = api_client.post("/api/token/blacklist/", {"refresh": tokens["refresh"]})
    assert response.status_code == 401
    assert BlacklistedToken.objects.count() == 1


def test_logout_with_a_garbage_token_is_refused(api_client):
    response = api_client.post("/api/token/blacklist/", {"refresh": "garbage"})
    assert response.status_code == 401
    assert not BlacklistedToken.objects.exists()


def test_logout_without_a_token_is_a_400(api_client):
    response = api_client.post("/api/token/blacklist/", {})
    assert response.status_code == 400
    assert "refresh" in response.json()


def test_refresh_rotates_and_blacklists_the_old_refresh_token(api_client, patient):
    tokens = login(api_client, patient)

    response = api_client.post("/api/token/refresh/", {"refresh": tokens["refresh"]})

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert response.json()["refresh"] != tokens["refresh"]
    reused = api_client.post("/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert reused.status_code == 401
    again = api_client.post("/api/token/refresh/", {"refresh": response.json()["refresh"]})
    assert again.status_code == 200


def test_an_access_token_is_not_accepted_as_a_refresh_token(api_client, patient):
    tokens = login(api_client, patient)
    response = api_client.post("/api/token/blacklist/", {"refresh": tokens["access"]})
    assert response.status_code == 401
    assert not BlacklistedToken.objects.exists()
