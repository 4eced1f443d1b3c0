"""GET /api/profile/ and PATCH /api/profile/update/: the contract's "Accounts" section."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import UserProfile
from tests.conftest import (
    CANNOT_BE_SET,
    PERSONAL_UNSET,
    TAKEN,
    UNSET_DOCTOR_ROW,
    client_for,
    run_together,
    snapshot,
)
from tests.factories import PASSWORD, DoctorFactory, PatientFactory

ROLE_FIXED = {"userType": ["The role cannot be changed."]}
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}

pytestmark = pytest.mark.django_db


def client_with(authorization):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def patch(client, body):
    return client.patch(reverse("profile-update"), body, format="json")


def stored(user, fields):
    user.refresh_from_db()
    return {name: getattr(user, name) for name in fields}


def patient_profile(patient, **changes):
    return {
        "id": patient.id,
        "email": patient.email,
        "fullName": patient.full_name,
        "userType": "user",
        "phone": patient.phone,
        **PERSONAL_UNSET,
    } | changes


def doctor_profile(doctor, **changes):
    """The factory doctor's profile: the doctor keys with the new ones unset, and the
    names the doctor page keeps (experience, hospital, licenseNumber) following them."""
    profile = {
        "id": doctor.id,
        "email": doctor.email,
        "fullName": doctor.full_name,
        "userType": "doctor",
        "phone": "",
        "specialization": "pediatric",
        "yearsOfExperience": 8,
        "consultationFee": 500,
        "clinicAddress": "MG Road",
        "videoConsultFee": 0,
        "homeConsultFee": 0,
        "homeConsultation": False,
        "languages": "",
        "description": "",
        "cancelNoticeMinutes": 0,
        "minBookingNoticeMinutes": 0,
        "maxBookingDaysAhead": None,
        "medicalLicense": "",
        **PERSONAL_UNSET,
    } | changes
    years = profile["yearsOfExperience"]
    return profile | {
        "experience": "" if years is None else str(years),
        "hospital": profile["clinicAddress"],
        "licenseNumber": profile["medicalLicense"],
        "visitTypes": offered_visit_types(profile),
    }


def offered_visit_types(profile):
    """Contract Part 5: clinic always, video and home when their fees are above 0."""
    types = ["clinic"]
    if float(profile.get("videoConsultFee") or 0) > 0:
        types.append("video")
    if profile.get("homeConsultation") and float(profile.get("homeConsultFee") or 0) > 0:
        types.append("home")
    return types


def token_not_valid(message):
    return {
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
    }


# --- authentication and method: refused, nothing changes ----------------------------------


def no_header(user):
    return None


def garbage(user):
    return "Bearer garbage"


def expired(user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=2))
    return f"Bearer {token}"


def refresh_token(user):
    return f"Bearer {RefreshToken.for_user(user)}"


def no_bearer_prefix(user):
    return str(AccessToken.for_user(user))


def of_a_deactivated_user(user):
    header = f"Bearer {AccessToken.for_user(user)}"
    UserProfile.objects.filter(pk=user.pk).update(is_active=False)
    return header


def of_a_deleted_user(user):
    ghost = PatientFactory()
    header = f"Bearer {AccessToken.for_user(ghost)}"
    ghost.delete()
    return header


BAD_TOKENS = [
    (no_header, NO_CREDENTIALS),
    (garbage, token_not_valid("Token is invalid")),
    (expired, token_not_valid("Token is expired")),
    (refresh_token, token_not_valid("Token has wrong type")),
    (no_bearer_prefix, NO_CREDENTIALS),
    (of_a_deactivated_user, {"detail": "User is inactive", "code": "user_inactive"}),
    (of_a_deleted_user, {"detail": "User not found", "code": "user_not_found"}),
]


@pytest.mark.parametrize(("authorization", "body"), BAD_TOKENS)
def test_the_profile_needs_a_valid_token_of_an_active_user(patient, authorization, body):
    header = authorization(patient)
    client = client_with(header) if header else APIClient()

    response = client.get(reverse("profile"))

    assert (response.status_code, response.json()) == (401, body)


@pytest.mark.parametrize(("authorization", "body"), BAD_TOKENS)
def test_the_update_needs_a_valid_token_of_an_active_user(patient, authorization, body):
    header = authorization(patient)
    client = client_with(header) if header else APIClient()
    before = snapshot(patient)

    response = patch(client, {"fullName": "Intruder"})

    assert (response.status_code, response.json()) == (401, body)
    assert snapshot(patient) == before


@pytest.mark.parametrize(
    ("method", "url_name"),
    [("post", "profile"), ("get", "profile-update"), ("put", "profile-update")],
)
def test_other_methods_are_not_allowed(patient_client, patient, method, url_name):
    before = snapshot(patient)

    response = getattr(patient_client, method)(reverse(url_name), {"fullName": "New"})

    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
    assert snapshot(patient) == before


# --- GET /api/profile/: shape --------------------------------------------------------------


def test_a_patient_sees_their_own_profile_without_doctor_keys(patient_client, patient, doctor):
    patient.phone = "9845012345"
    patient.save()

    response = patient_client.get(reverse("profile"))

    assert response.status_code == 200
    assert response.json() == patient_profile(patient, phone="9845012345")


def test_a_doctor_sees_their_own_profile_with_doctor_keys(doctor_client, doctor):
    response = doctor_client.get(reverse("profile"))

    assert response.status_code == 200
    assert response.json() == doctor_profile(doctor)


def test_a_doctor_sees_every_doctor_field_set(api_client):
    doctor = DoctorFactory(
        consultation_fee=Decimal("650.25"),
        video_consult_fee=Decimal("300"),
        home_consult_fee=Decimal("1200.50"),
        home_consultation=True,
        languages="English, Hindi",
        description="Children's health.",
    )
    api_client.force_authenticate(doctor)

    response = api_client.get(reverse("profile"))

    assert response.json() == doctor_profile(
        doctor,
        consultationFee=650.25,
        videoConsultFee=300,
        homeConsultFee=1200.5,
        homeConsultation=True,
        languages="English, Hindi",
        description="Children's health.",
    )
    fees = [response.json()[key] for key in ("consultationFee", "videoConsultFee")]
    assert all(type(fee) in (int, float) for fee in fees)


def test_unset_doctor_fields_show_as_on_cards(api_client):
    # The new fees read 0 when unset, as the doctor cards show them; the Part 1 ones stay null.
    doctor = DoctorFactory(**UNSET_DOCTOR_ROW)
    api_client.force_authenticate(doctor)

    response = api_client.get(reverse("profile"))

    assert response.json() == doctor_profile(
        doctor,
        specialization="",
        yearsOfExperience=None,
        consultationFee=None,
        clinicAddress="",
    )


def test_an_admin_sees_a_profile_without_doctor_keys(admin_client_jwt, admin_user):
    response = admin_client_jwt.get(reverse("profile"))

    assert response.status_code == 200
    assert response.json() == patient_profile(admin_user, userType="admin")


# --- PATCH /api/profile/update/: changes that are allowed ---------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"fullName": "Asha Rao", "phone": "9845012345"}, id="camel-case"),
        pytest.param({"full_name": "Asha Rao", "phone": "9845012345"}, id="snake-case"),
        pytest.param(
            {"full_name": "Asha Rao", "fullName": "Asha Rao", "phone": "9845012345"},
            id="both-agreeing",
        ),
    ],
)
def test_a_patient_updates_name_and_phone_in_either_spelling(patient_client, patient, body):
    response = patch(patient_client, body)

    assert response.status_code == 200
    assert response.json() == patient_profile(patient, fullName="Asha Rao", phone="9845012345")
    assert stored(patient, ["full_name", "phone"]) == {
        "full_name": "Asha Rao",
        "phone": "9845012345",
    }


EVERY_DOCTOR_FIELD = {
    "fullName": "Dr Lakshman Rao",
    "phone": "080-2222",
    "specialization": "cardiology",
    "yearsOfExperience": 9,
    "consultationFee": 650.5,
    "clinicAddress": "Brigade Road",
    "videoConsultFee": 350,
    "homeConsultFee": 1500.25,
    "homeConsultation": True,
    "languages": "English, Kannada",
    "description": "Heart care for all ages.",
    "medicalLicense": "KMC-12345",
    "cancelNoticeMinutes": 120,
    "minBookingNoticeMinutes": 60,
    "maxBookingDaysAhead": 30,
}
EVERY_DOCTOR_FIELD_STORED = {
    "full_name": "Dr Lakshman Rao",
    "phone": "080-2222",
    "specialization": "cardiology",
    "years_of_experience": 9,
    "consultation_fee": Decimal("650.50"),
    "clinic_address": "Brigade Road",
    "video_consult_fee": Decimal("350"),
    "home_consult_fee": Decimal("1500.25"),
    "home_consultation": True,
    "languages": "English, Kannada",
    "description": "Heart care for all ages.",
    "medical_license": "KMC-12345",
    "cancel_notice_minutes": 120,
    "min_booking_notice_minutes": 60,
    "max_booking_days_ahead": 30,
}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(EVERY_DOCTOR_FIELD, id="camel-case"),
        pytest.param(
            {
                snake: EVERY_DOCTOR_FIELD[key]
                for snake, key in zip(EVERY_DOCTOR_FIELD_STORED, EVERY_DOCTOR_FIELD, strict=True)
            },
            id="snake-case",
        ),
    ],
)
def test_a_doctor_updates_every_doctor_field_in_either_spelling(doctor_client, doctor, body):
    response = patch(doctor_client, body)

    assert response.status_code == 200
    assert response.json() == doctor_profile(doctor, **EVERY_DOCTOR_FIELD)
    assert stored(doctor, EVERY_DOCTOR_FIELD_STORED) == EVERY_DOCTOR_FIELD_STORED


@pytest.mark.parametrize(
    ("key", "shown_as", "sent", "shown"),
    [
        ("consultationFee", "consultationFee", "725.75", 725.75),
        ("consultation_fee", "consultationFee", "900", 900),
        ("videoConsultFee", "videoConsultFee", "0", 0),
        ("home_consult_fee", "homeConsultFee", 99.9, 99.9),
    ],
)
def test_an_updated_fee_is_returned_as_a_number(doctor_client, key, shown_as, sent, shown):
    response = patch(doctor_client, {key: sent})

    assert response.status_code == 200
    fee = response.json()[shown_as]
    assert (type(fee) in (int, float), fee) == (True, shown)


def test_fields_left_out_of_a_patch_keep_their_value(doctor_client, doctor):
    before = snapshot(doctor)

    response = patch(doctor_client, {"specialization": "dermatology"})

    assert response.status_code == 200
    assert snapshot(doctor) == before | {"specialization": "dermatology"}


def test_an_empty_patch_changes_nothing(doctor_client, doctor):
    before = snapshot(doctor)

    response = patch(doctor_client, {})

    assert response.status_code == 200
    assert response.json() == doctor_profile(doctor)
    assert snapshot(doctor) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {
                "yearsOfExperience": "",
                "consultationFee": None,
                "specialization": None,
                "clinicAddress": "",
                "videoConsultFee": "",
                "homeConsultFee": None,
                "homeConsultation": None,
                "languages": None,
                "description": "",
            },
            id="camel-case",
        ),
        pytest.param(dict.fromkeys(UNSET_DOCTOR_ROW), id="snake-case-null"),
        pytest.param(dict.fromkeys(UNSET_DOCTOR_ROW, ""), id="snake-case-empty"),
    ],
)
def test_empty_and_null_doctor_fields_mean_unset(api_client, body):
    doctor = DoctorFactory(
        video_consult_fee=1, home_consult_fee=2, home_consultation=True, languages="x"
    )
    api_client.force_authenticate(doctor)

    response = patch(api_client, body)

    assert response.status_code == 200
    assert stored(doctor, UNSET_DOCTOR_ROW) == UNSET_DOCTOR_ROW


def test_a_null_phone_clears_the_phone(patient_client, patient):
    patient.phone = "9845012345"
    patient.save()

    response = patch(patient_client, {"phone": None})

    assert response.status_code == 200
    assert response.json()["phone"] == ""
    assert stored(patient, ["phone"]) == {"phone": ""}


@pytest.mark.parametrize(
    ("email", "kept"),
    [
        pytest.param("New.Address@Example.com", "new.address@example.com", id="free-address"),
        pytest.param(None, None, id="own-address-in-another-case"),
    ],
)
def test_the_email_can_change_and_is_stored_lower_cased(patient_client, patient, email, kept):
    kept = kept or patient.email
    response = patch(patient_client, {"email": email or patient.email.upper()})

    assert response.status_code == 200
    assert response.json()["email"] == kept
    assert stored(patient, ["email"]) == {"email": kept}


def test_after_an_email_change_the_new_address_logs_in(patient_client, patient):
    patch(patient_client, {"email": "moved@example.com"})

    response = APIClient().post(
        reverse("login"), {"email": "moved@example.com", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["id"] == patient.id


def test_the_whole_profile_sent_back_with_the_unchanged_role_is_accepted(doctor_client, doctor):
    body = doctor_client.get(reverse("profile")).json()
    body["clinicAddress"] = "Koramangala"

    response = patch(doctor_client, body)

    assert response.status_code == 200
    # hospital is a name for clinicAddress in replies only: sent back, it is ignored.
    assert response.json() == body | {"hospital": "Koramangala"}
    assert stored(doctor, ["clinic_address", "user_type"]) == {
        "clinic_address": "Koramangala",
        "user_type": "doctor",
    }


@pytest.mark.parametrize("role", ["user", "patient", "User", "PATIENT", " user ", None])
def test_a_patient_sending_their_unchanged_role_is_accepted(patient_client, patient, role):
    response = patch(patient_client, {"userType": role, "fullName": "Renamed"})

    assert response.status_code == 200
    assert stored(patient, ["user_type", "full_name"]) == {
        "user_type": "user",
        "full_name": "Renamed",
    }


def test_an_id_in_the_body_is_ignored(patient_client, patient, doctor):
    doctor_before = snapshot(doctor)

    response = patch(patient_client, {"id": doctor.id, "fullName": "Mine"})

    assert response.status_code == 200
    assert response.json()["id"] == patient.id
    assert stored(patient, ["full_name"]) == {"full_name": "Mine"}
    assert snapshot(doctor) == doctor_before


@pytest.mark.parametrize(
    "doctor_fields",
    [
        pytest.param(
            {
                "specialization": "cardiology",
                "yearsOfExperience": 10,
                "consultationFee": 900,
                "clinicAddress": "Somewhere",
                "videoConsultFee": 100,
                "homeConsultFee": 200,
                "homeConsultation": True,
                "languages": "Tamil",
                "description": "Not a doctor.",
            },
            id="camel-case",
        ),
        pytest.param(
            {"consultation_fee": 800, "home_consultation": True, "languages": "Tamil"},
            id="snake-case",
        ),
        pytest.param(
            {"consultationFee": 900, "consultation_fee": 800}, id="both-spellings-disagreeing"
        ),
        pytest.param(
            {"consultationFee": -5, "yearsOfExperience": "many", "homeConsultation": "maybe"},
            id="invalid",
        ),
    ],
)
def test_a_patient_sending_doctor_fields_has_them_ignored(patient_client, patient, doctor_fields):
    response = patch(patient_client, {**doctor_fields, "fullName": "Still A Patient"})

    assert response.status_code == 200
    assert response.json() == patient_profile(patient, fullName="Still A Patient")
    assert stored(patient, UNSET_DOCTOR_ROW) == UNSET_DOCTOR_ROW


# --- PATCH /api/profile/update/: refusals leave the row unchanged --------------------------


def refused(client, user, body, errors):
    """PATCH body as user: a 400 with exactly these errors, and the stored row unchanged."""
    before = snapshot(user)

    response = patch(client, body)

    assert (response.status_code, response.json()) == (400, errors)
    assert snapshot(user) == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"userType": "doctor", "fullName": "Dr Fake"}, ROLE_FIXED),
        ({"user_type": "doctor", "fullName": "Dr Fake"}, ROLE_FIXED),
        ({"userType": "admin"}, ROLE_FIXED),
        ({"userType": ""}, {"userType": ["This field may not be blank."]}),
    ],
)
def test_a_patient_cannot_change_role(patient_client, patient, body, errors):
    refused(patient_client, patient, body, errors)


@pytest.mark.parametrize("role", ["patient", "user", "admin"])
def test_a_doctor_cannot_change_role(doctor_client, doctor, role):
    refused(doctor_client, doctor, {"userType": role}, ROLE_FIXED)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("is_staff", True),
        ("isStaff", True),
        ("is_superuser", True),
        ("isSuperuser", True),
        ("is_active", False),
        ("isActive", False),
        ("groups", [1]),
        ("user_permissions", [1]),
        ("userPermissions", [1]),
        ("userPermissions", []),
        ("email_verified", True),
        ("emailVerified", True),
        ("emailVerified", False),
        ("password", "An0ther-strong-pass"),
    ],
)
def test_privilege_keys_are_refused_and_nothing_changes(patient_client, patient, key, value):
    refused(patient_client, patient, {key: value, "fullName": "Sneaky"}, {key: CANNOT_BE_SET})
    assert patient.check_password(PASSWORD)


def test_privilege_keys_are_refused_before_any_other_check(patient_client, patient):
    body = {"isStaff": True, "emailVerified": True, "password": "x", "fullName": "", "email": "?"}
    errors = dict.fromkeys(["isStaff", "emailVerified", "password"], CANNOT_BE_SET)

    refused(patient_client, patient, body, errors)


INVALID_EMAIL = ["Enter a valid email address."]
TOO_LONG = "Ensure this field has no more than {} characters."
NOT_A_NUMBER = ["A valid number is required."]
NEGATIVE = ["Ensure this value is greater than or equal to 0."]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"email": "not-an-email"}, {"email": INVALID_EMAIL}),
        ({"email": ""}, {"email": ["This field may not be blank."]}),
        ({"email": None}, {"email": ["This field may not be null."]}),
        ({"email": f"{'a' * 250}@example.com"}, {"email": [TOO_LONG.format(254)]}),
        ({"fullName": ""}, {"fullName": ["This field may not be blank."]}),
        ({"fullName": "   "}, {"fullName": ["This field may not be blank."]}),
        ({"fullName": None}, {"fullName": ["This field may not be null."]}),
        ({"fullName": "x" * 151}, {"fullName": [TOO_LONG.format(150)]}),
        ({"fullName": "Asha\x00"}, {"fullName": ["Null characters are not allowed."]}),
        ({"full_name": ""}, {"fullName": ["This field may not be blank."]}),
        (
            {"fullName": "A", "full_name": "B"},
            {"fullName": ["Given as fullName and full_name with different values."]},
        ),
    ],
)
def test_an_invalid_name_or_email_is_refused(patient_client, patient, body, errors):
    refused(patient_client, patient, body, errors)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"consultationFee": -1}, {"consultationFee": NEGATIVE}),
        ({"consultation_fee": -10}, {"consultationFee": NEGATIVE}),
        ({"consultationFee": "cheap"}, {"consultationFee": NOT_A_NUMBER}),
        (
            {"consultationFee": 12345678901234},
            {"consultationFee": ["Ensure that there are no more than 10 digits in total."]},
        ),
        ({"videoConsultFee": -0.01}, {"videoConsultFee": NEGATIVE}),
        ({"video_consult_fee": "free"}, {"videoConsultFee": NOT_A_NUMBER}),
        (
            {"homeConsultFee": "1.001"},
            {"homeConsultFee": ["Ensure that there are no more than 2 decimal places."]},
        ),
        ({"home_consult_fee": -3}, {"homeConsultFee": NEGATIVE}),
        ({"homeConsultation": "maybe"}, {"homeConsultation": ["Must be a valid boolean."]}),
        ({"home_consultation": [1]}, {"homeConsultation": ["Must be a valid boolean."]}),
        ({"yearsOfExperience": "ten"}, {"yearsOfExperience": ["A valid integer is required."]}),
        (
            {"yearsOfExperience": -3},
            {"yearsOfExperience": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"years_of_experience": 81},
            {"yearsOfExperience": ["Ensure this value is less than or equal to 80."]},
        ),
        ({"specialization": "x" * 101}, {"specialization": [TOO_LONG.format(100)]}),
        ({"clinicAddress": "x" * 256}, {"clinicAddress": [TOO_LONG.format(255)]}),
        ({"languages": "x" * 201}, {"languages": [TOO_LONG.format(200)]}),
        ({"description": "x" * 2001}, {"description": [TOO_LONG.format(2000)]}),
        ({"phone": "9" * 21}, {"phone": [TOO_LONG.format(20)]}),
        (
            {"fullName": "Good Name", "consultationFee": -1},
            {"consultationFee": NEGATIVE},
        ),
    ],
)
def test_an_invalid_doctor_field_refuses_the_whole_update(doctor_client, doctor, body, errors):
    refused(doctor_client, doctor, body, errors)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ([], ["Invalid data. Expected a dictionary, but got list."]),
        ([{"fullName": "x"}], ["Invalid data. Expected a dictionary, but got list."]),
        ("password", ["Invalid data. Expected a dictionary, but got str."]),
        (3, ["Invalid data. Expected a dictionary, but got int."]),
        (None, ["No data provided"]),
    ],
)
def test_a_json_body_that_is_not_an_object_is_a_validation_error(
    patient_client, patient, body, errors
):
    before = snapshot(patient)

    response = patient_client.generic(
        "PATCH", reverse("profile-update"), json.dumps(body), content_type="application/json"
    )

    assert (response.status_code, response.json()) == (400, {"non_field_errors": errors})
    assert snapshot(patient) == before


# --- an address another account has: one shape, whatever else the body says ------------


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_the_email_cannot_take_another_accounts_address_in_any_case(
    patient_client, patient, doctor, case
):
    refused(patient_client, patient, {"email": case(doctor.email)}, TAKEN)
    assert UserProfile.objects.filter(email__iexact=doctor.email).count() == 1


def test_a_taken_address_beside_an_invalid_field_reads_as_a_free_one(
    patient_client, patient, doctor
):
    # Field errors come first and never mention the address: the reply cannot tell whether
    # it is registered (the email oracle of issue 10).
    invalid = {"fullName": "", "phone": "9" * 21}
    expected = {"fullName": ["This field may not be blank."], "phone": [TOO_LONG.format(20)]}

    refused(patient_client, patient, {**invalid, "email": doctor.email}, expected)
    refused(patient_client, patient, {**invalid, "email": "nobody@example.com"}, expected)


def test_an_address_only_the_unique_index_catches_gets_the_same_answer(
    patient_client, patient, doctor, monkeypatch
):
    # What the loser of a race meets: the check saw a free address, the index refuses it.
    monkeypatch.setattr(services, "_refuse_taken", lambda *args: None)
    doctor_before = snapshot(doctor)

    refused(patient_client, patient, {"email": doctor.email.upper(), "phone": "1"}, TAKEN)
    assert snapshot(doctor) == doctor_before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_accounts_racing_for_one_new_address_end_with_only_one_holding_it():
    racers = [PatientFactory(), PatientFactory(), DoctorFactory()]
    addresses = ["wanted@example.com", "WANTED@example.com", "Wanted@Example.com"]

    def attempt(user, address):
        client = client_for(user)
        return lambda: patch(client, {"email": address})

    responses = run_together([attempt(*pair) for pair in zip(racers, addresses, strict=True)])

    assert sorted(r.status_code for r in responses) == [200, 400, 400]
    # The losers hear the one shape, whether the check or the unique index caught them.
    assert [r.json() for r in responses if r.status_code == 400] == [TAKEN, TAKEN]
    assert UserProfile.objects.filter(email__iexact="wanted@example.com").count() == 1
    winner = UserProfile.objects.get(email="wanted@example.com")
    others = [snapshot(user)["email"] for user in racers if user.pk != winner.pk]
    assert all(email.startswith("user") for email in others)


# --- throttle: profile updates per user ----------------------------------------------------


@pytest.fixture
def profile_rate(monkeypatch):
    """A low limit for the test; the real one comes from THROTTLE_RATE_PROFILE."""
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "profile", "3/min")


def test_the_profile_update_rate_defaults_to_30_a_minute(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["profile"] == "30/min"


def test_profile_updates_answer_429_over_the_limit(profile_rate, patient_client, patient, doctor):
    # Probing addresses costs the same budget as any update, answered or refused.
    probe = {"email": doctor.email, "fullName": ""}
    codes = [patch(patient_client, probe).status_code for _ in range(3)]
    before = snapshot(patient)

    response = patch(patient_client, {"fullName": "Too Late"})

    assert codes == [400, 400, 400]
    assert response.status_code == 429
    wait = response["Retry-After"]
    assert response.json() == {
        "detail": f"Request was throttled. Expected available in {wait} seconds."
    }
    assert snapshot(patient) == before


def test_the_profile_update_limit_is_per_user(profile_rate, patient_client, patient):
    for _ in range(3):
        patch(patient_client, {"phone": "1"})

    response = patch(client_for(PatientFactory()), {"fullName": "Not Throttled"})

    assert response.status_code == 200
    assert patch(patient_client, {"phone": "2"}).status_code == 429


def test_reading_the_profile_is_not_throttled(profile_rate, patient_client):
    for _ in range(3):
        patch(patient_client, {"phone": "1"})

    assert patient_client.get(reverse("profile")).status_code == 200


# --- control characters -------------------------------------------------------------------

CONTROL = ["Control characters are not allowed."]


@pytest.mark.parametrize("char", ["\x0b", "\x1b", "\x85"], ids=["VT", "ESC", "NEL"])
def test_a_patient_cannot_take_a_name_with_a_control_character(patient_client, patient, char):
    refused(patient_client, patient, {"fullName": f"Asha{char}Rao"}, {"fullName": CONTROL})


@pytest.mark.parametrize(
    ("key", "error_key"),
    [
        ("full_name", "fullName"),
        ("phone", "phone"),
        ("specialization", "specialization"),
        ("clinic_address", "clinicAddress"),
        ("languages", "languages"),
    ],
)
def test_a_doctor_cannot_set_a_control_character_in_one_line_text(
    doctor_client, doctor, key, error_key
):
    refused(doctor_client, doctor, {key: "MG\x0bRoad"}, {error_key: CONTROL})


def test_a_doctors_description_keeps_line_breaks_but_not_an_escape(doctor_client, doctor):
    refused(
        doctor_client,
        doctor,
        {"description": "Evenings\x1b[2J"},
        {"description": ["Control characters other than tab and line breaks are not allowed."]},
    )
    assert patch(doctor_client, {"description": "Evenings.\n\tWeekends."}).status_code == 200
    doctor.refresh_from_db()
    assert doctor.description == "Evenings.\n\tWeekends."


# --- display spoofing: bidirectional controls ---------------------------------------------

BIDI = ["Bidirectional control characters are not allowed."]


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200f"], ids=["RLO", "LRI", "RLM"])
def test_a_patient_cannot_take_a_name_with_a_bidirectional_control(patient_client, patient, char):
    refused(patient_client, patient, {"fullName": f"Asha{char} Rao"}, {"fullName": BIDI})


@pytest.mark.parametrize(
    ("key", "error_key"),
    [
        ("full_name", "fullName"),
        ("email", "email"),
        ("phone", "phone"),
        ("specialization", "specialization"),
        ("clinic_address", "clinicAddress"),
        ("languages", "languages"),
        ("description", "description"),
    ],
)
def test_a_doctor_cannot_set_a_bidirectional_control_in_displayed_text(
    doctor_client, doctor, key, error_key
):
    value = "dr@exa\u202emple.com" if key == "email" else "MG \u202eRoad"

    refused(doctor_client, doctor, {key: value}, {error_key: BIDI})
