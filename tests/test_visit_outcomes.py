"""Visit outcomes and reviews (contract Part 3): the slot's doctor records `completed` or
`no_show` once the visit has started; the patient reviews a completed visit once; the
doctor cards carry `rating`, `reviewCount` and `patients` from the list's one query."""

from datetime import time, timedelta

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from doctor.invariants import violations
from doctor.models import Booking, Review
from events.models import Event
from tests.conftest import NOW, client_for, run_together
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    PatientFactory,
    ReviewFactory,
    TimeSlotFactory,
)
from tests.steps import cancel, delete

pytestmark = pytest.mark.django_db

OUTCOMES = [("booking-complete", "completed"), ("booking-no-show", "no_show")]
NOT_FOUND = {"message": "Booking not found"}
NOT_ACTIVE = {"message": "Booking is not active"}
NOT_STARTED = {"message": "Visit has not started"}


def visit(minutes_from_now, **fields):
    """A booking whose slot starts `minutes_from_now` after NOW on the clinic's clock."""
    local = timezone.localtime(NOW + timedelta(minutes=minutes_from_now))
    slot = {"slot__date": local.date(), "slot__start_time": local.time().replace(tzinfo=None)}
    return BookingFactory(**slot, **fields)


def record(client, name, booking):
    return client.post(reverse(name, args=[booking.id]))


def yesterdays(**fields):
    return BookingFactory(past=True, **fields)


# --- complete / no-show -----------------------------------------------------------


@pytest.mark.parametrize("name,outcome", OUTCOMES)
def test_the_doctor_records_a_started_visit(clock, name, outcome):
    booking = visit(-10)

    response = record(client_for(booking.slot.doctor), name, booking)

    assert (response.status_code, response.json()) == (
        200,
        {"message": "Visit recorded", "booking_id": booking.id, "status": outcome},
    )
    booking.refresh_from_db()
    booking.slot.refresh_from_db()
    assert booking.status == outcome
    # The slot stays taken: nobody books it, the doctor neither re-opens nor deletes it.
    assert (booking.slot.is_booked, booking.slot.is_available) == (True, False)
    assert violations() == []


@pytest.mark.parametrize("name,outcome", OUTCOMES)
@pytest.mark.parametrize(
    "minutes",
    [
        pytest.param(0, id="exactly at the start"),
        pytest.param(-1, id="a minute after the start"),
    ],
)
def test_a_visit_is_recorded_from_its_start(clock, name, outcome, minutes):
    booking = visit(minutes)

    response = record(client_for(booking.slot.doctor), name, booking)

    booking.refresh_from_db()
    assert (response.status_code, booking.status) == (200, outcome)


@pytest.mark.parametrize("name", [name for name, _ in OUTCOMES])
def test_a_visit_is_not_recorded_before_it_has_started(clock, name):
    booking = visit(1)  # a minute before the start

    response = record(client_for(booking.slot.doctor), name, booking)

    booking.refresh_from_db()
    assert (response.status_code, response.json()) == (400, NOT_STARTED)
    assert booking.status == "booked"


@pytest.mark.parametrize("name", [name for name, _ in OUTCOMES])
@pytest.mark.parametrize(
    "status",
    ["cancelled", "rescheduled", "completed", "no_show"],
)
def test_a_booking_not_active_is_refused(name, status):
    booking = yesterdays(status=status)

    response = record(client_for(booking.slot.doctor), name, booking)

    assert (response.status_code, response.json()) == (400, NOT_ACTIVE)
    booking.refresh_from_db()
    assert booking.status == status


@pytest.mark.parametrize("name", [name for name, _ in OUTCOMES])
def test_another_doctors_booking_is_not_found(name):
    booking = yesterdays()

    response = record(client_for(DoctorFactory()), name, booking)

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    booking.refresh_from_db()
    assert booking.status == "booked"


@pytest.mark.parametrize("name", [name for name, _ in OUTCOMES])
def test_an_unknown_booking_is_not_found(doctor_client, name):
    response = doctor_client.post(reverse(name, args=[987654]))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize(
    "booking_fields,expected",
    [
        pytest.param({"status": "cancelled"}, NOT_FOUND, id="another doctor's, not active: 404"),
        pytest.param({}, NOT_FOUND, id="another doctor's, not started: 404"),
    ],
)
def test_not_found_comes_first(booking_fields, expected):
    booking = BookingFactory(**booking_fields)  # tomorrow's: not started

    response = record(client_for(DoctorFactory()), "booking-complete", booking)

    assert response.json() == expected


def test_not_active_comes_before_not_started(doctor):
    booking = BookingFactory(slot__doctor=doctor, status="cancelled")  # tomorrow's

    response = record(client_for(doctor), "booking-complete", booking)

    assert response.json() == NOT_ACTIVE


@pytest.mark.parametrize("who", ["patient_client", "admin_client_jwt"])
def test_only_doctors_record_visits(request, who):
    booking = yesterdays()

    response = record(request.getfixturevalue(who), "booking-complete", booking)

    assert response.status_code == 403
    booking.refresh_from_db()
    assert booking.status == "booked"


@pytest.mark.parametrize("name,outcome", OUTCOMES)
def test_recording_a_visit_emits_its_event(name, outcome):
    booking = yesterdays()

    record(client_for(booking.slot.doctor), name, booking)

    event = Event.objects.get()
    assert (event.type, event.data["id"], event.data["status"]) == (
        f"booking.{outcome}",
        booking.id,
        outcome,
    )


@pytest.mark.parametrize("name,outcome", OUTCOMES)
def test_the_booking_lists_show_the_outcome(name, outcome):
    booking = yesterdays()
    doctor, patient = booking.slot.doctor, booking.patient
    record(client_for(doctor), name, booking)

    (mine,) = client_for(patient).get(reverse("user-bookings")).json()
    (theirs,) = client_for(doctor).get(reverse("doctor-bookings")).json()

    assert mine["status"] == theirs["status"] == outcome
    assert mine["cancelled_by"] is None


def test_a_recorded_visits_slot_cannot_be_deleted(doctor, doctor_client):
    booking = yesterdays(slot__doctor=doctor, status="completed")

    response = delete(doctor_client, booking.slot)

    assert (response.status_code, response.json()) == (
        400,
        {"message": "Booked slot cannot be deleted"},
    )


# --- reviews -------------------------------------------------------------------------


def review(client, booking, body):
    return client.post(reverse("booking-review", args=[booking.id]), body, format="json")


@pytest.fixture
def completed(patient):
    return yesterdays(patient=patient, status="completed")


def test_a_patient_reviews_a_completed_visit(patient_client, completed):
    response = review(patient_client, completed, {"rating": 4, "comment": "Kind and on time."})

    assert (response.status_code, response.json()) == (
        201,
        {"message": "Review saved", "rating": 4, "comment": "Kind and on time."},
    )
    saved = Review.objects.get()
    assert (saved.booking, saved.rating, saved.comment) == (completed, 4, "Kind and on time.")


def test_the_comment_is_optional(patient_client, completed):
    response = review(patient_client, completed, {"rating": 5})

    assert response.json() == {"message": "Review saved", "rating": 5, "comment": ""}


def test_a_second_review_is_refused(patient_client, completed):
    review(patient_client, completed, {"rating": 5})

    response = review(patient_client, completed, {"rating": 1, "comment": "Changed my mind."})

    assert (response.status_code, response.json()) == (400, {"message": "Already reviewed"})
    assert list(Review.objects.values_list("rating", "comment")) == [(5, "")]


@pytest.mark.parametrize("status", ["booked", "cancelled", "rescheduled", "no_show"])
def test_a_visit_not_completed_cannot_be_reviewed(patient, patient_client, status):
    booking = yesterdays(patient=patient, status=status)

    response = review(patient_client, booking, {"rating": 5})

    assert (response.status_code, response.json()) == (400, {"message": "Visit not completed"})
    assert not Review.objects.exists()


def test_someone_elses_visit_is_not_found(completed):
    response = review(client_for(PatientFactory()), completed, {"rating": 1})

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert not Review.objects.exists()


def test_the_body_is_checked_first_as_for_reschedule(completed):
    response = review(client_for(PatientFactory()), completed, {"rating": 9})

    assert (response.status_code, response.json()) == (
        400,
        {"rating": ["Ensure this value is less than or equal to 5."]},
    )


@pytest.mark.parametrize(
    "body,errors",
    [
        ({}, {"rating": ["This field is required."]}),
        ({"rating": 0}, {"rating": ["Ensure this value is greater than or equal to 1."]}),
        ({"rating": 6}, {"rating": ["Ensure this value is less than or equal to 5."]}),
        ({"rating": "good"}, {"rating": ["A valid integer is required."]}),
        (
            {"rating": 3, "comment": "x" * 1001},
            {"comment": ["Ensure this field has no more than 1000 characters."]},
        ),
    ],
)
def test_a_bad_review_is_refused(patient_client, completed, body, errors):
    response = review(patient_client, completed, body)

    assert (response.status_code, response.json()) == (400, errors)
    assert not Review.objects.exists()


def test_a_thousand_characters_are_accepted(patient_client, completed):
    response = review(patient_client, completed, {"rating": 3, "comment": "x" * 1000})

    assert response.status_code == 201


def test_the_database_refuses_a_rating_outside_one_to_five(completed):
    with pytest.raises(IntegrityError):
        ReviewFactory(booking=completed, rating=6)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reviews_at_once_save_one():
    booking = yesterdays(status="completed")
    client = client_for(booking.patient)

    responses = run_together([lambda r=r: review(client, booking, {"rating": r}) for r in (2, 5)])

    assert sorted((r.status_code, r.json()["message"]) for r in responses) == [
        (201, "Review saved"),
        (400, "Already reviewed"),
    ]
    assert Review.objects.filter(booking=booking).count() == 1


# --- the doctor cards: rating, reviewCount, patients ---------------------------------


def card_of(api_client, doctor):
    cards = api_client.get(reverse("doctor-list")).json()
    return next(card for card in cards if card["id"] == doctor.id)


def reviewed(doctor, *ratings, patient=None):
    for rating in ratings:
        booking = yesterdays(
            slot__doctor=doctor, patient=patient or PatientFactory(), status="completed"
        )
        ReviewFactory(booking=booking, rating=rating)


@pytest.mark.parametrize(
    "ratings,rating",
    [
        pytest.param((), None, id="no review: null"),
        pytest.param((5,), 5.0, id="one review"),
        pytest.param((4, 5), 4.5, id="an exact half"),
        pytest.param((5, 4, 4), 4.3, id="4.333 rounds down"),
        pytest.param((4, 4, 4, 5), 4.3, id="4.25 rounds half up"),
        pytest.param((1, 2, 2), 1.7, id="1.667 rounds up"),
    ],
)
def test_the_card_shows_the_average_to_one_decimal(api_client, doctor, ratings, rating):
    reviewed(doctor, *ratings)

    card = card_of(api_client, doctor)

    assert (card["rating"], card["reviewCount"]) == (rating, len(ratings))


def test_patients_counts_distinct_patients_with_a_completed_visit(api_client, doctor):
    regular, once = PatientFactory(), PatientFactory()
    for patient in (regular, regular, once):
        yesterdays(slot__doctor=doctor, patient=patient, status="completed")
    yesterdays(slot__doctor=doctor, status="no_show")
    BookingFactory(slot__doctor=doctor)  # booked, still to come
    yesterdays(slot__doctor=DoctorFactory(), status="completed")  # another doctor's

    card = card_of(api_client, doctor)

    assert (card["patients"], card["reviewCount"], card["rating"]) == (2, 0, None)


def test_each_card_counts_only_its_doctors_reviews(api_client):
    first, second = DoctorFactory(), DoctorFactory()
    reviewed(first, 5, 5)
    reviewed(second, 2)

    assert (card_of(api_client, first)["rating"], card_of(api_client, second)["rating"]) == (
        5.0,
        2.0,
    )


@pytest.mark.parametrize("doctors", [1, 20])
def test_the_doctor_list_is_one_query_with_figures(api_client, django_assert_num_queries, doctors):
    for _ in range(doctors):
        doctor = DoctorFactory()
        reviewed(doctor, 4, 5)
        TimeSlotFactory(doctor=doctor, start_time=time(15, 0))

    with django_assert_num_queries(1):
        cards = api_client.get(reverse("doctor-list")).json()

    assert len(cards) == doctors
    assert {(c["rating"], c["reviewCount"], c["patients"]) for c in cards} == {(4.5, 2, 2)}


@pytest.mark.parametrize("name", ["booking-complete", "booking-no-show", "booking-review"])
def test_the_outcome_and_review_urls(name):
    assert reverse(name, args=[7]).endswith(
        {
            "booking-complete": "/api/doctor/bookings/7/complete/",
            "booking-no-show": "/api/doctor/bookings/7/no-show/",
            "booking-review": "/api/doctor/user/bookings/7/review/",
        }[name]
    )


def test_a_completed_visit_is_not_cancelled_afterwards(completed):
    doctor = completed.slot.doctor

    response = cancel(client_for(doctor), completed.slot)

    assert (response.status_code, response.json()) == (400, {"message": "Slot is not booked"})
    completed.refresh_from_db()
    assert completed.status == Booking.Status.COMPLETED
