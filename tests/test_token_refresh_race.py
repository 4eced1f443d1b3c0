"""POST /api/token/refresh/: a refresh token is redeemed at most once, even in parallel."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import run_together

BLACKLISTED = {"detail": "Token is blacklisted", "code": "token_not_valid"}


def refresh(token):
    return APIClient().post(reverse("token-refresh"), {"refresh": token}, format="json")


def jti(token):
    return RefreshToken(token, verify=False)["jti"]


@pytest.mark.django_db
def test_a_refresh_token_is_refused_the_second_time(patient):
    token = str(RefreshToken.for_user(patient))

    first, second = refresh(token), refresh(token)

    assert first.status_code == 200
    assert second.status_code == 401
    assert second.json() == BLACKLISTED
    assert BlacklistedToken.objects.filter(token__jti=jti(token)).count() == 1


@pytest.mark.django_db
def test_the_rotated_refresh_token_works_once(patient):
    token = str(RefreshToken.for_user(patient))
    rotated = refresh(token).json()["refresh"]

    assert refresh(rotated).status_code == 200
    assert refresh(rotated).json() == BLACKLISTED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_refreshes_of_one_token_grant_exactly_one(patient):
    token = str(RefreshToken.for_user(patient))

    responses = run_together([lambda: refresh(token)] * 10)

    granted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(granted) == 1
    assert [(r.status_code, r.json()) for r in refused] == [(401, BLACKLISTED)] * 9
    assert BlacklistedToken.objects.filter(token__jti=jti(token)).count() == 1
    assert refresh(granted[0].json()["refresh"]).status_code == 200
