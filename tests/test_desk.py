"""The front desk (contract Part 5): a receptionist finds or registers a patient and
books, moves and cancels for them, on its own doctors' slots only."""

from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserProfile
from audit.models import AuditEntry
from doctor.models import Booking, Hold
from events.models import Event
from tests.conftest import NOW, client_for
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    HoldFactory,
    PatientFactory,
    TimeSlotFactory,
    UserFactory,
    tomorrow,
)
from tests.steps import book, cancel, reschedule

pytestmark = pytest.mark.django_db

PATIENTS = reverse("desk-patients")
SLOTS = reverse("desk-slots")
BOOKINGS = reverse("desk-bookings")
NOT_FOUND = {"message": "Patient not found"}
SLOT_NOT_FOUND = {"message": "Slot not found"}


def desk_reschedule_url(booking):
    return reverse("desk-reschedule", args=[booking.pk])


@pytest.fixture
def desk(doctor):
    user = UserFactory(user_type="desk", full_name="Front Desk")
    user.desk_doctors.set([doctor])
    return user


@pytest.fixture
def desk_client(desk):
    return client_for(desk)


@pytest.fixture
def slot(doctor):
    return TimeSlotFactory(doctor=doctor)


def desk_book(client, slot, patient, **extra):
    body = {"slot_id": getattr(slot, "pk", slot), "patient_id": getattr(patient, "pk", patient)}
    return client.post(BOOKINGS, body, format="json", **extra)


def wall(minutes):
    local = timezone.localtime(NOW + timedelta(minutes=minutes))
    return local.date(), local.time().replace(tzinfo=None)


# --- the role -------------------------------------------------------------------------------


def test_signing_up_as_desk_is_refused(api_client):
    body = {
        "email": "desk@example.com",
        "password": "Clinic-pass-2026",
        "full_name": "Front Desk",
        "user_type": "desk",
    }
    response = api_client.post(reverse("signup"), body, format="json")
    assert response.status_code == 400
    assert response.json() == {"user_type": ["Desk accounts cannot be created by signup."]}
    assert not UserProfile.objects.filter(email="desk@example.com").exists()


def test_a_desk_profile_shows_its_doctors(desk, doctor, desk_client):
    other = DoctorFactory()
    desk.desk_doctors.add(other)
    reply = desk_client.get(reverse("profile")).json()
    assert reply["userType"] == "desk"
    assert reply["deskDoctors"] == [doctor.pk, other.pk]


def test_other_profiles_have_an_empty_desk_doctors_list(patient_client, doctor_client):
    assert patient_client.get(reverse("profile")).json()["deskDoctors"] == []
    assert doctor_client.get(reverse("profile")).json()["deskDoctors"] == []


DESK_CALLS = [
    ("get", PATIENTS, {"search": "someone"}),
    ("post", PATIENTS, {"full_name": "Walk In", "phone": "+91 1"}),
    ("get", SLOTS, {}),
    ("get", BOOKINGS, {}),
    ("post", BOOKINGS, None),
]


@pytest.mark.parametrize("who", ["patient", "doctor"])
@pytest.mark.parametrize(("method", "url", "body"), DESK_CALLS)
def test_patients_and_doctors_are_refused_by_the_desk_endpoints(
    who, method, url, body, patient, doctor, slot
):
    client = client_for(patient if who == "patient" else doctor)
    users = UserProfile.objects.count()
    body = {"slot_id": slot.pk, "patient_id": patient.pk} if body is None else body
    response = getattr(client, method)(url, body, format="json" if method == "post" else None)
    assert response.status_code == 403
    assert "detail" in response.json()
    assert UserProfile.objects.count() == users
    assert not Booking.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_patient_or_doctor_cannot_move_a_booking_at_the_desk(patient, doctor, slot):
    booking = BookingFactory(slot__doctor=doctor, patient=patient)
    for user in (patient, doctor):
        response = client_for(user).post(
            desk_reschedule_url(booking), {"slot_id": slot.pk}, format="json"
        )
        assert response.status_code == 403
    assert Booking.objects.get().status == "booked"


@pytest.mark.parametrize(
    "url",
    [
        reverse("slot-book", args=[1]),
        reverse("slot-hold", args=[1]),
        reverse("user-bookings"),
        reverse("doctor-bookings"),
        reverse("doctor-timeslots"),
        reverse("booking-complete", args=[1]),
    ],
)
def test_a_desk_user_is_refused_by_patient_and_doctor_endpoints(desk_client, url):
    response = desk_client.post(url) if "bookings/" not in url[-10:] else desk_client.get(url)
    assert response.status_code == 403


# --- patients -------------------------------------------------------------------------------


def test_the_search_finds_patients_by_name_email_or_phone(desk_client):
    by_name = PatientFactory(full_name="Asha Mehra")
    by_email = PatientFactory(email="mehra.k@example.com")
    by_phone = PatientFactory(phone="+91 98100 MEHRA")
    PatientFactory(full_name="Someone Else")
    PatientFactory(full_name="Old Mehra", is_active=False)
    DoctorFactory(full_name="Mehra Doctor")
    response = desk_client.get(PATIENTS, {"search": "mEhRa"})
    assert response.status_code == 200
    assert response.json() == [
        {"id": p.pk, "fullName": p.full_name, "email": p.email, "phone": p.phone}
        for p in (by_name, by_email, by_phone)
    ]


def test_the_search_gives_at_most_20_by_id(desk_client):
    found = [PatientFactory(full_name=f"Ravi {n}") for n in range(22)]
    reply = desk_client.get(PATIENTS, {"search": "Ravi"}).json()
    assert [row["id"] for row in reply] == [p.pk for p in found[:20]]


@pytest.mark.parametrize("text", ["", "ab", "  "])
def test_the_search_needs_three_characters(desk_client, text):
    PatientFactory(full_name="ab ab")
    response = desk_client.get(PATIENTS, {"search": text})
    assert response.status_code == 400
    assert "search" in response.json()


def test_the_search_needs_a_text(desk_client):
    response = desk_client.get(PATIENTS)
    assert response.status_code == 400
    assert response.json() == {"search": ["This field is required."]}


def test_a_walk_in_is_a_patient_who_cannot_log_in(desk_client, api_client):
    body = {"full_name": "Walk In", "phone": "+91 22222", "email": "Walk.In@Example.com"}
    response = desk_client.post(PATIENTS, body, format="json")
    assert response.status_code == 201
    patient = UserProfile.objects.get(full_name="Walk In")
    assert response.json() == {
        "id": patient.pk,
        "fullName": "Walk In",
        "email": "walk.in@example.com",
        "phone": "+91 22222",
    }
    assert (patient.user_type, patient.is_active) == ("user", True)
    assert not patient.has_usable_password()
    login = {"email": "walk.in@example.com", "password": ""}
    assert api_client.post(reverse("login"), login, format="json").status_code in (400, 401)


def test_walk_ins_without_an_email_have_null(desk_client):
    for name in ("First Caller", "Second Caller"):
        body = {"full_name": name, "phone": "+91 3"}
        response = desk_client.post(PATIENTS, body, format="json")
        assert response.status_code == 201
        assert response.json()["email"] is None
    assert UserProfile.objects.filter(email__isnull=True).count() == 2


def test_a_walk_in_with_a_registered_email_is_refused(desk_client, patient):
    users = UserProfile.objects.count()
    body = {"full_name": "Twin", "phone": "+91 4", "email": patient.email.upper()}
    response = desk_client.post(PATIENTS, body, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"message": "Email already registered"},
    )
    assert UserProfile.objects.count() == users


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"full_name": "No Phone"},
        {"full_name": "Bad\x07", "phone": "1"},
        {"full_name": "X", "phone": "1", "email": "nope"},
    ],
)
def test_a_bad_walk_in_is_refused_with_field_errors(desk_client, body):
    users = UserProfile.objects.count()
    response = desk_client.post(PATIENTS, body, format="json")
    assert response.status_code == 400
    assert "message" not in response.json()
    assert UserProfile.objects.count() == users


# --- slots ----------------------------------------------------------------------------------


def test_the_desk_sees_its_doctors_bookable_slots_only(desk_client, doctor, slot):
    TimeSlotFactory()  # another doctor's
    TimeSlotFactory(doctor=doctor, start_time=slot.end_time, is_available=False)
    reply = desk_client.get(SLOTS).json()
    assert [row["id"] for row in reply] == [slot.pk]


def test_a_doctor_the_desk_does_not_serve_gives_an_empty_list(desk_client):
    other = TimeSlotFactory()
    assert desk_client.get(SLOTS, {"doctor": other.doctor_id}).json() == []


def test_the_desk_filters_its_slots_by_doctor_and_date(desk, desk_client, doctor, slot):
    second = DoctorFactory()
    desk.desk_doctors.add(second)
    theirs = TimeSlotFactory(doctor=second)
    later = TimeSlotFactory(doctor=doctor, date=tomorrow() + timedelta(days=1))
    ids = [row["id"] for row in desk_client.get(SLOTS, {"doctor": second.pk}).json()]
    assert ids == [theirs.pk]
    ids = [row["id"] for row in desk_client.get(SLOTS, {"date": later.date}).json()]
    assert ids == [later.pk]
    assert desk_client.get(SLOTS, {"date": "tomorrow"}).status_code == 400


def test_the_desk_list_ignores_the_minimum_notice(clock, desk_client, doctor):
    doctor.min_booking_notice_minutes = 120
    doctor.save()
    date, start = wall(60)
    soon = TimeSlotFactory(doctor=doctor, date=date, start_time=start)
    assert [row["id"] for row in desk_client.get(SLOTS).json()] == [soon.pk]
    public = client_for(PatientFactory()).get(reverse("available-slots")).json()
    assert soon.pk not in [row["id"] for row in public]


def test_the_desk_list_can_be_paged(desk_client, doctor, slot):
    TimeSlotFactory(doctor=doctor, start_time=slot.end_time)
    reply = desk_client.get(SLOTS, {"limit": 1}).json()
    assert [row["id"] for row in reply["results"]] == [slot.pk]


# --- booking for a patient ------------------------------------------------------------------


def test_the_desk_books_for_a_patient(desk, desk_client, patient, slot):
    response = desk_book(desk_client, slot, patient)
    assert response.status_code == 201
    booking = Booking.objects.get()
    reply = response.json()
    assert reply["id"] == booking.pk
    assert reply["booked_by"] == "desk"
    assert reply["status"] == "booked"
    assert reply["slot"]["id"] == slot.pk
    assert reply["patient"] == {
        "id": patient.pk,
        "fullName": patient.full_name,
        "email": patient.email,
        "phone": patient.phone,
    }
    assert (booking.patient, booking.booked_by) == (patient, "desk")
    slot.refresh_from_db()
    assert (slot.is_booked, slot.is_available) == (True, False)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor) == ("booking.created", {"id": desk.pk, "role": "desk"})
    assert entry.changes["booked_by"] == [None, "desk"]
    event = Event.objects.get()
    assert (event.type, event.data["booked_by"]) == ("booking.created", "desk")


def test_the_patients_lists_show_who_booked(desk_client, patient, patient_client, slot):
    desk_book(desk_client, slot, patient)
    assert patient_client.get(reverse("user-bookings")).json()[0]["booked_by"] == "desk"


def test_the_desk_cannot_book_another_doctors_slot(desk_client, patient):
    theirs = TimeSlotFactory()
    response = desk_book(desk_client, theirs, patient)
    assert (response.status_code, response.json()) == (404, SLOT_NOT_FOUND)
    assert not Booking.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("who", ["unknown", "inactive", "doctor", "desk"])
def test_booking_for_someone_not_an_active_patient_is_404(desk, desk_client, doctor, slot, who):
    patient = {
        "unknown": lambda: 424242,
        "inactive": lambda: PatientFactory(is_active=False),
        "doctor": lambda: doctor,
        "desk": lambda: desk,
    }[who]()
    response = desk_book(desk_client, slot, patient)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert not Booking.objects.exists()
    slot.refresh_from_db()
    assert slot.is_available


def test_the_slots_refusals_come_before_patient_not_found(desk_client, doctor):
    booked = TimeSlotFactory(doctor=doctor, is_booked=True, is_available=False)
    response = desk_book(desk_client, booked, 424242)
    assert (response.status_code, response.json()) == (400, {"message": "Slot already booked"})


def test_patient_not_found_comes_before_the_booking_cap(desk_client, slot, settings):
    settings.MAX_ACTIVE_BOOKINGS = 0
    response = desk_book(desk_client, slot, 424242)
    assert response.json() == NOT_FOUND


def test_the_booking_cap_applies_to_the_patient(desk_client, patient, doctor, slot, settings):
    settings.MAX_ACTIVE_BOOKINGS = 1
    BookingFactory(patient=patient, slot__doctor=doctor, slot__start_time=slot.end_time)
    response = desk_book(desk_client, slot, patient)
    assert (response.status_code, response.json()) == (
        400,
        {"message": "Too many active bookings"},
    )
    assert Booking.objects.count() == 1


def test_the_desk_is_not_bound_by_the_minimum_notice(clock, desk_client, patient, doctor):
    doctor.min_booking_notice_minutes = 120
    doctor.save()
    date, start = wall(60)
    soon = TimeSlotFactory(doctor=doctor, date=date, start_time=start)
    refused = book(client_for(PatientFactory()), soon)
    assert refused.json() == {"message": "Slot is too soon to book"}
    assert desk_book(desk_client, soon, patient).status_code == 201


def test_the_desk_is_bound_by_the_horizon(clock, desk_client, patient, doctor):
    doctor.max_booking_days_ahead = 1
    doctor.save()
    far = TimeSlotFactory(doctor=doctor, date=timezone.localtime(NOW).date() + timedelta(days=5))
    response = desk_book(desk_client, far, patient)
    assert response.json() == {"message": "Slot is too far ahead to book"}


def test_the_desk_cannot_book_a_past_slot(desk_client, patient, doctor):
    past = TimeSlotFactory(doctor=doctor, past=True)
    assert desk_book(desk_client, past, patient).json() == {"message": "Slot is in the past"}


def test_the_desk_uses_the_patients_own_hold(desk_client, patient, slot):
    held = HoldFactory(slot=slot, patient=patient)
    assert desk_book(desk_client, slot, patient).status_code == 201
    held.refresh_from_db()
    assert held.status == Hold.Status.USED
    entry = AuditEntry.objects.get()
    assert entry.changes["hold_id"] == [held.pk, held.pk]


def test_the_desk_books_the_kind_of_visit_it_names_at_its_fee(desk_client, doctor, patient, slot):
    doctor.video_consult_fee = 350
    doctor.save(update_fields=["video_consult_fee"])

    response = desk_client.post(
        BOOKINGS,
        {"slot_id": slot.pk, "patient_id": patient.pk, "visit_type": "video"},
        format="json",
    )

    assert response.status_code == 201
    assert (response.json()["visit_type"], response.json()["fee"]) == ("video", 350.0)


def test_the_patients_hold_gives_the_desk_booking_its_kind_of_visit(
    desk_client, doctor, patient, slot
):
    doctor.video_consult_fee = 350
    doctor.save(update_fields=["video_consult_fee"])
    HoldFactory(slot=slot, patient=patient, visit_type="video")

    assert desk_book(desk_client, slot, patient).json()["visit_type"] == "video"


def test_the_desk_cannot_book_a_kind_of_visit_the_doctor_does_not_offer(desk_client, patient, slot):
    response = desk_client.post(
        BOOKINGS,
        {"slot_id": slot.pk, "patient_id": patient.pk, "visit_type": "home"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"message": "Visit type not offered"}
    assert not Booking.objects.exists()


def test_a_held_slot_is_refused_before_an_unknown_patient(desk_client, slot):
    HoldFactory(slot=slot)

    response = desk_book(desk_client, slot, 999_999)

    assert (response.status_code, response.json()) == (400, {"message": "Slot is held"})


def test_someone_elses_hold_refuses_the_desk(desk_client, patient, slot):
    HoldFactory(slot=slot)
    response = desk_book(desk_client, slot, patient)
    assert response.json() == {"message": "Slot is held"}
    assert not Booking.objects.exists()


def test_a_desk_booking_can_be_retried_with_an_idempotency_key(desk_client, patient, slot):
    first = desk_book(desk_client, slot, patient, HTTP_IDEMPOTENCY_KEY="desk-1")
    again = desk_book(desk_client, slot, patient, HTTP_IDEMPOTENCY_KEY="desk-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1


@pytest.mark.parametrize("body", [{}, {"slot_id": "x", "patient_id": 1}, {"slot_id": 1}])
def test_a_bad_desk_booking_is_a_field_error(desk_client, body):
    response = desk_client.post(BOOKINGS, body, format="json")
    assert response.status_code == 400
    assert "message" not in response.json()


def test_desk_bookings_are_throttled_per_desk_user(desk_client, patient, doctor, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "desk", "2/min")
    slots = [TimeSlotFactory(doctor=doctor, start_time=time(10 + n)) for n in range(3)]
    codes = [desk_book(desk_client, s, 424242).status_code for s in slots]
    assert codes == [404, 404, 429]


# --- cancel and reschedule ------------------------------------------------------------------


def test_the_desk_cancels_inside_the_notice_as_desk(clock, desk, desk_client, patient, doctor):
    doctor.cancel_notice_minutes = 600
    doctor.save()
    date, start = wall(60)
    booking = BookingFactory(
        patient=patient,
        slot=TimeSlotFactory(
            doctor=doctor, date=date, start_time=start, is_booked=True, is_available=False
        ),
    )
    assert cancel(client_for(patient), booking.slot).json() == {"message": "Too late to cancel"}
    response = cancel(desk_client, booking.slot)
    assert response.status_code == 200
    assert response.json()["cancelled_by"] == "desk"
    booking.refresh_from_db()
    assert (booking.status, booking.cancelled_by) == ("cancelled", "desk")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id) == ("booking.cancelled", desk.pk)


def test_the_desk_cannot_cancel_another_doctors_booking(desk_client):
    booking = BookingFactory()
    response = cancel(desk_client, booking.slot)
    assert (response.status_code, response.json()) == (404, SLOT_NOT_FOUND)
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_the_desk_moves_a_booking_inside_both_notices(clock, desk, desk_client, patient, doctor):
    doctor.cancel_notice_minutes = 600
    doctor.min_booking_notice_minutes = 600
    doctor.save()
    date, start = wall(60)
    old = BookingFactory(
        patient=patient,
        slot=TimeSlotFactory(
            doctor=doctor, date=date, start_time=start, is_booked=True, is_available=False
        ),
    )
    date, start = wall(120)
    target = TimeSlotFactory(doctor=doctor, date=date, start_time=start)
    patient_try = reschedule(client_for(patient), old, target)
    assert patient_try.json() == {"message": "Too late to reschedule"}
    response = desk_client.post(desk_reschedule_url(old), {"slot_id": target.pk}, format="json")
    assert response.status_code == 200
    moved = Booking.objects.get(status="booked")
    assert response.json() == {
        "message": "Booking rescheduled",
        "booking_id": moved.pk,
        "slot_id": target.pk,
        "rescheduled_from": old.pk,
        "booked_by": "patient",
        "visit_type": "clinic",
        "fee": None,
    }
    assert (moved.patient, moved.booked_by, moved.slot) == (patient, "patient", target)
    actions = [(e.action, e.actor_id, e.booking_id) for e in AuditEntry.objects.all()]
    assert actions == [
        ("booking.rescheduled", desk.pk, old.pk),
        ("booking.created", desk.pk, moved.pk),
    ]


def test_a_moved_desk_booking_stays_booked_by_the_desk(desk_client, patient, doctor, slot):
    desk_book(desk_client, slot, patient)
    target = TimeSlotFactory(doctor=doctor, start_time=slot.end_time)
    response = reschedule(client_for(patient), Booking.objects.get(), target)
    assert response.json()["booked_by"] == "desk"


def test_the_desk_cannot_move_to_a_doctor_it_does_not_serve(desk, desk_client, patient, doctor):
    booking = BookingFactory(patient=patient, slot__doctor=doctor)
    theirs = TimeSlotFactory()
    response = desk_client.post(desk_reschedule_url(booking), {"slot_id": theirs.pk}, format="json")
    assert (response.status_code, response.json()) == (404, SLOT_NOT_FOUND)
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_the_desk_cannot_move_another_doctors_booking(desk_client):
    booking = BookingFactory()
    target = TimeSlotFactory(doctor=booking.slot.doctor, start_time=booking.slot.end_time)
    response = desk_client.post(desk_reschedule_url(booking), {"slot_id": target.pk}, format="json")
    assert (response.status_code, response.json()) == (404, {"message": "Booking not found"})


# --- the desk's day -------------------------------------------------------------------------


def test_the_desk_lists_its_doctors_bookings_of_a_day(desk_client, doctor, patient):
    mine = BookingFactory(slot__doctor=doctor, patient=patient)
    BookingFactory(slot__doctor=doctor, slot__date=tomorrow() + timedelta(days=1))
    BookingFactory()  # another doctor's, the same day
    reply = desk_client.get(BOOKINGS, {"date": tomorrow().isoformat()}).json()
    assert [row["id"] for row in reply] == [mine.pk]
    assert reply[0]["patient"]["id"] == patient.pk
    assert reply[0]["booked_by"] == "patient"


def test_the_desk_day_is_today_by_default(clock, desk_client, doctor):
    date, start = wall(60)
    today = BookingFactory(slot__doctor=doctor, slot__date=date, slot__start_time=start)
    BookingFactory(slot__doctor=doctor, slot__date=date + timedelta(days=1))
    assert [row["id"] for row in desk_client.get(BOOKINGS).json()] == [today.pk]


def test_a_bad_day_is_a_field_error(desk_client):
    response = desk_client.get(BOOKINGS, {"date": "2030-13-01"})
    assert response.status_code == 400
    assert "date" in response.json()


def test_the_desk_calendar_feed_has_its_doctors_bookings(desk_client, doctor):
    mine = BookingFactory(slot__doctor=doctor)
    BookingFactory()
    url = desk_client.get(reverse("calendar-url")).json()["url"]
    body = desk_client.get(url).content.decode()
    assert f"booking-{mine.pk}@" in body
    assert body.count("BEGIN:VEVENT") == 1


# --- queries --------------------------------------------------------------------------------


def queries_of(client, url, params=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


def test_the_desk_lists_cost_the_same_for_one_row_or_many(desk_client, doctor):
    day = {"date": tomorrow().isoformat()}
    BookingFactory(slot__doctor=doctor)
    TimeSlotFactory(doctor=doctor, start_time=time(8))
    few = (queries_of(desk_client, BOOKINGS, day), queries_of(desk_client, SLOTS))
    for hour in range(11, 16):
        BookingFactory(slot__doctor=doctor, slot__start_time=time(hour), patient=PatientFactory())
        TimeSlotFactory(doctor=doctor, start_time=time(hour, 30), duration=15)
    assert (queries_of(desk_client, BOOKINGS, day), queries_of(desk_client, SLOTS)) == few


def test_a_desk_booking_adds_one_insert_for_its_audit_entry(desk_client, patient, slot):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert desk_book(desk_client, slot, patient).status_code == 201
    audit_inserts = [q for q in captured if 'INSERT INTO "audit_auditentry"' in q["sql"]]
    assert len(audit_inserts) == 1


def test_staff_assign_a_desk_users_doctors_in_the_admin(admin_user, desk, doctor):
    from django.test import Client

    staff = Client()
    staff.force_login(admin_user)
    page = staff.get(reverse("admin:accounts_userprofile_change", args=[desk.pk]))
    assert page.status_code == 200
    field = page.context["adminform"].form.fields["desk_doctors"]
    assert list(field.queryset) == [doctor]
