"""Booking a slot, cancelling a booking, moving it to another slot.

Under any concurrency, one booking per slot: each flow locks the slot(s) and
decides on the locked rows (doctor/locks.py), in one unit of work.
"""

from django.utils import timezone

from config.errors import NotFound, Refused
from doctor import rules
from doctor.locks import (
    SlotNotFound,
    end_hold,
    live_hold,
    lock_patient_with_live_hold,
    locked_slot,
    locked_slots,
    set_booked,
    unbookable_refusal,
)
from doctor.models import Booking, Hold
from doctor.serializers import booking_data
from doctor.unit import slot_change


def _take(slot, hold, booking_fields):
    """The locked slot becomes booked: its hold (the booker's own) is used."""
    if hold is not None:
        end_hold(hold, Hold.Status.USED)
    set_booked(slot, True)
    return Booking.objects.create(slot=slot, **booking_fields)


def slot_book(*, slot_id, patient):
    """Book a slot for `patient`."""
    with slot_change() as change:
        slot = locked_slot(slot_id)
        # Slot, then patient (the lock order), the hold read with the patient's lock.
        hold = lock_patient_with_live_hold(slot, patient)
        if refusal := unbookable_refusal(slot, hold, patient, lock="held"):
            raise Refused(refusal)
        booking = _take(slot, hold, {"patient": patient})
        change.emit("booking.created", booking_data(booking))
    return booking


def _canceller(user, slot):
    if user is None:
        return Booking.CancelledBy.STAFF
    if user.pk == slot.doctor_id:
        return Booking.CancelledBy.DOCTOR
    return Booking.CancelledBy.PATIENT


def booking_cancel(*, slot_id, user=None, booking_id=None):
    """Cancel the active booking of a slot and make the slot bookable again.

    `user` must be the slot's doctor or the patient holding the booking (anyone
    else gets the same 404 as for a missing slot); None is the staff path used by
    the admin site, which may cancel any booking; it names the `booking_id` it
    means, so a booking made since the page was shown is never cancelled instead.
    """
    with slot_change() as change:
        slot = locked_slot(slot_id)
        active = slot.bookings.filter(status=Booking.Status.BOOKED)
        booking = (active.filter(pk=booking_id) if booking_id else active).first()
        holder = booking.patient_id if booking else None
        if user is not None and user.pk not in (slot.doctor_id, holder):
            raise SlotNotFound()
        if booking is None:
            raise Refused(rules.NOT_BOOKED)
        if slot.is_past:
            raise Refused(rules.IN_THE_PAST)
        cancelled_by = _canceller(user, slot)
        # Only the patient is bound by the notice; the doctor and staff may always cancel.
        if cancelled_by == Booking.CancelledBy.PATIENT and rules.inside_cancel_notice(slot):
            raise Refused(rules.TOO_LATE_TO_CANCEL)
        booking.status = Booking.Status.CANCELLED
        booking.cancelled_at = timezone.now()
        booking.cancelled_by = cancelled_by
        booking.save(update_fields=["status", "cancelled_at", "cancelled_by"])
        set_booked(slot, False)
        change.emit("booking.cancelled", booking_data(booking))
        change.freed(slot, passed_by=booking.patient_id)  # the id: no read of the row
    booking.slot = slot
    return booking


def _still_booked(booking, slots):
    """The booking's slot among the locked `slots`, once the booking is read again
    under that lock: it may have been cancelled, or (before slots were retired)
    deleted with its slot, between the first read and the lock."""
    status = Booking.objects.filter(pk=booking.pk).values_list("status", flat=True).first()
    if status is None:
        raise NotFound(rules.BOOKING_NOT_FOUND)
    if status != Booking.Status.BOOKED:
        raise Refused(rules.BOOKING_NOT_ACTIVE)
    if booking.slot_id not in slots:  # an active booking's slot is never retired
        raise NotFound(rules.BOOKING_NOT_FOUND)
    return slots[booking.slot_id]


def booking_reschedule(*, booking_id, patient, slot_id):
    """Move `patient`'s active booking to another slot of the same doctor, all or nothing.

    Both slots are locked in id order, so two moves crossing each other queue
    instead of deadlocking; any refusal leaves the booking and both slots as they were.
    """
    with slot_change() as change:
        booking = Booking.objects.filter(pk=booking_id, patient=patient).first()
        if booking is None:
            raise NotFound(rules.BOOKING_NOT_FOUND)
        slots = locked_slots({booking.slot_id, slot_id})
        old_slot = _still_booked(booking, slots)
        if rules.inside_cancel_notice(old_slot):
            raise Refused(rules.TOO_LATE_TO_RESCHEDULE)
        target = slots.get(slot_id)
        if target is None:
            raise SlotNotFound()
        hold = live_hold(target)
        if refusal := unbookable_refusal(target, hold, patient, moving_from=old_slot):
            raise Refused(refusal)
        booking.status = Booking.Status.RESCHEDULED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at"])
        set_booked(old_slot, False)
        moved = _take(target, hold, {"patient": patient, "rescheduled_from": booking})
        # The new booking is the event's data; the move emits no booking.created.
        change.emit("booking.rescheduled", booking_data(moved))
        change.freed(old_slot, passed_by=patient)
    return moved
