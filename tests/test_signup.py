"""POST /api/signup/: the contract's "Accounts" section, signup rules."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services
from accounts.models import UserProfile
from tests.conftest import (
    CANNOT_BE_SET,
    PERSONAL_UNSET,
    TAKEN,
    UNSET_DOCTOR_ROW,
    run_together,
    snapshot,
)
from tests.factories import DoctorFactory, PatientFactory
from tests.test_profile import offered_visit_types

STRONG_PASSWORD = "Wq7!mountain-lamp"
UNSET_DOCTOR_KEYS = {
    "specialization": "",
    "yearsOfExperience": None,
    "consultationFee": None,
    "clinicAddress": "",
    "videoConsultFee": 0,
    "homeConsultFee": 0,
    "homeConsultation": False,
    "languages": "",
    "description": "",
}

pytestmark = pytest.mark.django_db


def patient_body(**overrides):
    body = {
        "email": "asha@example.com",
        "password": STRONG_PASSWORD,
        "full_name": "Asha Rao",
        "user_type": "user",
    }
    return body | overrides


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
        "video_consult_fee": 300,
        "home_consult_fee": "900.50",
        "home_consultation": True,
        "languages": "English, Kannada",
        "description": "Children's health, vaccinations.",
    }
    return body | overrides


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
        "videoConsultFee": 400,
        "homeConsultFee": 1200,
        "homeConsultation": False,
        "languages": "Hindi",
        "description": "Heart care.",
        "gstNumber": "29ABCDE1234F1Z5",
        "vehicleNumber": "KA01AB1234",
        "shopName": "",
    }
    return body | overrides


def without(body, *keys):
    return {key: value for key, value in body.items() if key not in keys}


def signup(client, body, **kwargs):
    return client.post(reverse("signup"), body, format="json", **kwargs)


def stored(user, fields):
    return {name: getattr(user, name) for name in fields}


def assert_no_user_created():
    assert UserProfile.objects.count() == 0


def assert_refused(response, body):
    assert (response.status_code, response.json()) == (400, body)
    assert_no_user_created()


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
            **PERSONAL_UNSET,
        },
    }
    assert (user.full_name, user.user_type) == ("Asha Rao", "user")


# The two doctor bodies as the reply shows them (the clinic policy keys left at
# their defaults) and as the doctor fields are stored.
NO_POLICY = {"cancelNoticeMinutes": 0, "minBookingNoticeMinutes": 0, "maxBookingDaysAhead": None}
DOCTOR_SIGNUPS = [
    pytest.param(
        doctor_body,
        {
            "email": "lakshman@example.com",
            "fullName": "Dr Lakshman",
            "userType": "doctor",
            "phone": "+91 98450 12345",
            "specialization": "pediatric",
            "yearsOfExperience": 8,
            "consultationFee": 500,
            "clinicAddress": "MG Road",
            "videoConsultFee": 300,
            "homeConsultFee": 900.5,
            "homeConsultation": True,
            "languages": "English, Kannada",
            "description": "Children's health, vaccinations.",
        },
        {
            "specialization": "pediatric",
            "years_of_experience": 8,
            "consultation_fee": Decimal("500"),
            "clinic_address": "MG Road",
            "video_consult_fee": Decimal("300"),
            "home_consult_fee": Decimal("900.50"),
            "home_consultation": True,
            "languages": "English, Kannada",
            "description": "Children's health, vaccinations.",
        },
        id="snake-case body",
    ),
    pytest.param(
        react_doctor_body,
        {
            "email": "meera@example.com",
            "fullName": "Dr Meera",
            "userType": "doctor",
            "phone": "9845012345",
            "specialization": "cardiology",
            "yearsOfExperience": 12,
            "consultationFee": 750.5,
            "clinicAddress": "Indiranagar",
            "videoConsultFee": 400,
            "homeConsultFee": 1200,
            "homeConsultation": False,
            "languages": "Hindi",
            "description": "Heart care.",
        },
        {
            "specialization": "cardiology",
            "years_of_experience": 12,
            "consultation_fee": Decimal("750.50"),
            "clinic_address": "Indiranagar",
            "video_consult_fee": Decimal("400"),
            "home_consult_fee": Decimal("1200"),
            "home_consultation": False,
            "languages": "Hindi",
            "description": "Heart care.",
        },
        id="camel-case body of the React page",
    ),
]


def doctor_reply_names(shown):
    """The keys a doctor's reply gains beside the ones signup sets (contract Part 5)."""
    return {
        **PERSONAL_UNSET,
        "medicalLicense": "",
        "experience": str(shown["yearsOfExperience"]),
        "hospital": shown["clinicAddress"],
        "licenseNumber": "",
        "visitTypes": offered_visit_types(shown),
    }


@pytest.mark.parametrize("body,shown,kept", DOCTOR_SIGNUPS)
def test_a_doctor_signs_up_and_the_reply_shows_the_account(api_client, body, shown, kept):
    response = signup(api_client, body())

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert response.json() == {
        "message": "Signup successful",
        "user": {"id": user.id, **shown, **NO_POLICY, **doctor_reply_names(shown)},
    }


@pytest.mark.parametrize("body,shown,kept", DOCTOR_SIGNUPS)
def test_a_doctors_fields_are_stored(api_client, body, shown, kept):
    signup(api_client, body())

    user = UserProfile.objects.get()
    assert (user.full_name, user.user_type) == (shown["fullName"], "doctor")
    assert stored(user, UNSET_DOCTOR_ROW) == kept


def test_a_patient_signs_up_with_the_camel_case_body(api_client):
    body = {
        "email": "ravi@example.com",
        "password": STRONG_PASSWORD,
        "fullName": "Ravi Kumar",
        "userType": "user",
    }

    response = signup(api_client, body)

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert response.json()["user"] == {
        "id": user.id,
        "email": "ravi@example.com",
        "fullName": "Ravi Kumar",
        "userType": "user",
        "phone": "",
        **PERSONAL_UNSET,
    }
    assert (user.full_name, user.user_type) == ("Ravi Kumar", "user")


def test_the_reply_never_contains_the_password(api_client):
    response = signup(api_client, patient_body())

    assert STRONG_PASSWORD not in response.content.decode()
    assert "password" not in response.json()["user"]


@pytest.mark.parametrize(
    ("role_key", "role", "stored_role"),
    [
        pytest.param("user_type", "patient", "user", id="patient-is-user"),
        pytest.param("userType", "patient", "user", id="camel-patient-is-user"),
        pytest.param("user_type", "Doctor", "doctor", id="any-case"),
        pytest.param("userType", " USER ", "user", id="spaces-around"),
    ],
)
def test_the_role_is_read_in_every_spelling(api_client, role_key, role, stored_role):
    response = signup(api_client, without(patient_body(), "user_type") | {role_key: role})

    assert response.status_code == 201
    assert response.json()["user"]["userType"] == stored_role
    assert UserProfile.objects.get().user_type == stored_role


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            patient_body(**without(doctor_body(), *patient_body())), id="snake-case-fields"
        ),
        pytest.param(react_doctor_body(userType="patient"), id="camel-case-fields"),
        pytest.param(
            patient_body(consultationFee="lots", years_of_experience="many", languages=7),
            id="malformed-fields-unread",
        ),
        pytest.param(
            patient_body(consultation_fee=100, consultationFee=200), id="spellings-disagreeing"
        ),
        pytest.param(
            patient_body(homeConsultation="yes please", description="x" * 5000),
            id="new-fields-out-of-bounds",
        ),
    ],
)
def test_doctor_fields_sent_by_a_patient_are_ignored(api_client, body):
    response = signup(api_client, body)

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert response.json()["user"] == {
        "id": user.id,
        "email": user.email,
        "fullName": user.full_name,
        "userType": "user",
        "phone": user.phone,
        **PERSONAL_UNSET,
    }
    assert stored(user, UNSET_DOCTOR_ROW) == UNSET_DOCTOR_ROW


def test_unknown_keys_from_other_products_are_ignored(api_client):
    response = signup(
        api_client,
        patient_body(gstNumber="29ABCDE1234F1Z5", vehicleNumber="KA01AB1234", licenseNo=None),
    )

    assert response.status_code == 201
    user = UserProfile.objects.get(email="asha@example.com")
    assert response.json()["user"] == {
        "id": user.id,
        "email": "asha@example.com",
        "fullName": "Asha Rao",
        "userType": "user",
        "phone": "",
        **PERSONAL_UNSET,
    }


UNSET_ANSWERS = [
    pytest.param(without(doctor_body(), *UNSET_DOCTOR_ROW), id="left-out"),
    pytest.param(doctor_body(**dict.fromkeys(UNSET_DOCTOR_ROW)), id="null"),
    pytest.param(doctor_body(**dict.fromkeys(UNSET_DOCTOR_ROW, "")), id="empty-string"),
    pytest.param(
        react_doctor_body(
            specialization="",
            yearsOfExperience="",
            consultationFee="",
            clinicAddress="",
            videoConsultFee="",
            homeConsultFee=None,
            homeConsultation="",
            languages=None,
            description="",
        ),
        id="camel-case-empty",
    ),
]


@pytest.mark.parametrize("body", UNSET_ANSWERS)
def test_a_doctor_field_left_out_null_or_empty_means_unset(api_client, body):
    response = signup(api_client, body)

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert stored(user, UNSET_DOCTOR_ROW) == UNSET_DOCTOR_ROW
    shown = response.json()["user"]
    assert {key: shown[key] for key in UNSET_DOCTOR_KEYS} == UNSET_DOCTOR_KEYS


@pytest.mark.parametrize(
    ("phone", "stored_phone"),
    [
        pytest.param(None, "", id="null"),
        pytest.param("", "", id="empty"),
        pytest.param(9845012345, "9845012345", id="json-number-as-text"),
        pytest.param("+91 98450 12345", "+91 98450 12345", id="text"),
    ],
)
def test_the_phone_is_optional_text(api_client, phone, stored_phone):
    response = signup(api_client, patient_body(phone=phone))

    assert response.status_code == 201
    assert response.json()["user"]["phone"] == stored_phone
    assert UserProfile.objects.get().phone == stored_phone


def test_a_phone_left_out_means_no_phone(api_client):
    response = signup(api_client, patient_body())

    assert response.status_code == 201
    assert response.json()["user"]["phone"] == ""
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
    assert STRONG_PASSWORD not in user.password
    assert user.check_password(STRONG_PASSWORD)


def test_the_new_account_is_active_and_unprivileged(api_client):
    signup(api_client, doctor_body())

    user = UserProfile.objects.get()
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, False, False)


@pytest.mark.parametrize(
    ("field", "key", "sent", "shown", "kept"),
    [
        ("consultation_fee", "consultationFee", "499.99", 499.99, Decimal("499.99")),
        ("consultation_fee", "consultationFee", 0, 0, Decimal("0")),
        ("video_consult_fee", "videoConsultFee", "0.5", 0.5, Decimal("0.50")),
        ("home_consult_fee", "homeConsultFee", 99999999.99, 99999999.99, Decimal("99999999.99")),
    ],
)
def test_a_fee_is_returned_as_a_json_number(api_client, field, key, sent, shown, kept):
    response = signup(api_client, doctor_body(**{field: sent}))

    assert response.status_code == 201
    fee = response.json()["user"][key]
    assert type(fee) in (int, float)
    assert fee == shown
    assert getattr(UserProfile.objects.get(), field) == kept


@pytest.mark.parametrize(
    ("sent", "kept"), [(True, True), (False, False), ("true", True), (1, True), (0, False)]
)
def test_home_consultation_is_a_boolean(api_client, sent, kept):
    response = signup(api_client, react_doctor_body(homeConsultation=sent))

    assert response.status_code == 201
    assert response.json()["user"]["homeConsultation"] is kept
    assert UserProfile.objects.get().home_consultation is kept


def test_years_of_experience_sent_as_a_numeric_string_are_accepted(api_client):
    response = signup(api_client, doctor_body(years_of_experience="15"))

    assert response.status_code == 201
    assert response.json()["user"]["yearsOfExperience"] == 15
    assert UserProfile.objects.get().years_of_experience == 15


def test_both_spellings_with_the_same_value_are_accepted(api_client):
    response = signup(api_client, patient_body(fullName="Asha Rao"))

    assert response.status_code == 201
    assert UserProfile.objects.get().full_name == "Asha Rao"


def test_the_new_account_can_log_in_straight_away(api_client):
    signup(api_client, patient_body())

    response = api_client.post(
        reverse("login"), {"email": "asha@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "asha@example.com"


def garbage_token():
    return "not-a-jwt"


def expired_token():
    token = AccessToken.for_user(DoctorFactory())
    token.set_exp(lifetime=-token.lifetime)
    return str(token)


def another_accounts_token():
    return str(AccessToken.for_user(DoctorFactory()))


@pytest.mark.parametrize("token", [garbage_token, expired_token, another_accounts_token])
def test_signup_ignores_the_authorization_header(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token()}")
    others = set(UserProfile.objects.values_list("id", flat=True))

    response = signup(api_client, patient_body())

    assert response.status_code == 201
    user = UserProfile.objects.get(email="asha@example.com")
    assert response.json()["user"]["id"] == user.id
    assert user.id not in others


def test_every_privileged_key_is_reported_at_once(api_client):
    keys = ["isStaff", "is_superuser", "isActive", "groups", "userPermissions"]

    assert_refused(
        signup(api_client, patient_body(**dict.fromkeys(keys, True))),
        dict.fromkeys(keys, CANNOT_BE_SET),
    )


def test_it_ignores_an_id_in_the_body(api_client):
    existing = PatientFactory()
    before = snapshot(existing)

    response = signup(api_client, patient_body(id=existing.id))

    assert response.status_code == 201
    assert response.json()["user"]["id"] != existing.id
    assert snapshot(existing) == before


# --- duplicate email ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing_email", "sent_email"),
    [
        ("asha@example.com", "asha@example.com"),
        ("asha@example.com", "ASHA@Example.Com"),
        ("Asha@example.com", " asha@EXAMPLE.com "),
    ],
)
def test_it_refuses_a_duplicate_email_in_any_case(api_client, existing_email, sent_email):
    existing = PatientFactory(email=existing_email, full_name="The Original")
    before = snapshot(existing)

    response = signup(api_client, doctor_body(email=sent_email))

    assert (response.status_code, response.json()) == (400, TAKEN)
    assert UserProfile.objects.count() == 1
    assert snapshot(existing) == before


def test_it_refuses_the_same_signup_sent_twice(api_client):
    first = signup(api_client, patient_body())
    second = signup(api_client, patient_body(email="Asha@example.com"))

    assert first.status_code == 201
    assert (second.status_code, second.json()) == (400, TAKEN)
    assert UserProfile.objects.count() == 1


def test_a_duplicate_only_the_unique_index_catches_gets_the_same_answer(api_client, monkeypatch):
    # What the loser of a race meets: the check saw no account, the index refuses the insert.
    existing = PatientFactory(email="asha@example.com")
    before = snapshot(existing)
    monkeypatch.setattr(services, "_refuse_taken", lambda *args: None)

    response = signup(api_client, patient_body(email="ASHA@example.com"))

    assert (response.status_code, response.json()) == (400, TAKEN)
    assert UserProfile.objects.count() == 1
    assert snapshot(existing) == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_with_one_address_create_exactly_one_account():
    emails = ["race@example.com", "RACE@example.com", "Race@Example.com", "race@EXAMPLE.com"]

    def attempt(email):
        return lambda: signup(APIClient(), patient_body(email=email))

    responses = run_together([attempt(email) for email in emails])

    assert sorted(r.status_code for r in responses) == [201, 400, 400, 400]
    assert [r.json() for r in responses if r.status_code == 400] == [TAKEN] * 3
    assert UserProfile.objects.filter(email__iexact="race@example.com").count() == 1


# --- refusals: nothing is created ---------------------------------------------------------

ADMIN_REFUSED = {"user_type": ["Admin accounts cannot be created by signup."]}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        pytest.param(patient_body(user_type="admin"), ADMIN_REFUSED, id="admin"),
        pytest.param(react_doctor_body(userType="ADMIN"), ADMIN_REFUSED, id="camel-admin"),
        pytest.param(
            patient_body(userType="admin"),
            {"user_type": ["Given as user_type and userType with different values."]},
            id="admin-behind-a-second-spelling",
        ),
        pytest.param(
            patient_body(user_type="nurse"),
            {"user_type": ['Must be "user", "patient" or "doctor".']},
            id="unknown",
        ),
    ],
)
def test_it_refuses_a_role_signup_cannot_give(api_client, body, errors):
    assert_refused(signup(api_client, body), errors)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("is_staff", True),
        ("is_staff", False),
        ("isStaff", True),
        ("is_superuser", True),
        ("isSuperuser", True),
        ("is_active", True),
        ("isActive", True),
        ("groups", [1]),
        ("user_permissions", [1]),
        ("userPermissions", [1]),
        ("userPermissions", []),
    ],
)
def test_it_refuses_keys_that_grant_privileges_whatever_their_value(api_client, key, value):
    assert_refused(signup(api_client, patient_body(**{key: value})), {key: CANNOT_BE_SET})


TOO_SIMILAR_TO_EMAIL = "The password is too similar to the email."
TOO_SHORT = "This password is too short. It must contain at least 8 characters."


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        pytest.param(patient_body(password="Ab1!x"), [TOO_SHORT], id="too-short"),
        pytest.param(
            patient_body(password="8439201756"), ["This password is entirely numeric."], id="num"
        ),
        pytest.param(
            patient_body(password="password123"), ["This password is too common."], id="common"
        ),
        pytest.param(
            patient_body(email="asha.rao@example.com", password="asha.rao.example"),
            [TOO_SIMILAR_TO_EMAIL],
            id="similar-to-email",
        ),
        pytest.param(
            patient_body(full_name="Asha Rao", password="asharao2024"),
            ["The password is too similar to the full name."],
            id="similar-to-full-name",
        ),
        pytest.param(
            patient_body(password="Wq7!" + "k" * 125),
            ["Ensure this field has no more than 128 characters."],
            id="longer-than-128",
        ),
    ],
)
def test_it_refuses_a_weak_password_without_echoing_it(api_client, body, messages):
    response = signup(api_client, body)

    assert_refused(response, {"password": messages})
    assert body["password"] not in response.content.decode()


REQUIRED = ["This field is required."]


@pytest.mark.parametrize("field", ["email", "password", "full_name", "user_type"])
def test_it_reports_a_missing_required_field(api_client, field):
    assert_refused(signup(api_client, without(patient_body(), field)), {field: REQUIRED})


def test_an_empty_body_lists_every_required_field(api_client):
    assert_refused(
        signup(api_client, {}),
        dict.fromkeys(["email", "password", "full_name", "user_type"], REQUIRED),
    )


INVALID_EMAIL = ["Enter a valid email address."]


@pytest.mark.parametrize(
    ("field", "value", "messages"),
    [
        ("email", "not-an-email", INVALID_EMAIL),
        ("email", "asha@", INVALID_EMAIL),
        ("email", "@example.com", INVALID_EMAIL),
        ("email", "asha example@example.com", INVALID_EMAIL),
        ("email", "", ["This field may not be blank."]),
        ("email", ["asha@example.com"], INVALID_EMAIL),
        (
            "email",
            f"{'a' * 250}@example.com",
            ["Ensure this field has no more than 254 characters."],
        ),
        ("email", "as\x00ha@example.com", ["Null characters are not allowed.", *INVALID_EMAIL]),
        ("full_name", "   ", ["This field may not be blank."]),
        ("full_name", "Asha\x00", ["Null characters are not allowed."]),
        ("password", "Wq7!\x00lamp-x", ["Null characters are not allowed."]),
        ("full_name", "x" * 151, ["Ensure this field has no more than 150 characters."]),
        ("phone", "9" * 21, ["Ensure this field has no more than 20 characters."]),
    ],
)
def test_it_refuses_a_malformed_field(api_client, field, value, messages):
    # Over-long text would fail in PostgreSQL with a 500: the serializer must refuse it.
    assert_refused(signup(api_client, patient_body(**{field: value})), {field: messages})


NOT_A_NUMBER = ["A valid number is required."]
NEGATIVE = ["Ensure this value is greater than or equal to 0."]
TOO_MANY_DIGITS = ["Ensure that there are no more than 10 digits in total."]
NOT_AN_INTEGER = ["A valid integer is required."]
TOO_LONG = "Ensure this field has no more than {} characters."


@pytest.mark.parametrize(
    ("key", "value", "field", "messages"),
    [
        ("consultation_fee", -1, "consultation_fee", NEGATIVE),
        ("consultation_fee", "-0.01", "consultation_fee", NEGATIVE),
        ("consultation_fee", "-500", "consultation_fee", NEGATIVE),
        ("consultationFee", -100, "consultation_fee", NEGATIVE),
        ("consultation_fee", "free", "consultation_fee", NOT_A_NUMBER),
        ("consultation_fee", "NaN", "consultation_fee", NOT_A_NUMBER),
        ("consultation_fee", "Infinity", "consultation_fee", NOT_A_NUMBER),
        ("consultation_fee", True, "consultation_fee", NOT_A_NUMBER),
        ("consultation_fee", 12345678901234, "consultation_fee", TOO_MANY_DIGITS),
        (
            "consultation_fee",
            "10.005",
            "consultation_fee",
            ["Ensure that there are no more than 2 decimal places."],
        ),
        ("video_consult_fee", -5, "video_consult_fee", NEGATIVE),
        ("videoConsultFee", "cheap", "video_consult_fee", NOT_A_NUMBER),
        ("home_consult_fee", 12345678901234, "home_consult_fee", TOO_MANY_DIGITS),
        ("homeConsultFee", "-1", "home_consult_fee", NEGATIVE),
        ("years_of_experience", "eight", "years_of_experience", NOT_AN_INTEGER),
        ("years_of_experience", "8 years", "years_of_experience", NOT_AN_INTEGER),
        ("years_of_experience", 8.5, "years_of_experience", NOT_AN_INTEGER),
        ("years_of_experience", [8], "years_of_experience", NOT_AN_INTEGER),
        (
            "years_of_experience",
            -1,
            "years_of_experience",
            ["Ensure this value is greater than or equal to 0."],
        ),
        (
            "years_of_experience",
            81,
            "years_of_experience",
            ["Ensure this value is less than or equal to 80."],
        ),
        (
            "years_of_experience",
            10**20,
            "years_of_experience",
            ["Ensure this value is less than or equal to 80."],
        ),
        ("yearsOfExperience", "a decade", "years_of_experience", NOT_AN_INTEGER),
        ("home_consultation", "maybe", "home_consultation", ["Must be a valid boolean."]),
        ("homeConsultation", [True], "home_consultation", ["Must be a valid boolean."]),
        ("specialization", "x" * 101, "specialization", [TOO_LONG.format(100)]),
        ("clinic_address", "x" * 256, "clinic_address", [TOO_LONG.format(255)]),
        ("clinicAddress", "x" * 256, "clinic_address", [TOO_LONG.format(255)]),
        ("languages", "x" * 201, "languages", [TOO_LONG.format(200)]),
        ("description", "x" * 2001, "description", [TOO_LONG.format(2000)]),
    ],
)
def test_it_refuses_a_doctor_field_out_of_bounds_in_either_spelling(
    api_client, key, value, field, messages
):
    body = doctor_body() if key == field else react_doctor_body()

    assert_refused(signup(api_client, body | {key: value}), {field: messages})


def test_both_spellings_with_different_values_are_refused(api_client):
    body = doctor_body(fullName="Camel Name", full_name="Snake Name")

    assert_refused(
        signup(api_client, body),
        {"full_name": ["Given as full_name and fullName with different values."]},
    )


def test_a_doctor_text_at_its_column_length_is_accepted(api_client):
    lengths = {"specialization": 100, "clinic_address": 255, "languages": 200, "description": 2000}

    response = signup(api_client, doctor_body(**{f: "x" * n for f, n in lengths.items()}))

    assert response.status_code == 201
    user = UserProfile.objects.get()
    assert {f: len(getattr(user, f)) for f in lengths} == lengths


# --- bodies that are not a JSON object ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        pytest.param([], ["Invalid data. Expected a dictionary, but got list."], id="empty-list"),
        pytest.param(
            [{"email": "asha@example.com"}],
            ["Invalid data. Expected a dictionary, but got list."],
            id="list-of-objects",
        ),
        pytest.param(
            "asha@example.com", ["Invalid data. Expected a dictionary, but got str."], id="string"
        ),
        pytest.param(42, ["Invalid data. Expected a dictionary, but got int."], id="number"),
        pytest.param(None, ["No data provided"], id="null"),
    ],
)
def test_a_json_body_that_is_not_an_object_is_a_validation_error(api_client, body, errors):
    response = api_client.generic(
        "POST", reverse("signup"), json.dumps(body), content_type="application/json"
    )

    assert_refused(response, {"non_field_errors": errors})


def test_malformed_json_is_a_parse_error(api_client):
    response = api_client.generic(
        "POST", reverse("signup"), '{"email": "asha@example.com",', content_type="application/json"
    )

    assert_refused(
        response,
        {
            "detail": "JSON parse error - Expecting property name enclosed in double quotes: "
            "line 1 column 30 (char 29)"
        },
    )


def test_a_form_encoded_body_is_refused(api_client):
    response = api_client.post(reverse("signup"), patient_body(), format="multipart")

    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "multipart/form-data; '
        'boundary=BoUnDaRyStRiNg; charset=utf-8" in request.'
    }
    assert_no_user_created()


# --- display spoofing: bidirectional controls ---------------------------------------------

BIDI = ["Bidirectional control characters are not allowed."]
BIDI_CONTROLS = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067"]
BIDI_CONTROLS += ["\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]


@pytest.mark.parametrize("char", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_it_refuses_a_full_name_with_a_bidirectional_control(api_client, char):
    body = patient_body(full_name=f"Dr {char}evil")

    assert_refused(signup(api_client, body), {"full_name": BIDI})


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("fullName", "full_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("specialization", "specialization"),
        ("clinicAddress", "clinic_address"),
        ("languages", "languages"),
        ("description", "description"),
    ],
)
def test_it_refuses_a_bidirectional_control_in_any_displayed_text(api_client, key, field):
    value = "lakshman@exa\u202emple.com" if key == "email" else "MG \u202eRoad"

    assert_refused(signup(api_client, react_doctor_body(**{key: value})), {field: BIDI})


# --- control characters: none in a name, tab and line breaks only in a description -------

CONTROL = ["Control characters are not allowed."]
TEXT_CONTROL = ["Control characters other than tab and line breaks are not allowed."]
# A vertical tab, an escape (a terminal sequence), DEL, C1 controls, tab and line breaks
# (NUL has its own message, "Null characters are not allowed.", tested above).
CONTROL_CHARS = ["\x0b", "\x1b", "\x01", "\x7f", "\x85", "\x9b", "\t", "\n", "\r"]


@pytest.mark.parametrize("char", CONTROL_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_it_refuses_a_full_name_with_a_control_character(api_client, char):
    body = patient_body(full_name=f"Asha{char}Rao")

    assert_refused(signup(api_client, body), {"full_name": CONTROL})


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("fullName", "full_name"),
        ("phone", "phone"),
        ("specialization", "specialization"),
        ("clinicAddress", "clinic_address"),
        ("languages", "languages"),
    ],
)
def test_it_refuses_a_control_character_in_any_one_line_text(api_client, key, field):
    body = react_doctor_body(**{key: "MG\x1b[31m Road"})

    assert_refused(signup(api_client, body), {field: CONTROL})


@pytest.mark.parametrize("char", ["\x0b", "\x1b", "\x01", "\x85", "\r"], ids=repr)
def test_a_description_refuses_control_characters_but_tab_and_line_breaks(api_client, char):
    body = react_doctor_body(description=f"Paediatrics.{char}Evenings.")

    assert_refused(signup(api_client, body), {"description": TEXT_CONTROL})


def test_a_description_keeps_its_tabs_and_line_breaks(api_client):
    text = "Paediatrics.\n\tWeekdays.\r\nEvenings."

    response = signup(api_client, react_doctor_body(description=text))

    assert response.status_code == 201
    assert UserProfile.objects.get().description == text


def test_right_to_left_letters_themselves_are_welcome(api_client):
    response = signup(
        api_client, patient_body(full_name="\u05d3\u05e0\u05d4 \u0633\u0627\u0631\u0627")
    )

    assert response.status_code == 201
    assert UserProfile.objects.get().full_name == "\u05d3\u05e0\u05d4 \u0633\u0627\u0631\u0627"
