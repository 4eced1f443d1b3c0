"""The slot and booking rules, each action in its own transaction.

Every action that decides on a slot's flags re-reads the row with
select_for_update() and decides on that locked copy, so a decision is never
made on a stale read (the pattern healthchecks uses). On SQLite the lock is a
no-op, but the IMMEDIATE transaction mode in settings serializes writers.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from config.exceptions import MessageError
from doctor.models import Booking, TimeSlot

SLOT_NOT_FOUND = "Slot not found"


def _locked_slot(slot_id, **filters):
    slot = TimeSlot.objects.select_for_update().filter(pk=slot_id, **filters).first()
    if slot is None:
        raise MessageError(SLOT_NOT_FOUND, status.HTTP_404_NOT_FOUND)
    return slot


def overlapping_slots(*, doctor, date, start_time, end_time):
    return TimeSlot.objects.filter(
        doctor=doctor, date=date, start_time__lt=end_time, end_time__gt=start_time
    )


def _lock_doctor(doctor):
    # Serializes slot creation per doctor, so two overlapping creates cannot
    # both pass the overlap check before either inserts.
    get_user_model().objects.select_for_update().filter(pk=doctor.pk).first()


def slot_create(*, doctor, date, start_time, end_time, duration):
    """Add one slot for `doctor`, refusing any overlap with the doctor's own slots."""
    with transaction.atomic():
        _lock_doctor(doctor)
        clash = overlapping_slots(
            doctor=doctor, date=date, start_time=start_time, end_time=end_time
        ).first()
        if clash is not None:
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"Overlaps your slot {clash.id} on {clash.date} "
                        f"({clash.start_time:%H:%M}-{clash.end_time:%H:%M})."
                    ]
                }
            )
        return TimeSlot.objects.create(
            doctor=doctor,
            date=date,
            start_time=start_time,
            end_time=end_time,
            duration=duration,
        )


def slot_toggle(*, slot_id, doctor):
    """Flip a free slot's availability; a booked slot is never re-opened here."""
    with transaction.atomic():
        slot = _locked_slot(slot_id, doctor=doctor)
        if slot.is_booked:
            raise MessageError("Booked slot cannot be modified")
        slot.is_available = not slot.is_available
        slot.save(update_fields=["is_available"])
    slot.doctor = doctor
    return slot


def slot_delete(*, slot_id, doctor):
    """Delete a slot that nobody has booked."""
    with transaction.atomic():
        slot = _locked_slot(slot_id, doctor=doctor)
        if slot.is_booked:
            raise MessageError("Booked slot cannot be deleted")
        slot.delete()


def slot_book(*, slot_id, patient):
    """Book a slot for `patient`: under any concurrency, one booking per slot."""
    with transaction.atomic():
        slot = _locked_slot(slot_id)
        if slot.is_booked:
            raise MessageError("Slot already booked")
        if not slot.is_available or not slot.doctor.is_active:
            raise MessageError("Slot is not available")
        if slot.is_past:
            raise MessageError("Slot is in the past")
        slot.is_booked = True
        slot.is_available = False
        slot.save(update_fields=["is_booked", "is_available"])
        return Booking.objects.create(slot=slot, patient=patient)


def booking_cancel(*, slot_id, user=None):
    """Cancel the active booking of a slot and make the slot bookable again.

    `user` must be the slot's doctor or the patient holding the booking (anyone
    else gets the same 404 as for a missing slot); None is the staff path used by
    the admin site, which may cancel any booking.
    """
    with transaction.atomic():
        slot = _locked_slot(slot_id)
        booking = slot.bookings.filter(status=Booking.Status.BOOKED).first()
        holder = booking.patient_id if booking else None
        if user is not None and user.pk not in (slot.doctor_id, holder):
            raise MessageError(SLOT_NOT_FOUND, status.HTTP_404_NOT_FOUND)
        if booking is None:
            raise MessageError("Slot is not booked")
        if slot.is_past:
            raise MessageError("Slot is in the past")
        booking.status = Booking.Status.CANCELLED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at"])
        slot.is_booked = False
        slot.is_available = True
        slot.save(update_fields=["is_booked", "is_available"])
    booking.slot = slot
    return booking
