"""Holds: a patient keeps one slot for HOLD_SECONDS while they pay; giving it back,
or letting it lapse, passes the slot to its waitlist."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from config.errors import NotFound, Refused
from doctor import rules
from doctor.locks import (
    SlotNotFound,
    end_hold,
    hold_created_changes,
    hold_reads,
    lock_patient_with_live_hold,
    locked_slots,
    locked_slots_with_own_hold,
    uncapped_refusal,
)
from doctor.models import Hold, TimeSlot
from doctor.unit import slot_change

LAPSED_BATCH = 500  # slots passed on per run of the periodic task
# A patient's other hold may move while their new one waits for its locks: then
# the new one takes them again, with that slot among them (see hold_place).
HOLD_ATTEMPTS = 5


class _OwnHoldMoved(Exception):
    """The patient's own holds changed between the read and the locks."""


def hold_place(*, slot_id, patient, visit_type=None):
    """Keep a slot for `patient` for HOLD_SECONDS; (hold, created).

    The patient's own live hold (or waitlist offer) on the slot comes back
    unchanged (never extended); their hold on another slot is released, so a
    patient keeps one slot at a time, and that slot passes to its waitlist.
    Offers are apart: holding releases none. The hold keeps `visit_type` (default
    clinic) for the booking made from it; holding again never changes it.
    """
    visit_type = visit_type or "clinic"
    for _ in range(HOLD_ATTEMPTS - 1):
        try:
            return _hold(slot_id, patient, visit_type)
        except _OwnHoldMoved:
            continue
    return _hold(slot_id, patient, visit_type, last_attempt=True)


def _hold(slot_id, patient, visit_type, *, last_attempt=False):
    """One attempt of hold_place. The slot of the patient's previous hold is locked
    with this one, in id order, so a released hold passes its slot on under that
    slot's lock. A hold placed by the same patient meanwhile (two at once) is found
    under the patient's lock: its slot was not locked, so the attempt starts again."""
    with slot_change() as change:
        slots = locked_slots_with_own_hold(slot_id, patient)
        slot = slots.get(slot_id)
        if slot is None:
            raise SlotNotFound()
        # The patient's row is locked after the slots, with the slot's hold read.
        hold = lock_patient_with_live_hold(slot, patient)
        if not slot.is_booked and hold is not None and hold.patient_id == patient.pk:
            return hold, False
        if refusal := uncapped_refusal(slot, hold, patient, visit_type=visit_type):
            raise Refused(refusal)
        # The cap, the rehold and the previous hold, read under both locks: one
        # patient, one hold, their holds change only under the patient's lock.
        booked, first_expires_at, previous = hold_reads(slot, patient)
        if refusal := rules.booking_cap_refusal(booked) or rules.rehold_refusal(first_expires_at):
            raise Refused(refusal)
        _end_own_hold(previous, slots, change, patient, last_attempt=last_attempt)
        hold = Hold.objects.create(
            slot=slot,
            patient=patient,
            expires_at=_expiry(first_expires_at),
            visit_type=visit_type,
        )
        change.audit("hold.created", slot=slot, changes=hold_created_changes(hold))
        return hold, True


def _expiry(first_expires_at):
    """When the patient's new hold ends: HOLD_SECONDS from now or, if they held the
    slot within the hour, when the first of those holds ended (rules.rehold_refusal
    refuses once that has passed)."""
    return first_expires_at or timezone.now() + timedelta(seconds=settings.HOLD_SECONDS)


def _end_own_hold(previous, slots, change, patient, *, last_attempt):
    """End the patient's previous hold (read under their row's lock), if any; its
    slot goes to its waitlist under the lock `slots` holds on it. A hold whose slot
    is not among them was placed meanwhile: start again, unless out of attempts."""
    if previous is None:
        return
    if not last_attempt and previous.slot_id not in slots:
        raise _OwnHoldMoved
    end_hold(previous, Hold.Status.RELEASED if previous.is_live else Hold.Status.EXPIRED)
    if previous.slot_id in slots:
        change.freed(slots[previous.slot_id], passed_by=patient)


def hold_release(*, hold_id, patient):
    """Give a live hold back; anything else of that id is 'Hold not found'."""
    with slot_change() as change:
        hold = Hold.objects.filter(pk=hold_id, patient=patient).first()
        if hold is None:
            raise NotFound(rules.HOLD_NOT_FOUND)
        slot = locked_slots({hold.slot_id}).get(hold.slot_id)
        hold.refresh_from_db(fields=["status"])
        if slot is None or not hold.is_live:
            raise NotFound(rules.HOLD_NOT_FOUND)
        end_hold(hold, Hold.Status.RELEASED)  # an offer's entry: declined
        change.freed(slot, passed_by=patient)
        return hold


def lapsed_holds_pass_on():
    """The periodic task: end the holds and offers whose time is up and pass their
    slots on; the number of slots offered. Slot by slot, each under its lock and in
    its own unit of work, so two workers (or two runs) do each slot's work once."""
    slot_ids = list(
        Hold.objects.lapsed()
        .order_by("expires_at")
        .values_list("slot_id", flat=True)[:LAPSED_BATCH]
    )
    offered = 0
    for slot_id in dict.fromkeys(slot_ids):
        with slot_change() as change:
            locked = TimeSlot.objects.select_related("doctor").select_for_update(of=("self",))
            slot = locked.filter(pk=slot_id).first()
            # Decided under the lock: another run may have passed it on already.
            lapsed = slot.holds.lapsed().select_related("patient").first() if slot else None
            if lapsed is not None:
                # Offering ends the lapsed hold (and its entry) on the way.
                change.freed(slot, passed_by=lapsed.patient)
        offered += len(change.offered)
    return offered
