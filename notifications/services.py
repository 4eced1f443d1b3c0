"""Reminder emails: one per booked visit, REMINDER_HOURS before it starts."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from doctor.clock import clinic_datetime, clinic_now
from doctor.models import Booking
from notifications.models import Reminder

logger = logging.getLogger(__name__)


def due_bookings(now):
    """Booked visits starting after `now` and within REMINDER_HOURS, not yet reminded.

    A booking made inside that window is due at once."""
    horizon = now + timedelta(hours=settings.REMINDER_HOURS)
    candidates = Booking.objects.filter(
        status=Booking.Status.BOOKED,
        reminder__isnull=True,
        slot__date__gte=now.date(),
        slot__date__lte=horizon.date(),
    ).select_related("slot__doctor", "patient")
    return [
        b for b in candidates if now < clinic_datetime(b.slot.date, b.slot.start_time) <= horizon
    ]


def send_reminder(booking_id):
    """Claim the booking's reminder and send it, in one transaction: a failed
    send releases the claim (retried next run); a second sender finds the claim."""
    try:
        with transaction.atomic():
            booking = Booking.objects.select_for_update().get(pk=booking_id)
            if booking.status != Booking.Status.BOOKED:
                return False
            Reminder.objects.create(booking=booking)
            send_mail(*reminder_email(booking), recipient_list=[booking.patient.email])
    except IntegrityError:
        return False  # another worker sent it
    return True


def reminder_email(booking):
    slot, doctor = booking.slot, booking.slot.doctor
    when = f"{slot.date:%A %d %B %Y} at {slot.start_time:%H:%M}"
    subject = f"Reminder: your visit on {when}"
    body = (
        f"Hello {booking.patient.full_name},\n\n"
        f"this is a reminder of your visit with {doctor.full_name} on {when} "
        f"({settings.TIME_ZONE} time), booking {booking.pk}.\n"
        f"Address: {doctor.clinic_address or 'see the app'}\n\n"
        "To cancel, use the app; a cancelled visit gets no further reminders.\n"
    )
    return subject, body, None  # None: DEFAULT_FROM_EMAIL


def send_due_reminders(now=None):
    """Send every due reminder; return how many were sent."""
    sent = 0
    for booking in due_bookings(now or clinic_now()):
        try:
            sent += send_reminder(booking.pk)
        except Exception:
            logger.exception("reminder for booking %s not sent; retried next run", booking.pk)
    return sent
