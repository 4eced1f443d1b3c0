"""Reminder emails: one per booked visit, REMINDER_HOURS before it starts,
never twice and never for a cancelled visit."""

from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from doctor.clock import clinic_now
from notifications.models import Reminder
from notifications.services import send_due_reminders, send_reminder
from notifications.tasks import send_reminders
from tests.factories import BookingFactory, TimeSlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def reminder_hours(settings):
    settings.REMINDER_HOURS = 24
    settings.TIME_ZONE = "Asia/Kolkata"  # slot times are this clock, not UTC


def booking_starting_in(delta, **kwargs):
    start = clinic_now() + delta
    slot = TimeSlotFactory(
        date=start.date(),
        start_time=start.time().replace(second=0, microsecond=0),
        duration=1,
        is_booked=True,
        is_available=False,
    )
    return BookingFactory(slot=slot, **kwargs)


def test_a_visit_within_the_reminder_hours_gets_one_email():
    booking = booking_starting_in(timedelta(hours=23))

    assert send_due_reminders() == 1

    (email,) = mail.outbox
    slot = booking.slot
    assert email.to == [booking.patient.email]
    assert email.subject == (
        f"Reminder: your visit on {slot.date:%A %d %B %Y} at {slot.start_time:%H:%M}"
    )
    assert slot.doctor.full_name in email.body
    assert Reminder.objects.get().booking == booking


def test_a_visit_further_away_than_the_reminder_hours_gets_none_yet():
    booking_starting_in(timedelta(hours=25))

    assert send_due_reminders() == 0
    assert (mail.outbox, Reminder.objects.count()) == ([], 0)


def test_the_window_is_judged_on_the_clinics_clock():
    # 23 h ahead on the clinic's clock: due, although read as UTC it would be
    # 5 h 30 min further away (Asia/Kolkata is UTC+5:30).
    booking_starting_in(timedelta(hours=23, minutes=30))

    assert send_due_reminders() == 1


def test_a_cancelled_visit_gets_no_reminder():
    booking_starting_in(timedelta(hours=2), status="cancelled", cancelled_at=timezone.now())

    assert send_due_reminders() == 0
    assert mail.outbox == []


def test_a_visit_that_has_started_gets_no_reminder():
    booking_starting_in(-timedelta(minutes=5))

    assert send_due_reminders() == 0
    assert mail.outbox == []


def test_a_reminder_is_never_sent_twice():
    booking_starting_in(timedelta(hours=3))

    send_reminders()
    send_reminders()

    assert (len(mail.outbox), Reminder.objects.count()) == (1, 1)


def test_a_second_sender_that_finds_the_claim_sends_nothing():
    booking = booking_starting_in(timedelta(hours=3))
    Reminder.objects.create(booking=booking)

    assert send_reminder(booking.pk) is False
    assert mail.outbox == []


def test_a_failed_send_releases_the_claim_so_the_next_run_sends_it():
    booking_starting_in(timedelta(hours=3))

    with mock.patch("notifications.services.send_mail", side_effect=OSError("smtp down")):
        assert send_due_reminders() == 0
    assert Reminder.objects.count() == 0

    assert send_due_reminders() == 1
    assert len(mail.outbox) == 1


def test_the_window_end_is_reminder_hours_after_now(settings):
    settings.REMINDER_HOURS = 2
    booking_starting_in(timedelta(hours=3))

    assert send_due_reminders() == 0
    assert send_due_reminders(clinic_now() + timedelta(hours=1, minutes=5)) == 1


# The window's two ends, to the microsecond (slot times are whole seconds, so
# the clock is frozen instead): a visit is due when now < its start <= now + 24 h.
VISIT = datetime(2027, 7, 2, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
MICROSECOND = timedelta(microseconds=1)


@pytest.mark.parametrize(
    "now, due",
    [
        (VISIT - timedelta(hours=24), True),
        (VISIT - timedelta(hours=24) - MICROSECOND, False),
        (VISIT - MICROSECOND, True),
        (VISIT, False),
    ],
    ids=[
        "starting-exactly-reminder-hours-from-now-is-due",
        "starting-a-microsecond-past-reminder-hours-is-not",
        "starting-a-microsecond-from-now-is-due",
        "starting-exactly-now-is-not",
    ],
)
def test_the_window_is_open_at_now_and_closed_at_reminder_hours(frozen, now, due):
    frozen(now.astimezone(UTC))
    slot = TimeSlotFactory(
        date=VISIT.date(), start_time=VISIT.time(), is_booked=True, is_available=False
    )
    BookingFactory(slot=slot)

    assert send_due_reminders() == int(due)
    assert Reminder.objects.count() == int(due)
