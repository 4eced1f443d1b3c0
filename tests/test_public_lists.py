"""What anyone may read (Part 1): the doctor list and the available-slot list."""

from datetime import UTC, datetime, time, timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import BookingFactory, DoctorFactory, TimeSlotFactory, UserFactory, tomorrow

pytestmark = pytest.mark.django_db

DOCTORS_URL = "/api/doctor/list/"
AVAILABLE_URL = "/api/doctor/user/timeslots/"


def expired_token_for(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    return str(token)


# --- doctor list ------------------------------------------------------------


def test_the_doctor_list_answers_anonymous_callers(api_client, doctor):
    response = api_client.get(DOCTORS_URL)
    assert response.status_code == 200
    assert [d["id"] for d in response.json()] == [doctor.id]


def test_a_doctor_card_carries_both_key_sets(api_client):
    doctor = DoctorFactory(
        full_name="Dr Lakshman",
        specialization="pediatric",
        years_of_experience=8,
        consultation_fee=500,
        clinic_address="MG Road",
    )

    (card,) = api_client.get(DOCTORS_URL).json()

    assert card == {
        "id": doctor.id,
        "fullName": "Dr Lakshman",
        "specialization": "pediatric",
        "years_of_experience": 8,
        "consultation_fee": 500,
        "clinic_address": "MG Road",
        "name": "Dr Lakshman",
        "specialty": "pediatric",
        "experience": 8,
        "hospital": "MG Road",
        "consultationFee": 500,
        "videoConsultFee": 0,
        "homeConsultFee": 0,
        "homeConsultation": False,
        "languages": "",
        "description": "",
        "cancelNoticeMinutes": 0,
        "minBookingNoticeMinutes": 0,
        "maxBookingDaysAhead": None,
        "rating": None,
        "reviewCount": 0,
        "patients": 0,
        "visitTypes": ["clinic"],
    }


def test_a_doctor_card_carries_what_the_react_cards_read(api_client):
    DoctorFactory(
        video_consult_fee="350.00",
        home_consult_fee=900,
        home_consultation=True,
        languages="English, Hindi",
        description="Children's health, 8 years at MG Road.",
    )

    (card,) = api_client.get(DOCTORS_URL).json()

    assert {key: card[key] for key in READ_BY_REACT} == {
        "videoConsultFee": 350,
        "homeConsultFee": 900,
        "homeConsultation": True,
        "languages": "English, Hindi",
        "description": "Children's health, 8 years at MG Road.",
    }


READ_BY_REACT = [
    "videoConsultFee",
    "homeConsultFee",
    "homeConsultation",
    "languages",
    "description",
]


def test_a_doctor_card_says_fee_0_when_the_fee_is_unset(api_client):
    DoctorFactory(consultation_fee=None, years_of_experience=None)
    (card,) = api_client.get(DOCTORS_URL).json()
    assert (card["consultationFee"], card["videoConsultFee"], card["homeConsultFee"]) == (0, 0, 0)
    assert card["consultation_fee"] is None
    assert card["experience"] is None


def test_fees_are_json_numbers_not_strings(api_client):
    DoctorFactory(consultation_fee="499.50")
    response = api_client.get(DOCTORS_URL)
    assert b'"consultation_fee":499.5' in response.content
    assert b'"consultationFee":499.5' in response.content


def test_the_doctor_list_leaves_out_patients_admins_and_inactive_doctors(api_client, doctor):
    UserFactory(user_type="user")
    UserFactory(user_type="admin", is_staff=True)
    DoctorFactory(is_active=False)

    response = api_client.get(DOCTORS_URL)

    assert [d["id"] for d in response.json()] == [doctor.id]


def test_the_doctor_list_never_shows_emails_or_phones(api_client):
    DoctorFactory(email="secret-doc@example.com", phone="+91 99999")
    body = api_client.get(DOCTORS_URL).content.decode()
    assert "secret-doc" not in body
    assert "99999" not in body


def test_the_doctor_list_runs_a_constant_number_of_queries(api_client, django_assert_num_queries):
    DoctorFactory()
    with django_assert_num_queries(1):
        assert len(api_client.get(DOCTORS_URL).json()) == 1
    DoctorFactory.create_batch(49)
    with django_assert_num_queries(1):
        assert len(api_client.get(DOCTORS_URL).json()) == 50


# --- available slots ----------------------------------------------------------


def test_available_slots_answer_anonymous_callers_with_doctor_details(api_client):
    slot = TimeSlotFactory()

    response = api_client.get(AVAILABLE_URL)

    assert response.status_code == 200
    (item,) = response.json()
    assert item["id"] == slot.id
    assert item["doctor"] == slot.doctor_id
    assert item["doctor_details"]["fullName"] == slot.doctor.full_name
    assert item["start_time"] == "10:00:00"


def test_available_slots_leave_out_disabled_booked_and_past_slots(api_client):
    free = TimeSlotFactory()
    TimeSlotFactory(is_available=False)
    BookingFactory()
    TimeSlotFactory(past=True)

    response = api_client.get(AVAILABLE_URL)

    assert [s["id"] for s in response.json()] == [free.id]


def test_available_slots_leave_out_slots_of_inactive_doctors(api_client):
    TimeSlotFactory(doctor=DoctorFactory(is_active=False))
    assert api_client.get(AVAILABLE_URL).json() == []


def test_available_slots_judge_today_by_the_start_time_in_the_clinics_zone(
    api_client, settings, frozen
):
    settings.TIME_ZONE = "Asia/Kolkata"
    # 18:00 UTC is 23:30 in Kolkata.
    now = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)
    TimeSlotFactory(date=datetime(2030, 1, 1).date(), start_time=time(23, 0))  # past there
    starting_now = TimeSlotFactory(
        date=datetime(2030, 1, 1).date(), start_time=time(23, 30), duration=15
    )
    later = TimeSlotFactory(date=datetime(2030, 1, 1).date(), start_time=time(23, 31), duration=15)

    frozen(now)
    ids = [s["id"] for s in api_client.get(AVAILABLE_URL).json()]

    assert starting_now.id not in ids  # a slot starting now is not after now
    assert ids == [later.id]


def test_available_slots_are_ordered_by_date_then_start(api_client):
    day = tomorrow()
    c = TimeSlotFactory(date=day + timedelta(days=1), start_time=time(8, 0))
    b = TimeSlotFactory(date=day, start_time=time(12, 0))
    a = TimeSlotFactory(date=day, start_time=time(9, 0))

    ids = [s["id"] for s in api_client.get(AVAILABLE_URL).json()]

    assert ids == [a.id, b.id, c.id]


def test_available_slots_never_reveal_who_booked_anything(api_client):
    booking = BookingFactory()
    TimeSlotFactory()
    body = api_client.get(AVAILABLE_URL).content.decode()
    assert booking.patient.email not in body
    assert "patient" not in body


def test_available_slots_run_a_constant_number_of_queries(api_client, django_assert_num_queries):
    TimeSlotFactory()
    with django_assert_num_queries(1):
        assert len(api_client.get(AVAILABLE_URL).json()) == 1
    for n in range(49):
        TimeSlotFactory(date=tomorrow() + timedelta(days=n + 1))
    with django_assert_num_queries(1):
        assert len(api_client.get(AVAILABLE_URL).json()) == 50


# --- any token is ignored on public endpoints -------------------------------


@pytest.mark.parametrize("url", [DOCTORS_URL, AVAILABLE_URL])
@pytest.mark.parametrize(
    "token",
    [lambda patient: "garbage.token.here", expired_token_for],
    ids=["garbage", "expired"],
)
def test_public_lists_ignore_a_bad_token(api_client, url, patient, doctor, token):
    TimeSlotFactory(doctor=doctor)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token(patient)}")
    response = api_client.get(url)
    assert response.status_code == 200
    assert len(response.json()) == 1


@pytest.mark.parametrize("url", [DOCTORS_URL, AVAILABLE_URL])
def test_public_lists_answer_the_same_with_a_valid_token(api_client, url, doctor, patient):
    TimeSlotFactory(doctor=doctor)
    anonymous = api_client.get(url).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(patient)}")
    assert api_client.get(url).json() == anonymous


@pytest.mark.parametrize("url", [DOCTORS_URL, AVAILABLE_URL])
def test_public_lists_are_read_only(api_client, url):
    assert api_client.post(url, {}, format="json").status_code == 405
