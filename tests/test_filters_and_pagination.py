"""Filters on the lists (Part 2), and opt-in limit/offset pagination."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from tests.factories import BookingFactory, DoctorFactory, TimeSlotFactory, tomorrow

pytestmark = pytest.mark.django_db

AVAILABLE_URL = "/api/doctor/user/timeslots/"
DOCTORS_URL = "/api/doctor/list/"
OWN_URL = "/api/doctor/timeslots/"


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()]


# --- available slots ----------------------------------------------------------


def test_available_slots_filter_by_doctor(api_client):
    mine = TimeSlotFactory()
    TimeSlotFactory()
    assert ids(api_client.get(AVAILABLE_URL, {"doctor": mine.doctor_id})) == [mine.id]


def test_available_slots_filter_by_date(api_client):
    day = tomorrow()
    on_day = TimeSlotFactory(date=day)
    TimeSlotFactory(date=day + timedelta(days=1))
    assert ids(api_client.get(AVAILABLE_URL, {"date": day.isoformat()})) == [on_day.id]


def test_available_slots_filter_by_a_date_range_inclusive(api_client):
    day = tomorrow()
    slots = [TimeSlotFactory(date=day + timedelta(days=n)) for n in range(4)]
    response = api_client.get(
        AVAILABLE_URL,
        {
            "date_from": (day + timedelta(days=1)).isoformat(),
            "date_to": (day + timedelta(days=2)).isoformat(),
        },
    )
    assert ids(response) == [slots[1].id, slots[2].id]


def test_available_slots_filter_by_specialization_ignoring_case(api_client):
    heart = TimeSlotFactory(doctor=DoctorFactory(specialization="Cardiology"))
    TimeSlotFactory(doctor=DoctorFactory(specialization="pediatric"))
    assert ids(api_client.get(AVAILABLE_URL, {"specialization": "cardiology"})) == [heart.id]


def test_filters_never_bring_back_booked_or_past_slots(api_client):
    booked = BookingFactory().slot
    past = TimeSlotFactory(doctor=booked.doctor, date=timezone.localdate() - timedelta(days=3))
    response = api_client.get(
        AVAILABLE_URL, {"doctor": booked.doctor_id, "date_from": past.date.isoformat()}
    )
    assert ids(response) == []


@pytest.mark.parametrize(
    "params,field",
    [
        ({"doctor": "abc"}, "doctor"),
        ({"doctor": "-1"}, "doctor"),
        ({"doctor": "1" * 30}, "doctor"),
        ({"date": "tomorrow"}, "date"),
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"date_to": "01/02/2026"}, "date_to"),
        ({"specialization": "x" * 101}, "specialization"),
    ],
)
def test_available_slots_answer_400_for_an_invalid_filter(api_client, params, field):
    response = api_client.get(AVAILABLE_URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_unknown_query_parameters_are_ignored(api_client):
    slot = TimeSlotFactory()
    assert ids(api_client.get(AVAILABLE_URL, {"colour": "blue"})) == [slot.id]


# --- doctor list --------------------------------------------------------------


def test_doctor_list_filters_by_specialization(api_client):
    derm = DoctorFactory(specialization="Dermatology")
    DoctorFactory(specialization="pediatric")
    assert ids(api_client.get(DOCTORS_URL, {"specialization": "dermatology"})) == [derm.id]


@pytest.mark.parametrize("term", ["laksh", "CARDIO", "mg road"])
def test_doctor_list_searches_name_specialization_and_address(api_client, term):
    match = DoctorFactory(
        full_name="Dr Lakshman", specialization="cardiology", clinic_address="MG Road"
    )
    DoctorFactory(full_name="Dr Other", specialization="general", clinic_address="Elm Street")
    assert ids(api_client.get(DOCTORS_URL, {"search": term})) == [match.id]


def test_doctor_list_search_does_not_match_emails(api_client):
    DoctorFactory(email="findme@example.com")
    assert ids(api_client.get(DOCTORS_URL, {"search": "findme"})) == []


# --- the doctor's own list ----------------------------------------------------


def test_own_list_filters_by_date(doctor, doctor_client):
    day = tomorrow()
    on_day = TimeSlotFactory(doctor=doctor, date=day)
    TimeSlotFactory(doctor=doctor, date=day + timedelta(days=1))
    assert ids(doctor_client.get(OWN_URL, {"date": day.isoformat()})) == [on_day.id]


def test_own_list_upcoming_leaves_out_past_slots(doctor, doctor_client):
    past = TimeSlotFactory(doctor=doctor, past=True)
    future = TimeSlotFactory(doctor=doctor)
    assert ids(doctor_client.get(OWN_URL, {"upcoming": "true"})) == [future.id]
    assert ids(doctor_client.get(OWN_URL)) == [past.id, future.id]
    assert ids(doctor_client.get(OWN_URL, {"upcoming": "false"})) == [past.id, future.id]


@pytest.mark.parametrize("params", [{"upcoming": "maybe"}, {"date": "2026-02-30"}])
def test_own_list_answers_400_for_an_invalid_filter(doctor_client, params):
    response = doctor_client.get(OWN_URL, params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


# --- pagination ---------------------------------------------------------------


def make_slots(count):
    day = tomorrow()
    return [
        TimeSlotFactory(date=day, start_time=time(8 + n // 2, 30 * (n % 2))) for n in range(count)
    ]


def test_without_limit_the_list_stays_a_plain_array(api_client):
    make_slots(3)
    assert isinstance(api_client.get(AVAILABLE_URL).json(), list)


def test_limit_gives_a_drf_page(api_client):
    slots = make_slots(5)

    body = api_client.get(AVAILABLE_URL, {"limit": 2}).json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 5
    assert [s["id"] for s in body["results"]] == [slots[0].id, slots[1].id]
    assert body["previous"] is None
    assert "offset=2" in body["next"]


def test_offset_walks_through_the_pages_in_order(api_client):
    slots = make_slots(5)
    body = api_client.get(AVAILABLE_URL, {"limit": 2, "offset": 4}).json()
    assert [s["id"] for s in body["results"]] == [slots[4].id]
    assert body["next"] is None
    assert body["previous"] is not None


def test_an_offset_past_the_end_gives_an_empty_page(api_client):
    make_slots(2)
    body = api_client.get(AVAILABLE_URL, {"limit": 10, "offset": 50}).json()
    assert (body["count"], body["results"]) == (2, [])


def test_a_limit_above_the_maximum_is_capped(api_client):
    make_slots(3)
    body = api_client.get(AVAILABLE_URL, {"limit": 100000}).json()
    assert len(body["results"]) == 3


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": "abc"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "1" * 40}, "limit"),
        ({"limit": "5", "offset": "x"}, "offset"),
        ({"limit": "5", "offset": "-1"}, "offset"),
    ],
)
def test_a_malformed_limit_or_offset_is_a_400(api_client, params, field):
    response = api_client.get(AVAILABLE_URL, params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    "url,client_name",
    [
        (DOCTORS_URL, "api_client"),
        (OWN_URL, "doctor_client"),
        ("/api/doctor/bookings/", "doctor_client"),
        ("/api/doctor/user/bookings/", "patient_client"),
    ],
)
def test_every_list_pages_on_request(request, url, client_name):
    client = request.getfixturevalue(client_name)
    body = client.get(url, {"limit": 1}).json()
    assert set(body) == {"count", "next", "previous", "results"}


def test_pagination_and_filters_combine(api_client):
    doctor = DoctorFactory()
    day = tomorrow()
    mine = [TimeSlotFactory(doctor=doctor, date=day, start_time=time(9 + n)) for n in range(3)]
    TimeSlotFactory(date=day)
    body = api_client.get(AVAILABLE_URL, {"doctor": doctor.id, "limit": 2, "offset": 1}).json()
    assert body["count"] == 3
    assert [s["id"] for s in body["results"]] == [mine[1].id, mine[2].id]


def test_a_page_runs_a_constant_number_of_queries(api_client, django_assert_num_queries):
    make_slots(20)
    with django_assert_num_queries(2):  # count + page
        api_client.get(AVAILABLE_URL, {"limit": 5})
