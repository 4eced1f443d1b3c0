"""POST /api/login/, /api/token/ and /api/token/refresh/: the contract's "Accounts" section."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.factories import PASSWORD, DoctorFactory, PatientFactory, UserFactory

LOGIN_URL = "/api/login/"
TOKEN_URL = "/api/token/"
REFRESH_URL = "/api/token/refresh/"
PROFILE_URL = "/api/profile/"

pytestmark = pytest.mark.django_db


def login(client, **body):
    return client.post(LOGIN_URL, body, format="json")


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


# --- /api/login/ success ------------------------------------------------------------------


def test_a_patient_logs_in_and_gets_a_token_pair_and_the_user(api_client, patient):
    response = login(api_client, email=patient.email, password=PASSWORD)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "user"}
    assert body["user"] == {
        "id": patient.id,
        "email": patient.email,
        "userType": "user",
        "fullName": patient.full_name,
    }


def test_a_doctor_logs_in_and_the_user_says_doctor(api_client, doctor):
    response = login(api_client, email=doctor.email, password=PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"] == {
        "id": doctor.id,
        "email": doctor.email,
        "userType": "doctor",
        "fullName": doctor.full_name,
    }


def test_the_tokens_returned_belong_to_the_user(api_client, patient):
    body = login(api_client, email=patient.email, password=PASSWORD).json()

    assert token_user_id(body["access"]) == str(patient.id)
    refresh = RefreshToken(body["refresh"])
    assert str(refresh["user_id"]) == str(patient.id)
    assert refresh["token_type"] == "refresh"


def test_login_records_the_last_login(api_client, patient):
    assert patient.last_login is None

    login(api_client, email=patient.email, password=PASSWORD)

    patient.refresh_from_db()
    assert patient.last_login is not None
    assert timezone.now() - patient.last_login < timedelta(minutes=1)


def test_the_email_may_be_typed_in_another_case(api_client):
    user = PatientFactory(email="asha@example.com")

    response = login(api_client, email="ASHA@Example.com", password=PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.id
    assert response.json()["user"]["email"] == "asha@example.com"


def test_spaces_around_the_email_are_ignored(api_client):
    user = PatientFactory(email="asha@example.com")

    response = login(api_client, email="  asha@example.com ", password=PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.id


def test_the_access_token_from_login_opens_the_profile(api_client, doctor):
    access = login(api_client, email=doctor.email, password=PASSWORD).json()["access"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = client.get(PROFILE_URL)

    assert response.status_code == 200
    assert response.json()["id"] == doctor.id
    assert response.json()["userType"] == "doctor"


def test_the_refresh_token_from_login_can_be_refreshed(api_client, patient):
    refresh = login(api_client, email=patient.email, password=PASSWORD).json()["refresh"]

    response = api_client.post(REFRESH_URL, {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert token_user_id(response.json()["access"]) == str(patient.id)


# --- /api/login/ role check ---------------------------------------------------------------


def test_user_type_matching_the_role_is_accepted(api_client, doctor):
    response = login(api_client, email=doctor.email, password=PASSWORD, userType="doctor")

    assert response.status_code == 200
    assert response.json()["user"]["userType"] == "doctor"


def test_user_type_patient_matches_the_role_user(api_client, patient):
    response = login(api_client, email=patient.email, password=PASSWORD, userType="patient")

    assert response.status_code == 200
    assert response.json()["user"]["userType"] == "user"


def test_user_type_user_matches_the_role_user(api_client, patient):
    response = login(api_client, email=patient.email, password=PASSWORD, userType="user")

    assert response.status_code == 200
    assert response.json()["user"]["id"] == patient.id


def test_snake_case_user_type_is_checked_too(api_client, patient):
    response = login(api_client, email=patient.email, password=PASSWORD, user_type="doctor")

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid role"}


def test_a_patient_logging_in_as_a_doctor_is_refused_with_invalid_role(api_client, patient):
    response = login(api_client, email=patient.email, password=PASSWORD, userType="doctor")

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid role"}


def test_a_doctor_logging_in_as_user_is_refused_with_invalid_role(api_client, doctor):
    response = login(api_client, email=doctor.email, password=PASSWORD, userType="user")

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid role"}


def test_a_doctor_logging_in_as_patient_is_refused_with_invalid_role(api_client, doctor):
    response = login(api_client, email=doctor.email, password=PASSWORD, userType="patient")

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid role"}


def test_an_admin_logging_in_as_a_patient_is_refused_with_invalid_role(api_client, admin_user):
    response = login(api_client, email=admin_user.email, password=PASSWORD, userType="patient")

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid role"}


def test_a_refused_role_hands_out_no_token_and_records_no_login(api_client, doctor):
    response = login(api_client, email=doctor.email, password=PASSWORD, userType="user")

    assert "access" not in response.json()
    assert "refresh" not in response.json()
    doctor.refresh_from_db()
    assert doctor.last_login is None


def test_a_wrong_password_with_a_wrong_role_is_still_invalid_credentials(api_client, doctor):
    # The role is only checked for a correct password: no probing of who is a doctor.
    response = login(api_client, email=doctor.email, password="wrong-password", userType="user")

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


@pytest.mark.parametrize("user_type", ["", None])
def test_an_empty_user_type_means_no_role_check(api_client, doctor, user_type):
    response = login(api_client, email=doctor.email, password=PASSWORD, userType=user_type)

    assert response.status_code == 200
    assert response.json()["user"]["userType"] == "doctor"


def test_the_role_is_compared_whatever_its_case(api_client, doctor):
    response = login(api_client, email=doctor.email, password=PASSWORD, userType="Doctor")

    assert response.status_code == 200


# --- /api/login/ refusals -----------------------------------------------------------------


def test_a_wrong_password_is_invalid_credentials(api_client, patient):
    response = login(api_client, email=patient.email, password="not-the-password")

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}
    patient.refresh_from_db()
    assert patient.last_login is None


def test_the_password_is_case_sensitive(api_client, patient):
    response = login(api_client, email=patient.email, password=PASSWORD.upper())

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


def test_an_unknown_email_is_invalid_credentials(api_client, patient):
    response = login(api_client, email="nobody@example.com", password=PASSWORD)

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


def test_a_malformed_email_is_just_invalid_credentials(api_client):
    response = login(api_client, email="not an email", password=PASSWORD)

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


def test_an_inactive_user_is_invalid_credentials(api_client):
    user = PatientFactory(is_active=False)

    response = login(api_client, email=user.email, password=PASSWORD)

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}
    user.refresh_from_db()
    assert user.last_login is None


def test_a_user_without_a_usable_password_cannot_log_in(api_client):
    user = UserFactory()
    user.set_unusable_password()
    user.save()

    response = login(api_client, email=user.email, password=PASSWORD)

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


@pytest.mark.parametrize("field", ["email", "password"])
def test_a_missing_field_is_a_validation_error(api_client, patient, field):
    body = {"email": patient.email, "password": PASSWORD}
    del body[field]

    response = login(api_client, **body)

    assert response.status_code == 400
    assert field in response.json()
    assert isinstance(response.json()[field], list)


def test_an_empty_body_names_both_fields(api_client):
    response = api_client.post(LOGIN_URL, {}, format="json")

    assert response.status_code == 400
    assert {"email", "password"} <= set(response.json())


@pytest.mark.parametrize("field", ["email", "password"])
def test_a_blank_field_is_a_validation_error(api_client, patient, field):
    body = {"email": patient.email, "password": PASSWORD, field: ""}

    response = login(api_client, **body)

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("body", [[], ["a@example.com", PASSWORD], "text", 7, None])
def test_a_json_body_that_is_not_an_object_is_a_client_error(api_client, body):
    response = api_client.generic(
        "POST", LOGIN_URL, json.dumps(body), content_type="application/json"
    )

    assert 400 <= response.status_code < 500
    assert "access" not in response.content.decode()


def test_a_nul_character_in_the_email_is_a_validation_error(api_client, patient):
    response = login(api_client, email="a\x00b@example.com", password=PASSWORD)

    assert response.status_code == 400
    assert "email" in response.json()


# --- /api/login/ with a stale token in the header -----------------------------------------


def test_login_works_with_a_garbage_authorization_header(api_client, patient):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage.garbage.garbage")

    response = login(api_client, email=patient.email, password=PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"]["id"] == patient.id


def test_login_works_with_an_expired_authorization_header(api_client, patient):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired_access_token(patient)}")

    response = login(api_client, email=patient.email, password=PASSWORD)

    assert response.status_code == 200
    assert token_user_id(response.json()["access"]) == str(patient.id)


def test_login_works_with_another_users_token_in_the_header(api_client, patient, doctor):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(doctor)}")

    response = login(api_client, email=patient.email, password=PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"]["id"] == patient.id


def test_login_works_with_a_non_bearer_authorization_header(api_client, patient):
    api_client.credentials(HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")

    response = login(api_client, email=patient.email, password=PASSWORD)

    assert response.status_code == 200


# --- /api/token/ --------------------------------------------------------------------------


def test_the_standard_token_endpoint_returns_a_pair(api_client, patient):
    response = api_client.post(
        TOKEN_URL, {"email": patient.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert token_user_id(response.json()["access"]) == str(patient.id)


def test_the_standard_token_endpoint_accepts_the_email_in_another_case(api_client):
    user = DoctorFactory(email="dr.k@example.com")

    response = api_client.post(
        TOKEN_URL, {"email": "DR.K@EXAMPLE.COM", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert token_user_id(response.json()["access"]) == str(user.id)


def test_the_standard_token_endpoint_refuses_a_wrong_password(api_client, patient):
    response = api_client.post(
        TOKEN_URL, {"email": patient.email, "password": "wrong-password"}, format="json"
    )

    assert response.status_code == 401
    assert "access" not in response.json()
    assert "detail" in response.json()


def test_the_standard_token_endpoint_refuses_an_unknown_email(api_client):
    response = api_client.post(
        TOKEN_URL, {"email": "ghost@example.com", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 401
    assert "access" not in response.json()


def test_the_standard_token_endpoint_refuses_an_inactive_user(api_client):
    user = PatientFactory(is_active=False)

    response = api_client.post(
        TOKEN_URL, {"email": user.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 401
    assert "access" not in response.json()


def test_the_standard_token_endpoint_reports_missing_fields(api_client):
    response = api_client.post(TOKEN_URL, {}, format="json")

    assert response.status_code == 400
    assert {"email", "password"} <= set(response.json())


def test_the_standard_token_endpoint_ignores_a_garbage_authorization_header(api_client, patient):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    response = api_client.post(
        TOKEN_URL, {"email": patient.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200


# --- /api/token/refresh/ ------------------------------------------------------------------


def test_refresh_returns_a_new_access_token(api_client, doctor):
    refresh = str(RefreshToken.for_user(doctor))

    response = api_client.post(REFRESH_URL, {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert "access" in response.json()
    access = response.json()["access"]
    assert token_user_id(access) == str(doctor.id)
    assert AccessToken(access)["token_type"] == "access"


def test_the_refreshed_access_token_opens_the_profile(api_client, doctor):
    refresh = str(RefreshToken.for_user(doctor))
    access = api_client.post(REFRESH_URL, {"refresh": refresh}, format="json").json()["access"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = client.get(PROFILE_URL)

    assert response.status_code == 200
    assert response.json()["id"] == doctor.id


def test_refresh_refuses_a_garbage_token(api_client):
    response = api_client.post(REFRESH_URL, {"refresh": "not-a-token"}, format="json")

    assert response.status_code == 401
    assert "access" not in response.json()


def test_refresh_refuses_an_expired_refresh_token(api_client, patient):
    response = api_client.post(
        REFRESH_URL, {"refresh": expired_refresh_token(patient)}, format="json"
    )

    assert response.status_code == 401
    assert "access" not in response.json()


def test_refresh_refuses_an_access_token_in_place_of_a_refresh_token(api_client, patient):
    access = str(AccessToken.for_user(patient))

    response = api_client.post(REFRESH_URL, {"refresh": access}, format="json")

    assert response.status_code == 401
    assert "access" not in response.json()


def test_refresh_refuses_the_token_of_a_deactivated_user(api_client, patient):
    refresh = str(RefreshToken.for_user(patient))
    patient.is_active = False
    patient.save()

    response = api_client.post(REFRESH_URL, {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert "access" not in response.json()


def test_refresh_refuses_the_token_of_a_deleted_user(api_client):
    user = PatientFactory()
    refresh = str(RefreshToken.for_user(user))
    user.delete()

    response = api_client.post(REFRESH_URL, {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert "access" not in response.json()


def test_refresh_reports_a_missing_token(api_client):
    response = api_client.post(REFRESH_URL, {}, format="json")

    assert response.status_code == 400
    assert "refresh" in response.json()


def test_refresh_ignores_a_garbage_authorization_header(api_client, patient):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    refresh = str(RefreshToken.for_user(patient))

    response = api_client.post(REFRESH_URL, {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert token_user_id(response.json()["access"]) == str(patient.id)
