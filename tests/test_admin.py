"""The Django admin for staff: users, slots and bookings under the API's own rules; holds
and waitlist entries read only."""

from datetime import time, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserProfile
from doctor import services
from doctor.models import Booking, Review, TimeSlot
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    HoldFactory,
    TimeSlotFactory,
    WaitlistEntryFactory,
    tomorrow,
)

USERS = reverse("admin:accounts_userprofile_changelist")
SLOTS = reverse("admin:doctor_timeslot_changelist")
BOOKINGS = reverse("admin:doctor_booking_changelist")
ADD_SLOT = reverse("admin:doctor_timeslot_add")


@pytest.fixture
def staff(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def slot_form(doctor, start="10:00", end="10:30", duration="30", day=None, **extra):
    return {
        "doctor": doctor.pk,
        "date": (day or tomorrow()).isoformat(),
        "start_time": start,
        "end_time": end,
        "duration": duration,
        "is_available": "on",
        **extra,
    }


def test_user_changelist_searches_and_filters(staff, doctor, patient):
    other = DoctorFactory(is_active=False)
    response = staff.get(USERS, {"q": "Dr Doctor", "user_type": "doctor", "is_active__exact": "1"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [doctor]
    assert UserProfile.objects.filter(pk__in=[doctor.pk, patient.pk, other.pk]).count() == 3


def test_user_change_form_saves_profile_and_keeps_password(staff, doctor):
    url = reverse("admin:accounts_userprofile_change", args=[doctor.pk])
    assert staff.get(url).status_code == 200
    old_hash = doctor.password
    response = staff.post(
        url,
        {
            "email": "Renamed@Example.com",
            "full_name": "Dr Renamed",
            "user_type": "doctor",
            "specialization": "cardiology",
            "years_of_experience": "9",
            "consultation_fee": "750",
            # The policy fields come pre-filled in the form; a browser sends them back.
            "cancel_notice_minutes": "0",
            "min_booking_notice_minutes": "0",
            "is_active": "on",
            "date_joined_0": "2025-01-01",
            "date_joined_1": "09:00:00",
        },
    )
    assert response.status_code == 302
    doctor.refresh_from_db()
    assert (doctor.email, doctor.full_name, doctor.specialization) == (
        "renamed@example.com",
        "Dr Renamed",
        "cardiology",
    )
    assert doctor.password == old_hash


def test_user_add_form_creates_user_with_hashed_password(staff):
    assert staff.get(reverse("admin:accounts_userprofile_add")).status_code == 200
    response = staff.post(
        reverse("admin:accounts_userprofile_add"),
        {
            "email": "New.Doctor@Example.com",
            "full_name": "Dr New",
            "user_type": "doctor",
            "phone": "12345",
            "specialization": "dermatology",
            "years_of_experience": "4",
            "consultation_fee": "650",
            "cancel_notice_minutes": "0",
            "min_booking_notice_minutes": "0",
            "password1": "Another-pass-77",
            "password2": "Another-pass-77",
        },
    )
    assert response.status_code == 302
    user = UserProfile.objects.get(email="new.doctor@example.com")
    assert user.password != "Another-pass-77"
    assert user.check_password("Another-pass-77")
    assert (user.user_type, user.specialization, user.consultation_fee) == (
        "doctor",
        "dermatology",
        650,
    )
    assert not user.is_staff


def test_user_add_form_refuses_a_weak_password_and_a_taken_email(staff, patient):
    response = staff.post(
        reverse("admin:accounts_userprofile_add"),
        {
            "email": patient.email.upper(),
            "full_name": "Someone",
            "user_type": "user",
            "password1": "12345",
            "password2": "12345",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "email" in errors and "password2" in errors
    assert UserProfile.objects.count() == 2  # the admin and the patient


def test_slot_changelist_searches_and_filters(staff, doctor, other_doctor):
    free = TimeSlotFactory(doctor=doctor)
    TimeSlotFactory(doctor=doctor, start_time=time(11, 0), is_available=False)
    TimeSlotFactory(doctor=other_doctor)
    day = free.date
    response = staff.get(
        SLOTS,
        {
            "q": doctor.email,
            "is_available__exact": "1",
            "is_booked__exact": "0",
            "date__year": day.year,
            "date__month": day.month,
            "date__day": day.day,
        },
    )
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [free]
    assert TimeSlot.objects.count() == 3


@pytest.mark.parametrize(
    "url, factory, model",
    [(SLOTS, TimeSlotFactory, TimeSlot), (BOOKINGS, BookingFactory, Booking)],
)
def test_changelist_query_count_does_not_grow_with_rows(staff, url, factory, model):
    factory()
    with CaptureQueriesContext(connection) as one:
        assert staff.get(url).status_code == 200
    factory.create_batch(4)
    with CaptureQueriesContext(connection) as five:
        assert staff.get(url).status_code == 200
    assert len(five) == len(one)
    assert model.objects.count() == 5


def test_booking_changelist_searches_and_filters(staff, patient):
    booking = BookingFactory(patient=patient, slot__doctor__full_name="Dr Nandini Kulkarni")
    BookingFactory(status=Booking.Status.CANCELLED, slot__is_booked=False, patient=patient)
    BookingFactory()
    response = staff.get(BOOKINGS, {"q": patient.email, "status__exact": "booked"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [booking]
    response = staff.get(BOOKINGS, {"q": "Nandini"})
    assert list(response.context["cl"].result_list) == [booking]
    assert Booking.objects.count() == 3


def test_only_doctors_are_offered_as_a_slots_doctor(staff, doctor, patient):
    response = staff.get(ADD_SLOT)
    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields["doctor"].queryset) == [doctor]
    response = staff.post(ADD_SLOT, slot_form(patient))
    assert "doctor" in response.context["adminform"].form.errors
    assert not TimeSlot.objects.exists()


def test_it_adds_a_free_slot_and_computes_a_blank_duration(staff, doctor):
    response = staff.post(ADD_SLOT, slot_form(doctor, "10:00", "10:45", duration=""))
    assert response.status_code == 302
    slot = TimeSlot.objects.get()
    assert (slot.doctor, slot.start_time, slot.end_time, slot.duration) == (
        doctor,
        time(10, 0),
        time(10, 45),
        45,
    )
    assert (slot.is_available, slot.is_booked) == (True, False)


# The API's texts: the form asks the same service (NON_FIELD_ERRORS is "__all__").
@pytest.mark.parametrize(
    "start, end, duration, errors",
    [
        ("10:15", "10:45", "30", {"__all__": ["Overlaps slot {pk} (10:00-10:30)"]}),
        ("09:45", "11:00", "75", {"__all__": ["Overlaps slot {pk} (10:00-10:30)"]}),
        ("11:00", "10:30", "30", {"end_time": ["Must be after start_time."]}),
        (
            "11:00",
            "11:30",
            "20",
            {"duration": ["Must equal the minutes from start_time to end_time (30)."]},
        ),
    ],
)
def test_it_refuses_a_bad_slot_in_the_add_form(staff, doctor, start, end, duration, errors):
    existing = TimeSlotFactory(doctor=doctor)  # tomorrow 10:00-10:30
    response = staff.post(ADD_SLOT, slot_form(doctor, start, end, duration))
    assert response.status_code == 200
    form_errors = response.context["adminform"].form.errors.get_json_data()
    expected = {k: [m.format(pk=existing.pk) for m in v] for k, v in errors.items()}
    assert {k: [e["message"] for e in v] for k, v in form_errors.items()} == expected
    assert list(TimeSlot.objects.all()) == [existing]


def test_it_refuses_a_new_slot_in_the_past(staff, doctor):
    yesterday = timezone.localdate() - timedelta(days=1)
    response = staff.post(ADD_SLOT, slot_form(doctor, day=yesterday))
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == ["Slot is in the past"]
    assert not TimeSlot.objects.exists()


def test_editing_a_free_slot_ignores_is_booked_and_checks_overlap(staff, doctor):
    slot = TimeSlotFactory(doctor=doctor)
    other = TimeSlotFactory(doctor=doctor, start_time=time(11, 0))
    url = reverse("admin:doctor_timeslot_change", args=[slot.pk])
    # The slot does not overlap itself; is_booked is read-only and stays False.
    response = staff.post(url, slot_form(doctor, "10:00", "10:30", is_booked="on"))
    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.is_booked, slot.is_available) == (False, True)

    response = staff.post(url, slot_form(doctor, "10:00", "11:30", "90"))
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        f"Overlaps slot {other.pk} (11:00-11:30)"
    ]
    slot.refresh_from_db()
    assert slot.end_time == time(10, 30)

    response = staff.post(url, {**slot_form(doctor), "is_available": ""})
    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.is_booked, slot.is_available) == (False, False)


def test_a_booked_slot_change_form_is_read_only(staff):
    booking = BookingFactory()
    slot = booking.slot
    url = reverse("admin:doctor_timeslot_change", args=[slot.pk])
    response = staff.get(url)
    assert response.status_code == 200
    assert 'name="is_available"' not in response.content.decode()
    assert 'name="_save"' not in response.content.decode()

    response = staff.post(url, slot_form(slot.doctor, "12:00", "12:30", is_booked=""))
    assert response.status_code == 403
    slot.refresh_from_db()
    assert (slot.is_booked, slot.is_available, slot.start_time) == (True, False, time(10, 0))
    booking.refresh_from_db()
    assert booking.status == Booking.Status.BOOKED


def test_a_booked_slot_cannot_be_deleted(staff):
    slot = BookingFactory().slot
    url = reverse("admin:doctor_timeslot_delete", args=[slot.pk])
    assert staff.get(url).status_code == 403
    assert staff.post(url, {"post": "yes"}).status_code == 403
    slot.refresh_from_db()
    assert slot.is_booked
    assert slot.bookings.get().status == Booking.Status.BOOKED


def test_a_free_slot_with_cancelled_bookings_is_retired_and_they_are_kept(staff):
    booking = BookingFactory(status=Booking.Status.CANCELLED, slot__is_booked=False)
    url = reverse("admin:doctor_timeslot_delete", args=[booking.slot_id])
    page = staff.get(url)
    assert page.status_code == 200
    assert "retired: it has bookings, which are kept" in page.content.decode()
    assert staff.post(url, {"post": "yes"}).status_code == 302
    slot = TimeSlot.objects.get()
    assert slot.retired_at is not None and not slot.is_available
    assert Booking.objects.get() == booking
    # Read-only from then on, and not deletable again.
    assert staff.get(reverse("admin:doctor_timeslot_delete", args=[slot.pk])).status_code == 403
    change_url = reverse("admin:doctor_timeslot_change", args=[slot.pk])
    assert staff.post(change_url, slot_form(slot.doctor)).status_code == 403


def test_a_slot_rescheduled_away_from_is_retired_by_the_admin(staff, patient):
    slots = [TimeSlotFactory(start_time=time(h, 0)) for h in (9, 10)]
    slots[1].doctor = slots[0].doctor
    slots[1].save()
    booking = services.slot_book(slot_id=slots[0].pk, patient=patient)
    services.booking_reschedule(booking_id=booking.pk, patient=patient, slot_id=slots[1].pk)

    url = reverse("admin:doctor_timeslot_delete", args=[slots[0].pk])
    assert staff.get(url).status_code == 200  # nothing protected: nothing goes with it
    assert staff.post(url, {"post": "yes"}).status_code == 302

    slots[0].refresh_from_db()
    assert slots[0].retired_at is not None
    assert Booking.objects.count() == 2


def test_bulk_delete_retires_slots_with_a_history_and_deletes_the_others(staff, doctor):
    never = TimeSlotFactory(doctor=doctor, start_time=time(9, 0))
    used = BookingFactory(
        slot__doctor=doctor,
        slot__start_time=time(10, 0),
        slot__is_booked=False,
        status=Booking.Status.CANCELLED,
    ).slot
    selected = [never.pk, used.pk]

    response = staff.post(SLOTS, {"action": "delete_selected", "_selected_action": selected})
    assert response.status_code == 200
    assert response.context["protected"] == []
    response = staff.post(
        SLOTS, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
    )
    assert response.status_code == 302
    assert list(TimeSlot.objects.all()) == [used]
    used.refresh_from_db()
    assert used.retired_at is not None and used.bookings.count() == 1

    # A retired slot selected again is refused by name, not deleted.
    response = staff.post(SLOTS, {"action": "delete_selected", "_selected_action": [used.pk]})
    assert texts(response)[-1] == f"Slot {used.pk}: Slot is retired"
    assert TimeSlot.objects.filter(pk=used.pk).exists()
    # The changelist keeps it, and filters it.
    listed = staff.get(SLOTS, {"retired": "yes"}).context["cl"].result_list
    assert list(listed) == [used]
    assert list(staff.get(SLOTS, {"retired": "no"}).context["cl"].result_list) == []


def test_a_user_with_slots_or_bookings_is_never_deleted(staff, doctor, patient):
    TimeSlotFactory(doctor=doctor)
    booker = BookingFactory().patient
    for user in (doctor, booker):
        url = reverse("admin:accounts_userprofile_delete", args=[user.pk])
        assert staff.get(url).status_code == 403
        assert staff.post(url, {"post": "yes"}).status_code == 403
    # The bulk action shows them as protected and deletes nothing.
    selected = [doctor.pk, booker.pk, patient.pk]
    response = staff.post(
        USERS, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
    )
    assert response.status_code == 200
    kept = [p for p in response.context["protected"] if "deactivate the account" in str(p)]
    kept_text = "has slots or bookings: deactivate the account instead"
    assert kept == [f"{user} ({kept_text})" for user in (doctor, booker)]
    assert UserProfile.objects.filter(pk__in=selected).count() == 3
    # Staff deactivate instead.
    response = staff.post(
        USERS, {"action": "deactivate", "_selected_action": [doctor.pk, booker.pk]}
    )
    assert texts(response) == ["2 user(s) deactivated."]
    assert not UserProfile.objects.filter(pk__in=[doctor.pk, booker.pk], is_active=True).exists()


def test_a_user_without_slots_or_bookings_is_deleted(staff, patient):
    url = reverse("admin:accounts_userprofile_delete", args=[patient.pk])
    assert staff.get(url).status_code == 200
    assert staff.post(url, {"post": "yes"}).status_code == 302
    assert not UserProfile.objects.filter(pk=patient.pk).exists()


def test_a_user_booking_since_the_confirmation_page_is_kept(rf, admin_user, patient):
    from django.contrib.admin.sites import site
    from django.contrib.messages.storage.fallback import FallbackStorage

    BookingFactory(patient=patient)
    request = rf.post(USERS)
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)

    site._registry[UserProfile].delete_queryset(request, UserProfile.objects.filter(pk=patient.pk))

    assert UserProfile.objects.filter(pk=patient.pk).exists()
    assert [str(m) for m in request._messages] == [
        f"{patient}: has slots or bookings: deactivate the account instead"
    ]


def test_bulk_delete_skips_booked_slots_and_deletes_free_ones(staff, doctor):
    free = [TimeSlotFactory(doctor=doctor, start_time=time(h, 0)) for h in (9, 10)]
    booked = BookingFactory(slot__doctor=doctor, slot__start_time=time(11, 0)).slot
    selected = [s.pk for s in [*free, booked]]

    # First step: the confirmation page lists only the free slots.
    response = staff.post(SLOTS, {"action": "delete_selected", "_selected_action": selected})
    assert response.status_code == 200
    assert list(response.context["queryset"]) == free
    assert texts(response) == [f"Slot {booked.pk}: Booked slot cannot be deleted"]
    assert TimeSlot.objects.count() == 3

    # Confirmed, even with the booked slot's id posted (a stale page), it stays.
    response = staff.post(
        SLOTS, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
    )
    assert response.status_code == 302
    assert list(TimeSlot.objects.all()) == [booked]
    booked.refresh_from_db()
    assert booked.is_booked and booked.bookings.get().status == Booking.Status.BOOKED


def test_bulk_delete_of_only_booked_slots_deletes_nothing(staff):
    booked = BookingFactory().slot
    response = staff.post(
        SLOTS, {"action": "delete_selected", "_selected_action": [booked.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert texts(response) == [f"Slot {booked.pk}: Booked slot cannot be deleted"]
    assert list(TimeSlot.objects.all()) == [booked]


def test_bookings_are_read_only(staff):
    booking = BookingFactory()
    assert staff.get(reverse("admin:doctor_booking_add")).status_code == 403
    delete_url = reverse("admin:doctor_booking_delete", args=[booking.pk])
    assert staff.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:doctor_booking_change", args=[booking.pk])
    assert staff.get(change_url).status_code == 200
    assert staff.post(change_url, {"status": "cancelled"}).status_code == 403
    booking.refresh_from_db()
    assert booking.status == Booking.Status.BOOKED
    assert booking.slot.is_booked


def test_cancel_action_cancels_a_booking_and_frees_the_slot(staff):
    booking = BookingFactory()
    response = staff.post(BOOKINGS, {"action": "cancel_bookings", "_selected_action": [booking.pk]})
    assert response.status_code == 302
    assert texts(response) == [f"Booking {booking.pk} cancelled."]
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancelled_at is not None
    booking.slot.refresh_from_db()
    assert (booking.slot.is_booked, booking.slot.is_available) == (False, True)


def test_cancel_action_reports_each_refusal(staff):
    past = BookingFactory(past=True)
    done = BookingFactory(status=Booking.Status.CANCELLED, slot__is_booked=False)
    response = staff.post(
        BOOKINGS, {"action": "cancel_bookings", "_selected_action": [past.pk, done.pk]}
    )
    assert response.status_code == 302
    assert texts(response) == [
        f"Booking {past.pk}: Slot is in the past",
        f"Booking {done.pk}: already cancelled.",
    ]
    past.refresh_from_db()
    assert past.status == Booking.Status.BOOKED and past.cancelled_at is None
    past.slot.refresh_from_db()
    assert (past.slot.is_booked, past.slot.is_available) == (True, False)


def test_a_change_form_opened_before_a_booking_refuses_with_the_apis_text(db):
    from doctor.admin import TimeSlotAdminForm

    slot = TimeSlotFactory()
    stale = TimeSlot.objects.get(pk=slot.pk)  # as the form was shown: free
    BookingFactory(slot=slot)
    TimeSlot.objects.filter(pk=slot.pk).update(is_booked=True, is_available=False)

    form = TimeSlotAdminForm(slot_form(slot.doctor, "12:00", "12:30"), instance=stale)

    assert not form.is_valid()
    assert form.non_field_errors() == ["Booked slot cannot be modified"]
    slot.refresh_from_db()
    assert (slot.start_time, slot.is_booked) == (time(10, 0), True)


def test_the_delete_step_asks_the_service_for_each_slot(rf, admin_user):
    from django.contrib.admin.sites import site
    from django.contrib.messages.storage.fallback import FallbackStorage

    free = TimeSlotFactory(start_time=time(9, 0))
    booked = BookingFactory().slot
    request = rf.post(SLOTS)
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)

    site._registry[TimeSlot].delete_queryset(request, TimeSlot.objects.all())

    assert list(TimeSlot.objects.all()) == [booked]
    assert [str(m) for m in request._messages] == [
        f"Slot {booked.pk}: Booked slot cannot be deleted"
    ]
    assert free.pk not in TimeSlot.objects.values_list("pk", flat=True)


def test_moving_a_slot_into_the_past_is_refused_but_an_old_slot_may_be_disabled(staff, doctor):
    yesterday = timezone.localdate() - timedelta(days=1)
    slot = TimeSlotFactory(doctor=doctor)
    old = TimeSlotFactory(doctor=doctor, date=yesterday)

    url = reverse("admin:doctor_timeslot_change", args=[slot.pk])
    response = staff.post(url, slot_form(doctor, day=yesterday, start="12:00", end="12:30"))
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == ["Slot is in the past"]
    slot.refresh_from_db()
    assert slot.date == tomorrow()

    url = reverse("admin:doctor_timeslot_change", args=[old.pk])
    response = staff.post(url, {**slot_form(doctor, day=yesterday), "is_available": ""})
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.is_available is False


def test_staff_see_holds_read_only(staff, patient):
    hold = HoldFactory(patient=patient)

    listing = staff.get(reverse("admin:doctor_hold_changelist"))
    adding = staff.get(reverse("admin:doctor_hold_add"))
    deleting = staff.get(reverse("admin:doctor_hold_delete", args=[hold.pk]))

    assert listing.status_code == 200
    assert patient.email in listing.content.decode()
    assert (adding.status_code, deleting.status_code) == (403, 403)


def test_staff_see_waitlist_entries_read_only(staff, patient, doctor):
    entry = WaitlistEntryFactory(patient=patient, doctor=doctor)

    listing = staff.get(reverse("admin:doctor_waitlistentry_changelist"))
    viewing = staff.get(reverse("admin:doctor_waitlistentry_change", args=[entry.pk]))
    adding = staff.get(reverse("admin:doctor_waitlistentry_add"))
    deleting = staff.get(reverse("admin:doctor_waitlistentry_delete", args=[entry.pk]))

    assert (listing.status_code, viewing.status_code) == (200, 200)
    assert patient.email in listing.content.decode()
    assert "Save" not in viewing.content.decode()
    assert (adding.status_code, deleting.status_code) == (403, 403)


def test_staff_read_reviews_and_a_delete_goes_through_the_service(staff, doctor, patient):
    past = TimeSlotFactory(doctor=doctor, past=True)
    booking = BookingFactory(slot=past, patient=patient, status=Booking.Status.COMPLETED)
    review = services.review_create(booking_id=booking.id, patient=patient, rating=2)
    change_url = reverse("admin:doctor_review_change", args=[review.pk])
    delete_url = reverse("admin:doctor_review_delete", args=[review.pk])

    viewing = staff.get(change_url)
    deleting = staff.post(delete_url, {"post": "yes"})

    assert viewing.status_code == 200 and b'name="rating"' not in viewing.content
    assert deleting.status_code == 302
    assert not Review.objects.exists()
