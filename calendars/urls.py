from django.urls import path

from calendars import views

urlpatterns = [
    path("profile/calendar/", views.calendar_url, name="calendar-url"),
    path("profile/calendar/reset/", views.calendar_reset, name="calendar-reset"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar-feed"),
]
