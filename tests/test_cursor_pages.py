"""Keyset pages (`?page_size=` and the links' `cursor=`), the bound on the unpaged
public list, and the throttle on slot creation."""

import base64
import json
from datetime import time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from doctor.models import TimeSlot
from tests.conftest import client_for
from tests.factories import BookingFactory, DoctorFactory, TimeSlotFactory, tomorrow

pytestmark = pytest.mark.django_db

AVAILABLE_URL = reverse("available-slots")
OWN_URL = reverse("doctor-timeslots")
MY_BOOKINGS_URL = reverse("user-bookings")
DOCTOR_BOOKINGS_URL = reverse("doctor-bookings")


def make_slots(count, doctor=None):
    """`count` slots, several sharing a date and a start time, so the id breaks ties."""
    doctors = [doctor] if doctor else DoctorFactory.create_batch(3)
    return [
        TimeSlotFactory(
            doctor=doctors[n % len(doctors)],
            date=tomorrow() + timedelta(days=n // 6),
            start_time=time(8 + (n // len(doctors)) % 2),
        )
        for n in range(count)
    ]


def in_list_order(slots):
    return [s.id for s in sorted(slots, key=lambda s: (s.date, s.start_time, s.id))]


def walk(client, url, params):
    """Every page from the first one by its `next` links: (pages of ids, last body)."""
    response = client.get(url, params)
    pages = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert list(body) == ["next", "previous", "results"]
        pages.append([row["id"] for row in body["results"]])
        if body["next"] is None:
            return pages, body
        response = client.get(body["next"])


def token(cursor):
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")


# --- the shape ----------------------------------------------------------------


def test_the_first_page_has_next_and_previous_and_no_count(api_client):
    slots = make_slots(5)

    body = api_client.get(AVAILABLE_URL, {"page_size": 2}).json()

    assert set(body) == {"next", "previous", "results"}
    assert [row["id"] for row in body["results"]] == in_list_order(slots)[:2]
    assert body["previous"] is None
    query = parse_qs(urlsplit(body["next"]).query)
    assert urlsplit(body["next"]).path == AVAILABLE_URL
    assert query["page_size"] == ["2"]
    assert set(query) == {"page_size", "cursor"}


def test_next_links_visit_every_slot_once_in_list_order(api_client):
    slots = make_slots(11)

    pages, last = walk(api_client, AVAILABLE_URL, {"page_size": 3})

    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert sum(pages, []) == in_list_order(slots)
    assert last["next"] is None


def test_previous_links_come_back_page_by_page(api_client):
    slots = make_slots(7)
    order = in_list_order(slots)
    first = api_client.get(AVAILABLE_URL, {"page_size": 3}).json()
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()
    assert [r["id"] for r in third["results"]] == order[6:]

    back = api_client.get(third["previous"]).json()
    assert [r["id"] for r in back["results"]] == order[3:6]
    start = api_client.get(back["previous"]).json()
    assert [r["id"] for r in start["results"]] == order[:3]
    assert start["previous"] is None
    assert start["next"] is not None


def test_a_cursor_alone_pages_by_fifty(api_client):
    slots = make_slots(52)
    first = api_client.get(AVAILABLE_URL, {"page_size": 50}).json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]

    body = api_client.get(AVAILABLE_URL, {"cursor": cursor}).json()

    assert [r["id"] for r in body["results"]] == in_list_order(slots)[50:]


def test_a_page_size_over_500_gives_500(api_client):
    make_slots(3)
    body = api_client.get(AVAILABLE_URL, {"page_size": 100000}).json()
    assert len(body["results"]) == 3
    assert body["next"] is None


def test_filters_carry_over_to_the_next_page(api_client):
    doctor = DoctorFactory()
    mine = make_slots(5, doctor=doctor)
    make_slots(4)

    pages, _ = walk(api_client, AVAILABLE_URL, {"doctor": doctor.id, "page_size": 2})

    assert sum(pages, []) == in_list_order(mine)


def test_the_doctors_own_list_pages_by_cursor(doctor):
    slots = make_slots(5, doctor=doctor)
    TimeSlot.objects.filter(pk=slots[0].pk).update(is_available=False)  # still listed

    pages, _ = walk(client_for(doctor), OWN_URL, {"page_size": 2})

    assert sum(pages, []) == in_list_order(slots)


def test_the_patients_bookings_page_newest_first(patient):
    bookings = [BookingFactory(patient=patient) for _ in range(5)]

    pages, _ = walk(client_for(patient), MY_BOOKINGS_URL, {"page_size": 2})

    assert sum(pages, []) == [b.id for b in reversed(bookings)]


def test_the_doctors_bookings_page_newest_first(doctor):
    bookings = [
        BookingFactory(slot__doctor=doctor, slot__date=tomorrow() + timedelta(days=n))
        for n in range(5)
    ]

    pages, _ = walk(client_for(doctor), DOCTOR_BOOKINGS_URL, {"page_size": 2})

    assert sum(pages, []) == [b.id for b in reversed(bookings)]


def test_limit_and_offset_keep_their_count_page(api_client):
    slots = make_slots(4)
    body = api_client.get(AVAILABLE_URL, {"limit": 2, "offset": 1}).json()
    assert body["count"] == 4
    assert [r["id"] for r in body["results"]] == in_list_order(slots)[1:3]


# --- the same queries on every page --------------------------------------------------


@pytest.mark.parametrize(
    ("url", "who", "queries"),
    [
        (AVAILABLE_URL, None, 1),
        (OWN_URL, "doctor", 2),  # the token's user, the page
        (MY_BOOKINGS_URL, "patient", 2),
        (DOCTOR_BOOKINGS_URL, "doctor", 2),
    ],
)
def test_every_cursor_page_costs_the_same_queries(
    url, who, queries, doctor, patient, django_assert_num_queries
):
    for n in range(9):
        slot = TimeSlotFactory(doctor=doctor, date=tomorrow() + timedelta(days=n))
        if n % 2:
            BookingFactory(patient=patient, slot__doctor=doctor, slot__date=slot.date)
    client = client_for({"doctor": doctor, "patient": patient}[who]) if who else APIClient()
    with django_assert_num_queries(queries):
        body = client.get(url, {"page_size": 2}).json()
    while body["next"]:
        with django_assert_num_queries(queries):
            body = client.get(body["next"]).json()


# --- refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        token({"p": ["2030-01-01", "08:00"], "r": False}),  # a column short
        token({"p": ["not-a-date", "08:00", 1], "r": False}),
        token({"p": ["2030-01-01", "25:00", 1], "r": False}),
        token({"p": ["2030-01-01", "08:00", 2**63], "r": False}),
        token({"p": ["2030-01-01", "08:00", -1], "r": False}),
        token({"p": ["2030-01-01", "08:00", None], "r": False}),
        token({"p": ["2030-01-01", "08:00", 1], "r": "yes"}),
        token([1, 2, 3]),
    ],
)
def test_a_malformed_cursor_is_a_400(api_client, cursor):
    response = api_client.get(AVAILABLE_URL, {"page_size": 2, "cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_a_booking_list_cursor_without_a_time_zone_is_a_400(patient):
    cursor = token({"p": ["2030-01-01T08:00:00", 1], "r": False})
    response = client_for(patient).get(MY_BOOKINGS_URL, {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


@pytest.mark.parametrize("size", ["0", "-1", "abc", "1.5", "", "9999999999"])
def test_a_malformed_page_size_is_a_400(api_client, size):
    response = api_client.get(AVAILABLE_URL, {"page_size": size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["A positive whole number is required."]}


@pytest.mark.parametrize(
    "query",
    [{"limit": 5, "page_size": 5}, {"offset": 5, "page_size": 5}, {"limit": 5, "cursor": "x"}],
)
def test_both_page_forms_at_once_is_a_400(api_client, query):
    response = api_client.get(AVAILABLE_URL, query)
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Use either limit and offset or page_size and cursor, not both."]
    }


# --- the bound on the unpaged public list --------------------------------------------


@pytest.mark.parametrize("cached", [False, True])
def test_past_the_bound_the_soonest_slots_come_with_a_link_to_the_rest(
    api_client, settings, cached
):
    settings.MAX_UNPAGED_SLOTS = 3
    settings.LIST_CACHE = cached
    order = in_list_order(make_slots(5))

    response = api_client.get(AVAILABLE_URL)

    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == order[:3]
    assert response["X-Truncated"] == "true"
    link = response["Link"]
    assert link.startswith("<http://testserver/api/doctor/user/timeslots/?")
    assert link.endswith('>; rel="next"')
    rest = api_client.get(link[1 : -len('>; rel="next"')]).json()
    assert [row["id"] for row in rest["results"]] == order[3:]
    assert rest["next"] is None


def test_at_the_bound_nothing_changes(api_client, settings):
    settings.MAX_UNPAGED_SLOTS = 3
    order = in_list_order(make_slots(3))

    response = api_client.get(AVAILABLE_URL)

    assert [row["id"] for row in response.json()] == order
    assert "X-Truncated" not in response
    assert "Link" not in response


def test_the_bounded_list_is_still_one_query(api_client, settings, django_assert_num_queries):
    settings.MAX_UNPAGED_SLOTS = 3
    make_slots(5)
    with django_assert_num_queries(1):
        assert len(api_client.get(AVAILABLE_URL).json()) == 3


# --- the throttle on slot creation ------------------------------------------------


@pytest.fixture
def two_a_minute(monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "slots", "2/min")


def test_single_and_bulk_creation_share_one_budget_per_doctor(two_a_minute, doctor):
    client = client_for(doctor)
    day = tomorrow().isoformat()
    single = {"date": day, "start_time": "08:00", "end_time": "08:30"}
    bulk = {
        "date": day,
        "date_to": day,
        "weekdays": list(range(7)),
        "start_time": "09:00",
        "end_time": "10:00",
        "duration": 30,
    }
    assert client.post(OWN_URL, single, format="json").status_code == 201
    assert client.post(reverse("slot-bulk"), bulk, format="json").status_code == 201

    third = client.post(OWN_URL, {**single, "start_time": "11:00", "end_time": "11:30"})

    assert third.status_code == 429
    wait = int(third["Retry-After"])
    assert 0 < wait <= 60
    assert third.json() == {
        "detail": f"Request was throttled. Expected available in {wait} seconds."
    }
    assert TimeSlot.objects.filter(doctor=doctor).count() == 3
    assert client.get(OWN_URL).status_code == 200  # reading is not throttled
    other = client_for(DoctorFactory()).post(OWN_URL, single, format="json")
    assert other.status_code == 201
