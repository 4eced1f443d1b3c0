from django.urls import path

from calendars import views

urlpatterns = [
    path("profile/calendar/", views.calendar_url, name="calendar-url"),
    path("profile/calendar/reset/", views.calendar_reset, name="calendar-reset"),
    # Any text up to ".ics", "/" included: the view answers every malformed token
    # with the contract's 404 (calendars.models.token_shaped), not a generic one.
    path("calendar/<path:token>.ics", views.calendar_feed, name="calendar-feed"),
]
