from django.db import models

from doctor.models import Booking


class Reminder(models.Model):
    """The reminder email of one booking: the row is claimed before the email is
    sent, and the one-to-one key means a booking never gets a second."""

    booking = models.OneToOneField(Booking, on_delete=models.CASCADE, related_name="reminder")
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Reminder for booking {self.booking_id}"
