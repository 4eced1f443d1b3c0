"""POST /api/login/, /api/token/ and /api/token/refresh/: the contract's "Accounts" section."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.factories import PASSWORD, DoctorFactory, PatientFactory, UserFactory

INVALID_CREDENTIALS = {"error": "Invalid credentials"}
INVALID_ROLE = {"error": "Invalid role"}
NO_ACTIVE_ACCOUNT = {"detail": "No active account found with the given credentials"}
REQUIRED = ["This field is required."]

pytestmark = pytest.mark.django_db


def login(client, **body):
    return client.post(reverse("login"), body, format="json")


def expired_access_token(user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(days=1))
    return str(token)


def expired_refresh_token(user):
    token = RefreshToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(days=30))
    return str(token)


def token_user_id(access):
    return str(AccessToken(access)["user_id"])


def client_for_access(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def login_user(user, role):
    return {"id": user.id, "email": user.email, "userType": role, "fullName": user.full_name}


# --- /api/login/ success ------------------------------------------------------------------


@pytest.mark.parametrize(("factory", "role"), [(PatientFactory, "user"), (DoctorFactory, "doctor")])
def test_a_user_logs_in_and_gets_a_token_pair_and_the_user(api_client, factory, role):
    user = factory()

    response = login(api_client, email=user.email, password=PASSWORD)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "user"}
    assert body["user"] == login_user(user, role)


def test_the_tokens_returned_belong_to_the_user(api_client, patient):
    body = login(api_client, email=patient.email, password=PASSWORD).json()

    assert token_user_id(body["access"]) == str(patient.id)
    refresh = RefreshToken(body["refresh"])
    assert (str(refresh["user_id"]), refresh["token_type"]) == (str(patient.id), "refresh")


def test_login_records_the_last_login(api_client, patient):
    assert patient.last_login is None

    login(api_client, email=patient.email, password=PASSWORD)

    patient.refresh_from_db()
    assert timezone.now() - patient.last_login < timedelta(minutes=1)


@pytest.mark.parametrize("typed", ["ASHA@Example.com", "  asha@example.com "])
def test_the_email_may_be_typed_in_another_case_or_with_spaces(api_client, typed):
    user = PatientFactory(email="asha@example.com")

    response = login(api_client, email=typed, password=PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"] == login_user(user, "user")


def test_the_access_token_from_login_opens_the_profile(api_client, doctor):
    access = login(api_client, email=doctor.email, password=PASSWORD).json()["access"]

    response = client_for_access(access).get(reverse("profile"))

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["userType"]) == (doctor.id, "doctor")


def test_the_refresh_token_from_login_can_be_refreshed(api_client, patient):
    refresh = login(api_client, email=patient.email, password=PASSWORD).json()["refresh"]

    response = api_client.post(reverse("token-refresh"), {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert token_user_id(response.json()["access"]) == str(patient.id)


# --- /api/login/ role check ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "key", "role"),
    [
        ("doctor", "userType", "doctor"),
        ("doctor", "userType", "Doctor"),
        ("patient", "userType", "patient"),
        ("patient", "userType", "user"),
        ("doctor", "userType", ""),
        ("doctor", "userType", None),
    ],
)
def test_the_accounts_own_role_or_none_is_accepted(api_client, request, account, key, role):
    user = request.getfixturevalue(account)

    response = login(api_client, email=user.email, password=PASSWORD, **{key: role})

    assert response.status_code == 200
    assert response.json()["user"] == login_user(user, user.user_type)


@pytest.mark.parametrize(
    ("account", "key", "role"),
    [
        ("patient", "user_type", "doctor"),
        ("patient", "userType", "doctor"),
        ("doctor", "userType", "user"),
        ("doctor", "userType", "patient"),
        ("admin_user", "userType", "patient"),
    ],
)
def test_a_role_not_the_accounts_is_refused(api_client, request, account, key, role):
    user = request.getfixturevalue(account)

    response = login(api_client, email=user.email, password=PASSWORD, **{key: role})

    assert response.status_code == 403
    assert response.json() == INVALID_ROLE
    user.refresh_from_db()
    assert user.last_login is None  # no token handed out, no login recorded


def test_a_wrong_password_with_a_wrong_role_is_still_invalid_credentials(api_client, doctor):
    # The role is only checked for a correct password: no probing of who is a doctor.
    response = login(api_client, email=doctor.email, password="wrong-password", userType="user")

    assert (response.status_code, response.json()) == (401, INVALID_CREDENTIALS)


# --- /api/login/ refusals: no token, no login recorded ------------------------------------


def inactive():
    return PatientFactory(is_active=False)


def without_usable_password():
    user = UserFactory()
    user.set_unusable_password()
    user.save()
    return user


@pytest.mark.parametrize(
    ("account", "email", "password"),
    [
        pytest.param(PatientFactory, None, "not-the-password", id="wrong-password"),
        pytest.param(PatientFactory, None, PASSWORD.upper(), id="password-case"),
        pytest.param(PatientFactory, "nobody@example.com", PASSWORD, id="unknown-email"),
        pytest.param(PatientFactory, "not an email", PASSWORD, id="malformed-email"),
        pytest.param(inactive, None, PASSWORD, id="inactive"),
        pytest.param(without_usable_password, None, PASSWORD, id="unusable-password"),
    ],
)
def test_it_answers_invalid_credentials(api_client, account, email, password):
    user = account()

    response = login(api_client, email=email or user.email, password=password)

    assert (response.status_code, response.json()) == (401, INVALID_CREDENTIALS)
    user.refresh_from_db()
    assert user.last_login is None


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"password": PASSWORD}, {"email": REQUIRED}),
        ({"email": "a@example.com"}, {"password": REQUIRED}),
        ({}, {"email": REQUIRED, "password": REQUIRED}),
        ({"email": "", "password": PASSWORD}, {"email": ["This field may not be blank."]}),
        (
            {"email": "a@example.com", "password": ""},
            {"password": ["This field may not be blank."]},
        ),
        (
            {"email": "a\x00b@example.com", "password": PASSWORD},
            {"email": ["Null characters are not allowed."]},
        ),
        (
            {
                "email": "a@example.com",
                "password": PASSWORD,
                "userType": "user",
                "user_type": "doctor",
            },
            {"user_type": ["Given as user_type and userType with different values."]},
        ),
    ],
)
def test_a_malformed_body_is_a_validation_error(api_client, patient, body, errors):
    response = login(api_client, **body)

    assert (response.status_code, response.json()) == (400, errors)
    patient.refresh_from_db()
    assert patient.last_login is None


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ([], ["Invalid data. Expected a dictionary, but got list."]),
        (["a@example.com", PASSWORD], ["Invalid data. Expected a dictionary, but got list."]),
        ("text", ["Invalid data. Expected a dictionary, but got str."]),
        (7, ["Invalid data. Expected a dictionary, but got int."]),
        (None, ["No data provided"]),
    ],
)
def test_a_json_body_that_is_not_an_object_is_a_validation_error(api_client, body, errors):
    response = api_client.generic(
        "POST", reverse("login"), json.dumps(body), content_type="application/json"
    )

    assert (response.status_code, response.json()) == (400, {"non_field_errors": errors})


# --- login and the standard token endpoint ignore a stale token in the header -------------


def stale_headers(patient, doctor):
    return {
        "garbage": "Bearer garbage.garbage.garbage",
        "expired": f"Bearer {expired_access_token(patient)}",
        "another-users": f"Bearer {AccessToken.for_user(doctor)}",
        "not-bearer": "Basic Zm9vOmJhcg==",
    }


@pytest.mark.parametrize("header", ["garbage", "expired", "another-users", "not-bearer"])
@pytest.mark.parametrize("url_name", ["login", "token-obtain-pair"])
def test_login_ignores_the_authorization_header(api_client, patient, doctor, header, url_name):
    api_client.credentials(HTTP_AUTHORIZATION=stale_headers(patient, doctor)[header])

    response = api_client.post(
        reverse(url_name), {"email": patient.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert token_user_id(response.json()["access"]) == str(patient.id)


# --- /api/token/ --------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["dr.k@example.com", "DR.K@EXAMPLE.COM"])
def test_the_standard_token_endpoint_returns_a_pair(api_client, typed):
    user = DoctorFactory(email="dr.k@example.com")

    response = api_client.post(
        reverse("token-obtain-pair"), {"email": typed, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert token_user_id(response.json()["access"]) == str(user.id)


@pytest.mark.parametrize(
    ("account", "email", "password"),
    [
        pytest.param(PatientFactory, None, "wrong-password", id="wrong-password"),
        pytest.param(PatientFactory, "ghost@example.com", PASSWORD, id="unknown-email"),
        pytest.param(inactive, None, PASSWORD, id="inactive"),
    ],
)
def test_the_standard_token_endpoint_refuses_bad_credentials(api_client, account, email, password):
    user = account()

    response = api_client.post(
        reverse("token-obtain-pair"),
        {"email": email or user.email, "password": password},
        format="json",
    )

    assert (response.status_code, response.json()) == (401, NO_ACTIVE_ACCOUNT)


def test_the_standard_token_endpoint_reports_missing_fields(api_client):
    response = api_client.post(reverse("token-obtain-pair"), {}, format="json")

    assert (response.status_code, response.json()) == (
        400,
        {"email": REQUIRED, "password": REQUIRED},
    )


# --- /api/token/refresh/ ------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer garbage"])
def test_refresh_returns_a_new_access_token_that_opens_the_profile(api_client, doctor, header):
    if header:
        api_client.credentials(HTTP_AUTHORIZATION=header)
    refresh = str(RefreshToken.for_user(doctor))

    response = api_client.post(reverse("token-refresh"), {"refresh": refresh}, format="json")

    assert response.status_code == 200
    access = response.json()["access"]
    assert (token_user_id(access), AccessToken(access)["token_type"]) == (str(doctor.id), "access")
    assert client_for_access(access).get(reverse("profile")).json()["id"] == doctor.id


def deactivated(user):
    refresh = str(RefreshToken.for_user(user))
    user.is_active = False
    user.save()
    return refresh


def deleted(user):
    ghost = PatientFactory()
    refresh = str(RefreshToken.for_user(ghost))
    ghost.delete()
    return refresh


NO_ACCOUNT_FOR_TOKEN = {"detail": "No active account found for the given token."}
TOKEN_NOT_VALID = {"detail": "Token is invalid", "code": "token_not_valid"}


@pytest.mark.parametrize(
    ("token", "body"),
    [
        pytest.param(lambda user: "not-a-token", TOKEN_NOT_VALID, id="garbage"),
        pytest.param(
            expired_refresh_token,
            {"detail": "Token is expired", "code": "token_not_valid"},
            id="expired",
        ),
        pytest.param(
            lambda user: str(AccessToken.for_user(user)),
            {"detail": "Token has wrong type", "code": "token_not_valid"},
            id="access-token",
        ),
        pytest.param(
            deactivated,
            NO_ACCOUNT_FOR_TOKEN,
            id="deactivated-user",
        ),
        pytest.param(
            deleted,
            NO_ACCOUNT_FOR_TOKEN,
            id="deleted-user",
        ),
    ],
)
def test_refresh_refuses_a_token_it_cannot_honour(api_client, patient, token, body):
    response = api_client.post(reverse("token-refresh"), {"refresh": token(patient)}, format="json")

    assert (response.status_code, response.json()) == (401, body)


def test_refresh_reports_a_missing_token(api_client):
    response = api_client.post(reverse("token-refresh"), {}, format="json")

    assert (response.status_code, response.json()) == (400, {"refresh": REQUIRED})
