"""PATCH /api/profile/update/: the fields of contract Part 5, "Profiles the client can save",
in the three encodings the React pages and other clients send."""

from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import snapshot

pytestmark = pytest.mark.django_db

URL = reverse("profile-update")

# What the patient page sends (multipart), every field filled.
PATIENT_PAGE = {
    "fullName": "Asha",
    "lastName": "Nair",
    "address": "",  # the page reads a key it never fills: always empty
    "apartment": "Flat 4B, Lake View",
    "city": "Kochi",
    "district": "Ernakulam",
    "state": "Kerala",
    "pincode": "682036",
    "gender": "female",
    "dateOfBirth": "1990-05-17",
    "emergencyContact": "+91 98450 33333",
}
PATIENT_PAGE_STORED = {
    "full_name": "Asha",
    "last_name": "Nair",
    "address": "",
    "apartment": "Flat 4B, Lake View",
    "city": "Kochi",
    "district": "Ernakulam",
    "state": "Kerala",
    "pincode": "682036",
    "gender": "female",
    "date_of_birth": date(1990, 5, 17),
    "emergency_contact": "+91 98450 33333",
}


def send(client, body, encoding):
    """One PATCH of `body` as JSON, multipart or an urlencoded form."""
    if encoding == "json":
        return client.patch(URL, body, format="json")
    if encoding == "multipart":
        return client.patch(URL, body, format="multipart")
    return client.generic(
        "PATCH", URL, urlencode(body), content_type="application/x-www-form-urlencoded"
    )


ENCODINGS = ["json", "multipart", "form"]


def stored(user, names):
    user.refresh_from_db()
    return {name: getattr(user, name) for name in names}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_patient_page_saves_every_field_in_each_encoding(patient_client, patient, encoding):
    response = send(patient_client, PATIENT_PAGE, encoding)

    assert response.status_code == 200, response.content
    reply = response.json()
    assert {key: reply[key] for key in PATIENT_PAGE} == PATIENT_PAGE
    assert reply["deliveryAddress"] == ""
    assert reply["profilePhoto"] is None
    assert stored(patient, PATIENT_PAGE_STORED) == PATIENT_PAGE_STORED
    # ...and every later read shows them.
    profile = patient_client.get(reverse("profile")).json()
    assert {key: profile[key] for key in PATIENT_PAGE} == PATIENT_PAGE


def test_every_new_field_is_also_accepted_in_snake_case(patient_client, patient):
    body = {
        "last_name": "Nair",
        "delivery_address": "12 MG Road",
        "date_of_birth": "1990-05-17",
        "emergency_contact": "112",
    }

    response = send(patient_client, body, "json")

    assert response.status_code == 200
    assert stored(patient, ["last_name", "address", "date_of_birth", "emergency_contact"]) == {
        "last_name": "Nair",
        "address": "12 MG Road",
        "date_of_birth": date(1990, 5, 17),
        "emergency_contact": "112",
    }
    reply = response.json()
    assert (reply["address"], reply["deliveryAddress"]) == ("12 MG Road", "12 MG Road")


def test_address_and_delivery_address_are_one_field(patient_client, patient):
    assert send(patient_client, {"deliveryAddress": "Panampilly Nagar"}, "json").json()[
        "address"
    ] == ("Panampilly Nagar")
    same = send(patient_client, {"address": "A", "deliveryAddress": "A"}, "json")
    assert same.status_code == 200
    before = snapshot(patient)

    response = send(patient_client, {"address": "A", "deliveryAddress": "B"}, "json")

    assert response.status_code == 400
    assert list(response.json()) == ["address"]
    assert snapshot(patient) == before


@pytest.mark.parametrize("encoding", ["multipart", "form"])
def test_an_empty_form_value_unsets_a_date_a_number_or_a_choice(doctor_client, doctor, encoding):
    doctor.date_of_birth, doctor.gender = date(1980, 1, 1), "male"
    doctor.save()

    body = {"dateOfBirth": "", "gender": "", "yearsOfExperience": "", "consultationFee": ""}
    response = send(doctor_client, body, encoding)

    assert response.status_code == 200, response.content
    assert stored(
        doctor, ["date_of_birth", "gender", "years_of_experience", "consultation_fee"]
    ) == {
        "date_of_birth": None,
        "gender": "",
        "years_of_experience": None,
        "consultation_fee": None,
    }
    assert response.json()["experience"] == ""


def test_json_null_unsets_the_new_fields(patient_client, patient):
    send(patient_client, PATIENT_PAGE, "json")

    body = dict.fromkeys(["lastName", "pincode", "gender", "dateOfBirth", "city"])
    response = send(patient_client, body, "json")

    assert response.status_code == 200
    assert stored(patient, ["last_name", "pincode", "gender", "date_of_birth", "city"]) == {
        "last_name": "",
        "pincode": "",
        "gender": "",
        "date_of_birth": None,
        "city": "",
    }


@pytest.mark.parametrize("gender", ["male", "female", "other", "prefer-not-to-say"])
def test_each_gender_is_accepted(patient_client, patient, gender):
    assert send(patient_client, {"gender": gender}, "form").status_code == 200
    assert stored(patient, ["gender"]) == {"gender": gender}


def test_the_earliest_and_latest_dates_of_birth_are_accepted(patient_client, patient):
    today = timezone.localdate()
    for day in (date(1900, 1, 1), today):
        response = send(patient_client, {"dateOfBirth": day.isoformat()}, "json")
        assert response.status_code == 200
        assert stored(patient, ["date_of_birth"]) == {"date_of_birth": day}


# --- the doctor page ------------------------------------------------------------------------

DOCTOR_PAGE = {
    "fullName": "Lakshman Rao",
    "phone": "+91 98450 12345",
    "specialization": "pediatric",
    "yearsOfExperience": "12",
    "consultationFee": "600",
    "clinicAddress": "12 MG Road, Bengaluru",
    "medicalLicense": "KMC-48213",
    "deliveryAddress": "4 Church Street",
    "city": "Bengaluru",
    "state": "Karnataka",
    "pincode": "560001",
}


def test_the_doctor_page_keeps_every_value_after_saving_twice(doctor_client, doctor):
    first = send(doctor_client, DOCTOR_PAGE, "json")

    assert first.status_code == 200, first.content
    reply = first.json()
    # The names the doctor page keeps after saving, beside the profile's own.
    assert (reply["experience"], reply["hospital"], reply["licenseNumber"]) == (
        "12",
        "12 MG Road, Bengaluru",
        "KMC-48213",
    )
    assert (reply["address"], reply["deliveryAddress"]) == ("4 Church Street",) * 2
    assert (reply["medicalLicense"], reply["city"], reply["state"], reply["pincode"]) == (
        "KMC-48213",
        "Bengaluru",
        "Karnataka",
        "560001",
    )
    # The page's second save sends what it kept: experience trimmed, as yearsOfExperience.
    again = {
        **DOCTOR_PAGE,
        "yearsOfExperience": reply["experience"].strip(),
        "clinicAddress": reply["hospital"],
        "medicalLicense": reply["licenseNumber"],
        "deliveryAddress": reply["address"],
    }
    second = send(doctor_client, again, "json")

    assert second.status_code == 200
    assert second.json() == reply
    assert doctor_client.get(reverse("profile")).json() == reply
    assert stored(doctor, ["years_of_experience", "medical_license", "address"]) == {
        "years_of_experience": 12,
        "medical_license": "KMC-48213",
        "address": "4 Church Street",
    }


def test_a_patient_cannot_set_a_medical_license(patient_client, patient):
    response = send(patient_client, {"medicalLicense": "KMC-1", "licenseNumber": "KMC-1"}, "json")

    assert response.status_code == 200
    assert "medicalLicense" not in response.json()
    assert "licenseNumber" not in response.json()
    assert stored(patient, ["medical_license"]) == {"medical_license": ""}


# --- refused: 400 naming the field, the profile exactly as it was --------------------------

TOMORROW = (timezone.localdate() + timedelta(days=1)).isoformat()
REFUSED = [
    pytest.param({"dateOfBirth": TOMORROW}, "dateOfBirth", id="born-tomorrow"),
    pytest.param({"dateOfBirth": "1899-12-31"}, "dateOfBirth", id="born-before-1900"),
    pytest.param({"dateOfBirth": "17/05/1990"}, "dateOfBirth", id="not-a-date"),
    pytest.param({"pincode": "68203"}, "pincode", id="pincode-five-digits"),
    pytest.param({"pincode": "6820361"}, "pincode", id="pincode-seven-digits"),
    pytest.param({"pincode": "68203a"}, "pincode", id="pincode-letter"),
    pytest.param({"pincode": "٦٨٢٠٣٦"}, "pincode", id="pincode-other-digits"),
    pytest.param({"gender": "unknown"}, "gender", id="unknown-gender"),
    pytest.param({"gender": "Male"}, "gender", id="gender-case"),
    pytest.param({"lastName": "x" * 151}, "lastName", id="last-name-too-long"),
    pytest.param({"city": "Ko\x0bchi"}, "city", id="control-character"),
    pytest.param({"address": "MG \u202eRoad"}, "address", id="bidi-control"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("body", "field"), REFUSED)
def test_a_bad_value_is_refused_and_nothing_changes(patient_client, patient, body, field, encoding):
    send(patient_client, PATIENT_PAGE, "json")
    before = snapshot(patient)

    response = send(patient_client, {"city": "Changed", "lastName": "Changed", **body}, encoding)

    assert response.status_code == 400
    assert field in response.json()
    assert snapshot(patient) == before


def test_a_json_number_is_not_a_pincode(patient_client, patient):
    before = snapshot(patient)

    response = send(patient_client, {"pincode": 682036}, "json")

    assert (response.status_code, list(response.json())) == (400, ["pincode"])
    assert snapshot(patient) == before


def test_a_date_of_birth_in_the_future_names_its_rule(patient_client):
    response = send(patient_client, {"dateOfBirth": TOMORROW}, "json")
    old = send(patient_client, {"dateOfBirth": "1899-12-31"}, "json")

    assert response.json() == {"dateOfBirth": ["The date of birth cannot be in the future."]}
    assert old.json() == {"dateOfBirth": ["The date of birth cannot be before 1900."]}


def test_a_doctor_field_refused_in_a_form_post_changes_nothing(doctor_client, doctor):
    before = snapshot(doctor)

    response = send(doctor_client, {**DOCTOR_PAGE, "consultationFee": "-1"}, "multipart")

    assert (response.status_code, list(response.json())) == (400, ["consultationFee"])
    assert snapshot(doctor) == before


def test_the_schema_describes_the_three_encodings_and_the_photo(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/profile/update/"]["patch"]

    content = operation["requestBody"]["content"]
    assert set(content) == {
        "application/json",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    }
    name = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    form = schema["components"]["schemas"][name]["properties"]
    assert form["profilePhoto"]["format"] == "binary"
    for key in ("lastName", "address", "dateOfBirth", "pincode", "gender", "medicalLicense"):
        assert key in form
    assert "deliveryAddress" in operation["description"]  # an input alias of address
    reply = schema["components"]["schemas"]["Profile"]["properties"]
    assert reply["profilePhoto"]["format"] == "uri"
    for key in ("deliveryAddress", "experience", "hospital", "licenseNumber"):
        assert key in reply


def test_the_schema_lets_a_reply_say_gender_is_unset(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    gender = schema["components"]["schemas"]["Profile"]["properties"]["gender"]

    assert {"$ref": "#/components/schemas/BlankEnum"} in gender["oneOf"]


def test_the_schema_requires_no_doctor_key_of_a_patients_profile(client):
    """A patient's profile has no doctor keys (visitTypes included): the reply's
    schema may not require them, or every patient's reply would be outside it."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    profile = schema["components"]["schemas"]["Profile"]

    assert "visitTypes" in profile["properties"]
    assert not {"visitTypes", "experience", "consultationFee"} & set(profile["required"])
    assert "deskDoctors" in profile["required"]  # every profile has it ([] but a desk's)
