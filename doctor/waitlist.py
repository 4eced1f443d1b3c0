"""The waitlist: a patient joins a doctor's list for a range of dates and leaves it.
Offers are made by the unit of work when a slot becomes bookable (doctor/offers.py)."""

from django.db import IntegrityError, transaction

from config.errors import NotFound, Refused
from doctor import rules
from doctor.locks import end_hold, live_hold, locked_slots
from doctor.models import Hold, WaitlistEntry
from doctor.unit import slot_change

LEAVE_ATTEMPTS = 3


def waitlist_join(*, patient, doctor, date_from, date_to):
    """Put `patient` on `doctor`'s waitlist. A slot already public is not offered:
    offers are for slots that become bookable; the patient can book what is listed.
    Their entry whose range has passed is ended first, in the same transaction: it
    is over (it shows `expired`) and must not count as open."""
    mine = WaitlistEntry.objects.filter(patient=patient, doctor=doctor)
    with transaction.atomic():
        waitlist_expire_passed(mine)
        entry = None
        if not mine.filter(status__in=WaitlistEntry.OPEN).exists():
            entry = _create(patient=patient, doctor=doctor, date_from=date_from, date_to=date_to)
    if entry is None:
        raise Refused(rules.ALREADY_WAITING)
    return entry


def _create(**fields):
    """The new entry, or None when a join at the same moment made one first."""
    try:
        with transaction.atomic():
            return WaitlistEntry.objects.create(**fields)
    except IntegrityError:
        # Two joins at once: the partial unique constraint lets one in.
        return None


def waitlist_expire_passed(entries=None):
    """Write `expired` on the waiting entries (of `entries`, default all) whose range
    has passed; how many. The periodic task runs it for all. An offered entry ends
    with its offer (within OFFER_SECONDS); a waiting one whose range has passed
    can never be offered (offers go to upcoming slots inside the range), so this
    races no offer."""
    entries = WaitlistEntry.objects.all() if entries is None else entries
    waiting = entries.filter(status=WaitlistEntry.Status.WAITING).passed()
    return waiting.update(status=WaitlistEntry.Status.EXPIRED)


def waitlist_leave(*, entry_id, patient):
    """Take `patient`'s open entry off the waitlist; a live offer is released and
    passed on. Anything else of that id is 'Waitlist entry not found'."""
    entries = WaitlistEntry.objects.filter(pk=entry_id, patient=patient).select_related("offer")
    for _ in range(LEAVE_ATTEMPTS):
        with slot_change() as change:
            entry = entries.first()
            if entry is None:
                break
            # The offer's slot before the entry (slots, then entries); an offer
            # made (or its slot deleted) between the read and the lock: read again.
            slot = (
                locked_slots({entry.offer.slot_id}).get(entry.offer.slot_id)
                if entry.offer
                else None
            )
            locked = entries.select_for_update(of=("self",)).first()
            if locked is None or locked.offer_id != entry.offer_id:
                continue
            if locked.status not in WaitlistEntry.OPEN or _passed_waiting(locked):
                break
            if locked.status == WaitlistEntry.Status.OFFERED and slot is not None:
                _give_back(locked, slot, change)
            locked.status = WaitlistEntry.Status.LEFT
            locked.save(update_fields=["status"])
            return locked
    raise NotFound(rules.ENTRY_NOT_FOUND)


def _passed_waiting(entry):
    """A waiting entry whose range has passed has ended (it shows `expired`)."""
    return entry.status == WaitlistEntry.Status.WAITING and rules.range_passed(entry)


def _give_back(entry, slot, change):
    """The leaving entry's offer (its slot locked) is released, or has lapsed (and
    is ended on the way); either way the slot passes on now."""
    hold = live_hold(slot)
    if hold is not None and hold.pk == entry.offer_id:
        end_hold(hold, Hold.Status.RELEASED)
    change.freed(slot, passed_by=entry.patient)
