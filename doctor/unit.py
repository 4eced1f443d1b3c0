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

    def _finish(self):
        for slot, passed_by in self._freed:
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
