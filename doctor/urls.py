from django.urls import path, register_converter

from doctor import views


class IdConverter:
    """A slot id in a path. Anything that is not an id that fits a bigint becomes 0,
    which no slot has, so the view answers the contract's 404 "Slot not found"
    instead of a generic one (or an integer overflow in the database)."""

    regex = "[^/]+"

    def to_python(self, value):
        return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else 0

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("timeslots/", views.doctor_timeslots, name="doctor-timeslots"),
    path("timeslots/<id:slot_id>/toggle/", views.toggle_slot_availability, name="slot-toggle"),
    path("timeslots/<id:slot_id>/delete/", views.delete_slot, name="slot-delete"),
    path("timeslots/bulk/", views.bulk_create_slots, name="slot-bulk"),
    path("timeslots/<id:slot_id>/book/", views.book_slot, name="slot-book"),
    path("timeslots/<id:slot_id>/cancel/", views.cancel_booking, name="slot-cancel"),
    path("timeslots/<id:slot_id>/hold/", views.hold_slot, name="slot-hold"),
    path("holds/<id:hold_id>/", views.release_hold, name="hold-release"),
    path("waitlist/", views.waitlist, name="waitlist"),
    path("waitlist/<id:entry_id>/", views.waitlist_leave, name="waitlist-leave"),
    path("bookings/", views.doctor_bookings, name="doctor-bookings"),
    path("user/bookings/", views.user_bookings, name="user-bookings"),
    path(
        "user/bookings/<id:booking_id>/reschedule/",
        views.reschedule_booking,
        name="booking-reschedule",
    ),
    path("bookings/<id:booking_id>/complete/", views.complete_booking, name="booking-complete"),
    path("bookings/<id:booking_id>/no-show/", views.no_show_booking, name="booking-no-show"),
    path("user/bookings/<id:booking_id>/review/", views.review_booking, name="booking-review"),
    path("list/", views.doctor_list, name="doctor-list"),
    path("user/timeslots/", views.user_available_slots, name="available-slots"),
]
