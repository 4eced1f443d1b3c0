"""Visit types (contract Part 5): clinic, video and home, each with its fee."""

from datetime import time

import pytest
from django.urls import reverse

from calendars.feeds import booking_event
from doctor.models import Booking, Hold
from doctor.serializers import booking_data
from tests.conftest import client_for
from tests.factories import BookingFactory, DoctorFactory, PatientFactory, TimeSlotFactory
from tests.steps import book, hold

pytestmark = pytest.mark.django_db

NOT_OFFERED = {"message": "Visit type not offered"}


@pytest.fixture
def video_doctor(db):
    return DoctorFactory(consultation_fee=500, video_consult_fee=350)


@pytest.fixture
def slot(video_doctor):
    return TimeSlotFactory(doctor=video_doctor)


def book_as(client, slot, visit_type):
    return book(client, slot, data={"visit_type": visit_type}, format="json")


def hold_as(client, slot, visit_type):
    return hold(client, slot, data={"visit_type": visit_type}, format="json")


# --- what a doctor offers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "fields,offered",
    [
        ({}, ["clinic"]),
        ({"video_consult_fee": 0}, ["clinic"]),
        ({"video_consult_fee": 200}, ["clinic", "video"]),
        ({"home_consult_fee": 900}, ["clinic"]),
        ({"home_consultation": True, "home_consult_fee": None}, ["clinic"]),
        ({"home_consultation": True, "home_consult_fee": 900}, ["clinic", "home"]),
        (
            {"video_consult_fee": 1, "home_consultation": True, "home_consult_fee": 1},
            ["clinic", "video", "home"],
        ),
    ],
)
def test_doctor_cards_name_the_visit_types_the_profile_offers(api_client, fields, offered):
    DoctorFactory(**fields)

    (card,) = api_client.get(reverse("doctor-list")).json()

    assert card["visitTypes"] == offered


def test_a_doctors_own_profile_names_its_visit_types(video_doctor):
    reply = client_for(video_doctor).get("/api/profile/").json()

    assert reply["visitTypes"] == ["clinic", "video"]


def test_a_patients_profile_has_no_visit_types(patient_client):
    assert "visitTypes" not in patient_client.get("/api/profile/").json()


# --- booking ---------------------------------------------------------------------------------


def test_a_booking_without_a_type_is_a_clinic_visit_at_the_clinic_fee(patient_client, slot):
    response = book(patient_client, slot)

    assert response.status_code == 200
    assert (response.json()["visit_type"], response.json()["fee"]) == ("clinic", 500)
    booking = Booking.objects.get()
    assert (booking.visit_type, booking.fee) == ("clinic", 500)


def test_a_video_booking_keeps_the_video_fee(patient_client, slot):
    response = book_as(patient_client, slot, "video")

    assert response.status_code == 200
    assert (response.json()["visit_type"], response.json()["fee"]) == ("video", 350)


def test_a_later_fee_change_does_not_alter_the_booking(patient_client, slot, video_doctor):
    book_as(patient_client, slot, "video")
    video_doctor.video_consult_fee = 999
    video_doctor.save()

    (item,) = patient_client.get(reverse("user-bookings")).json()

    assert (item["visit_type"], item["fee"]) == ("video", 350)


def test_an_unset_clinic_fee_is_kept_as_0(patient_client):
    slot = TimeSlotFactory(doctor=DoctorFactory(consultation_fee=None))

    response = book(patient_client, slot)

    assert response.json()["fee"] == 0
    assert Booking.objects.get().fee == 0


def test_a_type_the_doctor_does_not_offer_is_refused_and_nothing_is_booked(patient_client, slot):
    response = book_as(patient_client, slot, "home")

    assert (response.status_code, response.json()) == (400, NOT_OFFERED)
    assert not Booking.objects.exists()
    slot.refresh_from_db()
    assert slot.is_available and not slot.is_booked


def test_an_unknown_visit_type_is_a_validation_error(patient_client, slot):
    response = book_as(patient_client, slot, "teleport")

    assert response.status_code == 400
    assert list(response.json()) == ["visit_type"]
    assert not Booking.objects.exists()


def test_too_far_ahead_comes_before_the_visit_type(patient_client):
    doctor = DoctorFactory(max_booking_days_ahead=0)
    slot = TimeSlotFactory(doctor=doctor)

    response = book_as(patient_client, slot, "video")

    assert response.json() == {"message": "Slot is too far ahead to book"}


def test_the_visit_type_comes_before_the_booking_cap(patient, patient_client, slot, settings):
    settings.MAX_ACTIVE_BOOKINGS = 1
    BookingFactory(patient=patient, slot__start_time=time(15, 0))

    assert book_as(patient_client, slot, "home").json() == NOT_OFFERED
    assert book(patient_client, slot).json() == {"message": "Too many active bookings"}


# --- holds -------------------------------------------------------------------------------------


def test_a_booking_from_a_hold_takes_the_holds_type(patient_client, slot):
    assert hold_as(patient_client, slot, "video").json()["visit_type"] == "video"

    response = book(patient_client, slot)

    assert (response.json()["visit_type"], response.json()["fee"]) == ("video", 350)
    assert Hold.objects.get().status == "used"


def test_a_booking_from_a_hold_may_name_another_type(patient_client, slot):
    hold_as(patient_client, slot, "video")

    response = book_as(patient_client, slot, "clinic")

    assert response.json()["visit_type"] == "clinic"


def test_holding_again_never_changes_the_holds_type(patient_client, slot):
    hold_as(patient_client, slot, "video")

    again = hold_as(patient_client, slot, "clinic")

    assert (again.status_code, again.json()["visit_type"]) == (200, "video")
    assert Hold.objects.get().visit_type == "video"


def test_holding_for_a_type_not_offered_is_refused(patient_client, slot):
    response = hold_as(patient_client, slot, "home")

    assert (response.status_code, response.json()) == (400, NOT_OFFERED)
    assert not Hold.objects.exists()


def test_someone_elses_hold_type_does_not_pass_to_my_booking(slot):
    other = client_for(PatientFactory())
    hold_as(other, slot, "video")
    other.delete(reverse("hold-release", args=[Hold.objects.get().pk]))

    response = book(client_for(PatientFactory()), slot)

    assert response.json()["visit_type"] == "clinic"


# --- rescheduling ----------------------------------------------------------------------------


def move(client, booking, slot, **body):
    url = reverse("booking-reschedule", args=[booking.pk])
    return client.post(url, {"slot_id": slot.pk, **body}, format="json")


def test_a_move_keeps_the_type_and_the_fee_of_the_day_it_was_booked(
    patient_client, slot, video_doctor
):
    book_as(patient_client, slot, "video")
    video_doctor.video_consult_fee = 999
    video_doctor.save()
    target = TimeSlotFactory(doctor=video_doctor, start_time=time(11, 0))

    response = move(patient_client, Booking.objects.get(), target)

    assert (response.json()["visit_type"], response.json()["fee"]) == ("video", 350)


def test_a_move_naming_a_type_takes_its_current_fee(patient_client, slot, video_doctor):
    book(patient_client, slot)
    video_doctor.video_consult_fee = 400
    video_doctor.save()
    target = TimeSlotFactory(doctor=video_doctor, start_time=time(11, 0))

    response = move(patient_client, Booking.objects.get(), target, visit_type="video")

    assert response.status_code == 200
    assert (response.json()["visit_type"], response.json()["fee"]) == ("video", 400)


def test_a_move_to_a_type_not_offered_is_refused_and_nothing_moves(patient_client, slot):
    book(patient_client, slot)
    target = TimeSlotFactory(doctor=slot.doctor, start_time=time(11, 0))

    response = move(patient_client, Booking.objects.get(), target, visit_type="home")

    assert (response.status_code, response.json()) == (400, NOT_OFFERED)
    assert Booking.objects.get().slot == slot


# --- where a booking shows its type ----------------------------------------------------------


def test_webhook_data_and_the_doctors_list_carry_type_and_fee(patient_client, slot, video_doctor):
    book_as(patient_client, slot, "video")
    booking = Booking.objects.get()

    assert (booking_data(booking)["visit_type"], booking_data(booking)["fee"]) == ("video", 350)
    (item,) = client_for(video_doctor).get(reverse("doctor-bookings")).json()
    assert (item["visit_type"], item["fee"]) == ("video", 350)


def test_a_row_from_before_visit_types_reads_clinic_with_a_null_fee(patient):
    booking = BookingFactory(patient=patient)

    data = booking_data(booking)

    assert (data["visit_type"], data["fee"]) == ("clinic", None)


def test_a_video_visits_calendar_event_has_no_clinic_location(video_doctor):
    booking = BookingFactory(slot__doctor=video_doctor, visit_type="video", fee=350)

    event = booking_event(booking, for_doctor=False)

    assert "LOCATION" not in event
    assert event["X-QUICKMED-VISIT-TYPE"] == "video"
    assert "Video visit" in str(event["DESCRIPTION"])


def test_a_clinic_visits_calendar_event_keeps_the_clinic_location(video_doctor):
    booking = BookingFactory(slot__doctor=video_doctor, fee=500)

    event = booking_event(booking, for_doctor=True)

    assert str(event["LOCATION"]) == "MG Road"
    assert event["X-QUICKMED-VISIT-TYPE"] == "clinic"


# --- Idempotency-Key: no body is {} --------------------------------------------------------


def test_a_retry_with_an_empty_object_replays_a_booking_made_without_a_body(patient_client, slot):
    key = {"HTTP_IDEMPOTENCY_KEY": "visit-1"}
    first = book(patient_client, slot, **key)

    again = book(patient_client, slot, data={}, format="json", **key)

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1
