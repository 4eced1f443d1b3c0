"""Offering a slot that became bookable to the oldest waiting patient.

An offer is a hold of kind `offer` made for the entry's patient (OFFER_SECONDS).
Called by the unit of work (doctor/unit.py) before it commits, with the slot
locked: slots first (in id order), then user rows, then waitlist entries; an
entry is decided on under its own lock, so two slots freed at once never offer
both to one entry.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from doctor import rules
from doctor.locks import UNREAD, hold_created_changes, live_hold, unbookable_refusal
from doctor.models import Hold, WaitlistEntry
from doctor.serializers import waitlist_data


def offer_freed_slot(slot, change, *, passed_by=None, hold=UNREAD):
    """Offer `slot` to the oldest waiting entry (FIFO by created_at, id) of its doctor
    whose range holds its date and whose patient could hold it; the entry offered,
    or None (the slot stays public). `passed_by` is the patient who just gave the
    slot up (or their id): it is not offered straight back to them. `hold`: the
    slot's live hold (live_hold), when known."""
    # The locked row decides, by the rule the public list's query is the twin of
    # (doctor/rules.py): no second read of the slot.
    if _not_bookable(slot, live_hold(slot) if hold is UNREAD else hold):
        return None
    waiting = WaitlistEntry.objects.filter(
        doctor_id=slot.doctor_id,
        status=WaitlistEntry.Status.WAITING,
        date_from__lte=slot.date,
        date_to__gte=slot.date,
        patient__is_active=True,
    )
    if passed_by is not None:
        waiting = waiting.exclude(patient=passed_by)
    for entry in waiting.select_related("patient").order_by("created_at", "id"):
        if _could_hold(slot, entry.patient) and (entry := _locked_waiting(entry.pk)):
            return _make_offer(slot, entry, change)
    return None


def _not_bookable(slot, hold):
    """Twin of rules.bookable for the locked row (whose live hold is `hold`): retired,
    gone as unfit (a free, unheld slot marked unfit), or refused to anyone by the
    booking rules."""
    return (
        rules.slot_retired(slot)
        or rules.gone_unfit(slot, hold)
        or rules.booking_refusal(slot, hold, None) is not None
    )


def offer_new_slots(doctor, slots, change):
    """Offer a doctor's newly added slots; one query when nobody waits for them.
    New rows nobody else can see yet: no lock needed to offer them."""
    dates = [slot.date for slot in slots]
    waiting = WaitlistEntry.objects.filter(
        doctor=doctor,
        status=WaitlistEntry.Status.WAITING,
        date_from__lte=max(dates),
        date_to__gte=min(dates),
    )
    if not waiting.exists():
        return []
    return [entry for slot in slots if (entry := offer_freed_slot(slot, change))]


def _could_hold(slot, patient):
    """Whether `patient` could hold the slot now: the refusals of booking and holding
    decide, so every clinic rule added there applies here too. Not under the
    patient's row lock: an offer adds no booking (booking it counts the cap under
    the lock), and locking a second user here could deadlock against that user's
    own hold passing a slot to this one."""
    return unbookable_refusal(slot, None, patient, lock=False) is None


def _locked_waiting(entry_id):
    """The entry, locked, if it is still waiting (on PostgreSQL the filter is
    re-checked once a concurrent offer or leave commits)."""
    # of=self: the patient's row is read, not locked (user rows come before entries).
    entries = WaitlistEntry.objects.select_for_update(of=("self",)).select_related("patient")
    return entries.filter(pk=entry_id, status=WaitlistEntry.Status.WAITING).first()


def _make_offer(slot, entry, change):
    now = timezone.now()
    entry.offer = Hold.objects.create(
        slot=slot,
        patient=entry.patient,
        kind=Hold.Kind.OFFER,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.OFFER_SECONDS),
    )
    entry.status = WaitlistEntry.Status.OFFERED
    entry.save(update_fields=["offer", "status"])
    # No request made the offer (the unit of work did, for whoever freed the slot).
    change.audit(
        "hold.created",
        slot=slot,
        changes=hold_created_changes(entry.offer),
        event=waitlist_data(entry),
        event_type="waitlist.offered",
        worker=True,
    )
    return entry
