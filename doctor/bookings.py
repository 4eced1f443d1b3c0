"""Booking a slot, cancelling a booking, moving it to another slot.

Under any concurrency, one booking per slot: each flow locks the slot(s) and
decides on the locked rows (doctor/locks.py), in one unit of work. The front
desk books, cancels and moves for a patient through the same flows (`desk`):
only its doctors' slots, without the notices that bind a patient.
"""

from django.utils import timezone

from config.errors import NotFound, Refused
from config.prepared import create
from doctor import rules
from doctor.locks import (
    SlotNotFound,
    booking_status_and_holds,
    cancel_active_booking,
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

# A new booking's fields in its audit entry (ids and values: no personal data).
CREATED_FIELDS = ("status", "patient_id", "booked_by", "visit_type", "fee")


def _take(slot, hold, booking_fields, *, capped=False):
    """The locked slot becomes booked: its hold (the booker's own) is used; `capped`:
    only while the patient is under the booking cap (the patient's row locked).
    (booking, its `booking.created` changes: the booking, the slot's flags, the hold)."""
    used = {}
    if hold is not None:
        end_hold(hold, Hold.Status.USED)
        used = {"hold_id": [hold.pk, hold.pk], "hold.status": [Hold.Status.ACTIVE, hold.status]}
    flags = set_booked(slot, True, capped=booking_fields["patient"] if capped else None)
    booking = create(Booking, slot=slot, **booking_fields)  # compiled once per process
    made = {name: [None, getattr(booking, name)] for name in CREATED_FIELDS}
    if booking.fee is not None:  # a JSON number, as the replies give it
        made["fee"] = [None, float(booking.fee)]
    if booking.rescheduled_from_id:
        made["rescheduled_from"] = [None, booking.rescheduled_from_id]
    return booking, {**made, **flags, **used}


def _served(desk):
    """The slot filter of who books: anyone's slot, or for the desk its doctors' only."""
    return {} if desk is None else {"doctor_id__in": desk.desk_doctor_ids()}


def _visit(doctor, visit_type):
    """The booking's kind of visit and its fee (the doctor's current one)."""
    return {"visit_type": visit_type, "fee": rules.visit_fee(doctor, visit_type)}


def _hold_and_lock(slot, patient):
    """The locked slot's live hold, the patient's row locked with it (slot, then
    patient: the lock order) in one statement. No patient (the desk named none):
    the hold alone; the refusal that follows is a 404."""
    if patient is None:
        return live_hold(slot)
    return lock_patient_with_live_hold(slot, patient)


def slot_book(*, slot_id, patient, desk=None, visit_type=None):
    """Book a slot for `patient`: a `visit_type` (default: their hold's, else clinic);
    `desk`, the desk user booking for them (`patient` None: not an active patient,
    404 after the slot's refusals)."""
    with slot_change(whole=True) as change:
        slot = locked_slot(slot_id, **_served(desk))
        hold = _hold_and_lock(slot, patient)
        if visit_type is None:
            mine = hold is not None and patient is not None and hold.patient_id == patient.pk
            visit_type = hold.visit_type if mine else "clinic"
        # The cap last, counted in the slot's update (_take), under the patient's lock.
        refusal = unbookable_refusal(
            slot, hold, patient, lock="held", notice=desk is None, visit_type=visit_type, cap=False
        )
        if refusal:
            raise Refused(refusal)
        booked_by = Booking.BookedBy.PATIENT if desk is None else Booking.BookedBy.DESK
        booking, changes = _take(
            slot,
            hold,
            {"patient": patient, "booked_by": booked_by, **_visit(slot.doctor, visit_type)},
            capped=True,
        )
        change.audit(
            "booking.created",
            slot=slot,
            booking=booking,
            changes=changes,
            event=booking_data(booking),
        )
    return booking


def _canceller(user, slot):
    if user is None:
        return Booking.CancelledBy.STAFF
    if user.pk == slot.doctor_id:
        return Booking.CancelledBy.DOCTOR
    if user.is_desk:
        return Booking.CancelledBy.DESK
    return Booking.CancelledBy.PATIENT


def _may_cancel(user, slot, holder):
    """The slot's doctor, a desk user serving that doctor, or the booking's patient."""
    if user.pk in (slot.doctor_id, holder):
        return True
    return user.is_desk and slot.doctor_id in user.desk_doctor_ids()


def booking_cancel(*, slot_id, user=None, booking_id=None):
    """Cancel the active booking of a slot and make the slot bookable again.

    `user` must be the slot's doctor, a desk user serving that doctor, or the
    patient holding the booking (anyone else gets the same 404 as for a missing
    slot); None is the staff path used by the admin site, which may cancel any
    booking; it names the `booking_id` it means, so a booking made since the page
    was shown is never cancelled instead.
    """
    with slot_change(whole=True) as change:
        slot = locked_slot(slot_id)
        cancelled_by = _canceller(user, slot)
        # Cancelled in the statement that reads it, with the slot's hold for the unit:
        # a refusal below raises, and the unit's transaction takes the cancel back.
        booking, hold = cancel_active_booking(slot, cancelled_by, booking_id=booking_id)
        holder = booking.patient_id if booking else None
        if user is not None and not _may_cancel(user, slot, holder):
            raise SlotNotFound()
        if booking is None:
            raise Refused(rules.NOT_BOOKED)
        if slot.is_past:
            raise Refused(rules.IN_THE_PAST)
        # Only the patient is bound by the notice; the doctor, desk and staff may always cancel.
        if cancelled_by == Booking.CancelledBy.PATIENT and rules.inside_cancel_notice(slot):
            raise Refused(rules.TOO_LATE_TO_CANCEL)
        change.audit(
            "booking.cancelled",
            slot=slot,
            booking=booking,
            changes={
                "status": [Booking.Status.BOOKED, booking.status],
                "cancelled_by": [None, cancelled_by],
                **set_booked(slot, False),
            },
            event=booking_data(booking),
        )
        # The id: no read of the patient's row; the hold: no second read of the slot's.
        change.freed(slot, passed_by=booking.patient_id, hold=hold)
    return booking


def _still_booked(booking, status, slots):
    """The booking's slot among the locked `slots`, given the booking's `status` read
    again under that lock: it may have been cancelled, or (before slots were retired)
    deleted with its slot, between the first read and the lock."""
    if status is None:
        raise NotFound(rules.BOOKING_NOT_FOUND)
    if status != Booking.Status.BOOKED:
        raise Refused(rules.BOOKING_NOT_ACTIVE)
    if booking.slot_id not in slots:  # an active booking's slot is never retired
        raise NotFound(rules.BOOKING_NOT_FOUND)
    return slots[booking.slot_id]


def _movable(booking_id, patient, desk):
    """The booking to move: the patient's own, or one on the desk's doctors' slots."""
    mine = (
        {"patient": patient}
        if desk is None
        else {"slot__" + k: v for k, v in _served(desk).items()}
    )
    booking = Booking.objects.filter(pk=booking_id, **mine).select_related("patient").first()
    if booking is None:
        raise NotFound(rules.BOOKING_NOT_FOUND)
    return booking


def booking_reschedule(*, booking_id, slot_id, patient=None, desk=None, visit_type=None):
    """Move `patient`'s active booking to another slot of the same doctor, all or nothing;
    or, for `desk`, a booking on its doctors' slots, without either notice. It keeps
    its kind of visit and fee, unless it names a `visit_type` (then its current fee).

    Both slots are locked in id order, so two moves crossing each other queue
    instead of deadlocking; any refusal leaves the booking and both slots as they were.
    """
    with slot_change(whole=True) as change:
        booking = _movable(booking_id, patient, desk)
        slots = locked_slots({booking.slot_id, slot_id})
        # Both slots' holds come with the status: the target's for the rules, the old
        # slot's for the unit (nothing below changes them: _take ends the target's).
        status, target_hold, old_hold = booking_status_and_holds(booking, slots, slot_id)
        old_slot = _still_booked(booking, status, slots)
        if desk is None and rules.inside_cancel_notice(old_slot):
            raise Refused(rules.TOO_LATE_TO_RESCHEDULE)
        target = slots.get(slot_id)
        if target is None or (desk is not None and target.doctor_id not in desk.desk_doctor_ids()):
            raise SlotNotFound()
        hold = live_hold(target, target_hold)
        refusal = unbookable_refusal(
            target,
            hold,
            booking.patient,
            moving_from=old_slot,
            notice=desk is None,
            visit_type=visit_type,
        )
        if refusal:
            raise Refused(refusal)
        visit = {"visit_type": booking.visit_type, "fee": booking.fee}
        if visit_type is not None:
            visit = _visit(target.doctor, visit_type)
        booking.status = Booking.Status.RESCHEDULED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at"])
        flags = set_booked(old_slot, False)
        moved, made = _take(
            target,
            hold,
            {
                "patient": booking.patient,
                "rescheduled_from": booking,
                "booked_by": booking.booked_by,
                **visit,
            },
        )
        # The old booking's entry carries the move's event (the new booking its data);
        # the new one's is a plain booking.created, with no event of its own.
        change.audit(
            "booking.rescheduled",
            slot=old_slot,
            booking=booking,
            changes={"status": [Booking.Status.BOOKED, booking.status], **flags},
            event=booking_data(moved),
        )
        change.audit("booking.created", slot=target, booking=moved, changes=made)
        change.freed(old_slot, passed_by=booking.patient, hold=old_hold)
    return moved
