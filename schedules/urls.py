from datetime import date

from django.urls import path, register_converter

from schedules import views


class DateConverter:
    """A date in a path. Anything that is not a YYYY-MM-DD day becomes None, which
    no override has, so the view answers the contract's 404 `Override not found`."""

    regex = "[^/]+"

    def to_python(self, value):
        try:
            return date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            return None

    def to_url(self, value):
        return str(value)


register_converter(DateConverter, "isodate")

urlpatterns = [
    path("", views.schedule, name="schedule"),
    path("overrides/", views.overrides, name="schedule-overrides"),
    path("overrides/<isodate:date>/", views.override_delete, name="schedule-override-delete"),
]
