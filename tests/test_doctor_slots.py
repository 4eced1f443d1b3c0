"""A doctor's own slots (Part 1): list, create, toggle, delete."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from doctor.models import TimeSlot
from tests.conftest import client_for
from tests.factories import BookingFactory, TimeSlotFactory, tomorrow
from tests.steps import delete, toggle

pytestmark = pytest.mark.django_db

LIST_URL = reverse("doctor-timeslots")


def slot_body(**overrides):
    body = {
        "date": tomorrow().isoformat(),
        "start_time": "10:00",
        "end_time": "10:30",
        "duration": 30,
    }
    body.update(overrides)
    return body


# --- who may call -----------------------------------------------------------

DOCTOR_ENDPOINTS = [
    ("get", LIST_URL),
    ("post", LIST_URL),
    ("patch", reverse("slot-toggle", args=[1])),
    ("delete", reverse("slot-delete", args=[1])),
]


@pytest.mark.parametrize("method,url", DOCTOR_ENDPOINTS)
def test_doctor_endpoints_refuse_anonymous_callers_with_401(api_client, method, url):
    response = getattr(api_client, method)(url)
    assert response.status_code == 401


@pytest.mark.parametrize("method,url", DOCTOR_ENDPOINTS)
def test_doctor_endpoints_refuse_patients_and_admins_with_403(
    patient_client, admin_client_jwt, method, url
):
    for client in (patient_client, admin_client_jwt):
        response = getattr(client, method)(url, slot_body(), format="json")
        assert response.status_code == 403
        assert "detail" in response.json()
    assert TimeSlot.objects.count() == 0


def test_doctor_endpoints_refuse_a_garbage_token_with_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get(LIST_URL).status_code == 401


# --- list -------------------------------------------------------------------


def test_it_lists_only_the_callers_slots_ordered_by_date_and_start(doctor, doctor_client):
    day = tomorrow()
    later = TimeSlotFactory(doctor=doctor, date=day + timedelta(days=1), start_time=time(9, 0))
    second = TimeSlotFactory(doctor=doctor, date=day, start_time=time(11, 0))
    first = TimeSlotFactory(doctor=doctor, date=day, start_time=time(9, 0))
    TimeSlotFactory(date=day, start_time=time(8, 0))  # another doctor's

    response = doctor_client.get(LIST_URL)

    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == [first.id, second.id, later.id]


def test_it_lists_slots_in_the_contract_shape(doctor, doctor_client):
    slot = TimeSlotFactory(doctor=doctor, start_time=time(10, 0), duration=30)

    (item,) = doctor_client.get(LIST_URL).json()

    assert item == {
        "id": slot.id,
        "doctor": doctor.id,
        "doctor_details": {
            "id": doctor.id,
            "fullName": doctor.full_name,
            "specialization": "pediatric",
            "years_of_experience": 8,
            "consultation_fee": 500,
            "clinic_address": "MG Road",
        },
        "date": slot.date.isoformat(),
        "start_time": "10:00:00",
        "end_time": "10:30:00",
        "duration": 30,
        "is_available": True,
        "is_booked": False,
        "isAvailable": True,
        "isBooked": False,
        "source": "manual",
        "is_held": False,
    }


def test_it_shows_a_booked_slot_as_booked_without_naming_the_patient(doctor, doctor_client):
    booking = BookingFactory(slot__doctor=doctor)

    (item,) = doctor_client.get(LIST_URL).json()

    assert item["is_booked"] is True
    assert item["is_available"] is False
    assert booking.patient.email not in str(item)
    assert "patient" not in item


def test_the_own_list_runs_a_constant_number_of_queries(
    doctor, doctor_client, django_assert_num_queries
):
    TimeSlotFactory(doctor=doctor)
    with django_assert_num_queries(2):  # the user for the token, the slots
        assert len(doctor_client.get(LIST_URL).json()) == 1
    for hour in range(50):
        TimeSlotFactory(doctor=doctor, date=tomorrow() + timedelta(days=1 + hour))
    with django_assert_num_queries(2):
        assert len(doctor_client.get(LIST_URL).json()) == 51


# --- create -----------------------------------------------------------------


def test_it_creates_a_slot_with_the_dashboards_exact_body(doctor, doctor_client):
    response = doctor_client.post(LIST_URL, slot_body(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["doctor"] == doctor.id
    assert body["doctor_details"]["fullName"] == doctor.full_name
    assert (body["start_time"], body["end_time"], body["duration"]) == ("10:00:00", "10:30:00", 30)
    assert (body["is_available"], body["is_booked"]) == (True, False)
    slot = TimeSlot.objects.get(pk=body["id"])
    assert slot.doctor == doctor
    assert slot.duration == 30


def test_it_computes_the_duration_when_omitted(doctor_client):
    body = slot_body(end_time="11:15")
    del body["duration"]

    response = doctor_client.post(LIST_URL, body, format="json")

    assert response.status_code == 201
    assert response.json()["duration"] == 75
    assert TimeSlot.objects.get().duration == 75


def test_it_accepts_times_with_seconds(doctor_client):
    response = doctor_client.post(
        LIST_URL, slot_body(start_time="10:00:00", end_time="10:30:00"), format="json"
    )
    assert response.status_code == 201
    assert TimeSlot.objects.get().start_time == time(10, 0)


def test_it_ignores_a_doctor_field_in_the_body(doctor, other_doctor, doctor_client):
    response = doctor_client.post(LIST_URL, slot_body(doctor=other_doctor.id), format="json")

    assert response.status_code == 201
    assert TimeSlot.objects.get().doctor == doctor


def test_it_ignores_flag_fields_in_the_body(doctor_client):
    response = doctor_client.post(
        LIST_URL, slot_body(is_booked=True, is_available=False), format="json"
    )

    assert response.status_code == 201
    slot = TimeSlot.objects.get()
    assert (slot.is_available, slot.is_booked) == (True, False)


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"start_time": "11:00", "end_time": "10:00"}, "end_time"),
        ({"start_time": "10:00", "end_time": "10:00"}, "end_time"),
        ({"duration": 45}, "duration"),
    ],
    ids=["an end before the start", "an end equal to the start", "a duration off the times"],
)
def test_it_refuses_times_that_do_not_make_a_slot(doctor_client, overrides, field):
    response = doctor_client.post(LIST_URL, slot_body(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not TimeSlot.objects.exists()


def test_it_refuses_a_span_of_partial_minutes(doctor_client):
    response = doctor_client.post(
        LIST_URL,
        slot_body(start_time="10:00:00", end_time="10:30:30", duration=None),
        format="json",
    )
    assert response.status_code == 400
    assert not TimeSlot.objects.exists()


def test_it_refuses_a_slot_in_the_past(doctor_client):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = doctor_client.post(LIST_URL, slot_body(date=yesterday), format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Slot is in the past"]}
    assert not TimeSlot.objects.exists()


def test_it_judges_the_past_on_the_clinics_clock(doctor_client, settings, frozen):
    # 23:30 in Kolkata is 18:00 UTC: a slot at 20:00 "today" in Kolkata is past
    # even though 20:00 UTC is still to come.
    settings.TIME_ZONE = "Asia/Kolkata"
    frozen(datetime(2030, 1, 1, 18, 0, tzinfo=UTC))
    response = doctor_client.post(
        LIST_URL,
        slot_body(date="2030-01-01", start_time="20:00", end_time="20:30"),
        format="json",
    )
    assert response.status_code == 400
    response = doctor_client.post(
        LIST_URL,
        slot_body(date="2030-01-02", start_time="00:15", end_time="00:45"),
        format="json",
    )
    assert response.status_code == 201
    assert TimeSlot.objects.count() == 1


@pytest.mark.parametrize(
    "start,end",
    [("10:00", "10:30"), ("10:15", "10:45"), ("09:45", "10:15"), ("09:00", "11:00")],
)
def test_it_refuses_a_slot_overlapping_one_of_the_doctors_own(doctor, doctor_client, start, end):
    existing = TimeSlotFactory(doctor=doctor, start_time=time(10, 0), duration=30)

    response = doctor_client.post(
        LIST_URL, slot_body(start_time=start, end_time=end, duration=None), format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [f"Overlaps slot {existing.id} (10:00-10:30)"]}
    assert list(TimeSlot.objects.all()) == [existing]


def test_it_accepts_a_slot_that_starts_where_another_ends(doctor, doctor_client):
    TimeSlotFactory(doctor=doctor, start_time=time(10, 0), duration=30)

    response = doctor_client.post(
        LIST_URL, slot_body(start_time="10:30", end_time="11:00"), format="json"
    )

    assert response.status_code == 201
    assert TimeSlot.objects.count() == 2


def test_another_doctors_slot_at_the_same_time_is_no_overlap(doctor_client, other_doctor):
    TimeSlotFactory(doctor=other_doctor, start_time=time(10, 0), duration=30)

    response = doctor_client.post(LIST_URL, slot_body(), format="json")

    assert response.status_code == 201
    assert TimeSlot.objects.count() == 2


@pytest.mark.parametrize(
    "field,value",
    [
        ("date", "27-11-2026"),
        ("date", "tomorrow"),
        ("date", 20261127),
        ("date", None),
        ("start_time", "10am"),
        ("start_time", "25:00"),
        ("start_time", "10:00:00.5"),
        ("end_time", ""),
        ("end_time", ["10:30"]),
        ("duration", "thirty"),
        ("duration", -30),
        ("duration", 0),
        ("duration", 10**12),
        ("duration", 30.5),
    ],
)
def test_it_refuses_a_malformed_value_with_a_field_error(doctor_client, field, value):
    response = doctor_client.post(LIST_URL, slot_body(**{field: value}), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not TimeSlot.objects.exists()


@pytest.mark.parametrize("field", ["date", "start_time", "end_time"])
def test_it_requires_each_field(doctor_client, field):
    body = slot_body()
    del body[field]
    response = doctor_client.post(LIST_URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("body", ['["a list"]', '"a string"', "42", "{not json"])
def test_it_refuses_a_body_that_is_not_an_object(doctor_client, body):
    response = doctor_client.generic("POST", LIST_URL, body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert not TimeSlot.objects.exists()


def test_it_refuses_a_form_encoded_body_as_unsupported(doctor_client):
    response = doctor_client.post(LIST_URL, slot_body(), format="multipart")
    assert response.status_code == 415
    assert not TimeSlot.objects.exists()


# --- toggle -----------------------------------------------------------------


def test_toggle_disables_a_free_slot_and_returns_the_whole_slot(doctor, doctor_client):
    slot = TimeSlotFactory(doctor=doctor)

    response = toggle(doctor_client, slot)

    assert response.status_code == 200
    assert response.json()["id"] == slot.id
    assert response.json()["is_available"] is False
    assert response.json()["doctor_details"]["id"] == doctor.id
    slot.refresh_from_db()
    assert slot.is_available is False


def test_toggle_reenables_a_disabled_slot(doctor, doctor_client):
    slot = TimeSlotFactory(doctor=doctor, is_available=False)

    response = toggle(doctor_client, slot)

    assert response.json()["is_available"] is True
    slot.refresh_from_db()
    assert slot.is_available is True


def test_toggle_refuses_a_booked_slot(doctor, doctor_client):
    slot = BookingFactory(slot__doctor=doctor).slot

    response = toggle(doctor_client, slot)

    assert response.status_code == 400
    assert response.json() == {"message": "Booked slot cannot be modified"}
    slot.refresh_from_db()
    assert (slot.is_available, slot.is_booked) == (False, True)


def test_toggle_answers_404_for_another_doctors_slot(doctor_client, other_doctor):
    slot = TimeSlotFactory(doctor=other_doctor)

    response = toggle(doctor_client, slot)

    assert response.status_code == 404
    assert response.json() == {"message": "Slot not found"}
    slot.refresh_from_db()
    assert slot.is_available is True


def test_toggle_answers_404_for_a_missing_slot(doctor_client):
    response = toggle(doctor_client, 987654)
    assert response.status_code == 404
    assert response.json() == {"message": "Slot not found"}


def test_toggle_ignores_a_body(doctor, doctor_client):
    slot = TimeSlotFactory(doctor=doctor)
    response = toggle(doctor_client, slot, data={"is_available": True}, format="json")
    assert response.json()["is_available"] is False


# --- delete -----------------------------------------------------------------


def test_delete_removes_a_free_slot(doctor, doctor_client):
    slot = TimeSlotFactory(doctor=doctor)

    response = delete(doctor_client, slot)

    assert response.status_code == 200
    assert response.json() == {"message": "Slot deleted successfully"}
    assert not TimeSlot.objects.filter(pk=slot.pk).exists()


def test_delete_refuses_a_booked_slot(doctor, doctor_client):
    booking = BookingFactory(slot__doctor=doctor)

    response = delete(doctor_client, booking.slot)

    assert response.status_code == 400
    assert response.json() == {"message": "Booked slot cannot be deleted"}
    assert TimeSlot.objects.filter(pk=booking.slot_id, is_booked=True).exists()
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_delete_answers_404_for_another_doctors_slot(doctor_client, other_doctor):
    slot = TimeSlotFactory(doctor=other_doctor)

    response = delete(doctor_client, slot)

    assert response.status_code == 404
    assert response.json() == {"message": "Slot not found"}
    assert TimeSlot.objects.filter(pk=slot.pk).exists()


def test_delete_answers_404_for_a_missing_slot(doctor_client):
    response = delete(doctor_client, 987654)
    assert response.status_code == 404
    assert response.json() == {"message": "Slot not found"}


def test_an_id_too_large_for_the_database_is_a_404_not_a_500(doctor_client):
    response = delete(doctor_client, 10**30)
    assert response.status_code == 404


def test_a_second_doctor_token_cannot_reach_the_first_doctors_slots(doctor, other_doctor):
    slot = TimeSlotFactory(doctor=doctor)
    client = client_for(other_doctor)

    assert client.get(LIST_URL).json() == []
    assert toggle(client, slot).status_code == 404
    assert delete(client, slot).status_code == 404
    assert TimeSlot.objects.filter(pk=slot.pk, is_available=True).exists()


@pytest.mark.parametrize(
    "day",
    [lambda today: today + timedelta(days=731), lambda today: date.max],
    ids=["731 days ahead", "9999-12-31"],
)
def test_it_refuses_a_slot_beyond_the_horizon(doctor_client, day):
    # The last hour of the day: no arithmetic on 9999-12-31 may overflow.
    late = {"start_time": "23:00", "end_time": "23:59", "duration": 59}
    body = slot_body(date=day(timezone.localdate()).isoformat(), **late)
    response = doctor_client.post(reverse("doctor-timeslots"), body, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Slot starts more than 730 days from today"]}
    assert not TimeSlot.objects.exists()


def test_it_accepts_a_slot_on_the_horizon(doctor_client):
    day = timezone.localdate() + timedelta(days=730)
    body = slot_body(date=day.isoformat())
    response = doctor_client.post(reverse("doctor-timeslots"), body, format="json")
    assert response.status_code == 201
    assert TimeSlot.objects.get().date == day


WRONG_DATE = ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]


@pytest.mark.parametrize(
    "value", ["2032-5-5", "2032-05-5", "2032-5-05", " 2032-05-05", "20320-05-05"]
)
def test_it_accepts_dates_as_yyyy_mm_dd_only(doctor_client, value):
    response = doctor_client.post(reverse("doctor-timeslots"), slot_body(date=value), format="json")
    assert response.status_code == 400
    assert response.json() == {"date": WRONG_DATE}
    assert not TimeSlot.objects.exists()


@pytest.mark.parametrize(
    "url_name, params",
    [
        ("available-slots", {"date": "2032-5-5"}),
        ("available-slots", {"date_from": "2032-5-5"}),
        ("available-slots", {"date_to": "2032-05-5"}),
        ("doctor-timeslots", {"date": "2032-5-05"}),
    ],
)
def test_the_list_filters_take_dates_as_yyyy_mm_dd_only(doctor_client, url_name, params):
    response = doctor_client.get(reverse(url_name), params)
    assert response.status_code == 400
    assert response.json() == {name: ["Enter a valid date."] for name in params}
