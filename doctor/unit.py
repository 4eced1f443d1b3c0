"""One unit of work for every write that touches a slot, a hold or a booking.

    with slot_change() as change:
        ...lock, decide, write...
        change.audit("booking.created", slot=slot, booking=booking,
                     changes={...}, event=booking_data(booking))
        change.freed(slot, passed_by=patient)

opens the transaction; before it commits, the unit offers every slot the write
freed (or added) to its waitlist, writes the audit entries (one insert for all)
and the outbox events, the offers' included, in the order they happened; after
the commit it bumps the public lists' cache. A flow never emits, audits or bumps
by hand, so none can forget to; an outbox event is only written through
`audit()`, so no change has its event without its audit entry. A refusal raised
inside rolls all of it back: nothing is offered, audited, emitted or bumped.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.utils import timezone

from audit.actor import current_actor
from audit.models import AuditEntry
from doctor.offers import offer_freed_slot, offer_new_slots
from events.services import event_emit
from listcache.services import bump_after_commit

_current = ContextVar("slot_change", default=None)


class Change:
    """What one write did, for its unit of work to finish before the commit.

    `actor` is who acts: by default the user of the request being served (none
    for the worker); an entry made for what no request did says `worker=True`."""

    def __init__(self, actor=None):
        self.actor = actor if actor is not None else current_actor()
        self._entries = []
        self._events = []
        self._freed = []
        self._added = []
        self.offered = []  # the waitlist entries offered a slot, once finished

    def audit(
        self, action, *, slot, booking=None, changes=None, event=None, event_type=None, worker=False
    ):
        """An audit entry of `action` on `slot` (and `booking`), `changes` as
        {field: [old, new]}; with `event` (ready JSON), the outbox event of the
        change too, named `event_type` (default: the action)."""
        actor = None if worker else self.actor
        self._entries.append(
            AuditEntry(
                at=timezone.now(),
                action=action,
                actor_id=actor.pk if actor else None,
                actor_role=actor.user_type if actor else "",
                slot_id=getattr(slot, "pk", slot),
                booking_id=booking.pk if booking is not None else None,
                changes=changes or {},
            )
        )
        if event is not None:
            self._events.append((event_type or action, event))

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
        if self._entries:
            AuditEntry.objects.bulk_create(self._entries)
        for event_type, data in self._events:
            event_emit(event_type, data)


def current_change():
    """The unit of work in progress: small writes made under it (ending a hold)
    add their audit entries to it. Writing outside a unit is a bug."""
    change = _current.get()
    if change is None:
        raise RuntimeError("a slot, hold or booking changes only inside slot_change()")
    return change


@contextmanager
def slot_change(*, actor=None):
    with transaction.atomic():
        change = Change(actor)
        token = _current.set(change)
        try:
            yield change
            change._finish()
        finally:
            _current.reset(token)
        bump_after_commit()
