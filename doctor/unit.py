"""One unit of work for every write that touches a slot, a hold or a booking.

    with slot_change() as change:
        ...lock, decide, write...
        change.emit("booking.created", booking_data(booking))
        change.freed(slot, passed_by=patient)

opens the transaction; before it commits, the unit offers every slot the write
freed (or added) to its waitlist and writes the outbox events, the offers'
included, in the order they happened; after the commit it bumps the public
lists' cache. A flow never emits or bumps by hand, so none can forget to. A
refusal raised inside rolls all of it back: nothing is offered, emitted or bumped.
"""

from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from doctor import rules
from doctor.locks import live_hold
from doctor.models import Booking, Hold, TimeSlot, WaitlistEntry
from doctor.offers import offer_freed_slot, offer_new_slots
from events.services import event_emit
from listcache.services import bump_after_commit


class Change:
    """What one write did, for its unit of work to finish before the commit."""

    def __init__(self):
        self._events = []
        self._freed = []
        self._added = []
        self.offered = []  # the waitlist entries offered a slot, once finished

    def emit(self, event_type, data):
        """An outbox event (`data`: ready JSON), written before the commit."""
        self._events.append((event_type, data))

    def freed(self, slot, *, passed_by=None):
        """The locked `slot` may have become bookable: offer it to its waitlist.
        `passed_by`, the patient who gave it up, is not offered it straight back."""
        self._freed.append((slot, passed_by))

    def added(self, doctor, slots):
        """The doctor's new slots: offer them to their waitlist."""
        if slots:
            self._added.append((doctor, slots))

    def scheduled(self, doctor, slots, *, refit=()):
        """Slots a weekly schedule or a date override makes (unsaved, source
        `schedule`): one bulk insert, then offered as any new slot. `refit`: its
        kept slots (see unscheduled) that fit again, which lose their mark.
        Every slot the schedules write goes through here or unscheduled()."""
        created = TimeSlot.objects.bulk_create(slots)
        if refit:
            TimeSlot.objects.filter(pk__in=[slot.pk for slot in refit]).update(unscheduled_at=None)
        for slot in created:
            slot.doctor = doctor
        self.added(doctor, created)
        return created

    def unscheduled(self, slots, *, kept=()):
        """Schedule-made `slots` (locked, free: neither booked nor held) that no
        longer fit: removed, retired when they have a history (rules.retires_instead)
        and deleted otherwise, in one statement each. `kept`: booked or held ones
        that no longer fit either; they are marked, and go once freed (_finish)."""
        now = timezone.now()
        if kept:
            marked = [slot.pk for slot in kept if slot.unscheduled_at is None]
            TimeSlot.objects.filter(pk__in=marked).update(unscheduled_at=now)
        ids = [slot.pk for slot in slots]
        if not ids:
            return
        # A lapsed hold (or offer) on a removed slot ends as expired, its entry too.
        lapsed = Hold.objects.filter(slot_id__in=ids, status=Hold.Status.ACTIVE)
        WaitlistEntry.objects.filter(offer__in=lapsed, status=WaitlistEntry.Status.OFFERED).update(
            status=WaitlistEntry.Status.EXPIRED
        )
        lapsed.update(status=Hold.Status.EXPIRED)
        history = set(Booking.objects.filter(slot_id__in=ids).values_list("slot_id", flat=True))
        if history:
            TimeSlot.objects.filter(pk__in=history).update(
                retired_at=now, is_available=False, unscheduled_at=now
            )
        doomed = set(ids) - history
        # Their past holds go with them (as slot_delete's cascade does): few rows. Then
        # nothing refers to the slots, and one DELETE removes them all, where the
        # cascade's collector would send one per 100 rows.
        Hold.objects.filter(slot_id__in=doomed).delete()
        TimeSlot.objects.filter(pk__in=doomed)._raw_delete(TimeSlot.objects.db)

    def gone(self, slot):
        """A freed schedule-made slot that no longer fits goes instead of being offered
        (True when it went); the periodic sweep asks this too (schedules.services)."""
        if slot.unscheduled_at is None or not rules.gone_unfit(slot, live_hold(slot)):
            return False
        self.unscheduled([slot])
        return True

    def _finish(self):
        for slot, passed_by in self._freed:
            if self.gone(slot):
                continue
            if entry := offer_freed_slot(slot, self, passed_by=passed_by):
                self.offered.append(entry)
        for doctor, slots in self._added:
            self.offered += offer_new_slots(doctor, slots, self)
        for event_type, data in self._events:
            event_emit(event_type, data)


@contextmanager
def slot_change():
    with transaction.atomic():
        change = Change()
        yield change
        change._finish()
        bump_after_commit()
