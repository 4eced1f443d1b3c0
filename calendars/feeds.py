"""A user's bookings as an iCalendar (RFC 5545) document, built with `icalendar`.

The document depends on the bookings only, never on the time of the request,
so its hash is an ETag that changes exactly when the content does.
"""

from datetime import timedelta

from django.conf import settings
from icalendar import Calendar, Event

from accounts.models import CONTROL_CHARACTERS, UserType
from doctor.clock import clinic_datetime

PRODID = "-//QuickMed Slots//Calendar feed//EN"

# By the value of Booking.status, so statuses added later map without an import.
EVENT_STATUS = {
    "booked": "CONFIRMED",
    "completed": "CONFIRMED",
    "no_show": "CONFIRMED",
    "cancelled": "CANCELLED",
    "rescheduled": "CANCELLED",
}


def plain_text(value):
    """`value` on one line without control characters, for SUMMARY and LOCATION.

    RFC 5545 allows none in TEXT but tab (line breaks are escaped as \\n), and these
    values are one line. accounts.models refuses them at input, but a row stored
    before that may hold one: whitespace controls become a space, the rest go.
    """
    return CONTROL_CHARACTERS.sub(lambda m: " " if m.group().isspace() else "", value)


def event_status(status):
    """The VEVENT STATUS of a booking status; a status unknown here stays CONFIRMED."""
    return EVENT_STATUS.get(status, "CONFIRMED")


def event_sequence(status):
    """RFC 5545 SEQUENCE: a booking changes status at most once (booked -> any other),
    so 0 while booked and 1 after is the exact count of its revisions."""
    return 0 if status == "booked" else 1


def event_uid(booking):
    """Stable forever: calendar apps match updates to events by UID."""
    return f"booking-{booking.pk}@{settings.CALENDAR_UID_DOMAIN}"


VISIT_NAMES = {"clinic": "Clinic visit", "video": "Video visit", "home": "Home visit"}


def visit_description(booking):
    """The kind of visit and its fee as the booking keeps them (no fee kept: none shown)."""
    text = VISIT_NAMES[booking.visit_type]
    return text if booking.fee is None else f"{text}, fee {booking.fee}"


def booking_event(booking, for_doctor):
    slot = booking.slot
    if for_doctor:
        summary = f"Visit: {plain_text(booking.patient.full_name)}"
    else:
        # Never the patient's name: the slot's other bookings are not theirs to see.
        summary = f"Visit with {plain_text(slot.doctor.full_name)}"
    event = Event.new(
        uid=event_uid(booking),
        start=clinic_datetime(slot.date, slot.start_time),
        end=clinic_datetime(slot.date, slot.end_time),
        # Without METHOD, DTSTAMP is when the event was last revised in our store.
        stamp=booking.cancelled_at or booking.created_at,
        sequence=event_sequence(booking.status),
        status=event_status(booking.status),
        summary=summary,
        description=visit_description(booking),
        # A video visit happens nowhere: no clinic address on it.
        location=None
        if booking.visit_type == "video"
        else plain_text(slot.doctor.clinic_address) or None,
    )
    event.add("X-QUICKMED-VISIT-TYPE", booking.visit_type)
    if booking.fee is not None:
        event.add("X-QUICKMED-FEE", str(booking.fee))
    return event


def feed_document(user, bookings):
    """The feed as bytes: one VEVENT per booking, in the order given, and a VTIMEZONE
    for the clinic zone (none for UTC, which is written with Z)."""
    calendar = Calendar.new(
        prodid=PRODID,
        name="QuickMed visits",
        # A fixed calendar UID: Calendar.new would otherwise draw a random one.
        uid=f"calendar-{user.pk}@{settings.CALENDAR_UID_DOMAIN}",
        refresh_interval=timedelta(hours=1),
    )
    # A desk user's feed reads as its doctors' do: who comes to each visit.
    for_doctor = user.user_type in (UserType.DOCTOR, UserType.DESK)
    events = [booking_event(booking, for_doctor) for booking in bookings]
    for event in events:
        calendar.add_component(event)
    if events:
        # Transitions for the span of the events only: the full 1970-2038 default
        # would add over a hundred to every feed.
        first = min(event.start.date() for event in events)
        last = max(event.end.date() for event in events)
        calendar.add_missing_timezones(first_date=first, last_date=last + timedelta(days=1))
    return calendar.to_ical()
