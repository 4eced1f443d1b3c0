from django.urls import path, register_converter

from audit import views as audit_views
from doctor.serializers import MAX_ID
from doctor.views import bookings, holds, lists, slots, visits, waitlist


class IdConverter:
    """A slot id in a path. Anything that is not an id that fits a bigint becomes 0,
    which no slot has, so the view answers the contract's 404 "Slot not found"
    instead of a generic one (or an integer overflow in the database)."""

    regex = "[^/]+"

    def to_python(self, value):
        number = int(value) if value.isascii() and value.isdigit() and len(value) <= 19 else 0
        return number if number <= MAX_ID else 0

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("timeslots/", slots.doctor_timeslots, name="doctor-timeslots"),
    path("timeslots/<id:slot_id>/toggle/", slots.toggle_slot_availability, name="slot-toggle"),
    path("timeslots/<id:slot_id>/delete/", slots.delete_slot, name="slot-delete"),
    path("timeslots/bulk/", slots.bulk_create_slots, name="slot-bulk"),
    path("timeslots/<id:slot_id>/book/", bookings.book_slot, name="slot-book"),
    path("timeslots/<id:slot_id>/cancel/", bookings.cancel_booking, name="slot-cancel"),
    path("timeslots/<id:slot_id>/hold/", holds.hold_slot, name="slot-hold"),
    path("holds/<id:hold_id>/", holds.release_hold, name="hold-release"),
    path("waitlist/", waitlist.waitlist, name="waitlist"),
    path("waitlist/<id:entry_id>/", waitlist.waitlist_leave, name="waitlist-leave"),
    path("bookings/", bookings.doctor_bookings, name="doctor-bookings"),
    path("user/bookings/", bookings.user_bookings, name="user-bookings"),
    path(
        "user/bookings/<id:booking_id>/reschedule/",
        bookings.reschedule_booking,
        name="booking-reschedule",
    ),
    path("bookings/<id:booking_id>/complete/", visits.complete_booking, name="booking-complete"),
    path("bookings/<id:booking_id>/no-show/", visits.no_show_booking, name="booking-no-show"),
    path("user/bookings/<id:booking_id>/review/", visits.review_booking, name="booking-review"),
    path(
        "bookings/<id:booking_id>/history/",
        audit_views.doctor_booking_history,
        name="doctor-booking-history",
    ),
    path(
        "user/bookings/<id:booking_id>/history/",
        audit_views.user_booking_history,
        name="user-booking-history",
    ),
    path("list/", lists.doctor_list, name="doctor-list"),
    path("user/timeslots/", lists.user_available_slots, name="available-slots"),
]
