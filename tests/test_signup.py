"""POST /api/signup/: the contract's "Accounts" section, signup rules."""

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import UserProfile
from tests.conftest import run_together
from tests.factories import DoctorFactory, PatientFactory

URL = "/api/signup/"
STRONG_PASSWORD = "Wq7!mountain-lamp"
PATIENT_PROFILE_KEYS = {"id", "email", "fullName", "userType", "phone"}
DOCTOR_PROFILE_KEYS = PATIENT_PROFILE_KEYS | {
    "specialization",
    "yearsOfExperience",
    "consultationFee",
    "clinicAddress",
}

pytestmark = pytest.mark.django_db


def patient_body(**overrides):
    body = {
        "email": "asha@example.com",
        "password": STRONG_PASSWORD,
        "full_name": "Asha Rao",
        "user_type": "user",
    }
    body.update(overrides)
    return body


def doctor_body(**overrides):
    body = {
        "email": "lakshman@example.com",
        "password": STRONG_PASSWORD,
        "full_name": "Dr Lakshman",
        "user_type": "doctor",
        "phone": "+91 98450 12345",
        "specialization": "pediatric",
        "years_of_experience": 8,
        "consultation_fee": 500,
        "clinic_address": "MG Road",
    }
    body.update(overrides)
    return body


def react_doctor_body(**overrides):
    """What the React signup page sends for a doctor: camelCase plus other products' keys."""
    body = {
        "email": "meera@example.com",
        "password": STRONG_PASSWORD,
        "fullName": "Dr Meera",
        "userType": "doctor",
        "phone": "9845012345",
        "specialization": "cardiology",
        "yearsOfExperience": 12,
        "consultationFee": 750.5,
        "clinicAddress": "Indiranagar",
        "gstNumber": "29ABCDE1234F1Z5",
        "vehicleNumber": "KA01AB1234",
        "shopName": "",
    }
    body.update(overrides)
    return body


def signup(client, body, **kwargs):
    return client.post(URL, body, format="json", **kwargs)


def assert_no_user_created():
    assert UserProfile.objects.count() == 0


# --- success -------------------------------------------------------------------------------


def test_a_patient_signs_up_with_the_snake_case_body(api_client):
    response = signup(api_client, patient_body())

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert response.json() == {
        "message": "Signup successful",
        "user": {
            "id": user.id,
            "email": "asha@example.com",
            "fullName": "Asha Rao",
            "userType": "user",
            "phone": "",
        },
    }
    assert user.full_name == "Asha Rao"
    assert user.user_type == "user"


def test_a_doctor_signs_up_with_the_snake_case_body(api_client):
    response = signup(api_client, doctor_body())

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert response.json() == {
        "message": "Signup successful",
        "user": {
            "id": user.id,
            "email": "lakshman@example.com",
            "fullName": "Dr Lakshman",
            "userType": "doctor",
            "phone": "+91 98450 12345",
            "specialization": "pediatric",
            "yearsOfExperience": 8,
            "consultationFee": 500,
            "clinicAddress": "MG Road",
        },
    }


def test_a_doctor_signs_up_with_the_camel_case_body_of_the_react_page(api_client):
    response = signup(api_client, react_doctor_body())

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert response.json()["message"] == "Signup successful"
    assert response.json()["user"] == {
        "id": user.id,
        "email": "meera@example.com",
        "fullName": "Dr Meera",
        "userType": "doctor",
        "phone": "9845012345",
        "specialization": "cardiology",
        "yearsOfExperience": 12,
        "consultationFee": 750.5,
        "clinicAddress": "Indiranagar",
    }


def test_the_camel_case_doctor_fields_are_stored(api_client):
    signup(api_client, react_doctor_body())

    user = UserProfile.objects.get()
    assert user.full_name == "Dr Meera"
    assert user.user_type == "doctor"
    assert user.specialization == "cardiology"
    assert user.years_of_experience == 12
    assert user.consultation_fee == Decimal("750.50")
    assert user.clinic_address == "Indiranagar"


def test_a_patient_signs_up_with_the_camel_case_body(api_client):
    body = {
        "email": "ravi@example.com",
        "password": STRONG_PASSWORD,
        "fullName": "Ravi Kumar",
        "userType": "user",
    }

    response = signup(api_client, body)

    assert response.status_code == 201
    assert set(response.json()["user"]) == PATIENT_PROFILE_KEYS
    user = UserProfile.objects.get()
    assert (user.full_name, user.user_type) == ("Ravi Kumar", "user")


def test_the_user_reply_has_the_profile_keys_of_a_patient(api_client):
    response = signup(api_client, patient_body())

    assert set(response.json()["user"]) == PATIENT_PROFILE_KEYS


def test_the_user_reply_has_the_profile_keys_of_a_doctor(api_client):
    response = signup(api_client, doctor_body())

    assert set(response.json()["user"]) == DOCTOR_PROFILE_KEYS


def test_the_reply_never_contains_the_password(api_client):
    response = signup(api_client, patient_body())

    assert STRONG_PASSWORD not in response.content.decode()
    assert "password" not in response.json()["user"]


def test_user_type_patient_is_stored_as_user(api_client):
    response = signup(api_client, patient_body(user_type="patient"))

    assert response.status_code == 201
    assert response.json()["user"]["userType"] == "user"
    assert UserProfile.objects.get().user_type == "user"


def test_camel_case_user_type_patient_is_stored_as_user(api_client):
    body = patient_body()
    del body["user_type"]
    body["userType"] = "patient"

    response = signup(api_client, body)

    assert response.status_code == 201
    assert UserProfile.objects.get().user_type == "user"


def test_the_role_is_read_whatever_its_case(api_client):
    response = signup(api_client, doctor_body(user_type="Doctor"))

    assert response.status_code == 201
    assert UserProfile.objects.get().user_type == "doctor"


def test_doctor_fields_sent_by_a_patient_are_ignored(api_client):
    body = patient_body(
        specialization="pediatric",
        years_of_experience=8,
        consultation_fee=500,
        clinic_address="MG Road",
    )

    response = signup(api_client, body)

    assert response.status_code == 201
    assert set(response.json()["user"]) == PATIENT_PROFILE_KEYS
    user = UserProfile.objects.get()
    assert user.specialization == ""
    assert user.years_of_experience is None
    assert user.consultation_fee is None
    assert user.clinic_address == ""


def test_camel_case_doctor_fields_sent_by_a_patient_are_ignored(api_client):
    body = react_doctor_body(userType="patient")

    response = signup(api_client, body)

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert user.user_type == "user"
    assert (user.specialization, user.clinic_address) == ("", "")
    assert (user.years_of_experience, user.consultation_fee) == (None, None)


def test_unknown_keys_from_other_products_are_ignored(api_client):
    response = signup(
        api_client,
        patient_body(gstNumber="29ABCDE1234F1Z5", vehicleNumber="KA01AB1234", licenseNo=None),
    )

    assert response.status_code == 201
    assert set(response.json()["user"]) == PATIENT_PROFILE_KEYS
    assert UserProfile.objects.filter(email="asha@example.com").exists()


def test_a_doctor_may_leave_every_doctor_field_out(api_client):
    body = {
        "email": "new.doc@example.com",
        "password": STRONG_PASSWORD,
        "full_name": "Dr New",
        "user_type": "doctor",
    }

    response = signup(api_client, body)

    assert response.status_code == 201
    assert response.json()["user"]["consultationFee"] is None
    assert response.json()["user"]["yearsOfExperience"] is None
    user = UserProfile.objects.get()
    assert (user.specialization, user.clinic_address) == ("", "")
    assert (user.years_of_experience, user.consultation_fee) == (None, None)


def test_null_doctor_fields_mean_unset(api_client):
    body = doctor_body(
        specialization=None, years_of_experience=None, consultation_fee=None, clinic_address=None
    )

    response = signup(api_client, body)

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert (user.specialization, user.clinic_address) == ("", "")
    assert (user.years_of_experience, user.consultation_fee) == (None, None)


def test_empty_string_doctor_fields_mean_unset(api_client):
    body = react_doctor_body(
        specialization="", yearsOfExperience="", consultationFee="", clinicAddress=""
    )

    response = signup(api_client, body)

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert (user.specialization, user.clinic_address) == ("", "")
    assert (user.years_of_experience, user.consultation_fee) == (None, None)


def test_phone_is_optional(api_client):
    body = patient_body()
    body.pop("phone", None)

    response = signup(api_client, body)

    assert response.status_code == 201
    assert response.json()["user"]["phone"] == ""
    assert UserProfile.objects.get().phone == ""


def test_a_phone_sent_as_a_json_number_is_stored_as_text(api_client):
    response = signup(api_client, patient_body(phone=9845012345))

    assert response.status_code == 201
    assert response.json()["user"]["phone"] == "9845012345"
    assert UserProfile.objects.get().phone == "9845012345"


def test_a_null_phone_means_no_phone(api_client):
    response = signup(api_client, patient_body(phone=None))

    assert response.status_code == 201
    assert UserProfile.objects.get().phone == ""


def test_a_phone_already_used_by_another_account_is_accepted(api_client):
    PatientFactory(phone="9845012345")

    response = signup(api_client, patient_body(phone="9845012345"))

    assert response.status_code == 201
    assert UserProfile.objects.filter(phone="9845012345").count() == 2


def test_the_email_is_stored_lower_cased(api_client):
    response = signup(api_client, patient_body(email="  Asha.Rao@Example.COM "))

    assert response.status_code == 201
    assert response.json()["user"]["email"] == "asha.rao@example.com"
    assert UserProfile.objects.get().email == "asha.rao@example.com"


def test_the_password_is_stored_hashed(api_client):
    signup(api_client, patient_body())

    user = UserProfile.objects.get()
    assert user.password != STRONG_PASSWORD
    assert STRONG_PASSWORD not in user.password
    assert user.check_password(STRONG_PASSWORD)


def test_the_new_account_is_active_and_unprivileged(api_client):
    signup(api_client, doctor_body())

    user = UserProfile.objects.get()
    assert user.is_active is True
    assert user.is_staff is False
    assert user.is_superuser is False


def test_the_consultation_fee_is_returned_as_a_json_number(api_client):
    response = signup(api_client, doctor_body(consultation_fee="499.99"))

    assert response.status_code == 201
    fee = response.json()["user"]["consultationFee"]
    assert isinstance(fee, int | float)
    assert not isinstance(fee, bool)
    assert fee == 499.99
    assert UserProfile.objects.get().consultation_fee == Decimal("499.99")


def test_a_fee_of_zero_is_a_valid_fee(api_client):
    response = signup(api_client, doctor_body(consultation_fee=0))

    assert response.status_code == 201
    assert response.json()["user"]["consultationFee"] == 0
    assert UserProfile.objects.get().consultation_fee == Decimal("0")


def test_the_new_account_can_log_in_straight_away(api_client):
    signup(api_client, patient_body())

    response = api_client.post(
        "/api/login/", {"email": "asha@example.com", "password": STRONG_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "asha@example.com"


def test_signup_ignores_a_garbage_authorization_header(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")

    response = signup(api_client, patient_body())

    assert response.status_code == 201
    assert UserProfile.objects.filter(email="asha@example.com").exists()


def test_signup_ignores_an_expired_authorization_header(api_client):
    stale = DoctorFactory()
    token = AccessToken.for_user(stale)
    token.set_exp(lifetime=-token.lifetime)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = signup(api_client, patient_body())

    assert response.status_code == 201
    assert UserProfile.objects.filter(email="asha@example.com").exists()


def test_signup_with_a_valid_token_of_another_account_creates_a_separate_account(api_client):
    existing = DoctorFactory()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(existing)}")

    response = signup(api_client, patient_body())

    assert response.status_code == 201
    assert response.json()["user"]["id"] != existing.id
    assert UserProfile.objects.count() == 2


# --- duplicate email ----------------------------------------------------------------------


def test_it_refuses_a_duplicate_email(api_client):
    PatientFactory(email="asha@example.com")

    response = signup(api_client, patient_body())

    assert response.status_code == 400
    assert response.json() == {"message": "Email already registered"}
    assert UserProfile.objects.filter(email__iexact="asha@example.com").count() == 1


def test_it_refuses_a_duplicate_email_in_another_case(api_client):
    existing = PatientFactory(email="asha@example.com", full_name="The Original")

    response = signup(api_client, doctor_body(email="ASHA@Example.Com"))

    assert response.status_code == 400
    assert response.json() == {"message": "Email already registered"}
    assert UserProfile.objects.filter(email__iexact="asha@example.com").count() == 1
    existing.refresh_from_db()
    assert (existing.full_name, existing.user_type) == ("The Original", "user")


def test_it_refuses_the_same_signup_sent_twice(api_client):
    first = signup(api_client, patient_body())
    second = signup(api_client, patient_body(email="Asha@example.com"))

    assert first.status_code == 201
    assert second.status_code == 400
    assert second.json() == {"message": "Email already registered"}
    assert UserProfile.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_with_one_address_create_exactly_one_account():
    emails = ["race@example.com", "RACE@example.com", "Race@Example.com", "race@EXAMPLE.com"]

    def attempt(email):
        return lambda: signup(APIClient(), patient_body(email=email))

    responses = run_together([attempt(email) for email in emails])
    statuses = [r.status_code for r in responses]
    bodies = [r.json() for r in responses]

    assert sorted(statuses) == [201, 400, 400, 400]
    assert bodies.count({"message": "Email already registered"}) == 3
    assert UserProfile.objects.filter(email__iexact="race@example.com").count() == 1


# --- roles and privileges -----------------------------------------------------------------


def test_it_refuses_user_type_admin(api_client):
    response = signup(api_client, patient_body(user_type="admin"))

    assert response.status_code == 400
    assert "user_type" in response.json()
    assert_no_user_created()


def test_it_refuses_camel_case_user_type_admin_in_any_case(api_client):
    body = react_doctor_body(userType="ADMIN")

    response = signup(api_client, body)

    assert response.status_code == 400
    assert "user_type" in response.json()
    assert_no_user_created()


def test_it_refuses_an_unknown_user_type(api_client):
    response = signup(api_client, patient_body(user_type="nurse"))

    assert response.status_code == 400
    assert "user_type" in response.json()
    assert_no_user_created()


@pytest.mark.parametrize(
    "key", ["is_staff", "is_superuser", "isStaff", "isSuperuser", "is_active", "groups"]
)
def test_it_refuses_keys_that_grant_privileges(api_client, key):
    response = signup(api_client, patient_body(**{key: True}))

    assert response.status_code == 400
    assert key in response.json()
    assert_no_user_created()


def test_it_refuses_a_staff_flag_even_when_it_is_false(api_client):
    response = signup(api_client, patient_body(is_staff=False))

    assert response.status_code == 400
    assert "is_staff" in response.json()
    assert_no_user_created()


def test_it_ignores_an_id_in_the_body(api_client):
    existing = PatientFactory()

    response = signup(api_client, patient_body(id=existing.id))

    assert response.status_code == 201
    assert response.json()["user"]["id"] != existing.id
    existing.refresh_from_db()
    assert existing.email != "asha@example.com"


# --- weak passwords -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("Ab1!x", id="too-short"),
        pytest.param("8439201756", id="all-numeric"),
        pytest.param("password123", id="common"),
        pytest.param("asha.rao.example", id="similar-to-email"),
    ],
)
def test_it_refuses_a_weak_password(api_client, password):
    response = signup(api_client, patient_body(email="asha.rao@example.com", password=password))

    assert response.status_code == 400
    assert "password" in response.json()
    assert isinstance(response.json()["password"], list)
    assert response.json()["password"]
    assert_no_user_created()


def test_it_refuses_a_password_longer_than_128_characters(api_client):
    response = signup(api_client, patient_body(password="Wq7!" + "k" * 125))

    assert response.status_code == 400
    assert "password" in response.json()
    assert_no_user_created()


def test_the_password_error_never_echoes_the_password(api_client):
    response = signup(api_client, patient_body(password="password123"))

    assert response.status_code == 400
    assert "password123" not in response.content.decode()


# --- missing and malformed fields ---------------------------------------------------------


@pytest.mark.parametrize("field", ["email", "password", "full_name", "user_type"])
def test_it_reports_a_missing_required_field(api_client, field):
    body = patient_body()
    del body[field]

    response = signup(api_client, body)

    assert response.status_code == 400
    assert field in response.json()
    assert isinstance(response.json()[field], list)
    assert_no_user_created()


def test_an_empty_body_lists_every_required_field(api_client):
    response = api_client.post(URL, {}, format="json")

    assert response.status_code == 400
    assert {"email", "password", "full_name", "user_type"} <= set(response.json())
    assert_no_user_created()


def test_it_refuses_a_blank_full_name(api_client):
    response = signup(api_client, patient_body(full_name="   "))

    assert response.status_code == 400
    assert "full_name" in response.json()
    assert_no_user_created()


@pytest.mark.parametrize(
    "email", ["not-an-email", "asha@", "@example.com", "asha example@example.com", ""]
)
def test_it_refuses_an_invalid_email(api_client, email):
    response = signup(api_client, patient_body(email=email))

    assert response.status_code == 400
    assert "email" in response.json()
    assert_no_user_created()


def test_it_refuses_an_email_that_is_not_a_string(api_client):
    response = signup(api_client, patient_body(email=["asha@example.com"]))

    assert response.status_code == 400
    assert "email" in response.json()
    assert_no_user_created()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="empty-list"),
        pytest.param([{"email": "asha@example.com"}], id="list-of-objects"),
        pytest.param("asha@example.com", id="string"),
        pytest.param(42, id="number"),
        pytest.param(None, id="null"),
    ],
)
def test_a_json_body_that_is_not_an_object_is_a_client_error(api_client, body):
    response = api_client.generic("POST", URL, json.dumps(body), content_type="application/json")

    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    assert_no_user_created()


def test_malformed_json_is_a_client_error(api_client):
    response = api_client.generic(
        "POST", URL, '{"email": "asha@example.com",', content_type="application/json"
    )

    assert response.status_code == 400
    assert "detail" in response.json()
    assert_no_user_created()


def test_a_form_encoded_body_is_refused(api_client):
    response = api_client.post(URL, patient_body(), format="multipart")

    assert response.status_code == 415
    assert_no_user_created()


@pytest.mark.parametrize("fee", [-1, "-0.01", "-500"])
def test_it_refuses_a_negative_consultation_fee(api_client, fee):
    response = signup(api_client, doctor_body(consultation_fee=fee))

    assert response.status_code == 400
    assert "consultation_fee" in response.json()
    assert_no_user_created()


def test_it_refuses_a_negative_camel_case_consultation_fee(api_client):
    response = signup(api_client, react_doctor_body(consultationFee=-100))

    assert response.status_code == 400
    assert "consultation_fee" in response.json()
    assert_no_user_created()


@pytest.mark.parametrize("fee", ["free", "NaN", "Infinity", 12345678901234, "10.005", True])
def test_it_refuses_a_consultation_fee_that_is_not_a_sensible_amount(api_client, fee):
    response = signup(api_client, doctor_body(consultation_fee=fee))

    assert response.status_code == 400
    assert "consultation_fee" in response.json()
    assert_no_user_created()


@pytest.mark.parametrize("years", ["eight", "8 years", 8.5, -1, 81, 10**20, [8]])
def test_it_refuses_years_of_experience_that_are_not_a_sensible_number(api_client, years):
    response = signup(api_client, doctor_body(years_of_experience=years))

    assert response.status_code == 400
    assert "years_of_experience" in response.json()
    assert_no_user_created()


def test_it_refuses_camel_case_years_of_experience_that_are_not_a_number(api_client):
    response = signup(api_client, react_doctor_body(yearsOfExperience="a decade"))

    assert response.status_code == 400
    assert "years_of_experience" in response.json()
    assert_no_user_created()


def test_years_of_experience_sent_as_a_numeric_string_are_accepted(api_client):
    response = signup(api_client, doctor_body(years_of_experience="15"))

    assert response.status_code == 201
    assert response.json()["user"]["yearsOfExperience"] == 15
    assert UserProfile.objects.get().years_of_experience == 15


@pytest.mark.parametrize(
    ("field", "length"),
    [
        ("full_name", 151),
        ("phone", 21),
        ("specialization", 101),
        ("clinic_address", 256),
    ],
)
def test_it_refuses_text_longer_than_its_column(api_client, field, length):
    # SQLite would store it; PostgreSQL would fail with a 500: the serializer must refuse.
    response = signup(api_client, doctor_body(**{field: "x" * length}))

    assert response.status_code == 400
    assert field in response.json()
    assert_no_user_created()


def test_it_refuses_an_email_longer_than_the_column(api_client):
    response = signup(api_client, patient_body(email=f"{'a' * 250}@example.com"))

    assert response.status_code == 400
    assert "email" in response.json()
    assert_no_user_created()


@pytest.mark.parametrize("field", ["email", "full_name", "password"])
def test_a_nul_character_is_a_validation_error_not_a_database_error(api_client, field):
    value = {"email": "as\x00ha@example.com", "full_name": "Asha\x00", "password": "Wq7!\x00lamp-x"}
    response = signup(api_client, patient_body(**{field: value[field]}))

    assert response.status_code == 400
    assert field in response.json()
    assert_no_user_created()


def test_both_spellings_with_different_values_are_refused(api_client):
    body = doctor_body(fullName="Camel Name", full_name="Snake Name")

    response = signup(api_client, body)

    assert response.status_code == 400
    assert "full_name" in response.json()
    assert_no_user_created()


# --- both spellings, and fields that do not apply ----------------------------------------


def test_it_refuses_admin_hidden_behind_a_second_spelling_of_the_role(api_client):
    response = signup(api_client, patient_body(userType="admin"))

    assert response.status_code == 400
    assert "user_type" in response.json()
    assert_no_user_created()


def test_both_spellings_with_the_same_value_are_accepted(api_client):
    response = signup(api_client, patient_body(fullName="Asha Rao"))
    assert response.status_code == 201
    assert UserProfile.objects.get().full_name == "Asha Rao"


def test_a_patient_signup_ignores_malformed_doctor_fields(api_client):
    response = signup(api_client, patient_body(consultationFee="lots", years_of_experience="many"))

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert (user.consultation_fee, user.years_of_experience) == (None, None)


def test_it_refuses_a_password_like_the_full_name(api_client):
    response = signup(api_client, patient_body(full_name="Asha Rao", password="asharao2024"))

    assert response.status_code == 400
    assert "password" in response.json()
    assert_no_user_created()
