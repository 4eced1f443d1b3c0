"""POST /api/doctor/timeslots/bulk/: back-to-back slots, all or nothing."""

from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from doctor.models import TimeSlot
from tests.factories import TimeSlotFactory

pytestmark = pytest.mark.django_db

URL = reverse("slot-bulk")


def next_monday():
    today = timezone.localdate()
    return today + timedelta(days=7 - today.weekday())


def body(**overrides):
    data = {
        "date": next_monday().isoformat(),
        "start_time": "09:00",
        "end_time": "11:00",
        "duration": 30,
    }
    data.update(overrides)
    return data


def test_it_creates_back_to_back_slots_on_one_day(doctor, doctor_client):
    response = doctor_client.post(URL, body(), format="json")

    assert response.status_code == 201
    starts = [s["start_time"] for s in response.json()]
    assert starts == ["09:00:00", "09:30:00", "10:00:00", "10:30:00"]
    assert all(s["doctor"] == doctor.id and s["duration"] == 30 for s in response.json())
    assert TimeSlot.objects.filter(doctor=doctor).count() == 4
    assert {s["id"] for s in response.json()} == set(TimeSlot.objects.values_list("id", flat=True))


def test_it_leaves_out_a_tail_shorter_than_the_duration(doctor_client):
    response = doctor_client.post(URL, body(end_time="10:45", duration=30), format="json")
    assert [s["end_time"] for s in response.json()][-1] == "10:30:00"
    assert TimeSlot.objects.count() == 3


def test_it_spans_a_date_range_on_the_chosen_weekdays(doctor_client):
    monday = next_monday()
    response = doctor_client.post(
        URL,
        body(date_to=(monday + timedelta(days=13)).isoformat(), weekdays=[0, 2], end_time="10:00"),
        format="json",
    )

    assert response.status_code == 201
    dates = sorted({s["date"] for s in response.json()})
    expected = [monday + timedelta(days=d) for d in (0, 2, 7, 9)]
    assert dates == [d.isoformat() for d in expected]
    assert TimeSlot.objects.count() == 8


def test_without_weekdays_every_day_in_the_range_is_used(doctor_client):
    monday = next_monday()
    doctor_client.post(
        URL, body(date_to=(monday + timedelta(days=6)).isoformat(), end_time="09:30"), format="json"
    )
    assert TimeSlot.objects.count() == 7


def test_it_ignores_a_doctor_field(doctor, other_doctor, doctor_client):
    doctor_client.post(URL, body(doctor=other_doctor.id), format="json")
    assert set(TimeSlot.objects.values_list("doctor_id", flat=True)) == {doctor.id}


def test_one_overlap_rejects_the_whole_request_and_names_it(doctor, doctor_client):
    existing = TimeSlotFactory(doctor=doctor, date=next_monday(), start_time=time(10, 15))

    response = doctor_client.post(URL, body(), format="json")

    assert response.status_code == 400
    # 10:00-10:30 and 10:30-11:00 both touch 10:15-10:45.
    day, clash = next_monday(), f"Overlaps slot {existing.id} (10:15-10:45)"
    assert response.json() == {
        "non_field_errors": [f"{day} 10:00-10:30: {clash}", f"{day} 10:30-11:00: {clash}"]
    }
    assert list(TimeSlot.objects.all()) == [existing]


def test_a_past_slot_rejects_the_whole_request(doctor_client):
    # Yesterday's four slots are past; the same weekday next week is not.
    yesterday = timezone.localdate() - timedelta(days=1)
    week_later = (yesterday + timedelta(days=7)).isoformat()
    response = doctor_client.post(
        URL,
        body(date=yesterday.isoformat(), date_to=week_later, weekdays=[yesterday.weekday()]),
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [
            f"{yesterday} {start}: Slot is in the past"
            for start in ("09:00-09:30", "09:30-10:00", "10:00-10:30", "10:30-11:00")
        ]
    }
    assert not TimeSlot.objects.exists()


def days_of(days, start_time, end_time, duration):
    """A run from next Monday over `days` days."""
    last_day = next_monday() + timedelta(days=days - 1)
    return body(
        date_to=last_day.isoformat(), start_time=start_time, end_time=end_time, duration=duration
    )


def test_more_than_500_slots_are_refused(doctor_client):
    # 95 fifteen-minute slots a day for 31 days.
    response = doctor_client.post(URL, days_of(31, "00:00", "23:59", 15), format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["At most 500 slots can be created at once."]}
    assert not TimeSlot.objects.exists()


def test_exactly_500_slots_are_accepted(doctor_client):
    # 50 ten-minute slots a day for ten days.
    response = doctor_client.post(URL, days_of(10, "08:00", "16:20", 10), format="json")
    assert response.status_code == 201
    assert TimeSlot.objects.count() == 500


def test_it_is_one_insert_not_a_query_per_slot(doctor_client, django_assert_max_num_queries):
    monday = next_monday()
    # 9: one insert of the slots, one of their audit entries (audit/models.py).
    with django_assert_max_num_queries(9):
        response = doctor_client.post(
            URL, body(date_to=(monday + timedelta(days=9)).isoformat()), format="json"
        )
    assert len(response.json()) == 40


def test_a_duration_longer_than_the_window_is_refused(doctor_client):
    response = doctor_client.post(URL, body(end_time="09:20"), format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not TimeSlot.objects.exists()


def test_weekdays_that_never_occur_in_the_range_are_refused(doctor_client):
    response = doctor_client.post(URL, body(weekdays=[3]), format="json")  # a Monday only
    assert response.status_code == 400
    assert not TimeSlot.objects.exists()


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"end_time": "08:00"}, "end_time"),
        ({"duration": 0}, "duration"),
        ({"duration": "x"}, "duration"),
        ({"weekdays": [7]}, "weekdays"),
        ({"weekdays": [-1]}, "weekdays"),
        ({"weekdays": "mon"}, "weekdays"),
        ({"weekdays": []}, "weekdays"),
        ({"date": "2026/11/30"}, "date"),
        ({"date_to": "2000-01-01"}, "date_to"),
        ({"start_time": "9"}, "start_time"),
    ],
)
def test_bad_values_get_field_errors_and_create_nothing(doctor_client, overrides, field):
    response = doctor_client.post(URL, body(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not TimeSlot.objects.exists()


def test_a_range_longer_than_a_year_is_refused(doctor_client):
    monday = next_monday()
    response = doctor_client.post(
        URL, body(date_to=(monday + timedelta(days=400)).isoformat()), format="json"
    )
    assert response.status_code == 400
    assert "date_to" in response.json()


@pytest.mark.parametrize("client_name,code", [("patient_client", 403), ("api_client", 401)])
def test_bulk_is_for_doctors_only(request, client_name, code):
    response = request.getfixturevalue(client_name).post(URL, body(), format="json")
    assert response.status_code == code
    assert not TimeSlot.objects.exists()


FAR = "Slot starts more than 730 days from today"


def test_a_far_future_date_is_refused_not_a_crash(doctor_client):
    response = doctor_client.post(
        reverse("slot-bulk"), body(date="9999-12-31", end_time="10:00"), format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [f"9999-12-31 09:00-09:30: {FAR}", f"9999-12-31 09:30-10:00: {FAR}"]
    }
    assert not TimeSlot.objects.exists()


def test_a_run_crossing_the_horizon_is_refused_whole_naming_the_days_beyond(doctor_client):
    today = timezone.localdate()
    last, beyond = today + timedelta(days=730), today + timedelta(days=731)
    response = doctor_client.post(
        reverse("slot-bulk"),
        body(date=last.isoformat(), date_to=beyond.isoformat(), end_time="09:30"),
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [f"{beyond} 09:00-09:30: {FAR}"]}
    assert not TimeSlot.objects.exists()


def test_a_run_ending_on_the_horizon_is_accepted(doctor_client):
    last = timezone.localdate() + timedelta(days=730)
    response = doctor_client.post(
        reverse("slot-bulk"), body(date=last.isoformat(), end_time="09:30"), format="json"
    )
    assert response.status_code == 201
    assert TimeSlot.objects.get().date == last


@pytest.mark.parametrize("field", ["date", "date_to"])
def test_bulk_dates_are_yyyy_mm_dd_only(doctor_client, field):
    response = doctor_client.post(reverse("slot-bulk"), body(**{field: "2032-5-5"}), format="json")
    assert response.status_code == 400
    assert response.json() == {
        field: ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]
    }
    assert not TimeSlot.objects.exists()
