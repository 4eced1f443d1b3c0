from django.urls import path

from desk import views
from doctor.urls import IdConverter  # noqa: F401 -- registers the `id` converter

urlpatterns = [
    path("patients/", views.desk_patients, name="desk-patients"),
    path("slots/", views.desk_slots, name="desk-slots"),
    path("bookings/", views.desk_bookings, name="desk-bookings"),
    path(
        "bookings/<id:booking_id>/reschedule/",
        views.desk_reschedule,
        name="desk-reschedule",
    ),
]
