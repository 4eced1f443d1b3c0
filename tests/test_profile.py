"""GET /api/profile/ and PATCH /api/profile/update/: the contract's "Accounts" section."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import UserProfile
from tests.conftest import run_together
from tests.factories import PASSWORD, DoctorFactory, PatientFactory

PROFILE_URL = "/api/profile/"
UPDATE_URL = "/api/profile/update/"
PATIENT_KEYS = {"id", "email", "fullName", "userType", "phone"}
DOCTOR_KEYS = PATIENT_KEYS | {
    "specialization",
    "yearsOfExperience",
    "consultationFee",
    "clinicAddress",
}

pytestmark = pytest.mark.django_db


def client_with(authorization):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def snapshot(user):
    """The stored row, to compare before and after a refused update."""
    user.refresh_from_db()
    return {
        field.attname: getattr(user, field.attname)
        for field in UserProfile._meta.concrete_fields
        if field.attname != "last_login"
    }


def patch(client, body):
    return client.patch(UPDATE_URL, body, format="json")


# --- GET /api/profile/: authentication ----------------------------------------------------


def test_the_profile_needs_a_token(api_client):
    response = api_client.get(PROFILE_URL)

    assert response.status_code == 401
    assert "detail" in response.json()


def test_the_profile_refuses_a_garbage_token():
    response = client_with("Bearer garbage").get(PROFILE_URL)

    assert response.status_code == 401
    assert "detail" in response.json()


def test_the_profile_refuses_an_expired_token(patient):
    token = AccessToken.for_user(patient)
    token.set_exp(from_time=timezone.now() - timedelta(hours=2))

    response = client_with(f"Bearer {token}").get(PROFILE_URL)

    assert response.status_code == 401
    assert "email" not in response.json()


def test_the_profile_refuses_a_refresh_token_used_as_access_token(patient):
    response = client_with(f"Bearer {RefreshToken.for_user(patient)}").get(PROFILE_URL)

    assert response.status_code == 401


def test_the_profile_refuses_a_token_without_the_bearer_prefix(patient):
    response = client_with(str(AccessToken.for_user(patient))).get(PROFILE_URL)

    assert response.status_code == 401


def test_the_profile_refuses_the_token_of_a_deactivated_user(patient):
    client = client_with(f"Bearer {AccessToken.for_user(patient)}")
    patient.is_active = False
    patient.save()

    response = client.get(PROFILE_URL)

    assert response.status_code == 401


def test_the_profile_refuses_the_token_of_a_deleted_user():
    user = PatientFactory()
    client = client_with(f"Bearer {AccessToken.for_user(user)}")
    user.delete()

    response = client.get(PROFILE_URL)

    assert response.status_code == 401


# --- GET /api/profile/: shape --------------------------------------------------------------


def test_a_patient_sees_their_own_profile_without_doctor_keys(patient_client, patient):
    patient.phone = "9845012345"
    patient.save()

    response = patient_client.get(PROFILE_URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": patient.id,
        "email": patient.email,
        "fullName": patient.full_name,
        "userType": "user",
        "phone": "9845012345",
    }


def test_a_doctor_sees_their_own_profile_with_doctor_keys(doctor_client, doctor):
    response = doctor_client.get(PROFILE_URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": doctor.id,
        "email": doctor.email,
        "fullName": doctor.full_name,
        "userType": "doctor",
        "phone": "",
        "specialization": "pediatric",
        "yearsOfExperience": 8,
        "consultationFee": 500,
        "clinicAddress": "MG Road",
    }


def test_an_admin_sees_a_profile_without_doctor_keys(admin_client_jwt, admin_user):
    response = admin_client_jwt.get(PROFILE_URL)

    assert response.status_code == 200
    assert set(response.json()) == PATIENT_KEYS
    assert response.json()["userType"] == "admin"


def test_the_profile_is_the_callers_and_nobody_elses(patient_client, patient, doctor):
    response = patient_client.get(PROFILE_URL)

    assert response.json()["id"] == patient.id
    assert response.json()["email"] != doctor.email


def test_the_profile_never_shows_the_password_or_flags(doctor_client):
    body = doctor_client.get(PROFILE_URL).json()

    assert set(body) == DOCTOR_KEYS
    for hidden in ("password", "is_staff", "is_superuser", "is_active", "last_login"):
        assert hidden not in body


def test_the_consultation_fee_is_a_json_number(api_client):
    doctor = DoctorFactory(consultation_fee=Decimal("650.25"))
    api_client.force_authenticate(doctor)

    fee = api_client.get(PROFILE_URL).json()["consultationFee"]

    assert isinstance(fee, int | float)
    assert fee == 650.25


def test_an_unset_fee_and_experience_are_null(api_client):
    doctor = DoctorFactory(consultation_fee=None, years_of_experience=None)
    api_client.force_authenticate(doctor)

    body = api_client.get(PROFILE_URL).json()

    assert body["consultationFee"] is None
    assert body["yearsOfExperience"] is None


def test_post_on_the_profile_is_not_allowed(patient_client, patient):
    before = snapshot(patient)

    response = patient_client.post(PROFILE_URL, {"fullName": "New"}, format="json")

    assert response.status_code == 405
    assert snapshot(patient) == before


# --- PATCH /api/profile/update/: authentication and method ---------------------------------


def test_the_update_needs_a_token(api_client, patient):
    before = snapshot(patient)

    response = patch(api_client, {"fullName": "Intruder"})

    assert response.status_code == 401
    assert snapshot(patient) == before


def test_the_update_refuses_a_garbage_token(patient):
    before = snapshot(patient)

    response = patch(client_with("Bearer garbage"), {"fullName": "Intruder"})

    assert response.status_code == 401
    assert snapshot(patient) == before


def test_get_on_the_update_url_is_method_not_allowed(patient_client):
    response = patient_client.get(UPDATE_URL)

    assert response.status_code == 405
    assert "detail" in response.json()


def test_put_on_the_update_url_is_method_not_allowed(patient_client, patient):
    before = snapshot(patient)

    response = patient_client.put(UPDATE_URL, {"fullName": "New Name"}, format="json")

    assert response.status_code == 405
    assert snapshot(patient) == before


# --- PATCH /api/profile/update/: changes that are allowed ---------------------------------


def test_a_patient_updates_name_and_phone_with_camel_case_keys(patient_client, patient):
    response = patch(patient_client, {"fullName": "Asha Rao", "phone": "9845012345"})

    assert response.status_code == 200
    assert response.json() == {
        "id": patient.id,
        "email": patient.email,
        "fullName": "Asha Rao",
        "userType": "user",
        "phone": "9845012345",
    }
    patient.refresh_from_db()
    assert (patient.full_name, patient.phone) == ("Asha Rao", "9845012345")


def test_a_patient_updates_the_name_with_the_snake_case_key(patient_client, patient):
    response = patch(patient_client, {"full_name": "Asha Rao"})

    assert response.status_code == 200
    assert response.json()["fullName"] == "Asha Rao"
    patient.refresh_from_db()
    assert patient.full_name == "Asha Rao"


def test_a_doctor_updates_every_doctor_field_with_camel_case_keys(doctor_client, doctor):
    body = {
        "fullName": "Dr Lakshman Rao",
        "phone": "080-2222",
        "specialization": "cardiology",
        "yearsOfExperience": 9,
        "consultationFee": 650.5,
        "clinicAddress": "Brigade Road",
    }

    response = patch(doctor_client, body)

    assert response.status_code == 200
    assert response.json() == {"id": doctor.id, "email": doctor.email, "userType": "doctor", **body}
    doctor.refresh_from_db()
    assert doctor.full_name == "Dr Lakshman Rao"
    assert doctor.phone == "080-2222"
    assert doctor.specialization == "cardiology"
    assert doctor.years_of_experience == 9
    assert doctor.consultation_fee == Decimal("650.50")
    assert doctor.clinic_address == "Brigade Road"


def test_a_doctor_updates_doctor_fields_with_snake_case_keys(doctor_client, doctor):
    body = {
        "full_name": "Dr K",
        "years_of_experience": 20,
        "consultation_fee": "900",
        "clinic_address": "Jayanagar",
    }

    response = patch(doctor_client, body)

    assert response.status_code == 200
    assert response.json()["fullName"] == "Dr K"
    assert response.json()["yearsOfExperience"] == 20
    assert response.json()["consultationFee"] == 900
    assert response.json()["clinicAddress"] == "Jayanagar"
    doctor.refresh_from_db()
    assert doctor.full_name == "Dr K"
    assert doctor.years_of_experience == 20
    assert doctor.consultation_fee == Decimal("900")
    assert doctor.clinic_address == "Jayanagar"


def test_the_updated_consultation_fee_is_returned_as_a_number(doctor_client):
    response = patch(doctor_client, {"consultationFee": "725.75"})

    assert response.status_code == 200
    fee = response.json()["consultationFee"]
    assert isinstance(fee, int | float)
    assert fee == 725.75


def test_fields_left_out_of_a_patch_keep_their_value(doctor_client, doctor):
    before = snapshot(doctor)

    response = patch(doctor_client, {"specialization": "dermatology"})

    assert response.status_code == 200
    after = snapshot(doctor)
    assert after.pop("specialization") == "dermatology"
    before.pop("specialization")
    assert after == before


def test_an_empty_patch_changes_nothing(doctor_client, doctor):
    before = snapshot(doctor)

    response = patch(doctor_client, {})

    assert response.status_code == 200
    assert response.json()["id"] == doctor.id
    assert snapshot(doctor) == before


def test_empty_and_null_doctor_fields_mean_unset(doctor_client, doctor):
    body = {
        "yearsOfExperience": "",
        "consultationFee": None,
        "specialization": None,
        "clinicAddress": "",
    }

    response = patch(doctor_client, body)

    assert response.status_code == 200
    doctor.refresh_from_db()
    assert (doctor.years_of_experience, doctor.consultation_fee) == (None, None)
    assert (doctor.specialization, doctor.clinic_address) == ("", "")


def test_a_null_phone_clears_the_phone(patient_client, patient):
    patient.phone = "9845012345"
    patient.save()

    response = patch(patient_client, {"phone": None})

    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.phone == ""


def test_the_email_can_change_to_a_free_address_and_is_stored_lower_cased(patient_client, patient):
    response = patch(patient_client, {"email": "New.Address@Example.com"})

    assert response.status_code == 200
    assert response.json()["email"] == "new.address@example.com"
    patient.refresh_from_db()
    assert patient.email == "new.address@example.com"


def test_the_own_email_in_another_case_is_not_a_duplicate(patient_client, patient):
    response = patch(patient_client, {"email": patient.email.upper()})

    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.email == patient.email.lower()


def test_after_an_email_change_the_new_address_logs_in(patient_client, patient):
    patch(patient_client, {"email": "moved@example.com"})

    response = APIClient().post(
        "/api/login/", {"email": "moved@example.com", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["id"] == patient.id


def test_the_whole_profile_sent_back_with_the_unchanged_role_is_accepted(doctor_client, doctor):
    body = doctor_client.get(PROFILE_URL).json()
    body["clinicAddress"] = "Koramangala"

    response = patch(doctor_client, body)

    assert response.status_code == 200
    assert response.json() == body
    doctor.refresh_from_db()
    assert doctor.clinic_address == "Koramangala"
    assert doctor.user_type == "doctor"


def test_a_patient_sending_user_type_user_is_accepted(patient_client, patient):
    response = patch(patient_client, {"userType": "user", "fullName": "Same Role"})

    assert response.status_code == 200
    patient.refresh_from_db()
    assert (patient.user_type, patient.full_name) == ("user", "Same Role")


def test_a_patient_sending_user_type_patient_is_accepted(patient_client, patient):
    response = patch(patient_client, {"userType": "patient", "phone": "111"})

    assert response.status_code == 200
    patient.refresh_from_db()
    assert (patient.user_type, patient.phone) == ("user", "111")


def test_an_id_in_the_body_is_ignored(patient_client, patient, doctor):
    response = patch(patient_client, {"id": doctor.id, "fullName": "Mine"})

    assert response.status_code == 200
    assert response.json()["id"] == patient.id
    patient.refresh_from_db()
    doctor.refresh_from_db()
    assert patient.full_name == "Mine"
    assert doctor.full_name != "Mine"


def test_an_update_touches_only_the_callers_row(patient_client, doctor):
    before = snapshot(doctor)

    patch(patient_client, {"fullName": "Only Me"})

    assert snapshot(doctor) == before


def test_a_patient_sending_doctor_fields_has_them_ignored(patient_client, patient):
    body = {
        "specialization": "cardiology",
        "yearsOfExperience": 10,
        "consultationFee": 900,
        "clinicAddress": "Somewhere",
        "consultation_fee": 800,
        "fullName": "Still A Patient",
    }

    response = patch(patient_client, body)

    assert response.status_code == 200
    assert set(response.json()) == PATIENT_KEYS
    patient.refresh_from_db()
    assert patient.full_name == "Still A Patient"
    assert (patient.specialization, patient.clinic_address) == ("", "")
    assert (patient.years_of_experience, patient.consultation_fee) == (None, None)


def test_a_patient_sending_invalid_doctor_fields_has_them_ignored(patient_client, patient):
    response = patch(patient_client, {"consultationFee": -5, "yearsOfExperience": "many"})

    assert response.status_code == 200
    patient.refresh_from_db()
    assert (patient.years_of_experience, patient.consultation_fee) == (None, None)


# --- PATCH /api/profile/update/: refusals leave the row unchanged --------------------------


@pytest.mark.parametrize("key", ["userType", "user_type"])
def test_a_patient_cannot_become_a_doctor(patient_client, patient, key):
    before = snapshot(patient)

    response = patch(patient_client, {key: "doctor", "fullName": "Dr Fake"})

    assert response.status_code == 400
    assert "userType" in response.json()
    assert snapshot(patient) == before


def test_a_doctor_cannot_become_a_patient(doctor_client, doctor):
    before = snapshot(doctor)

    response = patch(doctor_client, {"userType": "patient"})

    assert response.status_code == 400
    assert "userType" in response.json()
    assert snapshot(doctor) == before


def test_a_patient_cannot_become_an_admin(patient_client, patient):
    before = snapshot(patient)

    response = patch(patient_client, {"userType": "admin"})

    assert response.status_code == 400
    assert snapshot(patient) == before
    assert patient.is_staff is False


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("is_staff", True),
        ("isStaff", True),
        ("is_superuser", True),
        ("isSuperuser", True),
        ("is_active", False),
        ("groups", [1]),
        ("user_permissions", [1]),
    ],
)
def test_privilege_keys_are_refused_and_nothing_changes(patient_client, patient, key, value):
    before = snapshot(patient)

    response = patch(patient_client, {key: value, "fullName": "Sneaky"})

    assert response.status_code == 400
    assert key in response.json()
    assert snapshot(patient) == before
    assert patient.groups.count() == 0
    assert patient.user_permissions.count() == 0


def test_the_password_cannot_be_changed_here(patient_client, patient):
    before = snapshot(patient)

    response = patch(patient_client, {"password": "An0ther-strong-pass"})

    assert response.status_code == 400
    assert "password" in response.json()
    assert snapshot(patient) == before
    assert patient.check_password(PASSWORD)
    assert not patient.check_password("An0ther-strong-pass")


def test_email_verification_cannot_be_set_here(patient_client, patient):
    before = snapshot(patient)

    response = patch(patient_client, {"email_verified": True})

    assert response.status_code == 400
    assert "email_verified" in response.json()
    assert snapshot(patient) == before


def test_the_email_cannot_take_another_accounts_address_in_another_case(
    patient_client, patient, doctor
):
    before = snapshot(patient)

    response = patch(patient_client, {"email": doctor.email.upper()})

    assert response.status_code == 400
    assert "email" in response.json()
    assert snapshot(patient) == before
    assert UserProfile.objects.filter(email__iexact=doctor.email).count() == 1


@pytest.mark.parametrize("email", ["not-an-email", "", None, f"{'a' * 250}@example.com"])
def test_an_invalid_email_is_refused(patient_client, patient, email):
    before = snapshot(patient)

    response = patch(patient_client, {"email": email})

    assert response.status_code == 400
    assert "email" in response.json()
    assert snapshot(patient) == before


@pytest.mark.parametrize("name", ["", "   ", None, "x" * 151, "Asha\x00"])
def test_an_invalid_full_name_is_refused(patient_client, patient, name):
    before = snapshot(patient)

    response = patch(patient_client, {"fullName": name})

    assert response.status_code == 400
    assert "fullName" in response.json()
    assert snapshot(patient) == before


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("consultationFee", -1),
        ("consultationFee", "cheap"),
        ("consultationFee", 12345678901234),
        ("yearsOfExperience", "ten"),
        ("yearsOfExperience", -3),
        ("yearsOfExperience", 81),
        ("specialization", "x" * 101),
        ("clinicAddress", "x" * 256),
        ("phone", "9" * 21),
    ],
)
def test_an_invalid_doctor_field_is_refused(doctor_client, doctor, key, value):
    before = snapshot(doctor)

    response = patch(doctor_client, {key: value})

    assert response.status_code == 400
    assert key in response.json()
    assert snapshot(doctor) == before


def test_a_snake_case_invalid_value_is_reported_and_refused(doctor_client, doctor):
    before = snapshot(doctor)

    response = patch(doctor_client, {"consultation_fee": -10})

    assert response.status_code == 400
    assert response.json().keys() & {"consultationFee", "consultation_fee"}
    assert snapshot(doctor) == before


def test_one_bad_field_refuses_the_whole_update(doctor_client, doctor):
    before = snapshot(doctor)

    response = patch(doctor_client, {"fullName": "Good Name", "consultationFee": -1})

    assert response.status_code == 400
    assert snapshot(doctor) == before


@pytest.mark.parametrize("body", [[], [{"fullName": "x"}], "password", 3, None])
def test_a_json_body_that_is_not_an_object_is_a_client_error(patient_client, patient, body):
    before = snapshot(patient)

    response = patient_client.generic(
        "PATCH", UPDATE_URL, json.dumps(body), content_type="application/json"
    )

    assert 400 <= response.status_code < 500
    assert snapshot(patient) == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_accounts_racing_for_one_new_address_end_with_only_one_holding_it():
    racers = [PatientFactory(), PatientFactory(), DoctorFactory()]
    addresses = ["wanted@example.com", "WANTED@example.com", "Wanted@Example.com"]

    def attempt(user, address):
        client = client_with(f"Bearer {AccessToken.for_user(user)}")
        return lambda: patch(client, {"email": address}).status_code

    statuses = run_together([attempt(*pair) for pair in zip(racers, addresses, strict=True)])

    assert sorted(statuses) == [200, 400, 400]
    assert UserProfile.objects.filter(email__iexact="wanted@example.com").count() == 1


@pytest.mark.parametrize("role", ["User", "PATIENT", " user "])
def test_an_unchanged_role_in_any_case_is_accepted(patient, role):
    client = client_with(f"Bearer {AccessToken.for_user(patient)}")

    response = patch(client, {"userType": role, "fullName": "Renamed"})

    assert response.status_code == 200
    patient.refresh_from_db()
    assert (patient.user_type, patient.full_name) == ("user", "Renamed")
