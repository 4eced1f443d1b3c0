"""Calendar feeds (contract Part 4): the secret URL, its reset, and the .ics itself."""

import re
from datetime import date, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from rest_framework.test import APIClient

from accounts.models import UserProfile
from calendars.feeds import event_sequence, event_status
from calendars.models import CalendarFeed
from doctor import services as booking_services
from tests.factories import BookingFactory, PatientFactory, TimeSlotFactory, tomorrow

pytestmark = pytest.mark.django_db

NEW_YORK = "America/New_York"


def feed_path(user):
    token = CalendarFeed.objects.get_or_create(user=user)[0].token
    return reverse("calendar-feed", kwargs={"token": token})


def fetch(user, **headers):
    return APIClient().get(feed_path(user), **headers)


def events(response):
    assert response.status_code == 200, response.content[:300]
    return Calendar.from_ical(response.content).walk("VEVENT")


def only_event(response):
    [event] = events(response)
    return event


def book(doctor, patient, day=None, at=time(10, 0)):
    return BookingFactory(
        slot__doctor=doctor, slot__date=day or tomorrow(), slot__start_time=at, patient=patient
    )


# --- the feed URL and its reset -----------------------------------------------


def test_it_gives_a_signed_in_user_their_absolute_feed_url(patient, patient_client):
    response = patient_client.get(reverse("calendar-url"))

    token = CalendarFeed.objects.get(user=patient).token
    assert response.status_code == 200
    assert response.json() == {"url": f"http://testserver/api/calendar/{token}.ics"}


def test_it_gives_the_same_url_every_time(patient_client):
    first = patient_client.get(reverse("calendar-url")).json()

    assert patient_client.get(reverse("calendar-url")).json() == first


def test_the_token_is_long_and_random(doctor, patient):
    tokens = {CalendarFeed.objects.create(user=user).token for user in (doctor, patient)}

    assert len(tokens) == 2
    assert all(len(token) >= 43 for token in tokens)


def test_reset_gives_a_new_url_and_the_old_one_answers_404(patient, patient_client):
    old = patient_client.get(reverse("calendar-url")).json()["url"]

    response = patient_client.post(reverse("calendar-reset"))

    new_token = CalendarFeed.objects.get(user=patient).token
    assert response.status_code == 200
    assert response.json() == {"url": f"http://testserver/api/calendar/{new_token}.ics"}
    assert response.json()["url"] != old
    gone = APIClient().get(old)
    assert gone.status_code == 404
    assert gone.json() == {"message": "Calendar not found"}
    assert APIClient().get(response.json()["url"]).status_code == 200


def test_reset_before_any_url_creates_one(patient, patient_client):
    response = patient_client.post(reverse("calendar-reset"))

    assert response.status_code == 200
    assert CalendarFeed.objects.filter(user=patient).count() == 1


@pytest.mark.parametrize("method,name", [("get", "calendar-url"), ("post", "calendar-reset")])
def test_the_url_endpoints_need_a_signed_in_user(api_client, method, name):
    response = getattr(api_client, method)(reverse(name))

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert CalendarFeed.objects.count() == 0


def test_an_unknown_token_answers_404(api_client):
    response = api_client.get(reverse("calendar-feed", kwargs={"token": "no-such-token"}))

    assert response.status_code == 404
    assert response.json() == {"message": "Calendar not found"}


MALFORMED_TOKENS = [
    "x%00",  # a NUL byte: PostgreSQL refuses it in text, so a query with it was a 500
    "%00" * 43,
    "a" * 42 + "%00",
    "a" * 42,  # one short
    "a" * 44,  # one long
    "a" * 42 + "%2F",  # "/" is not in the URL-safe alphabet
    "a" * 42 + "+",
    "a" * 42 + "%C3%A9",  # a letter outside ASCII
    "a" * 42 + "%0B",
    "a" * 5000,
]


@pytest.mark.parametrize("token", MALFORMED_TOKENS)
def test_a_malformed_token_answers_404_without_a_query(
    api_client, patient, token, django_assert_num_queries
):
    CalendarFeed.objects.create(user=patient)

    with django_assert_num_queries(0):
        response = api_client.get(f"/api/calendar/{token}.ics")

    assert response.status_code == 404
    assert response.json() == {"message": "Calendar not found"}


def test_a_well_formed_unknown_token_is_looked_up_and_answers_404(api_client, patient):
    token = CalendarFeed.objects.create(user=patient).token
    unknown = ("A" if token[0] != "A" else "B") + token[1:]

    response = api_client.get(reverse("calendar-feed", kwargs={"token": unknown}))

    assert response.status_code == 404
    assert response.json() == {"message": "Calendar not found"}
    assert fetch(patient).status_code == 200


def test_a_deactivated_accounts_feed_answers_404(patient):
    path = feed_path(patient)
    patient.is_active = False
    patient.save(update_fields=["is_active"])

    assert APIClient().get(path).status_code == 404


def test_the_feed_ignores_any_authorization_header(patient):
    response = fetch(patient, HTTP_AUTHORIZATION="Bearer garbage")

    assert response.status_code == 200


def test_a_calendar_app_asking_for_text_calendar_gets_it(patient):
    response = fetch(patient, HTTP_ACCEPT="text/calendar")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"


def test_an_unknown_token_answers_json_even_to_a_calendar_app(api_client):
    path = reverse("calendar-feed", kwargs={"token": "no-such-token"})

    response = api_client.get(path, HTTP_ACCEPT="text/calendar")

    assert response.status_code == 404
    assert response.json() == {"message": "Calendar not found"}


# --- what a feed holds ----------------------------------------------------------


def test_the_feed_is_an_icalendar_document(patient):
    response = fetch(patient)

    calendar = Calendar.from_ical(response.content)
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-cache"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == "-//QuickMed Slots//Calendar feed//EN"
    assert calendar.walk("VEVENT") == []


def test_a_doctors_feed_names_the_patient(doctor):
    patient = PatientFactory(full_name="Asha Rao")
    booking = book(doctor, patient)

    event = only_event(fetch(doctor))

    assert event["SUMMARY"] == "Visit: Asha Rao"
    assert event["UID"] == f"booking-{booking.pk}@quickmed-slots"
    assert event["LOCATION"] == "MG Road"
    assert event["STATUS"] == "CONFIRMED"
    assert event["SEQUENCE"] == 0
    assert event.stamp == booking.created_at.replace(microsecond=0)


def test_a_patients_feed_names_the_doctor(doctor, patient):
    doctor.full_name = "Dr Lakshman"
    doctor.save(update_fields=["full_name"])
    book(doctor, patient)

    event = only_event(fetch(patient))

    assert event["SUMMARY"] == "Visit with Dr Lakshman"
    assert event["LOCATION"] == "MG Road"


CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")


def test_control_characters_an_older_row_holds_never_reach_the_feed(doctor):
    # Stored before names refused them: a vertical tab, an escape, a C1 control.
    patient = PatientFactory(full_name="Asha\x0bRao\x1b[2J\x85")
    UserProfile.objects.filter(pk=doctor.pk).update(
        full_name="Dr\x0bLakshman\x07", clinic_address="MG Road\x0b\x1b, Bengaluru"
    )
    book(doctor, patient)

    by_doctor, by_patient = fetch(doctor), fetch(patient)

    for response in (by_doctor, by_patient):
        assert not CONTROL_BYTES.search(response.content.replace(b"\r\n", b""))
        assert only_event(response)["LOCATION"] == "MG Road , Bengaluru"
    assert only_event(by_doctor)["SUMMARY"] == "Visit: Asha Rao[2J "
    assert only_event(by_patient)["SUMMARY"] == "Visit with Dr Lakshman"


def test_a_patients_feed_never_names_another_patient(doctor):
    asha, rahul = PatientFactory(full_name="Asha Rao"), PatientFactory(full_name="Rahul Sen")
    book(doctor, asha, at=time(9, 0))
    book(doctor, rahul, at=time(10, 0))

    response = fetch(asha)

    assert [str(e["SUMMARY"]) for e in events(response)] == [f"Visit with {doctor.full_name}"]
    assert b"Rahul" not in response.content
    assert b"Asha" not in response.content


def test_a_doctors_feed_has_only_bookings_on_their_own_slots(doctor, other_doctor, patient):
    mine = book(doctor, patient, at=time(9, 0))
    book(other_doctor, patient, at=time(11, 0))

    assert [e["UID"] for e in events(fetch(doctor))] == [f"booking-{mine.pk}@quickmed-slots"]


def test_a_patients_feed_has_only_their_own_bookings(doctor, patient):
    mine = book(doctor, patient, at=time(9, 0))
    book(doctor, PatientFactory(), at=time(11, 0))

    assert [e["UID"] for e in events(fetch(patient))] == [f"booking-{mine.pk}@quickmed-slots"]


def test_the_feed_starts_30_days_back_by_slot_date(doctor, patient):
    today = timezone.localdate()
    kept = book(doctor, patient, day=today - timedelta(days=30))
    book(doctor, patient, day=today - timedelta(days=31))

    assert [e["UID"] for e in events(fetch(patient))] == [f"booking-{kept.pk}@quickmed-slots"]


def test_events_come_in_order_of_start(doctor, patient):
    day = tomorrow()
    later = book(doctor, patient, day=day + timedelta(days=2), at=time(9, 0))
    afternoon = book(doctor, patient, day=day, at=time(15, 0))
    morning = book(doctor, patient, day=day, at=time(9, 0))

    parsed = events(fetch(patient))

    assert [e["UID"] for e in parsed] == [
        f"booking-{b.pk}@quickmed-slots" for b in (morning, afternoon, later)
    ]
    starts = [e.start for e in parsed]
    assert starts == sorted(starts)


def test_the_feed_costs_the_same_queries_however_many_bookings(
    doctor, patient, django_assert_num_queries
):
    path = feed_path(doctor)
    for hour in range(8, 14):
        book(doctor, PatientFactory(), at=time(hour, 0))

    # The feed with its user, then the bookings with slot, doctor and patient.
    with django_assert_num_queries(2):
        response = APIClient().get(path)

    assert len(events(response)) == 6


# --- status, SEQUENCE, UID ------------------------------------------------------


@pytest.mark.parametrize(
    "status,expected",
    [
        ("booked", "CONFIRMED"),
        ("completed", "CONFIRMED"),
        ("no_show", "CONFIRMED"),
        ("cancelled", "CANCELLED"),
        ("rescheduled", "CANCELLED"),
    ],
)
def test_each_booking_status_maps_to_an_event_status(status, expected):
    assert event_status(status) == expected


@pytest.mark.parametrize(
    "status,expected", [("booked", 0), ("cancelled", 1), ("completed", 1), ("no_show", 1)]
)
def test_a_stored_status_shows_in_the_feed(doctor, patient, status, expected):
    # "rescheduled" is one character over today's status column: the mapping test covers it.
    BookingFactory(slot__doctor=doctor, patient=patient, status=status)

    event = only_event(fetch(patient))

    assert event["STATUS"] == event_status(status)
    assert event["SEQUENCE"] == expected == event_sequence(status)


def test_cancelling_grows_the_sequence_and_keeps_the_uid(doctor, patient):
    booking = book(doctor, patient)
    before = only_event(fetch(patient))

    booking_services.booking_cancel(slot_id=booking.slot_id, user=patient)

    after = only_event(fetch(patient))
    booking.refresh_from_db()
    assert (before["STATUS"], after["STATUS"]) == ("CONFIRMED", "CANCELLED")
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["UID"] == before["UID"] == f"booking-{booking.pk}@quickmed-slots"
    assert after.stamp == booking.cancelled_at.replace(microsecond=0)


# --- ETag and 304 -----------------------------------------------------------------


def test_the_etag_is_strong_and_stable_while_nothing_changes(doctor, patient):
    book(doctor, patient)

    first, second = fetch(patient), fetch(patient)

    assert first["ETag"].startswith('"') and not first["ETag"].startswith("W/")
    assert first["ETag"] == second["ETag"]
    assert first.content == second.content


def test_a_current_etag_answers_304_without_a_body(doctor, patient):
    book(doctor, patient)
    etag = fetch(patient)["ETag"]

    response = fetch(patient, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_the_etag_changes_when_the_content_does(doctor, patient):
    booking = book(doctor, patient)
    old = fetch(patient)["ETag"]

    booking_services.booking_cancel(slot_id=booking.slot_id, user=doctor)

    response = fetch(patient, HTTP_IF_NONE_MATCH=old)
    assert response.status_code == 200
    assert response["ETag"] != old
    assert only_event(response)["STATUS"] == "CANCELLED"


# --- the clinic's zone --------------------------------------------------------------


def test_in_utc_times_are_written_with_z_and_no_vtimezone(doctor, patient, settings):
    settings.TIME_ZONE = "UTC"
    book(doctor, patient, day=date(2027, 1, 15), at=time(10, 0))

    response = fetch(patient)

    assert b"DTSTART:20270115T100000Z" in response.content
    assert Calendar.from_ical(response.content).walk("VTIMEZONE") == []


def test_in_a_zone_events_carry_its_tzid_and_its_vtimezone(doctor, patient, settings):
    settings.TIME_ZONE = NEW_YORK
    book(doctor, patient, day=date(2027, 1, 15), at=time(10, 0))

    response = fetch(patient)

    calendar = Calendar.from_ical(response.content)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [NEW_YORK]
    assert b"DTSTART;TZID=America/New_York:20270115T100000" in response.content
    assert b"DTEND;TZID=America/New_York:20270115T103000" in response.content
    event = only_event(response)
    assert event["DTSTART"].params["TZID"] == NEW_YORK
    assert event.start.time() == time(10, 0)


def test_a_booking_moved_across_a_dst_change_keeps_its_wall_clock_time(doctor, patient, settings):
    settings.TIME_ZONE = NEW_YORK  # clocks go forward on 2027-03-14
    before = TimeSlotFactory(doctor=doctor, date=date(2027, 3, 12), start_time=time(10, 0))
    after = TimeSlotFactory(doctor=doctor, date=date(2027, 3, 16), start_time=time(10, 0))
    old = booking_services.slot_book(slot_id=before.id, patient=patient)
    booking_services.booking_cancel(slot_id=before.id, user=patient)
    new = booking_services.slot_book(slot_id=after.id, patient=patient)

    moved_from, moved_to = events(fetch(patient))

    assert moved_from["UID"] == f"booking-{old.pk}@quickmed-slots"
    assert moved_to["UID"] == f"booking-{new.pk}@quickmed-slots"
    assert (moved_from["STATUS"], moved_to["STATUS"]) == ("CANCELLED", "CONFIRMED")
    assert moved_from.start.time() == moved_to.start.time() == time(10, 0)
    assert moved_from.start.utcoffset() == timedelta(hours=-5)
    assert moved_to.start.utcoffset() == timedelta(hours=-4)


def test_a_time_that_happens_twice_is_its_first_occurrence(doctor, patient, settings):
    settings.TIME_ZONE = NEW_YORK  # 01:00-02:00 happens twice on 2027-11-07
    book(doctor, patient, day=date(2027, 11, 7), at=time(1, 30))

    event = only_event(fetch(patient))

    assert event.start.time() == time(1, 30)
    assert event.start.utcoffset() == timedelta(hours=-4)
    assert event.start.isoformat() == "2027-11-07T01:30:00-04:00"


def test_the_vtimezone_describes_both_offsets_of_the_span(doctor, patient, settings):
    settings.TIME_ZONE = NEW_YORK
    book(doctor, patient, day=date(2027, 3, 12))
    book(doctor, patient, day=date(2027, 3, 16))

    [vtimezone] = Calendar.from_ical(fetch(patient).content).walk("VTIMEZONE")

    offsets = {part["TZOFFSETTO"].to_ical() for part in vtimezone.subcomponents}
    assert offsets == {"-0500", "-0400"}


def test_head_answers_the_headers_of_the_feed(patient):
    get = fetch(patient)

    head = APIClient().head(feed_path(patient))

    assert head.status_code == 200
    assert head["ETag"] == get["ETag"]
    assert head.content == b""
