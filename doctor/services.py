"""The slot and booking rules, each action in its own transaction.

Every action that decides on a slot's flags re-reads the row with
select_for_update() and decides on that locked copy, so a decision is never
made on a stale read (the pattern healthchecks uses). On SQLite the lock is a
no-op, but the IMMEDIATE transaction mode in settings serializes writers.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from config.errors import NotFound, Refused
from config.exceptions import MessageError
from doctor.models import Booking, Hold, TimeSlot

SLOT_NOT_FOUND = "Slot not found"
MAX_BULK_SLOTS = 500


def _locked_slot(slot_id, **filters):
    slot = TimeSlot.objects.select_for_update().filter(pk=slot_id, **filters).first()
    if slot is None:
        raise MessageError(SLOT_NOT_FOUND, status.HTTP_404_NOT_FOUND)
    return slot


def overlapping_slots(*, doctor, date, start_time, end_time):
    """The doctor's slots on `date` that share any minute with start_time-end_time."""
    return TimeSlot.objects.filter(
        doctor=doctor, date=date, start_time__lt=end_time, end_time__gt=start_time
    )


def lock_doctor(doctor):
    # Serializes slot creation per doctor, so two overlapping creates cannot
    # both pass the overlap check before either inserts.
    get_user_model().objects.select_for_update().filter(pk=doctor.pk).first()


def _insert_slots(*, doctor, slots):
    """Insert unsaved slots of `doctor` all or nothing, refusing any overlap."""
    with transaction.atomic():
        lock_doctor(doctor)
        taken = defaultdict(list)
        existing = TimeSlot.objects.filter(doctor=doctor, date__in={s.date for s in slots})
        for old in existing.only("id", "date", "start_time", "end_time"):
            taken[old.date].append(old)
        conflicts = []
        for new in slots:
            old = next(
                (
                    o
                    for o in taken[new.date]
                    if new.start_time < o.end_time and new.end_time > o.start_time
                ),
                None,
            )
            if old is not None:
                conflicts.append(
                    f"{new.date} {new.start_time:%H:%M}-{new.end_time:%H:%M} overlaps your "
                    f"slot {old.id} ({old.start_time:%H:%M}-{old.end_time:%H:%M})."
                )
        if conflicts:
            raise ValidationError({"non_field_errors": conflicts})
        return TimeSlot.objects.bulk_create(slots)


def slot_create(*, doctor, date, start_time, end_time, duration):
    """Add one slot for `doctor`, refusing any overlap with the doctor's own slots."""
    slot = TimeSlot(
        doctor=doctor, date=date, start_time=start_time, end_time=end_time, duration=duration
    )
    (created,) = _insert_slots(doctor=doctor, slots=[slot])
    return created


def plan_slots(*, doctor, date, date_to, weekdays, start_time, end_time, duration):
    """Back-to-back slots of `duration` minutes from start_time to end_time on each
    chosen weekday; stops one past MAX_BULK_SLOTS so a huge request costs nothing."""
    step = timedelta(minutes=duration)
    slots = []
    day = date
    while day <= date_to and len(slots) <= MAX_BULK_SLOTS:
        start, last = datetime.combine(day, start_time), datetime.combine(day, end_time)
        while day.weekday() in weekdays and start + step <= last:
            slots.append(
                TimeSlot(
                    doctor=doctor,
                    date=day,
                    start_time=start.time(),
                    end_time=(start + step).time(),
                    duration=duration,
                )
            )
            start += step
        day += timedelta(days=1)
    return slots


def slots_bulk_create(*, doctor, **plan):
    """Create a run of slots all or nothing: any bad one rejects the whole request."""
    slots = plan_slots(doctor=doctor, **plan)
    if not slots:
        raise ValidationError(
            {"non_field_errors": ["No slot of that duration fits on the chosen days."]}
        )
    if len(slots) > MAX_BULK_SLOTS:
        raise ValidationError(
            {"non_field_errors": [f"At most {MAX_BULK_SLOTS} slots can be created at once."]}
        )
    past = [
        f"{s.date} {s.start_time:%H:%M}-{s.end_time:%H:%M} is in the past."
        for s in slots
        if s.is_past
    ]
    if past:
        raise ValidationError({"non_field_errors": past})
    return _insert_slots(doctor=doctor, slots=slots)


def slot_toggle(*, slot_id, doctor):
    """Flip a free slot's availability; a booked slot is never re-opened here."""
    with transaction.atomic():
        slot = _locked_slot(slot_id, doctor=doctor)
        if slot.is_booked:
            raise MessageError("Booked slot cannot be modified")
        if _live_hold(slot):
            raise Refused("Slot is held")
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
        if _live_hold(slot):
            raise Refused("Slot is held")
        slot.delete()


def slot_book(*, slot_id, patient):
    """Book a slot for `patient`: under any concurrency, one booking per slot."""
    with transaction.atomic():
        slot = _locked_slot(slot_id)
        hold = _live_hold(slot)
        _refuse_unbookable(slot, hold, patient)
        if hold is not None:
            hold.status = Hold.Status.USED
            hold.save(update_fields=["status"])
        _set_booked(slot, True)
        return Booking.objects.create(slot=slot, patient=patient)


def booking_cancel(*, slot_id, user=None, booking_id=None):
    """Cancel the active booking of a slot and make the slot bookable again.

    `user` must be the slot's doctor or the patient holding the booking (anyone
    else gets the same 404 as for a missing slot); None is the staff path used by
    the admin site, which may cancel any booking; it names the `booking_id` it
    means, so a booking made since the page was shown is never cancelled instead.
    """
    with transaction.atomic():
        slot = _locked_slot(slot_id)
        active = slot.bookings.filter(status=Booking.Status.BOOKED)
        booking = (active.filter(pk=booking_id) if booking_id else active).first()
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
        _set_booked(slot, False)
    booking.slot = slot
    return booking


def _lock_user(user):
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _live_hold(slot):
    """The slot's live hold, or None; a lapsed one is marked expired on the way.

    Call with the slot locked: holds of a slot change only under its lock.
    """
    hold = slot.holds.filter(status=Hold.Status.ACTIVE).first()
    if hold is not None and not hold.is_live:
        hold.status = Hold.Status.EXPIRED
        hold.save(update_fields=["status"])
        return None
    return hold


def hold_place(*, slot_id, patient):
    """Keep a slot for `patient` for HOLD_SECONDS; (hold, created).

    The patient's own live hold on the slot comes back unchanged (never extended);
    a hold on another slot is released, so a patient keeps one slot at a time.
    """
    with transaction.atomic():
        slot = _locked_slot(slot_id)
        hold = _live_hold(slot)
        if not slot.is_booked and hold is not None and hold.patient_id == patient.pk:
            return hold, False
        _refuse_unbookable(slot, hold, patient)
        # One patient, one hold: their holds change only under their row's lock.
        _lock_user(patient)
        for previous in Hold.objects.filter(patient=patient, status=Hold.Status.ACTIVE):
            previous.status = Hold.Status.RELEASED if previous.is_live else Hold.Status.EXPIRED
            previous.save(update_fields=["status"])
        now = timezone.now()
        hold = Hold.objects.create(
            slot=slot,
            patient=patient,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.HOLD_SECONDS),
        )
        return hold, True


def hold_release(*, hold_id, patient):
    """Give a live hold back; anything else of that id is 'Hold not found'."""
    with transaction.atomic():
        hold = Hold.objects.filter(pk=hold_id, patient=patient).first()
        if hold is None:
            raise NotFound("Hold not found")
        _locked_slot(hold.slot_id)
        hold.refresh_from_db(fields=["status"])
        if not hold.is_live:
            raise NotFound("Hold not found")
        hold.status = Hold.Status.RELEASED
        hold.save(update_fields=["status"])
        return hold


def _refuse_unbookable(slot, hold, patient):
    """The target's refusals shared by booking, holding and rescheduling, in contract order."""
    if slot.is_booked:
        raise Refused("Slot already booked")
    if hold is not None and hold.patient_id != patient.pk:
        raise Refused("Slot is held")
    if not slot.is_available or not slot.doctor.is_active:
        raise Refused("Slot is not available")
    if slot.is_past:
        raise Refused("Slot is in the past")


def booking_reschedule(*, booking_id, patient, slot_id):
    """Move `patient`'s active booking to another slot of the same doctor, all or nothing.

    Both slots are locked in id order, so two moves crossing each other queue
    instead of deadlocking; any refusal leaves the booking and both slots as they were.
    """
    with transaction.atomic():
        booking = Booking.objects.filter(pk=booking_id, patient=patient).first()
        if booking is None:
            raise NotFound("Booking not found")
        ids = {booking.slot_id, slot_id}
        locked = TimeSlot.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        slots = {s.pk: s for s in locked}
        old_slot = slots[booking.slot_id]
        booking.refresh_from_db(fields=["status"])  # decided on under the slot's lock
        if booking.status != Booking.Status.BOOKED:
            raise Refused("Booking is not active")
        if old_slot.is_past:
            raise Refused("Too late to reschedule")
        target = slots.get(slot_id)
        if target is None:
            raise NotFound(SLOT_NOT_FOUND)
        hold = _live_hold(target)
        _refuse_unbookable(target, hold, patient)
        if target.doctor_id != old_slot.doctor_id:
            raise Refused("Slot belongs to another doctor")
        if hold is not None:
            hold.status = Hold.Status.USED
            hold.save(update_fields=["status"])
        booking.status = Booking.Status.RESCHEDULED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at"])
        _set_booked(old_slot, False)
        _set_booked(target, True)
        return Booking.objects.create(slot=target, patient=patient, rescheduled_from=booking)


def _set_booked(slot, booked):
    slot.is_booked, slot.is_available = booked, not booked
    slot.save(update_fields=["is_booked", "is_available"])
